package server

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBalancerSpreadsCallsOverEveryAddress: a peer name with two addresses
// (a headless Service with two pods) gets calls on both, over one
// connection each, and the caller's request is left as it was.
func TestBalancerSpreadsCallsOverEveryAddress(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	hits := map[string]int{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.Context().Value(http.LocalAddrContextKey).(net.Addr).String()]++
		mu.Unlock()
		if r.Host != "booking" {
			t.Errorf("Host %q, want the component's name", r.Host)
		}
	})
	// Two "pods" on one port, as a headless Service's endpoints are.
	var port string
	for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, port))
		if err != nil {
			t.Skipf("cannot listen on %s: %v", ip, err)
		}
		_, port, _ = net.SplitHostPort(ln.Addr().String())
		srv := &http.Server{Handler: handler}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
	}
	lookups := 0
	b := newBalancer(http.DefaultTransport, NewRegistry(), map[string]string{"booking": "booking-headless:" + port}, time.Hour)
	b.resolve = func(_ context.Context, host string) ([]string, error) {
		if host != "booking-headless" {
			t.Errorf("resolved %q", host)
		}
		lookups++
		return []string{"127.0.0.1", "127.0.0.2"}, nil
	}
	client := &http.Client{Transport: b}
	for i := range 10 {
		req, _ := http.NewRequest("GET", "http://booking/x?i="+strconv.Itoa(i), nil)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if req.URL.Host != "booking" {
			t.Fatalf("the caller's request was changed: %s", req.URL)
		}
	}
	if hits["127.0.0.1:"+port] != 5 || hits["127.0.0.2:"+port] != 5 || lookups != 1 {
		t.Errorf("hits %v, lookups %d: want 5 calls on each address and one lookup", hits, lookups)
	}
	// The mesh's batches keep peer.batch-in-flight batches per replica.
	if n := b.replicas("booking"); n != 2 {
		t.Errorf("replicas of booking: %d, want 2", n)
	}
	if n := b.replicas("catalog"); n != 1 {
		t.Errorf("replicas of a peer never called: %d, want 1", n)
	}
}

// TestBalancerNeverWaitsForARefresh: once a peer name is resolved, a call
// never waits for DNS. Before, the call that found the addresses older than
// the refresh interval looked the name up again holding the balancer's
// lock, so every call to every peer of the process waited for that lookup
// (up to a second when DNS is slow) every interval.
func TestBalancerNeverWaitsForARefresh(t *testing.T) {
	t.Parallel()
	b := newBalancer(roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody}, nil
	}), NewRegistry(), map[string]string{"booking": "booking-headless:9082", "payment": "payment-headless:9084"}, 10*time.Millisecond)
	slow := make(chan struct{})
	var lookups atomic.Int32
	b.resolve = func(ctx context.Context, host string) ([]string, error) {
		if lookups.Add(1) > 2 { // the first lookup of each name answers at once
			select {
			case <-slow:
			case <-ctx.Done():
			}
		}
		return []string{"10.0.0.1", "10.0.0.2"}, nil
	}
	call := func(component string) time.Duration {
		start := time.Now()
		req, _ := http.NewRequest("GET", "http://"+component+"/x", nil)
		res, err := b.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return time.Since(start)
	}
	call("booking")
	call("payment")
	time.Sleep(20 * time.Millisecond) // both names are due for a refresh
	for i := range 20 {
		for _, c := range []string{"booking", "payment"} {
			if d := call(c); d > 100*time.Millisecond {
				t.Fatalf("call %d to %s waited %v for a DNS refresh", i, c, d)
			}
		}
	}
	close(slow)
	if n := b.replicas("booking"); n != 2 {
		t.Errorf("replicas of booking during the refresh: %d, want 2", n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
