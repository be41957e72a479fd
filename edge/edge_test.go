package edge_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/testkit"
)

const (
	anID   = "0195f3a0-0000-7000-8000-0000000000a1"
	showID = "0195f3a0-0000-7000-8000-0000000000a2"
	zoneID = "0195f3a0-0000-7000-8000-0000000000a3"
)

// TestEveryRouteReachesItsRPC sends each row of the API table of edge/README.md (plus
// the admin routes of the contracts) through the edge and checks which
// procedure of which service received it.
func TestEveryRouteReachesItsRPC(t *testing.T) {
	t.Parallel()
	e := start(t, "-rate-limit.enabled=false")
	token, _ := e.token(authn.RoleAdmin)
	routes := []struct{ method, path, body, procedure string }{
		{"POST", "/api/v1/auth/register", `{}`, "/bookingrush.auth.v1.AuthService/Register"},
		{"POST", "/api/v1/auth/login", `{}`, "/bookingrush.auth.v1.AuthService/Login"},
		{"POST", "/api/v1/auth/refresh", `{}`, "/bookingrush.auth.v1.AuthService/Refresh"},
		{"POST", "/api/v1/auth/logout", `{}`, "/bookingrush.auth.v1.AuthService/Logout"},
		{"POST", "/api/v1/auth/forgot-password", `{}`, "/bookingrush.auth.v1.AuthService/ForgotPassword"},
		{"POST", "/api/v1/auth/reset-password", `{}`, "/bookingrush.auth.v1.AuthService/ResetPassword"},
		{"GET", "/api/v1/auth/me", ``, "/bookingrush.auth.v1.AuthService/GetMe"},
		{"PUT", "/api/v1/auth/me", `{"full_name":"A"}`, "/bookingrush.auth.v1.AuthService/UpdateMe"},
		{"PUT", "/api/v1/admin/users/" + anID + "/role", `{"role":"organizer"}`, "/bookingrush.auth.v1.AuthService/SetUserRole"},
		{"DELETE", "/api/v1/admin/users/" + anID, ``, "/bookingrush.auth.v1.AuthService/DeleteUser"},
		{"GET", "/api/v1/admin/users/" + anID, ``, "/bookingrush.auth.v1.AuthService/GetUser"},
		{"GET", "/api/v1/admin/audit-logs", ``, "/bookingrush.auth.v1.AuthService/ListAuditLogs"},
		{"GET", "/api/v1/admin/users?query=ana&role=organizer", ``, "/bookingrush.auth.v1.AuthService/ListUsers"},
		{"GET", "/api/v1/events?page=1&per_page=20&status=published&category=rock", ``, "/bookingrush.catalog.v1.CatalogService/ListEvents"},
		{"GET", "/api/v1/events/rock-night", ``, "/bookingrush.catalog.v1.CatalogService/GetEvent"},
		{"GET", "/api/v1/events/rock-night/shows", ``, "/bookingrush.catalog.v1.CatalogService/ListShows"},
		{"GET", "/api/v1/shows/" + showID + "/zones", ``, "/bookingrush.catalog.v1.CatalogService/ListZones"},
		{"POST", "/api/v1/events", `{"title":"T"}`, "/bookingrush.catalog.v1.CatalogService/CreateEvent"},
		{"PUT", "/api/v1/events/" + anID, `{"title":"T"}`, "/bookingrush.catalog.v1.CatalogService/UpdateEvent"},
		{"DELETE", "/api/v1/events/" + anID, ``, "/bookingrush.catalog.v1.CatalogService/DeleteEvent"},
		{"POST", "/api/v1/events/" + anID + "/shows", `{}`, "/bookingrush.catalog.v1.CatalogService/CreateShow"},
		{"POST", "/api/v1/shows/" + showID + "/zones", `{}`, "/bookingrush.catalog.v1.CatalogService/CreateZone"},
		{"DELETE", "/api/v1/shows/" + showID, ``, "/bookingrush.catalog.v1.CatalogService/DeleteShow"},
		{"DELETE", "/api/v1/zones/" + anID, ``, "/bookingrush.catalog.v1.CatalogService/DeleteZone"},
		{"POST", "/api/v1/events/" + anID + "/publish", `{}`, "/bookingrush.catalog.v1.CatalogService/PublishEvent"},
		{"POST", "/api/v1/events/" + anID + "/cancel", `{}`, "/bookingrush.catalog.v1.CatalogService/CancelEvent"},
		{"GET", "/api/v1/categories", ``, "/bookingrush.catalog.v1.CatalogService/ListCategories"},
		{"POST", "/api/v1/categories", `{}`, "/bookingrush.catalog.v1.CatalogService/CreateCategory"},
		{"POST", "/api/v1/bookings/reserve", `{}`, "/bookingrush.booking.v1.BookingService/Reserve"},
		{"POST", "/api/v1/bookings/" + anID + "/confirm", `{}`, "/bookingrush.booking.v1.BookingService/ConfirmBooking"},
		{"POST", "/api/v1/bookings/" + anID + "/cancel", `{}`, "/bookingrush.booking.v1.BookingService/CancelBooking"},
		{"GET", "/api/v1/bookings?page=2&per_page=5", ``, "/bookingrush.booking.v1.BookingService/ListBookings"},
		{"GET", "/api/v1/bookings/pending", ``, "/bookingrush.booking.v1.BookingService/ListPendingBookings"},
		{"GET", "/api/v1/bookings/" + anID, ``, "/bookingrush.booking.v1.BookingService/GetBooking"},
		{"POST", "/api/v1/queue/join", `{"event_id":"` + anID + `"}`, "/bookingrush.queue.v1.QueueService/JoinQueue"},
		{"GET", "/api/v1/queue/status?event_id=" + anID, ``, "/bookingrush.queue.v1.QueueService/GetQueueStatus"},
		{"GET", "/api/v1/queue/lines/" + anID, ``, "/bookingrush.queue.v1.QueueService/GetLine"},
		{"PUT", "/api/v1/events/" + anID + "/queue", `{"enabled":true,"admit_per_second":50,"max_active":100}`, "/bookingrush.queue.v1.QueueService/SetQueueSettings"},
		{"POST", "/api/v1/payments", `{"booking_id":"` + anID + `","payment_method":"sim_ok"}`, "/bookingrush.payment.v1.PaymentService/CreatePayment"},
		{"GET", "/api/v1/payments/" + anID, ``, "/bookingrush.payment.v1.PaymentService/GetPayment"},
		{"POST", "/api/v1/payments/" + anID + "/refund", `{"reason":"r"}`, "/bookingrush.payment.v1.PaymentService/RefundPayment"},
		{"POST", "/api/v1/webhooks/stripe", `{"id":"evt_1"}`, "/bookingrush.payment.v1.PaymentService/HandleStripeWebhook"},
		{"GET", "/api/v1/analytics/events/" + anID, ``, "/bookingrush.analytics.v1.AnalyticsService/GetEventAnalytics"},
		{"GET", "/api/v1/analytics/dashboard", ``, "/bookingrush.analytics.v1.AnalyticsService/GetDashboard"},
		{"GET", "/api/v1/notifications", ``, "/bookingrush.notify.v1.NotifyService/ListNotifications"},
		{"GET", "/api/v1/admin/sagas/" + anID, ``, "/bookingrush.saga.v1.SagaService/GetSaga"},
		{"GET", "/api/v1/admin/sagas", ``, "/bookingrush.saga.v1.SagaService/ListSagas"},
		{"GET", "/api/v1/admin/dead-letters", ``, "/bookingrush.saga.v1.SagaService/ListDeadLetters"},
	}
	for _, rt := range routes {
		id := "route-" + uuid.NewString()
		r := e.do(rt.method, rt.path, rt.body, "Authorization", "Bearer "+token, "X-Request-ID", id)
		got, ok := e.rec.get(id)
		if !ok || got.procedure != rt.procedure {
			t.Errorf("%s %s reached %q, want %s (answer %s)", rt.method, rt.path, got.procedure, rt.procedure, r)
			continue
		}
		if r.header.Get("X-Request-Id") != id || (r.env.Success != (r.status < 300)) {
			t.Errorf("%s %s: answer %s, request id %q", rt.method, rt.path, r, r.header.Get("X-Request-Id"))
		}
		// Unimplemented services answer 501 NOT_IMPLEMENTED naming the RPC.
		if r.status == http.StatusNotImplemented && !strings.Contains(r.env.Error.Message, rt.procedure[strings.LastIndexByte(rt.procedure, '/')+1:]) {
			t.Errorf("%s %s: 501 names another RPC: %s", rt.method, rt.path, r)
		}
	}

	// The stream is the edge's own (sse.go): a bearer caller's ticket is
	// looked up with GetQueueStatus, which this fake does not implement.
	r := e.do("GET", "/api/v1/queue/events?event_id="+anID, "", "Authorization", "Bearer "+token)
	if r.status != http.StatusNotImplemented || r.errorCode() != "NOT_IMPLEMENTED" {
		t.Errorf("GET /queue/events = %s", r)
	}
	// Internal RPCs are not reachable, neither by REST nor by RPC protocols.
	for _, req := range []struct{ path, contentType string }{
		{"/bookingrush.booking.v1.BookingService/LoadInventory", "application/json"},
		{"/api/v1/bookingrush.booking.v1.BookingService/LoadInventory", "application/json"},
		{"/bookingrush.booking.v1.BookingService/LoadInventory", "application/grpc"},
	} {
		hr, _ := http.NewRequest("POST", e.base+req.path, strings.NewReader(`{"event_id":"`+anID+`"}`))
		hr.Header.Set("Content-Type", req.contentType)
		hr.Header.Set("Connect-Protocol-Version", "1")
		hr.Header.Set("Authorization", "Bearer "+token)
		if r := e.send(hr); r.status != http.StatusNotFound || r.errorCode() != "NOT_FOUND" {
			t.Errorf("POST %s (%s) = %s, want 404", req.path, req.contentType, r)
		}
	}
}

