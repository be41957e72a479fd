package edge_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/platform/bookingref"
	"github.com/bookingrush/rush/services/testkit"
)

// TestNobodyReachesAnotherPartysData walks, through the edge of a whole
// mesh, every route that takes an id of someone's data with the ids of
// another party: two buyers (annika, whose data it is, and bruno), two
// organizers (orla, who runs the events, and rex) and their check-in
// devices. Each refusal is the status the route's rule says (404 where the
// id's existence is the other party's business, 403 where the thing is
// public or the role may not use the route at all), names none of the
// owner's data (e-mail, name, user id, ticket codes), and changes nothing:
// afterwards annika's bookings, payment, tickets, waitlist place and
// queue ticket, and orla's events, device and door counts are as before.
// The lists answer each caller their own rows, whatever their filters name.
func TestNobodyReachesAnotherPartysData(t *testing.T) {
	t.Parallel()
	_, _, a := startWhole(t)
	users := a.people([]string{"annika", "bruno", "cleo", "orla", "rex"}, "orla", "rex")
	ann, bruno, orla, rex := users["annika"], users["bruno"], users["orla"], users["rex"]
	annID := a.call("GET", "/api/v1/auth/me", ann, nil).str("id")
	orlaID := a.call("GET", "/api/v1/auth/me", orla, nil).str("id")
	admin := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"}).str("access_token")

	// orla's published event (3 seats): annika buys one and holds one,
	// cleo holds the last, annika waits for a seat; orla's draft; orla's
	// queued event, where annika has a ticket; rex's own event.
	eventID, showID, zoneID := a.onSale(orla, "Orla Live", 3)
	paid, codes := a.buy(ann, showID, zoneID, 1)
	payments := a.call("GET", "/api/v1/admin/payments?booking_id="+paid, admin, nil).list()
	if len(payments) != 1 {
		t.Fatalf("annika's payments: %v", payments)
	}
	paymentID, _ := payments[0].(map[string]any)["id"].(string)
	hold := a.call("POST", "/api/v1/bookings/reserve", ann, map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": 1}, "Idempotency-Key", "ann-hold-"+uuid.NewString())
	a.want(hold, 201, "")
	held := hold.str("id")
	a.want(a.call("POST", "/api/v1/bookings/reserve", users["cleo"], map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": 1}, "Idempotency-Key", "cleo-"+uuid.NewString()), 201, "")
	a.want(a.call("POST", "/api/v1/waitlist", ann, map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": 1}), 200, "")

	draft := a.call("POST", "/api/v1/events", orla, map[string]any{"title": "Orla Secret", "venue": "Hall",
		"sale_start_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "sale_end_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)})
	a.want(draft, 201, "")
	draftID, draftSlug := draft.str("id"), draft.str("slug")
	draftShow := a.call("POST", "/api/v1/events/"+draftID+"/shows", orla, map[string]any{"show_date": time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Hour).Format(time.RFC3339)})
	a.want(draftShow, 201, "")
	draftZone := a.call("POST", "/api/v1/shows/"+draftShow.str("id")+"/zones", orla, map[string]any{"name": "Floor", "price": "25.00", "total_seats": 5})
	a.want(draftZone, 201, "")

	queued, _, _ := a.onSale(orla, "Orla Queued", 5)
	a.want(a.call("PUT", "/api/v1/events/"+queued+"/queue", orla, map[string]any{"enabled": true}), 200, "")
	var queueTicket string
	testkit.Eventually(t, 20*time.Second, "annika's queue ticket", func() bool {
		queueTicket = a.call("POST", "/api/v1/queue/join", ann, map[string]any{"event_id": queued}).str("ticket")
		return queueTicket != ""
	})

	rexEvent, rexShow, _ := a.onSale(rex, "Rex Live", 5)
	device := a.call("POST", "/api/v1/checkin/devices", orla, map[string]any{"name": "Orla door", "event_ids": []string{eventID}})
	a.want(device, 201, "")
	deviceID, orlaDoor := device.str("device", "id"), device.str("credential")
	rexDoor := a.call("POST", "/api/v1/checkin/devices", rex, map[string]any{"name": "Rex door", "event_ids": []string{rexEvent}}).str("credential")

	// private is what no refusal, and no answer to another party, names.
	private := append([]string{"annika@rush.test", "annika", annID, paymentID, held, queueTicket, orlaID, deviceID, "Orla Secret"}, codes...)
	leaks := func(body string, asked string) []string {
		var out []string
		for _, p := range private {
			if p != "" && strings.Contains(body, p) && !strings.Contains(asked, p) {
				out = append(out, p)
			}
		}
		return out
	}
	ref := bookingref.Of(paid)
	code := codes[0]
	scan := map[string]any{"scans": []map[string]any{{"code": code, "show_id": showID, "scanned_at": time.Now().UTC().Format(time.RFC3339)}}}

	type refusal struct {
		who, token   string
		method, path string
		body         any
		status       int
		code         string
	}
	refusals := []refusal{
		// another buyer, with annika's ids
		{"bruno", bruno, "GET", "/api/v1/bookings/" + paid, nil, 404, "NOT_FOUND"},
		{"bruno", bruno, "GET", "/api/v1/bookings/" + held, nil, 404, "NOT_FOUND"},
		{"bruno", bruno, "POST", "/api/v1/bookings/" + held + "/confirm", map[string]any{}, 404, "NOT_FOUND"},
		{"bruno", bruno, "POST", "/api/v1/bookings/" + held + "/cancel", map[string]any{}, 404, "NOT_FOUND"},
		{"bruno", bruno, "POST", "/api/v1/bookings/" + paid + "/cancel", map[string]any{}, 404, "NOT_FOUND"},
		{"bruno", bruno, "GET", "/api/v1/bookings/" + paid + "/refund-quote", nil, 404, "NOT_FOUND"},
		{"bruno", bruno, "POST", "/api/v1/payments", map[string]any{"booking_id": held, "payment_method": "sim_ok"}, 404, "NOT_FOUND"},
		{"bruno", bruno, "GET", "/api/v1/payments/" + paymentID, nil, 404, "NOT_FOUND"},
		{"bruno", bruno, "POST", "/api/v1/payments/" + paymentID + "/refund", map[string]any{}, 404, "NOT_FOUND"},
		{"bruno", bruno, "POST", "/api/v1/payments/" + paymentID + "/refund", map[string]any{"in_full": true}, 404, "NOT_FOUND"},
		{"bruno", bruno, "GET", "/api/v1/waitlist/" + zoneID, nil, 404, "NOT_FOUND"},
		{"bruno", bruno, "GET", "/api/v1/queue/status?event_id=" + queued + "&ticket=" + url.QueryEscape(queueTicket), nil, 403, "FORBIDDEN"},
		// a buyer on routes of organizers, devices and admins
		{"bruno", bruno, "GET", "/api/v1/admin/bookings/" + ref, nil, 403, "FORBIDDEN"},
		{"bruno", bruno, "GET", "/api/v1/admin/payments?booking_id=" + paid, nil, 403, "FORBIDDEN"},
		{"bruno", bruno, "GET", "/api/v1/admin/audit-logs?user_id=" + annID, nil, 403, "FORBIDDEN"},
		{"bruno", bruno, "GET", "/api/v1/admin/users", nil, 403, "FORBIDDEN"},
		{"bruno", bruno, "GET", "/api/v1/admin/users/" + annID, nil, 403, "FORBIDDEN"},
		{"bruno", bruno, "GET", "/api/v1/admin/sagas", nil, 403, "FORBIDDEN"},
		{"bruno", bruno, "GET", "/api/v1/admin/dead-letters", nil, 403, "FORBIDDEN"},
		{"bruno", bruno, "GET", "/api/v1/analytics/events/" + eventID, nil, 403, "FORBIDDEN"},
		{"bruno", bruno, "GET", "/api/v1/analytics/dashboard", nil, 403, "FORBIDDEN"},
		{"bruno", bruno, "GET", "/api/v1/shows/" + showID + "/checkin-stats", nil, 403, "FORBIDDEN"},
		{"bruno", bruno, "GET", "/api/v1/shows/" + showID + "/revoked-tickets", nil, 403, "FORBIDDEN"},
		{"bruno", bruno, "GET", "/api/v1/checkin/devices", nil, 403, "FORBIDDEN"},
		{"bruno", bruno, "DELETE", "/api/v1/checkin/devices/" + deviceID, nil, 403, "FORBIDDEN"},
		{"bruno", bruno, "POST", "/api/v1/checkin/sync", scan, 403, "FORBIDDEN"},
		{"bruno", bruno, "POST", "/api/v1/events/" + eventID + "/cancel", map[string]any{"reason": "mine now"}, 403, "FORBIDDEN"},
		{"bruno", bruno, "GET", "/api/v1/events/" + draftID, nil, 404, "NOT_FOUND"},
		// the event's organizer, with its buyer's ids: a buyer's purchase is theirs
		{"orla", orla, "GET", "/api/v1/bookings/" + paid, nil, 404, "NOT_FOUND"},
		{"orla", orla, "GET", "/api/v1/bookings/" + paid + "/refund-quote", nil, 404, "NOT_FOUND"},
		{"orla", orla, "GET", "/api/v1/payments/" + paymentID, nil, 404, "NOT_FOUND"},
		{"orla", orla, "POST", "/api/v1/payments/" + paymentID + "/refund", map[string]any{}, 404, "NOT_FOUND"},
		{"orla", orla, "GET", "/api/v1/admin/bookings/" + ref, nil, 403, "FORBIDDEN"},
		{"orla", orla, "GET", "/api/v1/admin/payments?booking_id=" + paid, nil, 403, "FORBIDDEN"},
		{"orla", orla, "GET", "/api/v1/admin/audit-logs", nil, 403, "FORBIDDEN"},
		{"orla", orla, "GET", "/api/v1/admin/users/" + annID, nil, 403, "FORBIDDEN"},
		{"orla", orla, "POST", "/api/v1/categories", map[string]any{"name": "Mine"}, 403, "FORBIDDEN"},
		// another organizer, with orla's ids
		{"rex", rex, "DELETE", "/api/v1/checkin/devices/" + deviceID, nil, 404, "NOT_FOUND"},
		{"rex", rex, "GET", "/api/v1/analytics/events/" + eventID, nil, 403, "FORBIDDEN"},
		{"rex", rex, "GET", "/api/v1/analytics/events/" + draftID, nil, 404, "NOT_FOUND"},
		{"rex", rex, "GET", "/api/v1/shows/" + showID + "/checkin-stats", nil, 403, "FORBIDDEN"},
		{"rex", rex, "GET", "/api/v1/shows/" + draftShow.str("id") + "/checkin-stats", nil, 404, "NOT_FOUND"},
		{"rex", rex, "GET", "/api/v1/shows/" + draftShow.str("id") + "/revoked-tickets", nil, 404, "NOT_FOUND"},
		{"rex", rex, "GET", "/api/v1/events/" + draftSlug, nil, 404, "NOT_FOUND"},
		{"rex", rex, "GET", "/api/v1/events/" + draftID + "/shows", nil, 404, "NOT_FOUND"},
		{"rex", rex, "GET", "/api/v1/shows/" + draftShow.str("id") + "/zones", nil, 404, "NOT_FOUND"},
		{"rex", rex, "GET", "/api/v1/queue/lines/" + draftID, nil, 404, "NOT_FOUND"},
		{"rex", rex, "POST", "/api/v1/queue/join", map[string]any{"event_id": draftID}, 404, "NOT_FOUND"},
		{"rex", rex, "POST", "/api/v1/events/" + eventID + "/cancel", map[string]any{"reason": "mine now"}, 403, "FORBIDDEN"},
		{"rex", rex, "PUT", "/api/v1/events/" + queued + "/queue", map[string]any{"enabled": false}, 403, "FORBIDDEN"},
		{"rex", rex, "POST", "/api/v1/events/" + eventID + "/ticket-keys/rotate", map[string]any{"drop_previous": true}, 403, "FORBIDDEN"},
		{"rex", rex, "DELETE", "/api/v1/zones/" + draftZone.str("id"), nil, 404, "NOT_FOUND"},
		{"rex", rex, "POST", "/api/v1/checkin/devices", map[string]any{"name": "Mine", "event_ids": []string{rexEvent, draftID}}, 404, "NOT_FOUND"},
		{"rex", rex, "GET", "/api/v1/bookings/" + paid, nil, 404, "NOT_FOUND"},
		// devices: another event's door, and routes of people
		{"rex's door", rexDoor, "POST", "/api/v1/checkin", map[string]any{"code": code, "show_id": showID}, 400, "VALIDATION_ERROR"},
		{"rex's door", rexDoor, "GET", "/api/v1/shows/" + showID + "/revoked-tickets", nil, 403, "FORBIDDEN"},
		{"rex's door", rexDoor, "GET", "/api/v1/shows/" + showID + "/checkin-stats", nil, 403, "FORBIDDEN"},
		{"rex's door", rexDoor, "GET", "/api/v1/bookings/" + paid, nil, 403, "FORBIDDEN"},
		{"rex's door", rexDoor, "GET", "/api/v1/bookings", nil, 403, "FORBIDDEN"},
		{"rex's door", rexDoor, "GET", "/api/v1/notifications", nil, 403, "FORBIDDEN"},
		{"rex's door", rexDoor, "GET", "/api/v1/checkin/devices", nil, 403, "FORBIDDEN"},
		{"rex's door", rexDoor, "GET", "/api/v1/admin/users/" + annID, nil, 403, "FORBIDDEN"},
		{"orla's door", orlaDoor, "GET", "/api/v1/shows/" + rexShow + "/revoked-tickets", nil, 403, "FORBIDDEN"},
		{"orla's door", orlaDoor, "DELETE", "/api/v1/checkin/devices/" + deviceID, nil, 403, "FORBIDDEN"},
		{"orla's door", orlaDoor, "POST", "/api/v1/events/" + eventID + "/ticket-keys/rotate", map[string]any{}, 403, "FORBIDDEN"},
		{"orla's door", orlaDoor, "GET", "/api/v1/analytics/events/" + eventID, nil, 403, "FORBIDDEN"},
	}
	for _, c := range refusals {
		var r apiReply
		if c.method == "POST" && c.path == "/api/v1/payments" {
			r = a.call(c.method, c.path, c.token, c.body, "Idempotency-Key", "steal-"+uuid.NewString())
		} else {
			r = a.call(c.method, c.path, c.token, c.body)
		}
		if r.status != c.status || r.code() != c.code {
			t.Errorf("%s: %s %s: %s, want %d %s", c.who, c.method, c.path, r, c.status, c.code)
		}
		if l := leaks(r.raw, c.path); len(l) > 0 {
			t.Errorf("%s: %s %s names %v: %s", c.who, c.method, c.path, l, r)
		}
	}

	// Answers of 200 to another party: their own rows only, whatever the
	// filter names.
	for _, c := range []struct{ who, token, path string }{
		{"bruno", bruno, "/api/v1/bookings"},
		{"bruno", bruno, "/api/v1/bookings?status=confirmed"},
		{"bruno", bruno, "/api/v1/bookings/pending"},
		{"bruno", bruno, "/api/v1/notifications"},
		{"bruno", bruno, "/api/v1/bookings/" + paid + "/tickets"},
		{"bruno", bruno, "/api/v1/events?status=draft"},
		{"bruno", bruno, "/api/v1/events?mine=true"},
		{"orla", orla, "/api/v1/bookings/" + paid + "/tickets"},
		{"rex", rex, "/api/v1/checkin/devices"},
		{"rex", rex, "/api/v1/checkin/devices?owner_id=" + orlaID},
		{"rex", rex, "/api/v1/checkin/devices?event_id=" + eventID},
		{"rex", rex, "/api/v1/analytics/dashboard"},
		{"rex", rex, "/api/v1/events?status=draft"},
		{"rex", rex, "/api/v1/events?mine=true"},
		{"rex", rex, "/api/v1/events?status=draft&query=Secret"},
	} {
		r := a.call("GET", c.path, c.token, nil)
		if r.status != http.StatusOK {
			t.Errorf("%s: GET %s: %s", c.who, c.path, r)
			continue
		}
		if l := leaks(r.raw, c.path); len(l) > 0 || strings.Contains(r.raw, paid) || strings.Contains(r.raw, `"code":"`) {
			t.Errorf("%s: GET %s names annika's or orla's data %v: %s", c.who, c.path, l, r)
		}
		if strings.HasSuffix(c.path, "/tickets") && len(ticketsOf(r)) != 0 {
			t.Errorf("%s: GET %s: %s, want no tickets", c.who, c.path, r)
		}
	}
	// The split of a zone's seats into held and sold is its organizer's.
	split := func(token string) float64 {
		var n float64
		for _, z := range a.call("GET", "/api/v1/shows/"+showID+"/zones", token, nil).list() {
			held, _ := z.(map[string]any)["held_seats"].(float64)
			sold, _ := z.(map[string]any)["sold_seats"].(float64)
			n += held + sold
		}
		return n
	}
	if n := split(orla); n != 3 {
		t.Errorf("orla reads %v seats held or sold of her zone, want 3", n)
	}
	for who, token := range map[string]string{"rex": rex, "bruno": bruno, "anonymous": ""} {
		if n := split(token); n != 0 {
			t.Errorf("%s reads %v seats held or sold of orla's zone", who, n)
		}
	}

	// What names orla's draft answers rex as what names nothing: a draft's
	// existence is hers.
	// orla made the draft's ticket key already (the door app is set up
	// before the sale opens).
	a.want(a.call("POST", "/api/v1/events/"+draftID+"/ticket-keys/rotate", orla, map[string]any{}), 200, "")
	nothing := uuid.NewString()
	for _, c := range []struct {
		method, path string
		body         func(id string) any
	}{
		{"GET", "/api/v1/events/%s/ticket-keys", nil},
		{"GET", "/api/v1/events/%s", nil},
		{"GET", "/api/v1/queue/lines/%s", nil},
		{"GET", "/api/v1/queue/status?event_id=%s", nil},
		{"POST", "/api/v1/queue/join", func(id string) any { return map[string]any{"event_id": id} }},
		{"GET", "/api/v1/analytics/events/%s", nil},
		{"PUT", "/api/v1/events/%s/queue", func(string) any { return map[string]any{"enabled": true} }},
		{"POST", "/api/v1/events/%s/ticket-keys/rotate", func(string) any { return map[string]any{} }},
		{"POST", "/api/v1/checkin/devices", func(id string) any { return map[string]any{"name": "D", "event_ids": []string{id}} }},
	} {
		ask := func(id string) apiReply {
			var body any
			if c.body != nil {
				body = c.body(id)
			}
			return a.call(c.method, strings.ReplaceAll(c.path, "%s", id), rex, body)
		}
		d, n := ask(draftID), ask(nothing)
		same := strings.ReplaceAll(d.raw, draftID, "ID") == strings.ReplaceAll(n.raw, nothing, "ID")
		if d.status != n.status || d.code() != n.code() || (d.status < 400 && !same) {
			t.Errorf("rex: %s %s: orla's draft %s, no event %s", c.method, c.path, d, n)
		}
	}
	// Whoever runs the draft reads its keys: orla, an admin, its door.
	draftDoor := a.call("POST", "/api/v1/checkin/devices", orla, map[string]any{"name": "Secret door", "event_ids": []string{draftID}}).str("credential")
	for who, token := range map[string]string{"orla": orla, "admin": admin, "the draft's door": draftDoor} {
		if r := a.call("GET", "/api/v1/events/"+draftID+"/ticket-keys", token, nil); len(r.data()["keys"].([]any)) != 1 {
			t.Errorf("%s reads the draft's keys: %s", who, r)
		}
	}
	for _, c := range []struct {
		method, path string
		body         func(show, zone string) any
	}{
		{"POST", "/api/v1/bookings/reserve", func(show, zone string) any {
			return map[string]any{"show_id": show, "zone_id": zone, "quantity": 1}
		}},
		{"POST", "/api/v1/waitlist", func(show, zone string) any {
			return map[string]any{"show_id": show, "zone_id": zone, "quantity": 1}
		}},
		{"GET", "/api/v1/waitlist/%z", nil},
		{"GET", "/api/v1/shows/%s/zones", nil},
		{"GET", "/api/v1/shows/%s/checkin-stats", nil},
		{"GET", "/api/v1/shows/%s/revoked-tickets", nil},
	} {
		ask := func(show, zone string) apiReply {
			var body any
			if c.body != nil {
				body = c.body(show, zone)
			}
			path := strings.ReplaceAll(strings.ReplaceAll(c.path, "%s", show), "%z", zone)
			return a.call(c.method, path, rex, body, "Idempotency-Key", "probe-"+uuid.NewString())
		}
		d, n := ask(draftShow.str("id"), draftZone.str("id")), ask(uuid.NewString(), uuid.NewString())
		if d.status != n.status || d.code() != n.code() || d.status < 400 {
			t.Errorf("rex: %s %s: orla's draft %s, no show %s", c.method, c.path, d, n)
		}
	}
	// rex's door syncs annika's code at orla's door: the wrong event, and
	// nothing is checked in.
	if r := a.call("POST", "/api/v1/checkin/sync", rexDoor, scan); r.status != 200 || !strings.Contains(r.raw, "wrong_event") {
		t.Errorf("rex's door syncs annika's code: %s", r)
	}
	// bruno leaves the line annika waits in: his own place only.
	a.want(a.call("DELETE", "/api/v1/waitlist/"+zoneID, bruno, nil), 200, "")

	// Nothing changed.
	a.want(a.call("GET", "/api/v1/waitlist/"+zoneID, ann, nil), 200, "")
	if st := a.call("GET", "/api/v1/bookings/"+paid, ann, nil).str("status"); st != "confirmed" {
		t.Errorf("annika's bought booking is %q", st)
	}
	if st := a.call("GET", "/api/v1/bookings/"+held, ann, nil).str("status"); st != "reserved" {
		t.Errorf("annika's hold is %q", st)
	}
	if st := a.call("GET", "/api/v1/payments/"+paymentID, ann, nil).str("status"); st != "succeeded" {
		t.Errorf("annika's payment is %q", st)
	}
	if n := len(ticketsOf(a.call("GET", "/api/v1/bookings/"+paid+"/tickets", ann, nil))); n != 1 {
		t.Errorf("annika has %d tickets", n)
	}
	a.want(a.call("GET", "/api/v1/queue/status?event_id="+queued+"&ticket="+url.QueryEscape(queueTicket), ann, nil), 200, "")
	if st := a.call("GET", "/api/v1/events/"+eventID, orla, nil).str("status"); st != "published" {
		t.Errorf("orla's event is %q", st)
	}
	if q := a.call("GET", "/api/v1/events/"+queued, orla, nil).data()["queue_enabled"]; q != true {
		t.Errorf("orla's queue is switched %v", q)
	}
	a.want(a.call("GET", "/api/v1/shows/"+draftShow.str("id")+"/zones", orla, nil), 200, "")
	if n := len(a.call("GET", "/api/v1/shows/"+draftShow.str("id")+"/zones", orla, nil).list()); n != 1 {
		t.Errorf("orla's draft show has %d zones", n)
	}
	stats := a.call("GET", "/api/v1/shows/"+showID+"/checkin-stats", orla, nil)
	if n, _ := stats.data()["checked_in"].(float64); n != 0 {
		t.Errorf("orla's show counts %v checked in: %s", n, stats)
	}
	devices := a.call("GET", "/api/v1/checkin/devices", orla, nil).list()
	if !slices.ContainsFunc(devices, func(d any) bool {
		return d.(map[string]any)["id"] == deviceID && d.(map[string]any)["revoked_at"] == nil
	}) {
		t.Errorf("orla's devices: %v", devices)
	}
	if r := a.call("POST", "/api/v1/checkin", orlaDoor, map[string]any{"code": code, "show_id": showID}); !strings.Contains(r.raw, `"valid"`) {
		t.Errorf("annika's ticket at orla's door: %s", r)
	}
}
