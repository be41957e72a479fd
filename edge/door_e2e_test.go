package edge_test

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/platform/eticket"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/testkit"
)

// TestDoorAccessBadInputAndCancellation walks the door through the edge
// against a whole mesh: who may read a show's door data before the show
// sold a ticket (or when it does not exist: 404, for an admin's key
// rotation too), bad input (a 4xx, never a 5xx), and what the door says of
// an event cancelled after its tickets were issued (every ticket revoked,
// refused at the door, listed without code).
func TestDoorAccessBadInputAndCancellation(t *testing.T) {
	t.Parallel()
	m, _, a := startWhole(t, "-payment.sim-delay=50ms", "-notify.poll=100ms")
	expect := func(r apiReply, status int, code, what string) bool {
		t.Helper()
		if r.status != status || (code != "" && r.code() != code) {
			t.Errorf("%s: got %s, want %d %s", what, r, status, code)
			return false
		}
		return true
	}

	adm := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"}).str("access_token")
	users := a.people([]string{"org", "other", "ann", "ben"}, "org", "other")
	eventID, showID, zoneID := a.onSale(users["org"], "Door Night", 10)
	otherEvent, otherShow, _ := a.onSale(users["other"], "Other Night", 10)
	dev := a.call("POST", "/api/v1/checkin/devices", users["org"], map[string]any{"name": "North 1", "event_ids": []string{eventID}})
	a.want(dev, 201, "")
	door := dev.str("credential")

	// 1. A show's door data before its first ticket is authorized as
	// after it: the answer depends on who asks, not on whether the show
	// sold (it answered 200 with zeros before its first sale).
	expect(a.call("GET", "/api/v1/shows/"+showID+"/checkin-stats", users["other"], nil), 403, "FORBIDDEN",
		"another organizer reads the counts of a show that sold nothing yet")
	expect(a.call("GET", "/api/v1/shows/"+uuid.NewString()+"/checkin-stats", users["org"], nil), 404, "NOT_FOUND",
		"the counts of a show that does not exist")
	expect(a.call("GET", "/api/v1/shows/"+otherShow+"/revoked-tickets", door, nil), 403, "FORBIDDEN",
		"a device of org's event reads the revocation list of other's show (nothing sold yet)")
	// An admin "rotates" the keys of an event that does not exist.
	expect(a.call("POST", "/api/v1/events/"+uuid.NewString()+"/ticket-keys/rotate", adm, map[string]any{}), 404, "NOT_FOUND",
		"an admin rotates the keys of an event that does not exist")
	// 2. Bad input at the door is a 4xx, never a 5xx.
	long := strings.Repeat("A", 600)
	for what, c := range map[string]struct {
		method, path string
		token        string
		body         any
	}{
		"empty code":            {"POST", "/api/v1/checkin", door, map[string]any{"code": ""}},
		"long code":             {"POST", "/api/v1/checkin", door, map[string]any{"code": long}},
		"code not a string":     {"POST", "/api/v1/checkin", door, map[string]any{"code": 12}},
		"show_id not a uuid":    {"POST", "/api/v1/checkin", door, map[string]any{"code": "BRT1:X", "show_id": "x"}},
		"gate too long":         {"POST", "/api/v1/checkin", door, map[string]any{"code": "BRT1:X", "gate": strings.Repeat("g", 101)}},
		"no scans":              {"POST", "/api/v1/checkin/sync", door, map[string]any{"scans": []any{}}},
		"null scan":             {"POST", "/api/v1/checkin/sync", door, map[string]any{"scans": []any{nil}}},
		"scanned_at garbage":    {"POST", "/api/v1/checkin/sync", door, map[string]any{"scans": []any{map[string]any{"code": "BRT1:X", "scanned_at": "yesterday"}}}},
		"device without events": {"POST", "/api/v1/checkin/devices", users["org"], map[string]any{"name": "n", "event_ids": []string{}}},
		"device of 91 days":     {"POST", "/api/v1/checkin/devices", users["org"], map[string]any{"name": "n", "event_ids": []string{eventID}, "valid_days": 91}},
		"device of no event":    {"POST", "/api/v1/checkin/devices", users["org"], map[string]any{"name": "n", "event_ids": []string{uuid.NewString()}}},
		"revoke not a uuid":     {"DELETE", "/api/v1/checkin/devices/nope", users["org"], nil},
		"revoke unknown":        {"DELETE", "/api/v1/checkin/devices/" + uuid.NewString(), users["org"], nil},
		"tickets not a uuid":    {"GET", "/api/v1/bookings/nope/tickets", users["ann"], nil},
		"keys not a uuid":       {"GET", "/api/v1/events/nope/ticket-keys", "", nil},
	} {
		if r := a.call(c.method, c.path, c.token, c.body); r.status >= 500 || r.status < 400 {
			t.Errorf("%s: %s, want a 4xx", what, r)
		}
	}
	// An event that has had as many keys as a code can name (65,535)
	// rotates no more: 409, and its keys stay as they were (it was a 500,
	// the key id's CHECK failing).
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pgtest.Open(t, m.DSN).Exec(`INSERT INTO gate_signing_keys (event_id, key_id, public_key, private_key) VALUES ($1, 65535, $2, $3)`,
		otherEvent, []byte(pub), priv.Seed()); err != nil {
		t.Fatal(err)
	}
	keys := a.call("GET", "/api/v1/events/"+otherEvent+"/ticket-keys", "", nil)
	if r := a.call("POST", "/api/v1/events/"+otherEvent+"/ticket-keys/rotate", users["other"], map[string]any{"drop_previous": true}); r.status != 409 ||
		r.code() != "CONFLICT" || !strings.Contains(r.raw, `"key_ids_exhausted"`) {
		t.Errorf("the 65,536th key of an event: %s, want 409 CONFLICT reason key_ids_exhausted", r)
	}
	if after := a.call("GET", "/api/v1/events/"+otherEvent+"/ticket-keys", "", nil); after.raw != keys.raw {
		t.Errorf("the keys after a refused rotation: %s, before %s", after, keys)
	}

	// Odd but valid scan times are judged, not refused.
	for _, at := range []string{"0001-01-01T00:00:01Z", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z"} {
		r := a.call("POST", "/api/v1/checkin/sync", door, map[string]any{"scans": []any{map[string]any{"code": "BRT1:NOTATICKET", "scanned_at": at}}})
		expect(r, 200, "", "a scan at "+at)
	}

	// 3. ann and ben buy; ann's ticket is checked in; the organizer
	// cancels the event: every ticket is revoked, the door refuses them,
	// the counts say so.
	annBooking, ann := a.buy(users["ann"], showID, zoneID, 2)
	benBooking, ben := a.buy(users["ben"], showID, zoneID, 1)
	if r := a.call("POST", "/api/v1/checkin", door, map[string]any{"code": ann[0], "gate": "North", "show_id": showID}); r.str("outcome") != "valid" {
		t.Fatalf("ann's first ticket: %s", r)
	}
	// Another spelling of ann's checked-in code (its last character carries
	// bits the format ignores) is still the same ticket online.
	if tk, err := eticket.Parse(ann[0]); err == nil {
		last := ann[0][len(ann[0])-1]
		for _, c := range []byte("ABCDEFGH") {
			if c != last {
				alt := ann[0][:len(ann[0])-1] + string(c)
				if r := a.call("POST", "/api/v1/checkin", door, map[string]any{"code": alt, "gate": "North", "show_id": showID}); r.str("outcome") == "valid" {
					t.Errorf("another spelling of checked-in ticket %s admits again: %s", tk.ID, r)
				}
				break
			}
		}
	}
	st := a.call("GET", "/api/v1/shows/"+showID+"/checkin-stats", users["org"], nil)
	if st.data()["sold"] != float64(3) || st.data()["checked_in"] != float64(1) {
		t.Errorf("counts before the cancellation: %s", st)
	}

	a.want(a.call("POST", "/api/v1/events/"+eventID+"/cancel", users["org"], map[string]any{"reason": "storm"}), 200, "")
	testkit.Eventually(t, 30*time.Second, "every ticket of the cancelled event revoked", func() bool {
		l := a.call("GET", "/api/v1/shows/"+showID+"/revoked-tickets", door, nil).data()["tickets"]
		ts, _ := l.([]any)
		return len(ts) == 3
	})
	for i, c := range append(append([]string{}, ann...), ben...) {
		if r := a.call("POST", "/api/v1/checkin", door, map[string]any{"code": c, "gate": "North", "show_id": showID}); r.str("outcome") != "revoked" {
			t.Errorf("ticket %d of the cancelled event at the door: %s", i, r)
		}
	}
	for who, b := range map[string]string{"ann": annBooking, "ben": benBooking} {
		for _, tk := range ticketsOf(a.call("GET", "/api/v1/bookings/"+b+"/tickets", users[who], nil)) {
			if m := tk.(map[string]any); m["status"] != "revoked" || m["code"] != "" && m["code"] != nil {
				t.Errorf("%s's ticket of the cancelled event: %v", who, m)
			}
		}
	}
	st = a.call("GET", "/api/v1/shows/"+showID+"/checkin-stats", users["org"], nil)
	if st.data()["sold"] != nil && st.data()["sold"] != float64(0) || st.data()["revoked"] != float64(3) {
		t.Errorf("counts after the cancellation: %s", st)
	}
}