func TestEnvelopeAndJSON(t *testing.T) {
	t.Parallel()
	e := start(t, "-rate-limit.enabled=false")
	admin, _ := e.token(authn.RoleAdmin)
	auth := []string{"Authorization", "Bearer " + admin}

	t.Run("list with meta, enums short, snake_case", func(t *testing.T) {
		r := e.do("GET", "/api/v1/events?page=3&status=cancelled", "")
		if r.status != 200 || !r.env.Success {
			t.Fatalf("list = %s", r)
		}
		var events []map[string]any
		if err := json.Unmarshal(r.env.Data, &events); err != nil || len(events) != 2 {
			t.Fatalf("data is not the list of 2 events: %s", r.env.Data)
		}
		ev := events[0]
		if ev["status"] != "cancelled" || ev["max_per_user"] != 4.0 || ev["queue_enabled"] != true || ev["sale_start_at"] != "2026-12-24T20:00:00.500Z" {
			t.Errorf("event JSON = %v", ev)
		}
		// Every field is present: zero scalars, unset messages as null.
		if v, ok := ev["description"]; !ok || v != "" {
			t.Errorf("description = %v, %v", v, ok)
		}
		if v, ok := ev["published_at"]; !ok || v != nil {
			t.Errorf("published_at = %v, %v", v, ok)
		}
		if _, camel := ev["maxPerUser"]; camel {
			t.Error("camelCase field names in output")
		}
		if string(r.env.Meta) != `{"page":3,"per_page":20,"total":42}` {
			t.Errorf("meta = %s", r.env.Meta)
		}
		// Markup is escaped in strings.
		if !strings.Contains(string(r.raw), `Rock \u003cNight\u003e \u0026 more`) {
			t.Errorf("title not escaped: %s", r.raw)
		}
		// The full enum name is accepted as well.
		if r := e.do("GET", "/api/v1/events?status=EVENT_STATUS_DRAFT", ""); !strings.Contains(string(r.env.Data), `"status":"draft"`) {
			t.Errorf("full enum name in query: %s", r)
		}
	})

	t.Run("single entity unwrapped", func(t *testing.T) {
		r := e.do("GET", "/api/v1/events/rock-night", "")
		var ev map[string]any
		if err := json.Unmarshal(r.env.Data, &ev); err != nil || r.status != 200 || ev["slug"] != "rock-night" || ev["status"] != "published" {
			t.Fatalf("get event = %s", r)
		}
		if r.env.Meta != nil {
			t.Errorf("single entity carries meta: %s", r.env.Meta)
		}
	})

	t.Run("create answers 201, input camelCase or snake_case", func(t *testing.T) {
		window := `"sale_start_at":"2026-12-01T10:00:00Z","saleEndAt":"2026-12-20T10:00:00.250Z"`
		for _, body := range []string{
			`{"title":"Jazz","venue":"Hall","maxPerUser":3,` + window + `}`,
			`{"title":"Jazz","venue":"Hall","max_per_user":3,` + window + `}`,
		} {
			r := e.do("POST", "/api/v1/events", body, auth...)
			if r.status != http.StatusCreated || !strings.Contains(string(r.env.Data), `"max_per_user":3`) || !strings.Contains(string(r.env.Data), `"status":"draft"`) {
				t.Errorf("create event %s = %s", body, r)
			}
		}
		r := e.do("POST", "/api/v1/bookings/reserve", `{"showId":"`+showID+`","zone_id":"`+zoneID+`","quantity":2}`,
			"Authorization", "Bearer "+admin, "Idempotency-Key", "key-12345678")
		if r.status != http.StatusCreated || !strings.Contains(string(r.env.Data), `"status":"reserved"`) || !strings.Contains(string(r.env.Data), `"total_amount":"99.80"`) {
			t.Fatalf("reserve = %s", r)
		}
	})

	t.Run("enum input short or full", func(t *testing.T) {
		for in, out := range map[string]string{"organizer": "organizer", "ORGANIZER": "organizer", "ROLE_ADMIN": "admin", "role_user": "user"} {
			r := e.do("PUT", "/api/v1/admin/users/"+anID+"/role", `{"role":"`+in+`"}`, auth...)
			if r.status != 200 || !strings.Contains(string(r.env.Data), `"role":"`+out+`"`) {
				t.Errorf("role %q = %s", in, r)
			}
		}
	})

	t.Run("empty response is an empty object", func(t *testing.T) {
		r := e.do("DELETE", "/api/v1/events/"+anID, "", auth...)
		if r.status != 200 || string(r.raw) != `{"success":true,"data":{}}` {
			t.Fatalf("delete = %s", r)
		}
	})
}

