package edge_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/testkit"
)

// api is a black-box client of the public JSON API of a whole mesh.
type api struct {
	t    *testing.T
	base string
	ip   atomic.Int64
	// spec, when set, checks every answer against the OpenAPI document.
	spec *openAPISpec
}

// apiReply is one parsed answer; every answer is checked for the envelope and
// an X-Request-ID.
type apiReply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r apiReply) String() string { return fmt.Sprintf("%d %s", r.status, r.raw) }

func (r apiReply) data() map[string]any { d, _ := r.body["data"].(map[string]any); return d }
func (r apiReply) list() []any          { d, _ := r.body["data"].([]any); return d }
func (r apiReply) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}
func (r apiReply) str(keys ...string) string {
	var v any = r.body["data"]
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

// call sends one request. Each request comes from a new client address
// (via a trusted proxy) unless headers name one, so the per-IP limits of
// anonymous routes do not interfere with the scenario.
func (a *api) call(method, path, token string, body any, headers ...string) apiReply {
	a.t.Helper()
	var rd io.Reader
	var sent []byte
	if body != nil {
		sent, _ = json.Marshal(body)
		rd = bytes.NewReader(sent)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.1.%d.%d", a.ip.Add(1)/250, a.ip.Load()%250+1))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := apiReply{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if a.spec != nil {
		a.spec.check(a.t, method, a.base+path, res.StatusCode, res.Header, raw)
		a.spec.checkRequest(a.t, method, a.base+path, res.StatusCode, sent)
	}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		a.t.Fatalf("%s %s: not JSON: %s", method, path, raw)
	}
	ok, isBool := r.body["success"].(bool)
	if !isBool || ok != (res.StatusCode < 300) || (!ok && r.code() == "") {
		a.t.Fatalf("%s %s: not the envelope: %s", method, path, r)
	}
	if res.Header.Get("X-Request-Id") == "" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		a.t.Fatalf("%s %s: missing X-Request-ID or security headers: %v", method, path, res.Header)
	}
	return r
}

// register signs a new buyer up (password "secret-pass-1") and answers
// its access token and user id.
func (a *api) register(email string) (token, id string) {
	a.t.Helper()
	r := a.call("POST", "/api/v1/auth/register", "", map[string]any{"email": email, "password": "secret-pass-1", "full_name": "W"})
	a.want(r, http.StatusCreated, "")
	return r.str("access_token"), r.str("user", "id")
}

func (a *api) want(r apiReply, status int, code string) {
	a.t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		a.t.Fatalf("got %s, want %d %s", r, status, code)
	}
}

// cacheable asserts an anonymous GET of path is a public read with maxAge
// seconds of freshness and an ETag that answers 304; it returns the ETag.
func (a *api) cacheable(path string, maxAge int) string {
	a.t.Helper()
	r := a.call("GET", path, "", nil)
	a.want(r, http.StatusOK, "")
	tag := r.header.Get("ETag")
	if cc := r.header.Get("Cache-Control"); cc != fmt.Sprintf("public, max-age=%d", maxAge) || tag == "" || !slices.Contains(r.header.Values("Vary"), "Authorization") {
		a.t.Fatalf("GET %s: Cache-Control %q, ETag %q, Vary %v", path, cc, tag, r.header.Values("Vary"))
	}
	if got := a.revalidate(path, tag); got != http.StatusNotModified {
		a.t.Fatalf("GET %s with If-None-Match %s: %d, want 304", path, tag, got)
	}
	return tag
}

// revalidate sends an anonymous conditional GET and returns its status (a
// 304 has no body, so it is not an envelope).
func (a *api) revalidate(path, tag string) int {
	a.t.Helper()
	req, _ := http.NewRequest("GET", a.base+path, nil)
	req.Header.Set("If-None-Match", tag)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusNotModified && (len(body) != 0 || res.Header.Get("ETag") != tag) {
		a.t.Fatalf("GET %s: a 304 with a body or another ETag: %q %v", path, body, res.Header)
	}
	return res.StatusCode
}

