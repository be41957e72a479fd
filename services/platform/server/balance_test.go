package server

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
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
