package edge_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/bookingrush/rush/services/platform/meshtest"
	"github.com/bookingrush/rush/services/platform/server"
)

// startMesh runs the whole mesh (real services, Postgres, Redis, embedded
// Kafka) with fresh Redis prefixes and rate limits off; args come last.
func startMesh(t *testing.T, args ...string) *meshtest.Mesh {
	t.Helper()
	redisURL := "redis://127.0.0.1:6379/0"
	base := []string{"-target=all", "-auth.bcrypt-cost=4", "-rate-limit.enabled=false",
		"-booking.key-prefix=" + meshtest.KeyPrefix(t, redisURL), "-catalog.cache-prefix=" + meshtest.KeyPrefix(t, redisURL),
		"-rate-limit.prefix=" + meshtest.KeyPrefix(t, redisURL), "-queue.key-prefix=" + meshtest.KeyPrefix(t, redisURL)}
	return meshtest.Start(t, append(base, args...)...)
}

// rawReply is an answer read without any expectation of its shape.
type rawReply struct {
	status int
	header http.Header
	body   []byte
}

// envelopeCode returns the error code of an error envelope, "" for a
// success envelope, and an error when the body is not the envelope at all.
func (r rawReply) envelopeCode() (string, bool) {
	var env struct {
		Success *bool `json:"success"`
		Error   *struct {
			Code    string          `json:"code"`
			Message *string         `json:"message"`
			Details json.RawMessage `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(r.body, &env) != nil || env.Success == nil || *env.Success != (r.status < 300) {
		return "", false
	}
	if *env.Success {
		return "", true
	}
	if env.Error == nil || env.Error.Code == "" || env.Error.Message == nil || !strings.HasPrefix(string(env.Error.Details), "{") {
		return "", false
	}
	return env.Error.Code, true
}

func sendRaw(t testing.TB, req *http.Request) rawReply {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return rawReply{status: res.StatusCode, header: res.Header, body: b}
}

// TestHeadersAboveTheLimitAnswer431 sends header blocks around
// server.max-header-bytes through the real edge: up to the limit the call
// reaches its service (which used to refuse what the edge had accepted, a
// false 503 between 64 and 69 KB); above it the edge answers 431 in the
// envelope, and far above it the HTTP server itself answers 431.
func TestHeadersAboveTheLimitAnswer431(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	base := m.URL(t, "edge")
	limit := m.Config.Server.MaxHeaderBytes
	request := func(total int) *http.Request {
		req, _ := http.NewRequest("GET", base+"/api/v1/events", nil)
		// What the client's transport and the edge add themselves.
		req.Header.Set("User-Agent", "Go-http-client/1.1")
		req.Header.Set("Accept-Encoding", "gzip")
		req.Header.Set("X-Request-Id", "header-size-test")
		req.Header.Set("X-Filler", "")
		req.Header.Set("X-Filler", strings.Repeat("a", total-server.HeaderSize(req.Header)))
		if got := server.HeaderSize(req.Header); got != total {
			t.Fatalf("built %d bytes of headers, want %d", got, total)
		}
		return req
	}
	for _, total := range []int{limit - 1024, limit} {
		if r := sendRaw(t, request(total)); r.status != http.StatusOK {
			t.Errorf("%d bytes of headers (limit %d): %d %s, want 200", total, limit, r.status, r.body)
		}
	}
	for _, total := range []int{limit + 1, limit + 1<<10, limit + 3<<10, limit + 5<<10, limit + 7<<10} {
		r := sendRaw(t, request(total))
		code, ok := r.envelopeCode()
		if r.status != http.StatusRequestHeaderFieldsTooLarge || !ok || code != "HEADERS_TOO_LARGE" || r.header.Get("X-Request-Id") != "header-size-test" {
			t.Errorf("%d bytes of headers (limit %d): %d %s, want 431 HEADERS_TOO_LARGE in the envelope", total, limit, r.status, r.body)
		}
	}
	// Beyond the server's own limit (limit + headroom + bufio slop) net/http
	// answers before any handler runs: still 431, never a 5xx.
	if r := sendRaw(t, request(limit+server.HeaderHeadroom+16<<10)); r.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("far above the limit: %d %s, want 431", r.status, r.body)
	}
}
