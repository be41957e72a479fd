package mesh_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookingrush/rush/bench/internal/mesh"
)

// TestLeanHTTPClient: requests carry their method, path, headers and body;
// answers of every framing net/http's server writes come back whole, over
// kept-alive connections, from concurrent callers.
func TestLeanHTTPClient(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/chunked":
			w.WriteHeader(http.StatusCreated)
			for i := range 3 {
				fmt.Fprintf(w, "part%d;", i)
				w.(http.Flusher).Flush()
			}
		case "/close":
			w.Header().Set("Connection", "close")
			fmt.Fprint(w, "bye")
		default:
			fmt.Fprintf(w, "%s %s %s %d", r.Method, r.URL.RequestURI(), b, r.ContentLength)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c := mesh.LeanHTTPClient(4)
	t.Cleanup(c.CloseIdleConnections)
	do := func(method, path, body string) (int, string, http.Header) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, rd)
		req.Header.Set("Authorization", "Bearer t")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header
	}
	if st, b, h := do("POST", "/join?x=1", `{"a":1}`); st != 200 || b != `POST /join?x=1 {"a":1} 7` || h.Get("X-Echo") != "Bearer t" {
		t.Errorf("post: %d %q %v", st, b, h)
	}
	if st, b, _ := do("GET", "/status", ""); st != 200 || b != "GET /status  0" {
		t.Errorf("get: %d %q", st, b)
	}
	if st, b, _ := do("POST", "/chunked", "x"); st != 201 || b != "part0;part1;part2;" {
		t.Errorf("chunked: %d %q", st, b)
	}
	if st, b, _ := do("GET", "/close", ""); st != 200 || b != "bye" {
		t.Errorf("close: %d %q", st, b)
	}
	before := conns.Load()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if st, _, _ := do("POST", "/x", "y"); st != 200 {
					t.Errorf("concurrent: %d", st)
				}
			}
		})
	}
	wg.Wait()
	if n := conns.Load() - before; n > 4 {
		t.Errorf("%d new connections for 4 concurrent callers: not kept alive", n)
	}
}
