package mesh

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
)

// TestLeanHTTPClient: requests carry their method, path, headers and body;
// answers of every framing net/http's server writes come back whole, over
// kept-alive connections, from concurrent callers.
func TestLeanHTTPClient(t *testing.T) {
	t.Parallel()
	srv, conns := leanServer(t)
	c := LeanHTTPClient(4)
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
	if st, b, h := do("POST", "/join?x=1", `{"a":1}`); st != 200 || b != `POST /join?x=1 Bearer t {"a":1} 7` || h.Get("X-Echo") != "Bearer t" {
		t.Errorf("post: %d %q %v", st, b, h)
	}
	if st, b, _ := do("GET", "/status", ""); st != 200 || b != "GET /status Bearer t  0" {
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

// TestLeanPost: the hot path of the lean client sends its headers and body
// and reads status, Retry-After and body of every framing net/http's server
// writes, keeping the connection alive unless the answer closes it.
func TestLeanPost(t *testing.T) {
	t.Parallel()
	srv, conns := leanServer(t)
	tr := &leanTransport{idle: make(chan *leanConn, 1)}
	t.Cleanup(tr.CloseIdleConnections)
	post := func(path, body string) leanAnswer {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a, err := tr.post(ctx, srv.URL+path, []byte(body), "Authorization", "Bearer t")
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return a
	}
	if a := post("/join?x=1", `{"a":1}`); a.status != 200 || string(a.body) != `POST /join?x=1 Bearer t {"a":1} 7` {
		t.Errorf("post: %d %q", a.status, a.body)
	}
	if a := post("/chunked", "x"); a.status != 201 || string(a.body) != "part0;part1;part2;" {
		t.Errorf("chunked: %d %q", a.status, a.body)
	}
	if a := post("/shed", ""); a.status != 503 || a.retryAfter != "1" || string(a.body) != `{"error":{}}` {
		t.Errorf("shed: %d %q %q", a.status, a.retryAfter, a.body)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 answers in a row: not kept alive", n)
	}
	if a := post("/close", ""); a.status != 200 || string(a.body) != "bye" {
		t.Errorf("close: %d %q", a.status, a.body)
	}
	if a := post("/x", "y"); a.status != 200 {
		t.Errorf("after a close: %d %q", a.status, a.body)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (a new one after the close)", n)
	}
}

// leanServer answers as the lean client's tests need: /chunked in chunks,
// /shed a 503 with Retry-After, /close closing the connection, anything
// else an echo of method, URI, Authorization, body and length. conns
// counts the connections it accepted.
func leanServer(t *testing.T) (srv *httptest.Server, conns *atomic.Int64) {
	conns = new(atomic.Int64)
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/chunked":
			w.WriteHeader(http.StatusCreated)
			for i := range 3 {
				fmt.Fprintf(w, "part%d;", i)
				w.(http.Flusher).Flush()
			}
		case "/shed":
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{}}`)
		case "/close":
			w.Header().Set("Connection", "close")
			fmt.Fprint(w, "bye")
		default:
			fmt.Fprintf(w, "%s %s %s %s %d", r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), b, r.ContentLength)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, conns
}
