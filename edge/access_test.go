package edge_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bookingrush/rush/services/platform/authn"
)

// elevated is the product's rule of who may use which route beyond a
// signed-in buyer, written out so that an RPC losing (or never getting) its
// access option in the contracts fails here.
var elevated = map[string][]string{
	"/bookingrush.auth.v1.AuthService/SetUserRole":                       {"admin"},
	"/bookingrush.auth.v1.AuthService/DeleteUser":                        {"admin"},
	"/bookingrush.auth.v1.AuthService/ListAuditLogs":                     {"admin"},
	"/bookingrush.auth.v1.AuthService/ListUsers":                         {"admin"},
	"/bookingrush.auth.v1.AuthService/GetUser":                           {"admin"},
	"/bookingrush.catalog.v1.CatalogService/CreateEvent":                 {"organizer"},
	"/bookingrush.catalog.v1.CatalogService/UpdateEvent":                 {"organizer"},
	"/bookingrush.catalog.v1.CatalogService/DeleteEvent":                 {"organizer"},
	"/bookingrush.catalog.v1.CatalogService/CreateShow":                  {"organizer"},
	"/bookingrush.catalog.v1.CatalogService/CreateZone":                  {"organizer"},
	"/bookingrush.catalog.v1.CatalogService/DeleteShow":                  {"organizer"},
	"/bookingrush.catalog.v1.CatalogService/DeleteZone":                  {"organizer"},
	"/bookingrush.catalog.v1.CatalogService/PublishEvent":                {"organizer"},
	"/bookingrush.catalog.v1.CatalogService/CancelEvent":                 {"organizer"},
	"/bookingrush.catalog.v1.CatalogService/CreateCategory":              {"admin"},
	"/bookingrush.analytics.v1.AnalyticsService/GetEventAnalytics":       {"organizer"},
	"/bookingrush.analytics.v1.AnalyticsService/GetDashboard":            {"organizer"},
	"/bookingrush.saga.v1.SagaService/GetSaga":                           {"admin"},
	"/bookingrush.saga.v1.SagaService/ListSagas":                         {"admin"},
	"/bookingrush.saga.v1.SagaService/ListDeadLetters":                   {"admin"},
	"/bookingrush.queue.v1.QueueService/SetQueueSettings":                {"organizer"},
	"/bookingrush.gate.v1.GateService/RotateTicketKey":                   {"organizer"},
	"/bookingrush.gate.v1.GateService/ListRevokedTickets":                {"device", "organizer"},
	"/bookingrush.gate.v1.GateService/CreateDevice":                      {"organizer"},
	"/bookingrush.gate.v1.GateService/ListDevices":                       {"organizer"},
	"/bookingrush.gate.v1.GateService/RevokeDevice":                      {"organizer"},
	"/bookingrush.gate.v1.GateService/CheckIn":                           {"device"},
	"/bookingrush.gate.v1.GateService/SyncCheckIns":                      {"device"},
	"/bookingrush.gate.v1.GateService/GetShowCheckInStats":               {"organizer"},
	"/bookingrush.booking.v1.BookingService/FindBooking":                 {"admin"},
	"/bookingrush.payment.v1.PaymentService/ListPayments":                {"admin"},
	"/bookingrush.payment.v1.PaymentService/RecordRefundOutsideProvider": {"admin"},
	"/bookingrush.payment.v1.PaymentService/GetEventRefunds":             {"organizer"},
}

// anonymousWrites are the mutating routes callable without a token.
var anonymousWrites = []string{
	"/bookingrush.auth.v1.AuthService/Register",
	"/bookingrush.auth.v1.AuthService/Login",
	"/bookingrush.auth.v1.AuthService/Refresh",
	"/bookingrush.auth.v1.AuthService/Logout",
	"/bookingrush.auth.v1.AuthService/ForgotPassword",
	"/bookingrush.auth.v1.AuthService/ResetPassword",
	"/bookingrush.payment.v1.PaymentService/HandleStripeWebhook",
}

