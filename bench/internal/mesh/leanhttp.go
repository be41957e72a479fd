package mesh

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
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
	var headers []string
	for k, vs := range req.Header {
		for _, v := range vs {
			headers = append(headers, k, v)
		}
	}
	length := body != nil || req.Method == http.MethodPost || req.Method == http.MethodPut
	c, err := t.write(req.Context(), req.Method, req.URL.Host, req.URL.RequestURI(), headers, body, length)
	if err != nil {
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

// write sends a request on an idle (or new) connection to host and returns
// the connection, whose answer the caller reads: headers are name, value
// pairs; length adds the body's Content-Length. The connection is closed
// when the write fails.
func (t *leanTransport) write(ctx context.Context, method, host, uri string, headers []string, body []byte, length bool) (*leanConn, error) {
	c, err := t.conn(ctx, host)
	if err != nil {
		return nil, err
	}
	d, _ := ctx.Deadline() // the zero time (none) when there is none
	_ = c.c.SetDeadline(d)
	b := append(c.buf[:0], method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	for i := 0; i+1 < len(headers); i += 2 {
		b = append(b, headers[i]...)
		b = append(b, ": "...)
		b = append(b, headers[i+1]...)
		b = append(b, "\r\n"...)
	}
	if length {
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
	return c, nil
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

// leanAnswer is what post read of an answer.
type leanAnswer struct {
	status     int
	retryAfter string
	body       []byte
}

// post is the bench's hot path through a lean client: it writes a POST of
// body to url ("http://host/path") with the headers (name, value pairs) and
// reads the answer's status, Retry-After and whole body, without an
// http.Request or an http.Response (building and parsing those cost the
// generator about a quarter of its CPU per request at 6,000/s).
func (t *leanTransport) post(ctx context.Context, url string, body []byte, headers ...string) (leanAnswer, error) {
	hostPath, ok := strings.CutPrefix(url, "http://")
	if !ok {
		return leanAnswer{}, errors.New("lean client: only http:// URLs")
	}
	host, path := hostPath, "/"
	if i := strings.IndexByte(hostPath, '/'); i >= 0 {
		host, path = hostPath[:i], hostPath[i:]
	}
	c, err := t.write(ctx, http.MethodPost, host, path, headers, body, true)
	if err != nil {
		return leanAnswer{}, err
	}
	a, keep, err := readLeanAnswer(c.r)
	if err != nil || !keep {
		_ = c.c.Close()
	} else {
		t.put(c)
	}
	return a, err
}

// readLeanAnswer reads one HTTP/1.1 answer: the status line, the headers
// it needs (Content-Length, Transfer-Encoding, Connection, Retry-After) and
// the body, framed by its length, chunked, or by the connection's close.
// keep is false when the connection cannot carry another request.
func readLeanAnswer(r *bufio.Reader) (a leanAnswer, keep bool, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return a, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return a, false, fmt.Errorf("lean client: malformed status line %q", line)
	}
	if a.status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return a, false, fmt.Errorf("lean client: malformed status line %q", line)
	}
	length, chunked, keep := -1, false, true
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return a, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return a, false, fmt.Errorf("lean client: malformed header %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return a, false, fmt.Errorf("lean client: bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			keep = !bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, []byte("Retry-After")):
			a.retryAfter = string(value)
		}
	}
	switch {
	case chunked:
		if a.body, err = io.ReadAll(httputil.NewChunkedReader(r)); err != nil {
			return a, false, err
		}
		// The trailer, up to its empty line.
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return a, false, err
			}
			if len(bytes.TrimRight(line, "\r\n")) == 0 {
				break
			}
		}
	case length >= 0:
		a.body = make([]byte, length)
		if _, err := io.ReadFull(r, a.body); err != nil {
			return a, false, err
		}
	case a.status == http.StatusNoContent || a.status == http.StatusNotModified:
	default: // no framing: the body ends with the connection
		a.body, err = io.ReadAll(r)
		return a, false, err
	}
	return a, keep, nil
}