// TestACheckedInBookingCannotBeCancelled: once a ticket of a booking was
// used at the door, its buyer can no longer cancel it (its seats are taken
// by someone inside, and were sold again before): the cancel answers 409
// reason checked_in and changes nothing, the refund quote says so, and so
// does the refund of its payment (POST /payments/{id}/refund, the other
// door to the same cancellation, which released the used seats as the
// system, without asking the gate), an admin's refund in full (in_full)
// included. A booking of the same show not used at the door is still
// cancelled and refunded, and the organizer's
// cancellation of the event still refunds the used one.
func TestACheckedInBookingCannotBeCancelled(t *testing.T) {
	t.Parallel()
	m, _, a := startWhole(t, "-payment.sim-delay=50ms")
	users := a.people([]string{"org", "ann", "ben"}, "org")
	eventID, showID, zoneID := a.onSale(users["org"], "Used Night", 10)
	dev := a.call("POST", "/api/v1/checkin/devices", users["org"], map[string]any{"name": "South", "event_ids": []string{eventID}})
	a.want(dev, 201, "")
	annBooking, ann := a.buy(users["ann"], showID, zoneID, 2)
	benBooking, _ := a.buy(users["ben"], showID, zoneID, 1)
	if r := a.call("POST", "/api/v1/checkin", dev.str("credential"), map[string]any{"code": ann[1], "show_id": showID}); r.str("outcome") != "valid" {
		t.Fatalf("ann's second ticket at the door: %s", r)
	}
	seats := func() float64 { return a.seatsLeft(showID, zoneID) }
	testkit.Eventually(t, 30*time.Second, "7 seats left", func() bool { return seats() == 7 })

	q := a.call("GET", "/api/v1/bookings/"+annBooking+"/refund-quote", users["ann"], nil)
	a.want(q, 200, "")
	if q.data()["cancellable"] == true || !strings.Contains(q.str("policy"), "checked in") {
		t.Errorf("the refund quote of a booking used at the door: %s", q)
	}
	r := a.call("POST", "/api/v1/bookings/"+annBooking+"/cancel", users["ann"], map[string]any{})
	if r.status != 409 || r.code() != "CONFLICT" || !strings.Contains(r.raw, `"checked_in"`) {
		t.Errorf("ann cancels a booking used at the door: %s, want 409 CONFLICT reason checked_in", r)
	}
	var annPayment string
	if err := pgtest.Open(t, m.DSN).QueryRow(`SELECT id::text FROM payments WHERE booking_id = $1 AND status = 'succeeded'`, annBooking).Scan(&annPayment); err != nil {
		t.Fatal(err)
	}
	r = a.call("POST", "/api/v1/payments/"+annPayment+"/refund", users["ann"], map[string]any{"reason": "used it"})
	if r.status != 409 || r.code() != "CONFLICT" || !strings.Contains(r.raw, `"checked_in"`) {
		t.Errorf("ann refunds the payment of a booking used at the door: %s, want 409 CONFLICT reason checked_in", r)
	}
	// Nor does support's refund in full (in_full), which cancels the booking too.
	adm := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"}).str("access_token")
	r = a.call("POST", "/api/v1/payments/"+annPayment+"/refund", adm, map[string]any{"reason": "goodwill", "in_full": true})
	if r.status != 409 || r.code() != "CONFLICT" || !strings.Contains(r.raw, `"checked_in"`) {
		t.Errorf("an admin refunds in full the payment of a booking used at the door: %s, want 409 CONFLICT reason checked_in", r)
	}
	if got := a.call("GET", "/api/v1/payments/"+annPayment, users["ann"], nil); got.str("status") != "succeeded" || got.str("refunded_amount") != "0.00" {
		t.Errorf("ann's payment after the refused refunds: %s", got)
	}
	if got := a.call("GET", "/api/v1/bookings/"+annBooking, users["ann"], nil).str("status"); got != "confirmed" {
		t.Errorf("ann's booking after the refused cancel: %s", got)
	}
	for _, tk := range ticketsOf(a.call("GET", "/api/v1/bookings/"+annBooking+"/tickets", users["ann"], nil)) {
		if m := tk.(map[string]any); m["status"] != "valid" {
			t.Errorf("ann's ticket after the refused cancel: %v", m)
		}
	}

	// ben's booking, never used at the door, is cancelled and refunded.
	a.want(a.call("POST", "/api/v1/bookings/"+benBooking+"/cancel", users["ben"], map[string]any{}), 200, "")
	testkit.Eventually(t, 30*time.Second, "ben's seat back, none of ann's", func() bool { return seats() == 8 })

	// The organizer's cancellation refunds everyone, ann included.
	a.want(a.call("POST", "/api/v1/events/"+eventID+"/cancel", users["org"], map[string]any{"reason": "flood"}), 200, "")
	testkit.Eventually(t, 30*time.Second, "ann refunded by the event's cancellation", func() bool {
		return a.call("GET", "/api/v1/bookings/"+annBooking, users["ann"], nil).str("status") == "refunded"
	})
}
