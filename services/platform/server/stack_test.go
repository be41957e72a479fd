package server

import (
	"io"
	"net"
	"net/http"
	"testing"

	"go.uber.org/zap"
)

// TestServerServesBothProtocolsThroughGrownStacks: the server NewHTTPServer
// returns, which grows an HTTP/2 request's stack before its handler runs,
// still answers HTTP/1.1 and cleartext HTTP/2 requests as its handler does.
func TestServerServesBothProtocolsThroughGrownStacks(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(Config{MaxHeaderBytes: 1 << 12}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}), zap.NewNop())
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	for _, c := range []struct {
		client *http.Client
		want   string
	}{{&http.Client{}, "HTTP/1.1"}, {NewClient(), "HTTP/2.0"}} {
		res, err := c.client.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(body) != c.want {
			t.Errorf("answered %q, want %q", body, c.want)
		}
	}
}

// grow's frame is on the stack: the compiler must neither drop it nor move it
// to the heap (which would grow nothing).
func TestGrowTakesItsFrame(t *testing.T) {
	if got := testing.AllocsPerRun(10, func() { grow(3) }); got != 0 {
		t.Fatalf("grow allocates %v times: its frame went to the heap", got)
	}
}
