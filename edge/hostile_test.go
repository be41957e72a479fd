package edge_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bookingrush/rush/services/app"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

// startMesh runs the whole mesh (real services, Postgres, Redis, embedded
// Kafka) with fresh Redis prefixes and rate limits off; args come last.
func startMesh(t *testing.T, args ...string) *testkit.Mesh {
	t.Helper()
	redisURL := "redis://127.0.0.1:6379/0"
	base := []string{"-target=all", "-rate-limit.enabled=false",
		"-booking.key-prefix=" + testkit.KeyPrefix(t, redisURL), "-catalog.cache-prefix=" + testkit.KeyPrefix(t, redisURL),
		"-rate-limit.prefix=" + testkit.KeyPrefix(t, redisURL), "-queue.key-prefix=" + testkit.KeyPrefix(t, redisURL)}
	return testkit.Start(t, append(base, args...)...)
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
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: %d, the answer is cut: %v (%q)", req.Method, req.URL, res.StatusCode, err, b)
	}
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

// want checks that r is the envelope with status and code (code "" for a
// success), and, when field is set, that details.fields names it with rule.
func want(t *testing.T, what string, r rawReply, status int, code, field, rule string) {
	t.Helper()
	got, ok := r.envelopeCode()
	if r.status != status || !ok || got != code {
		t.Errorf("%s: %d %s, want %d %s in the envelope", what, r.status, r.body, status, code)
		return
	}
	if field == "" {
		return
	}
	var env struct {
		Error struct {
			Details struct {
				Fields []struct{ Field, Rule string } `json:"fields"`
			} `json:"details"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.body, &env)
	for _, f := range env.Error.Details.Fields {
		if f.Field == field && f.Rule == rule {
			return
		}
	}
	t.Errorf("%s: %s does not name field %q with rule %q", what, r.body, field, rule)
}

// TestOrdinaryHostileInputIsA4xx sends what browsers, CDNs, marketing links
// and careless clients send through the real edge to the real services:
// unknown query parameters are ignored, a body on a route that takes none
// is ignored, bad encodings and control characters are 400 naming the
// field. None of it is a 5xx (it used to be 500 INTERNAL_ERROR).
func TestOrdinaryHostileInputIsA4xx(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	base := m.URL(t, "edge")
	organizer := m.Token(t, uuid.NewString(), authn.RoleOrganizer)
	do := func(method, path, contentType, body, token string) rawReply {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body == "" {
			req.Body = http.NoBody
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return sendRaw(t, req)
	}
	const js = "application/json"
	reg := do("POST", "/api/v1/auth/register", js, `{"email":"hostile@rush.test","password":"secret-pass-1","full_name":"H"}`, "")
	var registered struct {
		Data struct {
			AccessToken string `json:"access_token"`
		} `json:"data"`
	}
	if err := json.Unmarshal(reg.body, &registered); err != nil || reg.status != 201 {
		t.Fatalf("register: %d %s", reg.status, reg.body)
	}
	buyer := registered.Data.AccessToken

	// Unknown query parameters are ignored on reads.
	for _, q := range []string{"utm_source=newsletter", "_=1733212345678", "q=", "=x", "page.x=1", "%zz=1&page=2",
		"status=published&utm_campaign=rush", "meta.page=1", "events=1", "slug=other"} {
		want(t, "GET /events?"+q, do("GET", "/api/v1/events?"+q, "", "", ""), 200, "", "", "")
	}
	want(t, "GET /auth/me?fbclid=", do("GET", "/api/v1/auth/me?fbclid=x1", "", "", buyer), 200, "", "", "")
	want(t, "GET /events/{slug}?slug=", do("GET", "/api/v1/events/no-such-event?slug=x", "", "", ""), 404, "NOT_FOUND", "", "")
	// Known ones still answer 400 when wrong.
	want(t, "page=abc", do("GET", "/api/v1/events?page=abc", "", "", ""), 400, "VALIDATION_ERROR", "page", "type")
	want(t, "per_page too big", do("GET", "/api/v1/events?perPage=99999999999999999999", "", "", ""), 400, "VALIDATION_ERROR", "per_page", "type")
	want(t, "status=nope", do("GET", "/api/v1/events?status=nope", "", "", ""), 400, "VALIDATION_ERROR", "", "")
	// ... saying what the value must be, not what the JSON decoder met.
	admin := m.Token(t, uuid.NewString(), authn.RoleAdmin)
	for _, c := range []struct{ what, path, token, field, says string }{
		{"mine=maybe", "/api/v1/events?mine=maybe", organizer, "mine", "must be true or false"},
		{"page=1.5", "/api/v1/events?page=1.5", "", "page", "must be a whole number from -2147483648 to 2147483647"},
		{"status=nope", "/api/v1/events?status=nope", "", "status", "must be one of cancelled, draft, published"},
		{"role=god", "/api/v1/admin/users?role=god", admin, "role", "must be one of admin, organizer, user"},
		{"from=2030-13-01", "/api/v1/admin/audit-logs?from=2030-13-01T00:00:00Z", admin, "from", "must be an RFC 3339 timestamp"},
		{"to=0000-01-01", "/api/v1/admin/audit-logs?to=0000-01-01T00:00:00Z", admin, "to", "must be an RFC 3339 timestamp"},
	} {
		r := do("GET", c.path, "", "", c.token)
		want(t, c.what, r, 400, "VALIDATION_ERROR", c.field, "type")
		if !strings.Contains(string(r.body), c.says) {
			t.Errorf("%s: %s does not say %q", c.what, r.body, c.says)
		}
	}
	for _, q := range []string{"status=PUBLISHED", "status=EVENT_STATUS_PUBLISHED", "status=2", "mine=false", "page=2"} {
		want(t, "GET /events?"+q, do("GET", "/api/v1/events?"+q, "", "", organizer), 200, "", "", "")
	}
	want(t, "from=2030-01-01T00:00:00+02:00", do("GET", "/api/v1/admin/audit-logs?from=2030-01-01T00:00:00%2B02:00", "", "", admin), 200, "", "", "")

	// A body on GET or DELETE is ignored, whatever its type.
	want(t, "GET with a JSON body", do("GET", "/api/v1/events", js, `{"page":"x"}`, ""), 200, "", "", "")
	want(t, "GET with a text body", do("GET", "/api/v1/events", "text/plain", "hello", ""), 200, "", "", "")
	want(t, "DELETE with a body", do("DELETE", "/api/v1/events/"+uuid.NewString(), js, `{"event_id":"x"}`, organizer), 404, "NOT_FOUND", "", "")

	// HEAD is GET without the body, on every GET route; not on the event
	// stream, which would never end; a route without GET answers 405.
	for path, status := range map[string]int{"/api/v1/events": 200, "/api/v1/openapi.json": 200, "/api/v1/auth/me": 200,
		"/api/v1/bookings/" + uuid.NewString(): 404, "/api/v1/queue/events": 405, "/api/v1/bookings/reserve": 405} {
		head := do("HEAD", path, "", "", buyer)
		if head.status != status || len(head.body) != 0 || head.header.Get("Content-Type") != "application/json" ||
			(status == 405 && head.header.Get("Allow") == "") {
			t.Errorf("HEAD %s: %d %v %q", path, head.status, head.header, head.body)
		}
		if get := do("GET", path, "", "", buyer); status != 405 && get.header.Get("Content-Length") != head.header.Get("Content-Length") {
			t.Errorf("HEAD %s: Content-Length %q, GET's %q", path, head.header.Get("Content-Length"), get.header.Get("Content-Length"))
		}
	}

	// Every 401 carries its challenge (RFC 9110 15.5.2), whoever refused.
	for what, r := range map[string]rawReply{
		"no token":         do("GET", "/api/v1/auth/me", "", "", ""),
		"a bad token":      do("GET", "/api/v1/auth/me", "", "", "x.y.z"),
		"reserve":          do("POST", "/api/v1/bookings/reserve", js, `{}`, "x.y.z"),
		"a wrong password": do("POST", "/api/v1/auth/login", js, `{"email":"hostile@rush.test","password":"wrong-pass-1"}`, ""),
	} {
		if r.status != 401 || r.header.Get("WWW-Authenticate") != `Bearer realm="api"` {
			t.Errorf("%s: %d %v", what, r.status, r.header)
		}
	}
	if r := do("PATCH", "/api/v1/events", "", "", ""); r.status != 405 || !strings.Contains(string(r.body), `"the route takes GET, POST"`) {
		t.Errorf("PATCH /api/v1/events: %d %s", r.status, r.body)
	}

	// Bad encodings and control characters: 400 naming the field.
	want(t, "path %ff", do("GET", "/api/v1/events/%ff", "", "", ""), 400, "VALIDATION_ERROR", "slug", "string.valid_utf8")
	want(t, "query %ff", do("GET", "/api/v1/events?category=%ff", "", "", ""), 400, "VALIDATION_ERROR", "category", "string.valid_utf8")
	// Decoded once, as sent: %25ff is the text "%ff" (the transcoder used
	// to decode it twice, into a byte that is not UTF-8: 500), and %2F is
	// a slash inside the segment.
	want(t, "stream, event_id not a UUID", do("GET", "/api/v1/queue/events?event_id=x", "", "", buyer), 400, "VALIDATION_ERROR", "event_id", "string.uuid")
	want(t, "stream, no event_id", do("GET", "/api/v1/queue/events", "", "", buyer), 400, "VALIDATION_ERROR", "event_id", "required")
	want(t, "path %25ff", do("GET", "/api/v1/bookings/%25ff", "", "", buyer), 400, "VALIDATION_ERROR", "booking_id", "string.uuid")
	want(t, "path %2F", do("GET", "/api/v1/events/rock%2Fnight", "", "", ""), 400, "VALIDATION_ERROR", "slug", "string.pattern")
	// A pattern is said in words, not as its regular expression.
	if r := do("GET", "/api/v1/events/rock%2Fnight", "", "", ""); !strings.Contains(string(r.body), `"message":"must be lowercase letters and digits, in words joined by single hyphens (e.g. summer-nights-2027)"`) {
		t.Errorf("a slug's pattern, in words: %s", r.body)
	}
	want(t, "path NUL", do("GET", "/api/v1/events/a%00b", "", "", ""), 400, "VALIDATION_ERROR", "slug", "string.no_control_characters")
	want(t, "query NUL", do("GET", "/api/v1/bookings?status=%00", "", "", buyer), 400, "VALIDATION_ERROR", "", "")
	want(t, "body NUL", do("PUT", "/api/v1/auth/me", js, `{"full_name":"a\u0000b"}`, buyer), 400, "VALIDATION_ERROR", "full_name", "string.no_control_characters")
	want(t, "body BEL", do("POST", "/api/v1/auth/register", js, `{"email":"bel@rush.test","password":"secret-pass-1","full_name":"a\u0007"}`, ""), 400, "VALIDATION_ERROR", "full_name", "string.no_control_characters")
	// A body the transcoder cannot decode: the whole 400, not a cut one
	// (the reverse proxy used to abort the connection after it).
	want(t, "body of the wrong type", do("POST", "/api/v1/auth/register", js, `{"email":0}`, ""), 400, "VALIDATION_ERROR", "email", "type")
	want(t, "body of the wrong type, camelCase", do("POST", "/api/v1/events", js, `{"maxPerUser":"x"}`, organizer), 400, "VALIDATION_ERROR", "max_per_user", "type")
	want(t, "reserve, wrong type", do("POST", "/api/v1/bookings/reserve", js, `{"quantity":1e400}`, buyer), 400, "VALIDATION_ERROR", "quantity", "type")
	// protojson names no field for a well-known type's value: the edge
	// finds it at the error's position, nested ones included.
	want(t, "timestamp out of range", do("POST", "/api/v1/events", js, "{\"title\":\"R\",\n \"saleEndAt\": \"0000-01-01T00:00:00Z\"}", organizer), 400, "VALIDATION_ERROR", "sale_end_at", "type")
	want(t, "timestamp not RFC 3339", do("POST", "/api/v1/events", js, `{"title":"Rü","sale_start_at":"2030-13-01T00:00:00Z"}`, organizer), 400, "VALIDATION_ERROR", "sale_start_at", "type")
	want(t, "timestamp an object", do("POST", "/api/v1/events", js, `{"title":"R","sale_start_at":{}}`, organizer), 400, "VALIDATION_ERROR", "sale_start_at", "type")
	want(t, "nested timestamp", do("POST", "/api/v1/checkin/sync", js, `{"scans":[{"code":"x"},{"code":"y","scanned_at":"nope"}]}`, organizer), 400, "VALIDATION_ERROR", "scans[1].scanned_at", "type")
	if r := do("POST", "/api/v1/events", js, `{"title":"R",}`, organizer); r.status != 400 ||
		!strings.Contains(string(r.body), `"the body is not JSON of this request: syntax error (line 1:14): unexpected token }"`) {
		t.Errorf("syntax error: %d %s", r.status, r.body)
	}
	// Each says what the value must be, and a nested one names its path
	// (protojson's own message names only the innermost field).
	for _, c := range []struct{ what, path, body, field, rule, says string }{
		{"int32 a string", "/api/v1/events", `{"maxPerUser":"x"}`, "max_per_user", "type", "must be a whole number from -2147483648 to 2147483647"},
		{"bool a string", "/api/v1/events", `{"title":"R","queue_enabled":"yes"}`, "queue_enabled", "type", "must be true or false"},
		{"string a number", "/api/v1/auth/register", `{"email":0}`, "email", "type", "must be a string"},
		{"timestamp", "/api/v1/events", `{"sale_start_at":"2030-13-01T00:00:00Z"}`, "sale_start_at", "type", "must be an RFC 3339 timestamp"},
		{"nested string a number", "/api/v1/checkin/sync", `{"scans":[{"code":"x"},{"code":5}]}`, "scans[1].code", "type", "must be a string"},
		{"list an object", "/api/v1/checkin/sync", `{"scans":{}}`, "scans", "type", "must be an array"},
		{"enum unknown", "/api/v1/admin/users/" + uuid.NewString() + "/role", `{"role":"god"}`, "role", "type", "must be one of admin, organizer, user"},
		{"field twice", "/api/v1/events", `{"title":"R","title":"S"}`, "title", "unique", "must be given once"},
	} {
		method := "POST"
		if strings.HasSuffix(c.path, "/role") {
			method = "PUT"
		}
		token := organizer
		if strings.Contains(c.path, "/checkin/") || strings.Contains(c.path, "/admin/") {
			token = admin
		}
		r := do(method, c.path, js, c.body, token)
		want(t, c.what, r, 400, "VALIDATION_ERROR", c.field, c.rule)
		if !strings.Contains(string(r.body), c.says) || !strings.Contains(string(r.body), `"message":"invalid input: `+c.field+`"`) {
			t.Errorf("%s: %s does not say %q", c.what, r.body, c.says)
		}
	}
	// The services' own checks answer in the same shape as the contracts'
	// rules: details.fields naming the field and the check.
	want(t, "sale ended", do("POST", "/api/v1/events", js, `{"title":"R","venue":"H","sale_start_at":"2020-01-01T00:00:00Z","sale_end_at":"2021-01-01T00:00:00Z"}`, organizer),
		400, "VALIDATION_ERROR", "sale_end_at", "sale_end_at.future")
	want(t, "unknown category", do("POST", "/api/v1/events", js, `{"title":"R","venue":"H","category":"no-such-category","sale_start_at":"2030-01-01T00:00:00Z","sale_end_at":"2031-01-01T00:00:00Z"}`, organizer), 400, "VALIDATION_ERROR", "category", "category.known")
	want(t, "unknown time zone", do("POST", "/api/v1/events", js, `{"title":"R","venue":"H","time_zone":"Mars/Olympus_Mons","sale_start_at":"2030-01-01T00:00:00Z","sale_end_at":"2031-01-01T00:00:00Z"}`, organizer), 400, "VALIDATION_ERROR", "time_zone", "time_zone.iana")
	// A name of only spaces passes the contract's min_len 1; the table's
	// check refused it as "the change breaks a rule of the catalog",
	// naming only its constraint. It is a blank field, named.
	created := do("POST", "/api/v1/events", js, `{"title":"Blank Test","venue":"H","sale_start_at":"2030-01-01T00:00:00Z","sale_end_at":"2031-01-01T00:00:00Z"}`, organizer)
	var ev struct {
		Data struct{ ID string } `json:"data"`
	}
	if err := json.Unmarshal(created.body, &ev); created.status != 201 && created.status != 200 || err != nil || ev.Data.ID == "" {
		t.Fatalf("create an event: %d %s", created.status, created.body)
	}
	want(t, "blank title", do("POST", "/api/v1/events", js, `{"title":"   ","venue":"H","sale_start_at":"2030-01-01T00:00:00Z","sale_end_at":"2031-01-01T00:00:00Z"}`, organizer), 400, "VALIDATION_ERROR", "title", "title.not_blank")
	want(t, "title changed to blank", do("PUT", "/api/v1/events/"+ev.Data.ID, js, `{"title":"  "}`, organizer), 400, "VALIDATION_ERROR", "title", "title.not_blank")
	show := do("POST", "/api/v1/events/"+ev.Data.ID+"/shows", js, `{"show_date":"2030-06-01T20:00:00Z"}`, organizer)
	var sh struct {
		Data struct{ ID string } `json:"data"`
	}
	if err := json.Unmarshal(show.body, &sh); err != nil || sh.Data.ID == "" {
		t.Fatalf("add a show: %d %s", show.status, show.body)
	}
	want(t, "blank zone name", do("POST", "/api/v1/shows/"+sh.Data.ID+"/zones", js, `{"name":" ","price":"10.00","total_seats":5}`, organizer), 400, "VALIDATION_ERROR", "name", "name.not_blank")
	want(t, "blank password", do("POST", "/api/v1/auth/register", js, `{"email":"blank@rush.test","password":"          ","full_name":"B"}`, ""), 400, "VALIDATION_ERROR", "password", "password.not_blank")
	want(t, "bad reset token", do("POST", "/api/v1/auth/reset-password", js, `{"token":"`+strings.Repeat("a", 43)+`","new_password":"secret-pass-2"}`, ""), 400, "VALIDATION_ERROR", "token", "token.valid")
	want(t, "body invalid UTF-8", do("PUT", "/api/v1/auth/me", js, "{\"full_name\":\"a\xffb\"}", buyer), 400, "VALIDATION_ERROR", "", "")
	// A lone surrogate escape: protojson says "unexpected EOF" of a body
	// that is whole, or that a string must be a string; the answer names
	// the escape (and its field, when protojson said where).
	for _, c := range []struct{ method, path, body, field string }{
		{"PUT", "/api/v1/auth/me", `{"full_name":"a\udcffb"}`, ""},
		{"POST", "/api/v1/bookings/reserve", `{"show_id":"\udc00","zone_id":"` + uuid.NewString() + `","quantity":1}`, "show_id"},
	} {
		r := do(c.method, c.path, js, c.body, buyer)
		rule := map[bool]string{true: "string.valid_utf8"}[c.field != ""]
		want(t, "lone surrogate "+c.path, r, 400, "VALIDATION_ERROR", c.field, rule)
		if !strings.Contains(string(r.body), "half of a UTF-16 surrogate pair") {
			t.Errorf("lone surrogate %s: %s", c.path, r.body)
		}
	}
	want(t, "reserve NUL", do("POST", "/api/v1/bookings/reserve", js, `{"show_id":"`+uuid.NewString()+`","zone_id":"`+uuid.NewString()+`","quantity":1,"idempotency_key":"key-\u0000-123"}`, buyer),
		400, "VALIDATION_ERROR", "idempotency_key", "string.no_control_characters")
	want(t, "Content-Type not UTF-8", do("POST", "/api/v1/webhooks/stripe", "application/json; charset=\xff", `{}`, ""), 415, "UNSUPPORTED_MEDIA_TYPE", "", "")
	// A media type is case-insensitive, and JSON's charset is UTF-8: the
	// transcoded routes read what the reserve route reads; anything else is
	// a 415 saying what to send.
	want(t, "no Content-Type", do("PUT", "/api/v1/auth/me", "", `{"full_name":"Ann"}`, buyer), 200, "", "", "")
	for _, ct := range []string{"APPLICATION/JSON", "Application/Json; charset=UTF-8", "application/json;charset=utf-8"} {
		want(t, "Content-Type "+ct, do("PUT", "/api/v1/auth/me", ct, `{"full_name":"Ann"}`, buyer), 200, "", "", "")
		want(t, "reserve, Content-Type "+ct, do("POST", "/api/v1/bookings/reserve", ct, `{"quantity":0}`, buyer), 400, "VALIDATION_ERROR", "", "")
	}
	for ct, says := range map[string]string{
		"text/plain":                        "sent as Content-Type: application/json",
		"application/x-www-form-urlencoded": "sent as Content-Type: application/json",
		"application/json; charset=latin1":  "JSON in UTF-8",
	} {
		for _, path := range []string{"/api/v1/auth/me", "/api/v1/bookings/reserve"} {
			method := map[bool]string{true: "PUT", false: "POST"}[path == "/api/v1/auth/me"]
			r := do(method, path, ct, `{"full_name":"Ann"}`, buyer)
			want(t, path+" Content-Type "+ct, r, 415, "UNSUPPORTED_MEDIA_TYPE", "", "")
			if !strings.Contains(string(r.body), says) {
				t.Errorf("%s Content-Type %s: %s does not say %q", path, ct, r.body, says)
			}
		}
	}
	// A UTF-8 byte order mark before the JSON is ignored (RFC 8259, 8.1).
	want(t, "body with a BOM", do("PUT", "/api/v1/auth/me", js, "\ufeff{\"full_name\":\"Ann\"}", buyer), 200, "", "", "")
	want(t, "reserve body with a BOM", do("POST", "/api/v1/bookings/reserve", js, "\ufeff{\"quantity\":0}", buyer), 400, "VALIDATION_ERROR", "quantity", "required")
	// Multi-line text is text.
	want(t, "body newline", do("PUT", "/api/v1/auth/me", js, `{"full_name":"a\nb\tc"}`, buyer), 200, "", "", "")

	// A list far beyond its max_items is answered by its length alone,
	// before any item is checked. Every item used to be checked and
	// answered: 2.6 MB for this 60 KB body, 38 MB after 12 s for 300,001
	// items (a 500 once that outran the edge's request timeout); then the
	// first server.MaxViolations, after 0.37 s of the service's CPU for
	// 300,001.
	many := do("POST", "/api/v1/checkin/devices", js, `{"name":"North","event_ids":[`+strings.Repeat(`"",`, 20_000)+`""]}`, organizer)
	want(t, "20,001 bad items", many, 400, "VALIDATION_ERROR", "event_ids", "repeated.max_items")
	if n := strings.Count(string(many.body), `"rule":`); len(many.body) > 2<<10 || n != 1 {
		t.Errorf("20,001 bad items: %d bytes, %d violations: %.300s", len(many.body), n, many.body)
	}
}

// TestServerErrorsAreLogged puts the edge in front of an upstream that is
// broken (it answers every call with a plain-text 500): the caller reads
// INTERNAL_ERROR in the envelope, and the edge logs the answer at error
// level with the caller's request id.
func TestServerErrorsAreLogged(t *testing.T) {
	t.Parallel()
	broken := startH2C(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))

	core, logs := observer.New(zap.WarnLevel)
	cfg := testkit.Config(t, pgtest.URL(), "-target=edge", "-rate-limit.enabled=false",
		"-peer.catalog="+strings.TrimPrefix(broken.URL, "http://"))
	var reg *server.Registry
	a := app.New(cfg, fx.Populate(&reg), fx.NopLogger, fx.Decorate(func(*zap.Logger) *zap.Logger { return zap.New(core) }))
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	base, _ := reg.URL("edge")

	req, _ := http.NewRequest("GET", base+"/api/v1/events", nil)
	req.Header.Set("X-Request-Id", "broken-upstream-1")
	want(t, "GET /events, catalog broken", sendRaw(t, req), 500, "INTERNAL_ERROR", "", "")
	found := logs.FilterMessage("answered a server error").FilterField(zap.String("request_id", "broken-upstream-1"))
	if found.Len() != 1 || found.All()[0].Level != zap.ErrorLevel {
		t.Fatalf("want one error line for the 500 with its request id, got %v", found.All())
	}
}