func TestErrors(t *testing.T) {
	t.Parallel()
	e := start(t, "-rate-limit.enabled=false", "-edge.max-body-bytes=2048", "-edge.request-timeout=300ms")
	user, _ := e.token(authn.RoleUser)
	auth := []string{"Authorization", "Bearer " + user}
	reserve := func(qty string) string {
		return `{"show_id":"` + showID + `","zone_id":"` + zoneID + `","quantity":` + qty + `}`
	}
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"unknown route", "GET", "/api/v1/nope", "", 404, "NOT_FOUND"},
		{"outside the API", "GET", "/nope", "", 404, "NOT_FOUND"},
		{"wrong method", "DELETE", "/api/v1/auth/login", "", 405, "METHOD_NOT_ALLOWED"},
		{"bad JSON", "POST", "/api/v1/bookings/reserve", `{"quantity":`, 400, "VALIDATION_ERROR"},
		{"wrong JSON type", "POST", "/api/v1/bookings/reserve", `{"quantity":"many"}`, 400, "VALIDATION_ERROR"},
		{"service not found", "GET", "/api/v1/events/missing", "", 404, "NOT_FOUND"},
		{"domain error", "POST", "/api/v1/bookings/reserve", reserve("7"), 409, "INSUFFICIENT_STOCK"},
		{"not implemented", "GET", "/api/v1/bookings/" + anID, "", 501, "NOT_IMPLEMENTED"},
		{"timeout", "POST", "/api/v1/bookings/reserve", reserve("9"), 503, "SERVICE_UNAVAILABLE"},
		{"body too large", "POST", "/api/v1/bookings/reserve", `{"show_id":"` + strings.Repeat("x", 4096) + `"}`, 413, "PAYLOAD_TOO_LARGE"},
	}
	for _, c := range cases {
		r := e.do(c.method, c.path, c.body, auth...)
		if r.status != c.status || r.errorCode() != c.code || r.env.Success || r.env.Error.Message == "" {
			t.Errorf("%s: %s %s = %s, want %d %s", c.name, c.method, c.path, r, c.status, c.code)
		}
		if r.header.Get("X-Request-Id") == "" || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: headers %v", c.name, r.header)
		}
	}

	t.Run("validation lists the offending fields", func(t *testing.T) {
		r := e.do("POST", "/api/v1/bookings/reserve", reserve("0"), auth...)
		if r.status != 400 || r.errorCode() != "VALIDATION_ERROR" {
			t.Fatalf("quantity 0 = %s", r)
		}
		fields, _ := r.env.Error.Details["fields"].([]any)
		if len(fields) != 1 || fields[0].(map[string]any)["field"] != "quantity" || fields[0].(map[string]any)["message"] == "" {
			t.Fatalf("fields = %v", r.env.Error.Details)
		}
	})

	t.Run("domain details", func(t *testing.T) {
		r := e.do("POST", "/api/v1/bookings/reserve", reserve("7"), auth...)
		if r.env.Error.Details["requested"] != 7.0 || r.env.Error.Details["available"] != 2.0 {
			t.Fatalf("details = %v", r.env.Error.Details)
		}
	})

	t.Run("chunked body too large", func(t *testing.T) {
		body := io.MultiReader(strings.NewReader(`{"show_id":"`), strings.NewReader(strings.Repeat("x", 8192)), strings.NewReader(`"}`))
		req, _ := http.NewRequest("POST", e.base+"/api/v1/bookings/reserve", body)
		req.ContentLength = -1
		req.Header.Set("Authorization", "Bearer "+user)
		if r := e.send(req); r.status != 413 || r.errorCode() != "PAYLOAD_TOO_LARGE" {
			t.Fatalf("chunked = %s", r)
		}
	})

	t.Run("not JSON", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.base+"/api/v1/bookings/reserve", strings.NewReader("quantity=1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+user)
		if r := e.send(req); r.status != 415 || r.errorCode() != "UNSUPPORTED_MEDIA_TYPE" {
			t.Fatalf("form body = %s", r)
		}
	})

	t.Run("upstream down", func(t *testing.T) {
		e.reg.Set("payment", "http://127.0.0.1:1")
		r := e.do("GET", "/api/v1/payments/"+anID, "", auth...)
		if r.status != 503 || r.errorCode() != "SERVICE_UNAVAILABLE" {
			t.Fatalf("payment down = %s", r)
		}
	})
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := start(t, "-rate-limit.enabled=false")
	user, _ := e.token(authn.RoleUser)
	expired, _, err := e.keys.IssueAccess(uuid.NewString(), authn.RoleUser, "", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/bookings/" + anID
	for name, header := range map[string]string{
		"forged":     "Bearer " + user + "x",
		"expired":    "Bearer " + expired,
		"not bearer": "Basic dXNlcjpwYXNz",
		"garbage":    "Bearer not.a.jwt",
	} {
		id := "auth-" + uuid.NewString()
		r := e.do("GET", path, "", "Authorization", header, "X-Request-ID", id)
		if r.status != 401 || r.errorCode() != "UNAUTHORIZED" {
			t.Errorf("%s token: %s", name, r)
		}
		if _, reached := e.rec.get(id); reached {
			t.Errorf("%s token reached the service", name)
		}
	}
	// Without a token the edge lets the service decide (deny by default).
	if r := e.do("GET", path, ""); r.status != 401 || r.errorCode() != "UNAUTHORIZED" {
		t.Errorf("no token on a protected route: %s", r)
	}
	// Public reads work without a token.
	if r := e.do("GET", "/api/v1/events", ""); r.status != 200 {
		t.Errorf("public list without token: %s", r)
	}
	// The token travels as it is, with the other headers the services read.
	id := "fwd-" + uuid.NewString()
	e.do("POST", "/api/v1/bookings/reserve", `{"show_id":"`+showID+`","zone_id":"`+zoneID+`","quantity":1}`,
		"Authorization", "Bearer "+user, "X-Request-ID", id, "Idempotency-Key", "idem-12345678", "X-Queue-Pass", "pass-abc", "X-User-ID", "someone-else", "User-Agent", "browser/1.0")
	got, ok := e.rec.get(id)
	if !ok {
		t.Fatal("reserve did not reach the booking service")
	}
	for h, want := range map[string]string{"Authorization": "Bearer " + user, "Idempotency-Key": "idem-12345678", "X-Queue-Pass": "pass-abc", "X-Request-Id": id, "User-Agent": "browser/1.0"} {
		if got.header.Get(h) != want {
			t.Errorf("upstream %s = %q, want %q", h, got.header.Get(h), want)
		}
	}
}