// TestAccessOptionsMatchThePolicy checks the contracts declare exactly the
// roles of elevated.
func TestAccessOptionsMatchThePolicy(t *testing.T) {
	t.Parallel()
	declared := map[string][]string{}
	for _, r := range publicRoutes() {
		if roles := authn.AccessOf(r.md); roles != nil {
			declared[r.procedure()] = roles
		}
	}
	if !maps.EqualFunc(declared, elevated, slices.Equal) {
		t.Errorf("access options in the contracts:\n%v\nwant:\n%v", declared, elevated)
	}
}

// invalidBody is a request body for r that breaks its validation rules:
// every string field too long and holding a NUL (no string of any request
// may), every number negative.
func invalidBody(r publicRoute) string {
	if r.body == "" {
		return ""
	}
	obj := map[string]any{}
	fields := r.md.Input().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if slices.Contains(r.vars, fd.Name()) || fd.IsList() || fd.IsMap() {
			continue
		}
		switch fd.Kind() {
		case protoreflect.StringKind:
			obj[string(fd.Name())] = "\x00" + strings.Repeat("x", 300)
		case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind:
			obj[string(fd.Name())] = -1
		}
	}
	b, _ := json.Marshal(obj)
	return string(b)
}

// TestRolesAreCheckedBeforeValidation walks every mutating route of the
// contracts through the real edge to the real services with a body (and
// path ids) that fail validation: an admin reads the validation error, so
// the input is invalid indeed; a buyer reads FORBIDDEN where the route
// needs a higher role, never the route's validation rules; without a
// token every route but the anonymous ones answers UNAUTHORIZED.
func TestRolesAreCheckedBeforeValidation(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	base := m.URL(t, "edge")
	admin := m.Token(t, uuid.NewString(), authn.RoleAdmin)
	buyer := m.Token(t, uuid.NewString(), authn.RoleUser)
	routes := 0
	for _, r := range publicRoutes() {
		if !r.mutating() || r.procedure() == "/bookingrush.payment.v1.PaymentService/HandleStripeWebhook" {
			// The webhook's body is the provider's raw payload, signed:
			// there is no validation to come first.
			continue
		}
		routes++
		path, body := r.path("not-a-uuid"), invalidBody(r)
		call := func(token string) rawReply {
			req, _ := http.NewRequest(r.method, base+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "x") // reserve: too short
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			return sendRaw(t, req)
		}
		check := func(who string, got rawReply, status int, code string) {
			t.Helper()
			if c, ok := got.envelopeCode(); got.status != status || !ok || c != code {
				t.Errorf("%s %s %s as %s: %d %s, want %d %s", r.method, path, body, who, got.status, got.body, status, code)
			}
		}
		check("admin", call(admin), http.StatusBadRequest, "VALIDATION_ERROR")
		if _, ok := elevated[r.procedure()]; ok {
			check("buyer", call(buyer), http.StatusForbidden, "FORBIDDEN")
		} else {
			check("buyer", call(buyer), http.StatusBadRequest, "VALIDATION_ERROR")
		}
		if slices.Contains(anonymousWrites, r.procedure()) {
			check("anonymous", call(""), http.StatusBadRequest, "VALIDATION_ERROR")
		} else {
			check("anonymous", call(""), http.StatusUnauthorized, "UNAUTHORIZED")
		}
	}
	if routes < 20 {
		t.Fatalf("only %d mutating routes found in the contracts", routes)
	}
}

