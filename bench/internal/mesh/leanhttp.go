package mesh

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// LeanHTTPClient is an HTTP/1.1 keep-alive client for load generation, as
// lean as wrk's: each request is written straight to an idle connection and
// its answer read back on the calling goroutine. net/http's Transport hands
// every request to a connection's own read and write goroutines, which cost
// the generator about 70 µs of this machine's CPU per request, a fifth of
// what the mesh spends on a queue join; this costs a fraction of that, so
// the machine's CPU goes to the system under test. It speaks only what the
// bench sends: plain http:// URLs, a body of known length (or none), and
// answers with Content-Length or chunked bodies.
func LeanHTTPClient(conns int) *http.Client {
	return &http.Client{Transport: &leanTransport{idle: make(chan *leanConn, conns)}}
}

type leanTransport struct {
	idle chan *leanConn
}

type leanConn struct {
	c    net.Conn
	r    *bufio.Reader
	host string
	buf  []byte
}

// RoundTrip implements http.RoundTripper.
func (t *leanTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return nil, errors.New("lean client: only http:// URLs")
	}
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	c, err := t.conn(req.Context(), req.URL.Host)
	if err != nil {
		return nil, err
	}
	if d, ok := req.Context().Deadline(); ok {
		_ = c.c.SetDeadline(d)
	} else {
		_ = c.c.SetDeadline(time.Time{})
	}
	b := append(c.buf[:0], req.Method...)
	b = append(b, ' ')
	b = append(b, req.URL.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, req.URL.Host...)
	b = append(b, "\r\n"...)
	for k, vs := range req.Header {
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if body != nil || req.Method == http.MethodPost || req.Method == http.MethodPut {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	c.buf = b
	if _, err := c.c.Write(b); err != nil {
		_ = c.c.Close()
		return nil, err
	}
	res, err := http.ReadResponse(c.r, req)
	if err != nil {
		_ = c.c.Close()
		return nil, err
	}
	// The whole body is read here, so the connection can go back at once.
	raw, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		_ = c.c.Close()
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(raw))
	if res.Close {
		_ = c.c.Close()
	} else {
		t.put(c)
	}
	return res, nil
}

func (t *leanTransport) conn(ctx context.Context, host string) (*leanConn, error) {
	for {
		select {
		case c := <-t.idle:
			if c.host == host {
				return c, nil
			}
			_ = c.c.Close()
		default:
			d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
			nc, err := d.DialContext(ctx, "tcp", host)
			if err != nil {
				return nil, err
			}
			return &leanConn{c: nc, r: bufio.NewReaderSize(nc, 8<<10), host: host}, nil
		}
	}
}

func (t *leanTransport) put(c *leanConn) {
	select {
	case t.idle <- c:
	default:
		_ = c.c.Close()
	}
}

// CloseIdleConnections closes the idle connections (http.Client calls it).
func (t *leanTransport) CloseIdleConnections() {
	for {
		select {
		case c := <-t.idle:
			_ = c.c.Close()
		default:
			return
		}
	}
}