func TestRequestIDAndHeaders(t *testing.T) {
	t.Parallel()
	e := start(t, "-rate-limit.enabled=false")
	security := map[string]string{
		"Strict-Transport-Security": "max-age=31536000; includeSubDomains",
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "DENY",
		"X-Xss-Protection":          "1; mode=block",
		"Content-Security-Policy":   "default-src 'self'",
	}
	for _, path := range []string{"/api/v1/events", "/api/v1/nope", "/healthz", "/nope", "/api/v1/auth/me"} {
		for _, sent := range []string{"", "client-id-123", "bad id with spaces", strings.Repeat("a", 129)} {
			req, _ := http.NewRequest("GET", e.base+path, nil)
			if sent != "" {
				req.Header.Set("X-Request-ID", sent)
			}
			r := e.send(req)
			got := r.header.Get("X-Request-Id")
			switch {
			case sent == "client-id-123" && got != sent:
				t.Errorf("%s: valid id %q came back as %q", path, sent, got)
			case sent != "client-id-123" && uuid.Validate(got) != nil:
				t.Errorf("%s: sent %q, got %q, want a generated UUID", path, sent, got)
			}
			for h, v := range security {
				if r.header.Get(h) != v {
					t.Errorf("%s: %s = %q", path, h, r.header.Get(h))
				}
			}
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	e := start(t, "-rate-limit.enabled=false", "-edge.cors-origins=https://app.example.com")
	preflight := func(origin string) reply {
		req, _ := http.NewRequest("OPTIONS", e.base+"/api/v1/bookings/reserve", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, idempotency-key")
		return e.send(req)
	}
	r := preflight("https://app.example.com")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Idempotency-Key") ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("allowed preflight = %s %v", r, r.header)
	}
	if r := preflight("https://evil.example.com"); r.status != 403 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign preflight = %s %v", r, r.header)
	}
	r = e.do("GET", "/api/v1/events", "", "Origin", "https://app.example.com")
	if r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "X-Request-ID") {
		t.Fatalf("simple request headers = %v", r.header)
	}

	plain := start(t, "-rate-limit.enabled=false")
	req, _ := http.NewRequest("OPTIONS", plain.base+"/api/v1/events", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	if r := plain.send(req); r.header.Get("Access-Control-Allow-Origin") != "" || r.status < 400 || r.env.Error == nil {
		t.Fatalf("CORS headers without configuration: %s %v", r, r.header)
	}
}

// TestAccessLog: every API answer is one info line with its method, path,
// route, status, duration and request id; probes are not logged.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	e := startWith(t, []fx.Option{fx.Decorate(func() *zap.Logger { return zap.New(core) })}, "-log.level=info")
	r := e.do("GET", "/api/v1/no-such-route", "", "X-Request-ID", "access-log-1")
	if r.status != http.StatusNotFound {
		t.Fatalf("want 404, got %s", r)
	}
	e.do("GET", "/healthz", "")
	var lines []observer.LoggedEntry
	testkit.Eventually(t, 5*time.Second, "the access log line", func() bool {
		lines = logs.FilterMessage("access").All()
		return len(lines) > 0
	})
	f := lines[0].ContextMap()
	if f["method"] != "GET" || f["path"] != "/api/v1/no-such-route" || f["status"] != int64(404) || f["request_id"] != "access-log-1" || f["duration"] == nil {
		t.Errorf("access line %v", f)
	}
	for _, l := range logs.FilterMessage("access").All() {
		if l.ContextMap()["path"] == "/healthz" {
			t.Error("a probe is in the access log")
		}
	}
}
