package edge_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/eticket"
	"github.com/bookingrush/rush/services/platform/showtime"
	"github.com/bookingrush/rush/services/testkit"
)

// TestAfterTheSaleEndToEnd walks issue 19 through the edge against a whole
// mesh: a sold-out zone's waitlist gets a cancelled hold's seats as an
// offer (mailed with a checkout link) and pays it; every seat of a
// confirmed booking has a signed ticket that verifies offline with the
// event's published key; an organizer's device checks tickets in (wrong
// show at another show's door, valid, already used, wrong event, revoked
// after a refund; offline scans synced later, the earliest wins), and the
// show's counts follow.
func TestAfterTheSaleEndToEnd(t *testing.T) {
	t.Parallel()
	_, smtp, a := startWhole(t, "-payment.sim-delay=50ms", "-notify.poll=100ms")
	a.spec = loadOpenAPI(t, a.base)

	users := a.people([]string{"org", "other", "ann", "ben", "cat"}, "org", "other")
	showAt := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Hour)
	// org's show is a festival of two days: its tickets admit until it
	// ends, later than a day after its start. other's show has no end.
	endsAt := showAt.Add(48 * time.Hour)
	newEvent := func(who string, seats int) (eventID, showID, zoneID string) {
		t.Helper()
		ev := a.call("POST", "/api/v1/events", users[who], map[string]any{"title": "Gate Night " + who, "venue": "Hall", "time_zone": "Asia/Tokyo", "max_per_user": 4,
			"sale_start_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "sale_end_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)})
		a.want(ev, 201, "")
		body := map[string]any{"show_date": showAt.Format(time.RFC3339)}
		if who == "org" {
			// An end before the start is refused on ends_at (a rule across
			// two fields names the one to fix).
			body["ends_at"] = showAt.Add(-time.Hour).Format(time.RFC3339)
			bad := a.call("POST", "/api/v1/events/"+ev.str("id")+"/shows", users[who], body)
			a.want(bad, 400, "VALIDATION_ERROR")
			if !strings.Contains(bad.raw, `{"field":"ends_at","message":"must be after show_date, and at most 30 days after it","rule":"create_show.ends_at"}`) {
				t.Errorf("an end before the start: %v", bad)
			}
			body["ends_at"] = endsAt.Format(time.RFC3339)
		}
		show := a.call("POST", "/api/v1/events/"+ev.str("id")+"/shows", users[who], body)
		a.want(show, 201, "")
		zone := a.call("POST", "/api/v1/shows/"+show.str("id")+"/zones", users[who], map[string]any{"name": "Floor", "price": "25.00", "total_seats": seats})
		a.want(zone, 201, "")
		a.want(a.call("POST", "/api/v1/events/"+ev.str("id")+"/publish", users[who], nil), 200, "")
		return ev.str("id"), show.str("id"), zone.str("id")
	}
	eventID, showID, zoneID := newEvent("org", 3)
	otherEvent, otherShow, otherZone := newEvent("other", 5)
	reserve := func(who, show, zone string, qty int, key string) string {
		t.Helper()
		r := a.call("POST", "/api/v1/bookings/reserve", users[who], map[string]any{"show_id": show, "zone_id": zone, "quantity": qty}, "Idempotency-Key", key)
		a.want(r, 201, "")
		return r.str("id")
	}
	payAndWait := func(who, booking string) {
		t.Helper()
		a.want(a.call("POST", "/api/v1/payments", users[who], map[string]any{"booking_id": booking, "payment_method": "sim_ok"}), 201, "")
		testkit.Eventually(t, 30*time.Second, who+"'s booking confirmed", func() bool {
			return a.call("GET", "/api/v1/bookings/"+booking, users[who], nil).str("status") == "confirmed"
		})
	}

	// The waitlist: ann holds all 3 seats; ben waits for 2 (no waiting
	// while seats are there; the waitlist refuses a second place).
	a.want(a.call("POST", "/api/v1/waitlist", users["ben"], map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": 2}), 409, "INSUFFICIENT_STOCK")
	annHold := reserve("ann", showID, zoneID, 3, "ann-hold-0001")
	w := a.call("POST", "/api/v1/waitlist", users["ben"], map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": 2})
	a.want(w, 200, "")
	if w.data()["position"] != float64(1) || w.data()["quantity"] != float64(2) {
		t.Fatalf("ben's place: %s", w)
	}
	a.want(a.call("GET", "/api/v1/waitlist/"+zoneID, users["ben"], nil), 200, "")
	a.want(a.call("GET", "/api/v1/waitlist/"+zoneID, users["cat"], nil), 404, "NOT_FOUND")
	a.want(a.call("POST", "/api/v1/waitlist", users["cat"], map[string]any{"show_id": otherShow, "zone_id": zoneID, "quantity": 1}), 404, "NOT_FOUND")
	a.want(a.call("POST", "/api/v1/waitlist", users["cat"], map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": 11}), 400, "VALIDATION_ERROR")
	// ann cancels: ben's offer is a hold of his, mailed with the checkout link.
	a.want(a.call("POST", "/api/v1/bookings/"+annHold+"/cancel", users["ann"], nil), 200, "")
	var offer map[string]any
	testkit.Eventually(t, 10*time.Second, "ben's offer in his pending bookings", func() bool {
		l := a.call("GET", "/api/v1/bookings/pending", users["ben"], nil).list()
		if len(l) == 1 {
			offer, _ = l[0].(map[string]any)
		}
		return offer != nil
	})
	if offer["waitlist_offer"] != true || offer["quantity"] != float64(2) || offer["status"] != "reserved" {
		t.Fatalf("ben's offer: %v", offer)
	}
	benBooking := offer["id"].(string)
	a.want(a.call("GET", "/api/v1/waitlist/"+zoneID, users["ben"], nil), 404, "NOT_FOUND")
	testkit.Eventually(t, 20*time.Second, "the offer mail", func() bool {
		for _, msg := range smtp.To("ben@rush.test") {
			if strings.Contains(msg.Text, "/checkout/"+benBooking) {
				return true
			}
		}
		return false
	})
	payAndWait("ben", benBooking)

	// ben's tickets: one per seat, each code verifies offline with the
	// event's published key alone.
	var tickets []any
	testkit.Eventually(t, 20*time.Second, "ben's tickets", func() bool {
		tickets = ticketsOf(a.call("GET", "/api/v1/bookings/"+benBooking+"/tickets", users["ben"], nil))
		return len(tickets) == 2
	})
	if l := ticketsOf(a.call("GET", "/api/v1/bookings/"+benBooking+"/tickets", users["cat"], nil)); len(l) != 0 {
		t.Fatalf("cat reads ben's tickets: %v", l)
	}
	keysReply := a.call("GET", "/api/v1/events/"+eventID+"/ticket-keys", "", nil)
	a.want(keysReply, 200, "")
	keys := eticket.Keys{}
	for _, k := range keysReply.data()["keys"].([]any) {
		k := k.(map[string]any)
		pub, _ := base64.StdEncoding.DecodeString(k["public_key"].(string))
		keys[uint16(k["key_id"].(float64))] = ed25519.PublicKey(pub)
	}
	codes := make([]string, len(tickets))
	for i, tk := range tickets {
		tk := tk.(map[string]any)
		codes[i] = tk["code"].(string)
		got, err := eticket.Verify(codes[i], keys, time.Now())
		if err != nil || got.ID.String() != tk["id"] || got.EventID.String() != eventID || got.ShowID.String() != showID || tk["status"] != "valid" ||
			tk["valid_until"] != endsAt.Format(time.RFC3339) {
			t.Fatalf("ticket %d: %+v %v (%v)", i, got, err, tk)
		}
		png, _ := base64.StdEncoding.DecodeString(tk["qr_png"].(string))
		if !strings.HasPrefix(string(png), "\x89PNG") {
			t.Fatalf("ticket %d: no PNG QR code", i)
		}
	}
	// The confirmation mail carries the tickets' QR codes as inline images,
	// the show's date in the venue's zone, the venue and the zone, and the
	// show as a calendar file.
	when := showtime.Format(showAt, "Asia/Tokyo")
	testkit.Eventually(t, 20*time.Second, "the confirmation mail with QR codes and the show's date in Tokyo", func() bool {
		for _, msg := range smtp.To("ben@rush.test") {
			if strings.Contains(string(msg.Raw), "Content-Id: <ticket-1@") && strings.Contains(string(msg.Raw), "image/png") && strings.Contains(msg.HTML, "cid:ticket-1@") &&
				strings.Contains(msg.Text, when) && strings.HasSuffix(when, "JST") &&
				strings.Contains(msg.Text, "Venue:             Hall") && strings.Contains(msg.Text, "Zone:              Floor") &&
				strings.HasPrefix(msg.Text, "Hello ben,") && len(msg.Attachments) == 1 && msg.Attachments[0].Name == "show.ics" &&
				strings.Contains(string(msg.Attachments[0].Data), "\r\nDTSTART:"+showAt.Format("20060102T150405Z")+"\r\nDTEND:"+endsAt.Format("20060102T150405Z")+"\r\nSUMMARY:Gate Night org\r\nLOCATION:Hall\r\n") {
				return true
			}
		}
		return false
	})

	// Devices: only the event's organizer registers one; a device calls
	// the gate only.
	a.want(a.call("POST", "/api/v1/checkin/devices", users["other"], map[string]any{"name": "North 1", "event_ids": []string{eventID}}), 403, "FORBIDDEN")
	a.want(a.call("POST", "/api/v1/checkin/devices", users["ben"], map[string]any{"name": "North 1", "event_ids": []string{eventID}}), 403, "FORBIDDEN")
	dev := a.call("POST", "/api/v1/checkin/devices", users["org"], map[string]any{"name": "North 1", "event_ids": []string{eventID}})
	a.want(dev, 201, "")
	north := dev.str("credential")
	south := a.call("POST", "/api/v1/checkin/devices", users["org"], map[string]any{"name": "South 1", "event_ids": []string{eventID}}).str("credential")
	a.want(a.call("GET", "/api/v1/bookings", north, nil), 403, "FORBIDDEN")
	a.want(a.call("POST", "/api/v1/checkin", users["org"], map[string]any{"code": codes[0], "gate": "North"}), 403, "FORBIDDEN")

	outcome := func(r apiReply) string { a.t.Helper(); a.want(r, 200, ""); return r.str("outcome") }
	// The festival gets a third day: its door refuses ben's ticket (of the
	// first) and checks nothing in, so the ticket admits at its own door.
	nextDay := a.call("POST", "/api/v1/events/"+eventID+"/shows", users["org"], map[string]any{"show_date": endsAt.Add(24 * time.Hour).Format(time.RFC3339)})
	a.want(nextDay, 201, "")
	wrong := a.call("POST", "/api/v1/checkin", north, map[string]any{"code": codes[0], "gate": "North", "show_id": nextDay.str("id")})
	if outcome(wrong) != "wrong_show" || wrong.str("show_id") != showID || wrong.data()["first_scan"] != nil {
		t.Fatalf("a ticket at another show's door: %s", wrong)
	}
	// The door names its scan by its own time: the copy it queued when the
	// answer was slow is the same scan (valid again, no second entry).
	scannedAt := time.Now().Add(-2 * time.Second).UTC().Format(time.RFC3339Nano)
	if o := outcome(a.call("POST", "/api/v1/checkin", north, map[string]any{"code": codes[0], "gate": "North", "show_id": showID, "scanned_at": scannedAt})); o != "valid" {
		t.Fatalf("first scan: %s", o)
	}
	copied := a.call("POST", "/api/v1/checkin/sync", north, map[string]any{"scans": []map[string]any{
		{"code": codes[0], "gate": "North", "show_id": showID, "scanned_at": scannedAt, "door": "admitted"}}})
	if r := copied.data()["results"].([]any)[0].(map[string]any); r["outcome"] != "valid" {
		t.Fatalf("the synced copy of the first scan: %s", copied)
	}
	badTime := a.call("POST", "/api/v1/checkin", north, map[string]any{"code": codes[0], "gate": "North", "scanned_at": "yesterday"})
	if a.want(badTime, 400, ""); !strings.Contains(badTime.raw, "scanned_at") {
		t.Fatalf("a scan time that is no time: %s", badTime)
	}
	again := a.call("POST", "/api/v1/checkin", south, map[string]any{"code": codes[0], "gate": "South"})
	if outcome(again) != "already_used" || again.str("first_scan", "gate") != "North" {
		t.Fatalf("second scan: %s", again)
	}
	if o := outcome(a.call("POST", "/api/v1/checkin", north, map[string]any{"code": "BRT1:NOTATICKET"})); o != "invalid" {
		t.Fatalf("garbage: %s", o)
	}
	forged := codes[1][:len(codes[1])-4] + "AAAA"
	if forged == codes[1] {
		forged = codes[1][:len(codes[1])-4] + "BBBB"
	}
	if o := outcome(a.call("POST", "/api/v1/checkin", north, map[string]any{"code": forged})); o != "invalid" {
		t.Fatalf("forged: %s", o)
	}

	// cat buys a seat of the other event: wrong event at this gate.
	catBooking := reserve("cat", otherShow, otherZone, 1, "cat-other-0001")
	payAndWait("cat", catBooking)
	var catCode string
	testkit.Eventually(t, 20*time.Second, "cat's ticket", func() bool {
		if l := ticketsOf(a.call("GET", "/api/v1/bookings/"+catBooking+"/tickets", users["cat"], nil)); len(l) == 1 {
			catCode = l[0].(map[string]any)["code"].(string)
		}
		return catCode != ""
	})
	if o := outcome(a.call("POST", "/api/v1/checkin", north, map[string]any{"code": catCode})); o != "wrong_event" {
		t.Fatalf("other event's ticket: %s", o)
	}
	_ = otherEvent

	// Offline: south scanned ben's second ticket 10 minutes ago, north 5
	// minutes ago; north syncs first, south later: south's earlier scan wins.
	sync := a.call("POST", "/api/v1/checkin/sync", north, map[string]any{"scans": []map[string]any{
		{"code": codes[1], "gate": "North", "scanned_at": time.Now().Add(-5 * time.Minute).UTC().Format(time.RFC3339)}}})
	a.want(sync, 200, "")
	if r := sync.data()["results"].([]any)[0].(map[string]any); r["outcome"] != "valid" {
		t.Fatalf("north's offline scan: %v", r)
	}
	sync = a.call("POST", "/api/v1/checkin/sync", south, map[string]any{"scans": []map[string]any{
		{"code": codes[1], "gate": "South", "scanned_at": time.Now().Add(-10 * time.Minute).UTC().Format(time.RFC3339)},
		{"code": codes[1], "gate": "South", "scanned_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}}})
	a.want(sync, 200, "")
	res := sync.data()["results"].([]any)
	if res[0].(map[string]any)["outcome"] != "valid" || res[1].(map[string]any)["outcome"] != "already_used" {
		t.Fatalf("south's offline scans: %s", sync)
	}
	// The organizer's counts.
	st := a.call("GET", "/api/v1/shows/"+showID+"/checkin-stats", users["org"], nil)
	a.want(st, 200, "")
	if st.data()["sold"] != float64(2) || st.data()["checked_in"] != float64(2) {
		t.Fatalf("stats: %s", st)
	}
	// The door says what it did: a scan it refused checks nothing in and
	// counts as no entry; a verdict it cannot name is refused, naming it.
	refused := a.call("POST", "/api/v1/checkin/sync", south, map[string]any{"scans": []map[string]any{
		{"code": codes[1], "gate": "South", "door": "refused", "scanned_at": time.Now().Add(-30 * time.Second).UTC().Format(time.RFC3339)}}})
	a.want(refused, 200, "")
	if r := refused.data()["results"].([]any)[0].(map[string]any); r["outcome"] != "already_used" {
		t.Fatalf("a scan its door refused: %s", refused)
	}
	if again := a.call("GET", "/api/v1/shows/"+showID+"/checkin-stats", users["org"], nil); again.data()["reused"] != st.data()["reused"] {
		t.Fatalf("a scan its door refused counted: %s, before %s", again, st)
	}
	bad := a.call("POST", "/api/v1/checkin/sync", south, map[string]any{"scans": []map[string]any{
		{"code": codes[1], "gate": "South", "door": "maybe"}}})
	if a.want(bad, 400, "VALIDATION_ERROR"); !strings.Contains(bad.raw, "scans[0].door") || !strings.Contains(bad.raw, "admitted, refused") {
		t.Fatalf("an unknown door verdict: %s", bad)
	}
	a.want(a.call("GET", "/api/v1/shows/"+showID+"/checkin-stats", users["other"], nil), 403, "FORBIDDEN")

	// cat's refund revokes the ticket: on the revocation list, and refused.
	orgDev := a.call("POST", "/api/v1/checkin/devices", users["other"], map[string]any{"name": "Main", "event_ids": []string{otherEvent}}).str("credential")
	a.want(a.call("POST", "/api/v1/bookings/"+catBooking+"/cancel", users["cat"], nil), 200, "")
	testkit.Eventually(t, 20*time.Second, "cat's ticket revoked", func() bool {
		l := a.call("GET", "/api/v1/shows/"+otherShow+"/revoked-tickets", orgDev, nil).data()["tickets"]
		return l != nil && len(l.([]any)) == 1
	})
	if o := outcome(a.call("POST", "/api/v1/checkin", orgDev, map[string]any{"code": catCode})); o != "revoked" {
		t.Fatalf("a refunded ticket: %s", o)
	}
	a.want(a.call("GET", "/api/v1/shows/"+otherShow+"/revoked-tickets", north, nil), 403, "FORBIDDEN")

	// Key rotation: new codes use the new key; dropping the old one makes
	// the old codes fail offline, and the device refuses them too.
	rot := a.call("POST", "/api/v1/events/"+eventID+"/ticket-keys/rotate", users["org"], map[string]any{"drop_previous": true})
	a.want(rot, 200, "")
	if ks := rot.data()["keys"].([]any); len(ks) != 1 || ks[0].(map[string]any)["key_id"] != float64(2) {
		t.Fatalf("keys after rotation: %s", rot)
	}
	a.want(a.call("POST", "/api/v1/events/"+eventID+"/ticket-keys/rotate", users["other"], nil), 403, "FORBIDDEN")
	fresh := ticketsOf(a.call("GET", "/api/v1/bookings/"+benBooking+"/tickets", users["ben"], nil))[0].(map[string]any)["code"].(string)
	if t2, err := eticket.Parse(fresh); err != nil || t2.KeyID != 2 {
		t.Fatalf("a code after the rotation: %+v %v", t2, err)
	}
	if r := a.call("POST", "/api/v1/checkin", north, map[string]any{"code": codes[0]}); r.str("outcome") != "invalid" {
		t.Fatalf("a code of a dropped key: %s", r)
	}
	if r := a.call("POST", "/api/v1/checkin", north, map[string]any{"code": fresh}); r.str("outcome") != "already_used" {
		t.Fatalf("the re-signed code of a checked-in ticket: %s", r)
	}
	// A revoked device is refused.
	a.want(a.call("DELETE", "/api/v1/checkin/devices/"+dev.str("device", "id"), users["org"], nil), 200, "")
	a.want(a.call("POST", "/api/v1/checkin", north, map[string]any{"code": fresh}), 401, "UNAUTHORIZED")
	// The organizer lists its devices (how it finds one to revoke): newest
	// first, the revoked one saying so, no credential; another organizer
	// sees its own only, a device none.
	l := a.call("GET", "/api/v1/checkin/devices", users["org"], nil)
	a.want(l, 200, "")
	if devs := l.list(); len(devs) != 2 || devs[0].(map[string]any)["name"] != "South 1" || devs[0].(map[string]any)["revoked_at"] != nil ||
		devs[1].(map[string]any)["id"] != dev.str("device", "id") || devs[1].(map[string]any)["revoked_at"] == nil || strings.Contains(l.raw, "credential") {
		t.Fatalf("org's devices: %s", l)
	}
	if devs := a.call("GET", "/api/v1/checkin/devices", users["other"], nil).list(); len(devs) != 1 {
		t.Fatalf("other's devices: %v", devs)
	}
	a.want(a.call("GET", "/api/v1/checkin/devices", south, nil), 403, "FORBIDDEN")
}

// ticketsOf is the tickets of a GET /bookings/{id}/tickets answer.
func ticketsOf(r apiReply) []any { l, _ := r.data()["tickets"].([]any); return l }