// TestPublicAPIEndToEnd walks every row of the API table of edge/README.md through the
// edge of a whole mesh (real services, Postgres, Redis, Kafka protocol,
// SMTP listener): happy paths, validation, 401, 403, ownership, refresh
// reuse, forgot/reset by mail, rate limits.
func TestPublicAPIEndToEnd(t *testing.T) {
	t.Parallel()
	m, smtp, a := startWhole(t, "-payment.sim-delay=50ms")
	a.spec = loadOpenAPI(t, a.base)
	checkRequestDocs(t, a.spec)

	// Auth.
	reg := func(email, name string) apiReply {
		r := a.call("POST", "/api/v1/auth/register", "", map[string]any{"email": email, "password": "secret-pass-1", "full_name": name})
		a.want(r, http.StatusCreated, "")
		return r
	}
	buyer := reg("buyer@rush.test", "Buyer")
	if buyer.str("user", "role") != "user" || buyer.str("access_token") == "" || buyer.data()["expires_in"] == nil {
		t.Fatalf("register: %s", buyer)
	}
	a.want(a.call("POST", "/api/v1/auth/register", "", map[string]any{"email": "BUYER@rush.test", "password": "secret-pass-1", "full_name": "X"}), 409, "CONFLICT")
	bad := a.call("POST", "/api/v1/auth/register", "", map[string]any{"email": "nope", "password": "short", "full_name": "X"})
	a.want(bad, 400, "VALIDATION_ERROR")
	if !strings.Contains(bad.raw, `"field":"email"`) || !strings.Contains(bad.raw, `"field":"password"`) {
		t.Fatalf("validation details: %s", bad)
	}
	reg("other@rush.test", "Other")
	orgA := reg("org-a@rush.test", "Org A")
	orgB := reg("org-b@rush.test", "Org B")

	login := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "buyer@rush.test", "password": "secret-pass-1"})
	a.want(login, 200, "")
	a.want(a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "buyer@rush.test", "password": "wrong-pass-1"}), 401, "UNAUTHORIZED")

	a.want(a.call("POST", "/api/v1/auth/logout", buyer.str("access_token"), map[string]any{"refresh_token": buyer.str("refresh_token")}), 200, "")
	// Logout ends the access tokens issued so far too (within a poll of
	// jwt.revocation-poll).
	testkit.Eventually(t, 5*time.Second, "the logged-out access token refused", func() bool {
		return a.call("GET", "/api/v1/auth/me", buyer.str("access_token"), nil).status == http.StatusUnauthorized
	})
	refreshed := a.call("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": login.str("refresh_token")})
	a.want(refreshed, 200, "")
	a.want(a.call("GET", "/api/v1/auth/me", refreshed.str("access_token"), nil), 200, "")
	// An exchanged refresh token presented again ends its family and, as a
	// logout does, the access tokens issued so far; signing in again works.
	a.want(a.call("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": login.str("refresh_token")}), 401, "UNAUTHORIZED")
	a.want(a.call("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": refreshed.str("refresh_token")}), 401, "UNAUTHORIZED")
	testkit.Eventually(t, 5*time.Second, "the reused session's access token refused", func() bool {
		return a.call("GET", "/api/v1/auth/me", refreshed.str("access_token"), nil).status == http.StatusUnauthorized
	})
	buyer = a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "buyer@rush.test", "password": "secret-pass-1"})
	a.want(buyer, 200, "")

	me := a.call("GET", "/api/v1/auth/me", buyer.str("access_token"), nil)
	a.want(me, 200, "")
	a.want(a.call("PUT", "/api/v1/auth/me", buyer.str("access_token"), map[string]any{"full_name": "Buyer B."}), 200, "")
	a.want(a.call("GET", "/api/v1/auth/me", "", nil), 401, "UNAUTHORIZED")
	a.want(a.call("GET", "/api/v1/auth/me", "not.a.jwt", nil), 401, "UNAUTHORIZED")
	expired, _, _ := m.Keys.IssueAccess(buyer.str("user", "id"), "user", "", time.Now().Add(-time.Hour))
	a.want(a.call("GET", "/api/v1/auth/me", expired, nil), 401, "UNAUTHORIZED")

	// Forgot / reset through a real SMTP listener; the answer is the same
	// for an unknown address.
	a.want(a.call("POST", "/api/v1/auth/forgot-password", "", map[string]any{"email": "nobody@rush.test"}), 202, "")
	a.want(a.call("POST", "/api/v1/auth/forgot-password", "", map[string]any{"email": "other@rush.test"}), 202, "")
	mail := smtp.WaitForSubject(t, "other@rush.test", "Reset", 20*time.Second)
	token := regexp.MustCompile(`token=([A-Za-z0-9_-]+)`).FindStringSubmatch(mail.Text)
	if token == nil {
		t.Fatalf("reset mail without a token: %q", mail.Text)
	}
	a.want(a.call("POST", "/api/v1/auth/reset-password", "", map[string]any{"token": token[1], "new_password": "brand-new-pass-2"}), 200, "")
	a.want(a.call("POST", "/api/v1/auth/reset-password", "", map[string]any{"token": token[1], "new_password": "brand-new-pass-3"}), 400, "VALIDATION_ERROR")
	// The reset ended other's sessions, access tokens included: sign in again.
	other := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "other@rush.test", "password": "brand-new-pass-2"})
	a.want(other, 200, "")
	if len(smtp.To("nobody@rush.test")) != 0 {
		t.Fatal("a mail went to an unknown address")
	}

	// Roles: only the admin changes them.
	admin := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"})
	a.want(admin, 200, "")
	adm := admin.str("access_token")
	a.want(a.call("PUT", "/api/v1/admin/users/"+orgA.str("user", "id")+"/role", buyer.str("access_token"), map[string]any{"role": "organizer"}), 403, "FORBIDDEN")
	for _, u := range []apiReply{orgA, orgB} {
		r := a.call("PUT", "/api/v1/admin/users/"+u.str("user", "id")+"/role", adm, map[string]any{"role": "organizer"})
		a.want(r, 200, "")
		if r.str("role") != "organizer" {
			t.Fatalf("role change: %s", r)
		}
	}
	// A fresh login carries the new role.
	orgAtok := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "org-a@rush.test", "password": "secret-pass-1"}).str("access_token")
	orgBtok := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "org-b@rush.test", "password": "secret-pass-1"}).str("access_token")
	user := buyer.str("access_token")

	// Catalog.
	ev := map[string]any{"title": "Rush Night", "description": "d", "venue": "Hall", "time_zone": "Europe/Paris", "category": "concert",
		"sale_start_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "sale_end_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
		"max_per_user": 4}
	a.want(a.call("POST", "/api/v1/events", user, ev), 403, "FORBIDDEN")
	badDates := map[string]any{"title": "X", "sale_start_at": "2030-01-02T00:00:00Z", "sale_end_at": "2030-01-01T00:00:00Z"}
	a.want(a.call("POST", "/api/v1/events", orgAtok, badDates), 400, "VALIDATION_ERROR")
	created := a.call("POST", "/api/v1/events", orgAtok, ev)
	a.want(created, 201, "")
	if created.str("status") != "draft" || created.str("time_zone") != "Europe/Paris" {
		t.Fatalf("new event: %s", created)
	}
	eventID, slug := created.str("id"), created.str("slug")
	// Another organizer cannot see A's draft (404), nor change it once
	// published (403).
	a.want(a.call("PUT", "/api/v1/events/"+eventID, orgBtok, map[string]any{"title": "Mine now"}), 404, "NOT_FOUND")
	a.want(a.call("PUT", "/api/v1/events/"+eventID, orgAtok, map[string]any{"title": "Rush Night Live"}), 200, "")
	show := a.call("POST", "/api/v1/events/"+eventID+"/shows", orgAtok, map[string]any{"show_date": time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)})
	a.want(show, 201, "")
	zone := a.call("POST", "/api/v1/shows/"+show.str("id")+"/zones", orgAtok, map[string]any{"name": "Floor", "price": "49.90", "total_seats": 10})
	a.want(zone, 201, "")
	// A draft's show and zone added by mistake are deleted again; the event
	// publishes with what is left.
	typo := a.call("POST", "/api/v1/shows/"+show.str("id")+"/zones", orgAtok, map[string]any{"name": "Flor", "price": "4.99", "total_seats": 1000})
	a.want(a.call("DELETE", "/api/v1/zones/"+typo.str("id"), orgBtok, nil), 404, "NOT_FOUND")
	a.want(a.call("DELETE", "/api/v1/zones/"+typo.str("id"), orgAtok, nil), 200, "")
	a.want(a.call("DELETE", "/api/v1/zones/"+typo.str("id"), orgAtok, nil), 404, "NOT_FOUND")
	extra := a.call("POST", "/api/v1/events/"+eventID+"/shows", orgAtok, map[string]any{"show_date": time.Now().Add(31 * 24 * time.Hour).UTC().Format(time.RFC3339)})
	a.want(a.call("DELETE", "/api/v1/shows/"+extra.str("id"), orgAtok, nil), 200, "")
	a.want(a.call("GET", "/api/v1/shows/"+extra.str("id")+"/zones", orgAtok, nil), 404, "NOT_FOUND")
	pub := a.call("POST", "/api/v1/events/"+eventID+"/publish", orgAtok, nil)
	a.want(pub, 200, "")
	if pub.str("status") != "published" {
		t.Fatalf("publish: %s", pub)
	}
	// A second publish names the status as the API writes it everywhere
	// ("published", not EVENT_STATUS_PUBLISHED).
	again := a.call("POST", "/api/v1/events/"+eventID+"/publish", orgAtok, nil)
	a.want(again, 409, "CONFLICT")
	if e, _ := again.body["error"].(map[string]any); e == nil || fmt.Sprint(e["details"].(map[string]any)["status"]) != "published" {
		t.Fatalf("publish again: %s", again)
	}
	a.want(a.call("PUT", "/api/v1/events/"+eventID, orgBtok, map[string]any{"title": "Mine now"}), 403, "FORBIDDEN")
	list := a.call("GET", "/api/v1/events?page=1&per_page=10&category=concert", "", nil)
	a.want(list, 200, "")
	if meta, _ := list.body["meta"].(map[string]any); meta["total"] != float64(1) || len(list.list()) != 1 {
		t.Fatalf("list: %s", list)
	}
	// A listing says when the shows are and the lowest price (the deleted
	// show and the 4.99 zone count for nothing).
	spans := func(e map[string]any, shows float64, first, last, from string) {
		t.Helper()
		if e["show_count"] != shows || e["first_show_at"] != first || e["last_show_at"] != last || e["price_from"] != from {
			t.Fatalf("want %v shows from %s to %s, from %s: %v", shows, first, last, from, e)
		}
	}
	spans(list.list()[0].(map[string]any), 1, show.str("show_date"), show.str("show_date"), "49.90")
	a.want(a.call("GET", "/api/v1/events/"+slug, "", nil), 200, "")
	a.want(a.call("GET", "/api/v1/events/"+slug+"/shows", "", nil), 200, "")
	// The event's id stands for its slug, in either case.
	for _, id := range []string{eventID, strings.ToUpper(eventID)} {
		if r := a.call("GET", "/api/v1/events/"+id, "", nil); r.status != 200 || r.str("slug") != slug {
			t.Fatalf("event by id %s: %s", id, r)
		}
		if r := a.call("GET", "/api/v1/events/"+id+"/shows", "", nil); r.status != 200 || len(r.list()) != 1 {
			t.Fatalf("shows by id %s: %s", id, r)
		}
	}
	// Public reads are cacheable and revalidate; a change is a new ETag.
	eventTag := a.cacheable("/api/v1/events/"+slug, 10)
	a.cacheable("/api/v1/events?page=1", 10)
	a.cacheable("/api/v1/events/"+slug+"/shows", 1)
	zonesTag := a.cacheable("/api/v1/shows/"+show.str("id")+"/zones", 1)
	a.want(a.call("PUT", "/api/v1/events/"+eventID, orgAtok, map[string]any{"description": "now with fireworks"}), 200, "")
	if a.revalidate("/api/v1/events/"+slug, eventTag) != http.StatusOK {
		t.Fatal("the changed event still answers 304 to its old ETag")
	}
	if r := a.call("GET", "/api/v1/events/"+slug, orgAtok, nil); r.header.Get("Cache-Control") != "no-store" || r.header.Get("ETag") != "" {
		t.Fatalf("a read with a token is cacheable: %v", r.header)
	}
	draft := a.call("POST", "/api/v1/events", orgAtok, ev)
	a.want(a.call("DELETE", "/api/v1/events/"+draft.str("id"), orgAtok, nil), 200, "")
	a.want(a.call("DELETE", "/api/v1/events/"+eventID, orgAtok, nil), 409, "CONFLICT")
	// Released seats and an extra date of the event on sale sell at once.
	balcony := a.call("POST", "/api/v1/shows/"+show.str("id")+"/zones", orgAtok, map[string]any{"name": "Balcony", "price": "19.90", "total_seats": 3})
	a.want(balcony, 201, "")
	late := a.call("POST", "/api/v1/events/"+eventID+"/shows", orgAtok, map[string]any{"show_date": time.Now().Add(32 * 24 * time.Hour).UTC().Format(time.RFC3339)})
	a.want(late, 201, "")
	lateFloor := a.call("POST", "/api/v1/shows/"+late.str("id")+"/zones", orgAtok, map[string]any{"name": "Floor", "price": "49.90", "total_seats": 2})
	a.want(lateFloor, 201, "")
	spans(a.call("GET", "/api/v1/events/"+slug, "", nil).data(), 2, show.str("show_date"), late.str("show_date"), "19.90")
	fan := reg("fan@rush.test", "Fan").str("access_token")
	for i, z := range [][2]string{{show.str("id"), balcony.str("id")}, {late.str("id"), lateFloor.str("id")}} {
		r := a.call("POST", "/api/v1/bookings/reserve", fan, map[string]any{"show_id": z[0], "zone_id": z[1], "quantity": 1}, "Idempotency-Key", fmt.Sprintf("e2e-added-%04d", i))
		a.want(r, 201, "")
	}
	// On sale, what nobody reserved from can be removed again; the rest stays.
	standing := a.call("POST", "/api/v1/shows/"+late.str("id")+"/zones", orgAtok, map[string]any{"name": "Standing", "price": "9.90", "total_seats": 50})
	a.want(standing, 201, "")
	a.want(a.call("DELETE", "/api/v1/zones/"+standing.str("id"), orgAtok, nil), 200, "")
	a.want(a.call("POST", "/api/v1/bookings/reserve", fan, map[string]any{"show_id": late.str("id"), "zone_id": standing.str("id"), "quantity": 1}, "Idempotency-Key", "e2e-removed-0001"), 404, "NOT_FOUND")
	a.want(a.call("DELETE", "/api/v1/zones/"+balcony.str("id"), orgAtok, nil), 409, "CONFLICT")
	a.want(a.call("DELETE", "/api/v1/shows/"+late.str("id"), orgAtok, nil), 409, "CONFLICT")

	// Bookings.
	zoneID, showID := zone.str("id"), show.str("id")
	reserve := func(tok string, qty int, key string) apiReply {
		return a.call("POST", "/api/v1/bookings/reserve", tok, map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": qty}, "Idempotency-Key", key)
	}
	hold := reserve(user, 2, "e2e-key-0001")
	a.want(hold, 201, "")
	if hold.str("status") != "reserved" || hold.str("total_amount") != "99.80" || hold.str("expires_at") == "" {
		t.Fatalf("reserve: %s", hold)
	}
	if again := reserve(user, 2, "e2e-key-0001"); again.str("id") != hold.str("id") {
		t.Fatalf("idempotent replay: %s", again)
	}
	a.want(a.call("POST", "/api/v1/bookings/reserve", user, map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": 0}, "Idempotency-Key", "e2e-key-0002"), 400, "VALIDATION_ERROR")
	tooMany := reserve(user, 3, "e2e-key-0003")
	a.want(tooMany, 409, "MAX_PER_USER_EXCEEDED")
	bookingID := hold.str("id")
	a.want(a.call("GET", "/api/v1/bookings/"+bookingID, user, nil), 200, "")
	a.want(a.call("GET", "/api/v1/bookings/"+bookingID, other.str("access_token"), nil), 404, "NOT_FOUND")
	a.want(a.call("POST", "/api/v1/bookings/"+bookingID+"/confirm", user, nil), 402, "PAYMENT_FAILED")
	testkit.Eventually(t, 10*time.Second, "the hold in the lists", func() bool {
		l := a.call("GET", "/api/v1/bookings/pending", user, nil)
		return l.status == 200 && len(l.list()) == 1 && len(a.call("GET", "/api/v1/bookings", user, nil).list()) == 1
	})
	zones := a.call("GET", "/api/v1/shows/"+showID+"/zones", "", nil)
	a.want(zones, 200, "")
	if a.revalidate("/api/v1/shows/"+showID+"/zones", zonesTag) != http.StatusOK {
		t.Fatal("the zones after a hold still answer 304 to their old ETag")
	}
	for _, z := range zones.list() { // Balcony (2 of 3 left: the fan's hold), then Floor
		if z := z.(map[string]any); z["name"] == "Floor" && z["available_seats"] != float64(8) || z["name"] == "Balcony" && z["available_seats"] != float64(2) {
			t.Fatalf("zone availability: %s", zones)
		}
	}
	if len(zones.list()) != 2 {
		t.Fatalf("zones: %s", zones)
	}

	// Payment: the amount comes from the server, the saga confirms.
	pay := a.call("POST", "/api/v1/payments", user, map[string]any{"booking_id": bookingID, "payment_method": "sim_ok", "amount": "0.01"})
	a.want(pay, 201, "")
	if pay.str("amount") != "99.80" {
		t.Fatalf("payment amount: %s", pay)
	}
	a.want(a.call("POST", "/api/v1/payments", other.str("access_token"), map[string]any{"booking_id": bookingID, "payment_method": "sim_ok"}), 404, "NOT_FOUND")
	testkit.Eventually(t, 20*time.Second, "the saga confirms the booking", func() bool {
		return a.call("GET", "/api/v1/bookings/"+bookingID, user, nil).str("status") == "confirmed"
	})
	a.want(a.call("GET", "/api/v1/payments/"+pay.str("id"), user, nil), 200, "")

	// A second hold, cancelled: seats back at once.
	second := reserve(other.str("access_token"), 1, "e2e-key-0004")
	a.want(second, 201, "")
	cancelled := a.call("POST", "/api/v1/bookings/"+second.str("id")+"/cancel", other.str("access_token"), nil)
	a.want(cancelled, 200, "")
	if cancelled.str("status") != "cancelled" {
		t.Fatalf("cancel: %s", cancelled)
	}
	// Refund of the paid booking: 30 days before the show, 100%.
	refund := a.call("POST", "/api/v1/payments/"+pay.str("id")+"/refund", user, map[string]any{"reason": "cannot come"})
	a.want(refund, 200, "")
	if refund.str("refunded_amount") != "99.80" {
		t.Fatalf("refund: %s", refund)
	}

	// Queue (this event has none: joining admits at once), notifications,
	// analytics (the event's organizer or an admin only).
	a.want(a.call("POST", "/api/v1/queue/join", user, map[string]any{"event_id": eventID}), 200, "")
	a.want(a.call("GET", "/api/v1/queue/status?event_id="+eventID, user, nil), 200, "")
	testkit.Eventually(t, 20*time.Second, "the confirmation mail", func() bool { return len(smtp.To("buyer@rush.test")) > 0 })
	notes := a.call("GET", "/api/v1/notifications", user, nil)
	a.want(notes, 200, "")
	if len(notes.list()) == 0 {
		t.Fatalf("notifications: %s", notes)
	}
	a.want(a.call("GET", "/api/v1/analytics/events/"+eventID, orgAtok, nil), 200, "")
	a.want(a.call("GET", "/api/v1/analytics/events/"+eventID, orgBtok, nil), 403, "FORBIDDEN")
	a.want(a.call("GET", "/api/v1/analytics/dashboard", adm, nil), 200, "")
	// Each organizer's dashboard holds their own events only (the catalog
	// says which), however the figures reached analytics.
	topEvents := func(tok string) []any {
		d := a.call("GET", "/api/v1/analytics/dashboard", tok, nil)
		a.want(d, 200, "")
		top, _ := d.data()["top_events"].([]any)
		return top
	}
	testkit.Eventually(t, 20*time.Second, "the sale on its organizer's dashboard", func() bool {
		top := topEvents(orgAtok)
		if len(top) != 1 {
			return false
		}
		first, _ := top[0].(map[string]any)
		return first["event_id"] == eventID && first["title"] == "Rush Night Live"
	})
	if top := topEvents(orgBtok); len(top) != 0 {
		t.Fatalf("another organizer's dashboard shows %v", top)
	}

	// The organizer cancels the event: every paid booking is refunded in
	// full and its seats come back.
	paid := reserve(other.str("access_token"), 1, "e2e-key-0005")
	a.want(paid, 201, "")
	pay2 := a.call("POST", "/api/v1/payments", other.str("access_token"), map[string]any{"booking_id": paid.str("id"), "payment_method": "sim_ok"})
	a.want(pay2, 201, "")
	testkit.Eventually(t, 20*time.Second, "the second booking confirmed", func() bool {
		return a.call("GET", "/api/v1/bookings/"+paid.str("id"), other.str("access_token"), nil).str("status") == "confirmed"
	})
	a.want(a.call("POST", "/api/v1/events/"+eventID+"/cancel", orgBtok, map[string]any{"reason": "not mine"}), 403, "FORBIDDEN")
	called := a.call("POST", "/api/v1/events/"+eventID+"/cancel", orgAtok, map[string]any{"reason": "storm"})
	a.want(called, 200, "")
	if called.str("status") != "cancelled" {
		t.Fatalf("cancel event: %s", called)
	}
	if r := a.call("GET", "/api/v1/payments/"+pay2.str("id"), other.str("access_token"), nil); r.str("status") != "refunded" || r.str("refunded_amount") != "49.90" {
		t.Fatalf("payment after the organizer cancelled: %s", r)
	}
	testkit.Eventually(t, 10*time.Second, "the cancelled event's booking refunded", func() bool {
		return a.call("GET", "/api/v1/bookings/"+paid.str("id"), other.str("access_token"), nil).str("status") == "refunded"
	})
	a.want(reserve(user, 1, "e2e-key-0006"), 409, "SALE_NOT_OPEN")

	// The 6th login within a minute from one address answers 429.
	ip := "203.0.113." + fmt.Sprint(time.Now().UnixNano()%200+1)
	for i := range 6 {
		r := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "buyer@rush.test", "password": "secret-pass-1"}, "X-Forwarded-For", ip)
		if i < 5 {
			a.want(r, 200, "")
			continue
		}
		a.want(r, 429, "RATE_LIMITED")
		if r.header.Get("Retry-After") == "" {
			t.Fatalf("429 without Retry-After: %v", r.header)
		}
	}
	_ = uuid.Nil

	// Every answer above matched the OpenAPI document; enough of them.
	c := a.spec.covered()
	t.Logf("%d operation/status pairs checked against the OpenAPI document", len(c))
	if len(c) < 40 {
		t.Errorf("only %d operation/status pairs checked against the OpenAPI document: %v", len(c), c)
	}
	a.spec.seen.Lock()
	bodies := len(a.spec.bodies)
	a.spec.seen.Unlock()
	t.Logf("the request bodies of %d operations checked against the OpenAPI document", bodies)
	if bodies < 15 {
		t.Errorf("only %d operations' request bodies checked against the OpenAPI document", bodies)
	}
}