// TestOwnershipIsCheckedBeforeValidation sends invalid bodies to the routes
// that change one event (the catalog's and its queue settings), and calls
// the gate's routes of one event or show, as another organizer: FORBIDDEN
// on a published event and NOT_FOUND on a draft (which they may not know
// exists), from the id in the path alone; the event's organizer reads the
// validation error. Registering a check-in device and a device's reads
// answer the same.
func TestOwnershipIsCheckedBeforeValidation(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	base := m.URL(t, "edge")
	call := func(method, path, token, body string) rawReply {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return sendRaw(t, req)
	}
	created := func(r rawReply) (id string) {
		t.Helper()
		var out struct{ Data struct{ ID string } }
		if r.status != 201 || json.Unmarshal(r.body, &out) != nil || out.Data.ID == "" {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		return out.Data.ID
	}
	reg := call("POST", "/api/v1/auth/register", "", `{"email":"owner@rush.test","password":"secret-pass-1","full_name":"O"}`)
	var user struct {
		Data struct{ User struct{ ID string } }
	}
	if err := json.Unmarshal(reg.body, &user); err != nil || reg.status != 201 {
		t.Fatalf("register: %d %s", reg.status, reg.body)
	}
	owner := m.Token(t, user.Data.User.ID, authn.RoleOrganizer)
	other := m.Token(t, uuid.NewString(), authn.RoleOrganizer)
	event := func(publish bool) (eventID, showID, zoneID string) {
		eventID = created(call("POST", "/api/v1/events", owner, `{"title":"Mine","venue":"Hall","sale_start_at":"2026-01-01T00:00:00Z","sale_end_at":"2030-01-01T00:00:00Z"}`))
		showID = created(call("POST", "/api/v1/events/"+eventID+"/shows", owner, `{"show_date":"2030-06-01T20:00:00Z"}`))
		zoneID = created(call("POST", "/api/v1/shows/"+showID+"/zones", owner, `{"name":"Floor","price":"10.00","total_seats":5}`))
		if publish {
			if r := call("POST", "/api/v1/events/"+eventID+"/publish", owner, `{}`); r.status != 200 {
				t.Fatalf("publish: %d %s", r.status, r.body)
			}
		}
		return eventID, showID, zoneID
	}
	published, publishedShow, publishedZone := event(true)
	draft, draftShow, draftZone := event(false)
	// through reaches the route's event through its show or zone.
	through := func(variable protoreflect.Name, eventID string) string {
		switch variable {
		case "show_id":
			return map[string]string{published: publishedShow, draft: draftShow}[eventID]
		case "zone_id":
			return map[string]string{published: publishedZone, draft: draftZone}[eventID]
		}
		return eventID
	}

	checked := 0
	for _, r := range publicRoutes() {
		oneEvent := strings.HasPrefix(r.procedure(), "/bookingrush.catalog.v1.") || slices.Contains(eventRunnerRoutes, r.procedure())
		if len(r.vars) != 1 || !oneEvent || (!r.mutating() && !slices.Contains(eventRunnerRoutes, r.procedure())) {
			continue
		}
		checked++
		body := invalidBody(r)
		if body == "" && r.mutating() {
			body = `{}`
		}
		for _, c := range []struct {
			id, token, who string
			status         int
			code           string
		}{
			{published, other, "another organizer, published event", 403, "FORBIDDEN"},
			{draft, other, "another organizer, draft", 404, "NOT_FOUND"},
		} {
			got := call(r.method, r.path(through(r.vars[0], c.id)), c.token, body)
			if code, ok := got.envelopeCode(); got.status != c.status || !ok || code != c.code {
				t.Errorf("%s %s as %s: %d %s, want %d %s", r.method, r.template, c.who, got.status, got.body, c.status, c.code)
			}
		}
		if body != `{}` && body != "" { // a body with fields to break (publish has none)
			if got := call(r.method, r.path(through(r.vars[0], draft)), owner, body); got.status != 400 {
				t.Errorf("%s %s as its organizer: %d %s, want 400", r.method, r.template, got.status, got.body)
			}
		}
	}
	if checked < 7+len(eventRunnerRoutes) {
		t.Fatalf("only %d routes of one event found", checked)
	}

	// A device for events: another organizer's draft among them is
	// NOT_FOUND, even beside a published one (FORBIDDEN alone); a device of
	// another event reads the same of the draft's show.
	device := func(events ...string) rawReply {
		b, _ := json.Marshal(map[string]any{"name": "Door", "event_ids": events})
		return call("POST", "/api/v1/checkin/devices", other, string(b))
	}
	otherEvent := created(call("POST", "/api/v1/events", other, `{"title":"Theirs","venue":"Hall","sale_start_at":"2026-01-01T00:00:00Z","sale_end_at":"2030-01-01T00:00:00Z"}`))
	for _, c := range []struct {
		events []string
		status int
		code   string
	}{
		{[]string{published}, 403, "FORBIDDEN"},
		{[]string{draft}, 404, "NOT_FOUND"},
		{[]string{published, draft}, 404, "NOT_FOUND"},
	} {
		if got := device(c.events...); got.status != c.status || !strings.Contains(string(got.body), c.code) {
			t.Errorf("another organizer registers a device for %v: %d %s, want %d %s", c.events, got.status, got.body, c.status, c.code)
		}
	}
	var cred struct{ Data struct{ Credential string } }
	if r := device(otherEvent); r.status != 201 || json.Unmarshal(r.body, &cred) != nil {
		t.Fatalf("a device of another organizer's own event: %d %s", r.status, r.body)
	}
	for show, want := range map[string]int{publishedShow: 403, draftShow: 404} {
		if got := call("GET", "/api/v1/shows/"+show+"/revoked-tickets", cred.Data.Credential, ""); got.status != want || strings.Contains(string(got.body), draft) {
			t.Errorf("a device of another event reads the revocations of show %s: %d %s, want %d", show, got.status, got.body, want)
		}
	}

	// A buyer's booking and payment: another buyer's confirm, cancel or
	// refund with a reason too long is NOT_FOUND, as the same call with a
	// valid body is; the owner's gets the validation error.
	buyer := m.Token(t, user.Data.User.ID, authn.RoleUser)
	stranger := m.Token(t, uuid.NewString(), authn.RoleUser)
	res := call("POST", "/api/v1/bookings/reserve", buyer, `{"show_id":"`+publishedShow+`","zone_id":"`+zoneOf(t, call, publishedShow)+`","quantity":1,"idempotency_key":"own-0001"}`)
	bookingID := created(res)
	paymentID := created(call("POST", "/api/v1/payments", buyer, `{"booking_id":"`+bookingID+`","payment_method":"sim_slow"}`))
	tooLong := `{"reason":"` + strings.Repeat("x", 501) + `"}`
	for _, path := range []string{"/api/v1/bookings/" + bookingID + "/confirm", "/api/v1/bookings/" + bookingID + "/cancel", "/api/v1/payments/" + paymentID + "/refund"} {
		if got := call("POST", path, stranger, tooLong); got.status != 404 {
			t.Errorf("POST %s by another buyer with a bad body: %d %s, want 404", path, got.status, got.body)
		}
		if got := call("POST", path, buyer, tooLong); got.status != 400 && !strings.HasSuffix(path, "/confirm") {
			t.Errorf("POST %s by its owner with a bad body: %d %s, want 400", path, got.status, got.body)
		}
	}
}

// eventRunnerRoutes are the gate's and queue's routes of one event or show
// for whoever runs it, which answer another organizer as the catalog does.
var eventRunnerRoutes = []string{
	"/bookingrush.queue.v1.QueueService/SetQueueSettings",
	"/bookingrush.gate.v1.GateService/RotateTicketKey",
	"/bookingrush.gate.v1.GateService/GetShowCheckInStats",
	"/bookingrush.gate.v1.GateService/ListRevokedTickets",
}

// zoneOf is the first zone of a show, read through the public API.
func zoneOf(t *testing.T, call func(method, path, token, body string) rawReply, showID string) string {
	t.Helper()
	var out struct{ Data []struct{ ID string } }
	r := call("GET", "/api/v1/shows/"+showID+"/zones", "", "")
	if err := json.Unmarshal(r.body, &out); err != nil || len(out.Data) == 0 {
		t.Fatalf("zones: %d %s", r.status, r.body)
	}
	return out.Data[0].ID
}
