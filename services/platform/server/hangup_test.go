package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestAStoppingServerHangsUpIdleHTTP2Connections: a server stopping with a
// mesh client's HTTP/2 connection open and idle closes it instead of leaving
// the client the HTTP/2 server's second to hang up, and a request in flight
// when the stop begins still gets its whole answer on its connection.
func TestAStoppingServerHangsUpIdleHTTP2Connections(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	srv := NewHTTPServer(Config{MaxHeaderBytes: 1 << 12}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = io.WriteString(w, "done")
	}), zap.NewNop())
	var idle idleConns
	srv.ConnState = idle.track
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	base := "http://" + ln.Addr().String()

	get := func(c *http.Client, path string) (string, error) {
		res, err := c.Get(base + path)
		if err != nil {
			return "", err
		}
		defer func() { _ = res.Body.Close() }()
		b, err := io.ReadAll(res.Body)
		return string(b), err
	}
	// One client's connection idle, another's with a request in flight.
	idleClient, busyClient := NewClient(), NewClient()
	if got, err := get(idleClient, "/"); err != nil || got != "done" {
		t.Fatalf("GET /: %q, %v", got, err)
	}
	slow := make(chan string, 1)
	go func() {
		got, err := get(busyClient, "/slow")
		if err != nil {
			got = err.Error()
		}
		slow <- got
	}()
	waitFor(t, func() bool { return idle.count(http.StateActive) == 1 })

	// Well under the HTTP/2 server's goAwayTimeout (a second): Shutdown
	// alone runs out of it, waiting for the idle client to hang up.
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
		defer cancel()
		stopped <- idle.shutdown(ctx, srv)
	}()
	time.Sleep(2 * hangupGrace)
	select {
	case err := <-stopped:
		t.Fatalf("the stop ended with a request in flight: %v", err)
	default:
	}
	close(release)
	if got := <-slow; got != "done" {
		t.Fatalf("the request in flight at the stop answered %q, want its answer", got)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v (an idle HTTP/2 connection kept it waiting)", err)
	}
}

// count is how many connections ic follows are in state s.
func (ic *idleConns) count(s http.ConnState) int {
	n := 0
	ic.conns.Range(func(_, v any) bool {
		if stateOf(v).state() == s {
			n++
		}
		return true
	})
	return n
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConnStateKeepsTheStateAndItsTime: the packed word gives back both.
func TestConnStateKeepsTheStateAndItsTime(t *testing.T) {
	t.Parallel()
	at := connEpoch.Add(36 * time.Hour).Add(123 * time.Nanosecond)
	for _, s := range []http.ConnState{http.StateNew, http.StateActive, http.StateIdle, http.StateHijacked, http.StateClosed} {
		cs := newConnState(s, at)
		if cs.state() != s || !cs.since().Equal(at) {
			t.Errorf("%v at %v: got %v at %v", s, at, cs.state(), cs.since())
		}
	}
}