// checkRequestDocs reads what the document says a client sends: the
// contract's required fields and limits, nothing the path carries, unknown
// fields allowed (the edge ignores them).
func checkRequestDocs(t *testing.T, spec *openAPISpec) {
	t.Helper()
	reserve := spec.request("POST", "/api/v1/bookings/reserve")
	q := reserve.Properties["quantity"]
	if !slices.Equal(reserve.Required, []string{"show_id", "zone_id", "quantity"}) || reserve.AdditionalProperties != nil ||
		reserve.Properties["show_id"]["format"] != "uuid" || q["exclusiveMinimum"] != 0.0 || q["maximum"] != 10.0 {
		t.Errorf("POST /bookings/reserve's body as documented: %+v", reserve)
	}
	cancel := spec.request("POST", "/api/v1/bookings/{booking_id}/cancel")
	if _, ok := cancel.Properties["booking_id"]; ok || cancel.Required != nil || cancel.Properties["reason"]["maxLength"] != 500.0 {
		t.Errorf("POST /bookings/{booking_id}/cancel's body as documented: %+v", cancel)
	}
	for tpl, ops := range spec.paths {
		for m, op := range ops {
			for _, c := range op.RequestBody.Content {
				for _, name := range c.Schema.Required {
					if strings.Contains(tpl, "{"+name+"}") {
						t.Errorf("%s %s: the body's required %s is in the path", m, tpl, name)
					}
				}
			}
		}
	}
}
