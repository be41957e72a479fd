package edge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/bookingrush/rush/services/platform/errs"
)

// reqState is what the edge tracks for one API call; one allocation per
// request holds it all.
type reqState struct {
	// success is the status of a successful answer (201 for creates), set
	// by the upstream handler once the transcoder has routed the call.
	success int
	// procedure is the RPC the call was routed to (the metrics' route).
	procedure string
	tooLarge  atomic.Bool
	body      limitedBody
	answer    answer
}

type stateKey struct{}

// limitedBody reads at most left bytes of a request body and remembers when
// the client sent more, so the answer becomes 413 whatever error the
// transcoder made of the short read.
type limitedBody struct {
	r    io.ReadCloser
	left int64
	st   *reqState
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, _ := b.r.Read(one[:]); n > 0 {
			b.st.tooLarge.Store(true)
			return 0, errBodyTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.r.Close() }

var errBodyTooLarge = errs.New(codePayloadTooLarge, "request body too large")

// answer sits between the transcoder and the client. It holds the status
// back until the body starts, so that a success becomes 201/202 where the
// route says so, an error envelope gets the HTTP status of its code (the
// transcoder only knows gRPC codes: it would answer 429 for
// INSUFFICIENT_STOCK), and a plain-text error of the transcoder itself
// (405, 415...) is replaced by an envelope.
//
// An anonymous GET of a public catalog read (cache.go) is buffered instead,
// so that it leaves with an ETag and Cache-Control: public, or as a 304
// when the caller already has it.
type answer struct {
	w       http.ResponseWriter
	st      *reqState
	maxBody int64
	status  int
	decided bool
	replace bool
	// public is set for an anonymous GET (nil otherwise), with its request
	// for If-None-Match; cacheControl and buf once the answer is buffered.
	public       *PublicCacheConfig
	req          *http.Request
	cacheControl string
	buf          []byte
}

func (a *answer) Header() http.Header { return a.w.Header() }

func (a *answer) WriteHeader(status int) {
	if a.status == 0 && !a.decided {
		a.status = status
	}
}

func (a *answer) Write(p []byte) (int, error) {
	if !a.decided {
		a.decide(p)
	}
	if a.replace {
		return len(p), nil
	}
	if a.cacheControl != "" {
		a.buf = append(a.buf, p...)
		return len(p), nil
	}
	return a.w.Write(p)
}

// Flush implements http.Flusher once the status is decided.
func (a *answer) Flush() {
	if a.decided && !a.replace && a.cacheControl == "" {
		if f, ok := a.w.(http.Flusher); ok {
			f.Flush()
		}
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (a *answer) Unwrap() http.ResponseWriter { return a.w }

const errorPrefix = `{"success":false,"error":{"code":"`

func (a *answer) decide(body []byte) {
	a.decided = true
	// The services' Connect answers advertise their compressions; that
	// means nothing to a REST client.
	delete(a.w.Header(), "Accept-Encoding")
	status := a.status
	if status == 0 {
		status = http.StatusOK
	}
	a.status = status
	switch {
	case a.st.tooLarge.Load() && status >= 300:
		a.replace, a.status = true, http.StatusRequestEntityTooLarge
	case status < 300:
		if status == http.StatusOK && a.st.success != 0 {
			status = a.st.success
		}
		if status == http.StatusOK && a.public != nil {
			if a.cacheControl = a.public.cacheControl(a.st.procedure); a.cacheControl != "" {
				return // buffered: finish writes it with its validator
			}
		}
		a.w.WriteHeader(status)
	case bytes.HasPrefix(body, []byte(errorPrefix)):
		code := body[len(errorPrefix):]
		if i := bytes.IndexByte(code, '"'); i >= 0 {
			if errs.Code(code[:i]) == errs.RateLimited {
				setRetryAfter(a.w.Header(), body)
			}
			status := httpStatus(errs.Code(code[:i]))
			challenge(a.w.Header(), status)
			a.w.WriteHeader(status)
			return
		}
		a.replace = true
	default:
		a.replace = true
	}
}

// retryAfterField is how a service's RATE_LIMITED details say when to come
// back (whole seconds).
var retryAfterField = []byte(`"retry_after":`)

// setRetryAfter gives a 429 from a service (auth's per-address limits) the
// Retry-After header the edge's own 429s carry, from details.retry_after.
func setRetryAfter(h http.Header, body []byte) {
	i := bytes.Index(body, retryAfterField)
	if i < 0 {
		return
	}
	v := body[i+len(retryAfterField):]
	n := 0
	for n < len(v) && n < 10 && v[n] >= '0' && v[n] <= '9' {
		n++
	}
	if n > 0 {
		h["Retry-After"] = []string{string(v[:n])}
	}
}

// finish completes the answer after the transcoder returned.
func (a *answer) finish() {
	if !a.decided {
		a.decide(nil)
	}
	if a.cacheControl != "" {
		a.writeCacheable()
		return
	}
	if !a.replace {
		return
	}
	code := codeForStatus(a.status)
	msg := http.StatusText(a.status)
	h := a.w.Header()
	switch a.status {
	case http.StatusRequestEntityTooLarge:
		msg = fmt.Sprintf("request body larger than %d bytes", a.maxBody)
	case http.StatusMethodNotAllowed:
		if allow := h.Get("Allow"); allow != "" {
			methods := strings.Split(allow, ",")
			slices.Sort(methods) // the transcoder's order varies
			msg = "the route takes " + strings.Join(methods, ", ")
		}
	}
	delete(h, "Content-Length")
	delete(h, "Content-Encoding")
	writeError(a.w, a.status, code, msg, nil)
}

// writeCacheable sends a buffered public read: Cache-Control public with
// its max-age, a strong ETag of the bytes, Vary: Authorization (a caller
// with a token is answered no-store, never from a shared cache's copy), and
// 304 without a body when If-None-Match already names it.
func (a *answer) writeCacheable() {
	tag := etag(a.buf)
	h := a.w.Header()
	h["Cache-Control"] = []string{a.cacheControl}
	h["Etag"] = []string{tag}
	h.Add("Vary", "Authorization")
	if notModified(a.req, tag) {
		delete(h, "Content-Length")
		delete(h, "Content-Type")
		a.w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Length"] = []string{strconv.Itoa(len(a.buf))}
	a.w.WriteHeader(http.StatusOK)
	_, _ = a.w.Write(a.buf)
}

// writeError answers an error envelope.
func writeError(w http.ResponseWriter, status int, code errs.Code, msg string, details []byte) {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	challenge(h, status)
	w.WriteHeader(status)
	_, _ = w.Write(appendErrorEnvelope(make([]byte, 0, 128+len(msg)+len(details)), code, msg, details))
}

// hdrChallenge is the challenge of every 401 (RFC 9110 15.5.2: a 401 must
// carry one; RFC 6750 3: bearer tokens). Bearer does not open a browser's
// sign-in dialog, as Basic would.
var hdrChallenge = []string{`Bearer realm="api"`}

// challenge adds WWW-Authenticate to a 401.
func challenge(h http.Header, status int) {
	if status == http.StatusUnauthorized {
		h["Www-Authenticate"] = hdrChallenge
	}
}

// appendErrorEnvelope writes {"success":false,"error":{"code","message","details"}};
// details is a JSON object, nil for {}.
func appendErrorEnvelope(b []byte, code errs.Code, msg string, details []byte) []byte {
	b = append(b, errorPrefix...)
	b = append(b, code...)
	b = append(b, `","message":`...)
	b = appendString(b, msg)
	b = append(b, `,"details":`...)
	if len(details) == 0 {
		b = append(b, "{}"...)
	} else {
		b = append(b, details...)
	}
	return append(b, "}}"...)
}

func detailsJSON(m map[string]any) ([]byte, error) { return json.Marshal(m) }

// notFound answers routes that do not exist.
func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, errs.NotFound, "no route for "+r.Method+" "+r.URL.Path, nil)
}
