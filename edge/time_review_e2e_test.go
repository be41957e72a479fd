package edge_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/eticket"
	"github.com/bookingrush/rush/services/testkit"
)

// TestTimeReviewVenueZoneIsAnIANAZone: an event's time_zone must be a zone
// of the tz database, as the API says ("an IANA name"): files of the host's
// zoneinfo directory that are no zone ("localtime", the server's own zone,
// refused when spelled "Local"; "posixrules"; the leap-second "right/" tree,
// which writes a 20:00 CET show as 21:00 CEST; "Factory") answer 400 like
// any other unknown name, not 201.
func TestTimeReviewVenueZoneIsAnIANAZone(t *testing.T) {
	t.Parallel()
	_, _, a := startWhole(t)
	users := a.people([]string{"org"}, "org")
	for _, zone := range []string{"localtime", "posixrules", "right/Europe/Paris", "Factory"} {
		r := a.call("POST", "/api/v1/events", users["org"], map[string]any{"title": "Zone " + zone, "venue": "Hall", "time_zone": zone,
			"sale_start_at": time.Now().UTC().Format(time.RFC3339), "sale_end_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)})
		if r.status != 400 || r.code() != "VALIDATION_ERROR" {
			t.Errorf("time_zone %q: %d %v, want 400 VALIDATION_ERROR on time_zone", zone, r.status, r.data()["time_zone"])
		}
	}
}

// TestTimeReviewShowTooFarAheadIsRefused: a show_date is refused only when
// it is not in the future; a show after 2106 (a typo "2107" for "2027") is
// taken, sold and paid, and its tickets' codes, whose validity is 32-bit
// Unix seconds, say they expired in 1971: every buyer is refused at the
// door. Such a date must answer 400 on show_date.
func TestTimeReviewShowTooFarAheadIsRefused(t *testing.T) {
	t.Parallel()
	_, _, a := startWhole(t, "-payment.sim-delay=50ms")
	users := a.people([]string{"org", "ann"}, "org")
	showAt := time.Date(2107, 6, 1, 18, 0, 0, 0, time.UTC)
	ev := a.call("POST", "/api/v1/events", users["org"], map[string]any{"title": "Far Night", "venue": "Hall", "time_zone": "Europe/Paris",
		"sale_start_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "sale_end_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)})
	a.want(ev, 201, "")
	show := a.call("POST", "/api/v1/events/"+ev.str("id")+"/shows", users["org"], map[string]any{"show_date": showAt.Format(time.RFC3339)})
	if show.status == 400 && show.code() == "VALIDATION_ERROR" {
		return
	}
	a.want(show, 201, "")
	t.Errorf("a show on %s is taken: %d, want 400 VALIDATION_ERROR on show_date", showAt.Format(time.RFC3339), show.status)
	// What its buyers get.
	zone := a.call("POST", "/api/v1/shows/"+show.str("id")+"/zones", users["org"], map[string]any{"name": "Floor", "price": "25.00", "total_seats": 4})
	a.want(zone, 201, "")
	a.want(a.call("POST", "/api/v1/events/"+ev.str("id")+"/publish", users["org"], nil), 200, "")
	b := a.call("POST", "/api/v1/bookings/reserve", users["ann"], map[string]any{"show_id": show.str("id"), "zone_id": zone.str("id"), "quantity": 1}, "Idempotency-Key", "far-ann-0001")
	a.want(b, 201, "")
	a.want(a.call("POST", "/api/v1/payments", users["ann"], map[string]any{"booking_id": b.str("id"), "payment_method": "sim_ok"}), 201, "")
	var tickets []any
	testkit.Eventually(t, 30*time.Second, "ann's ticket", func() bool {
		tickets = ticketsOf(a.call("GET", "/api/v1/bookings/"+b.str("id")+"/tickets", users["ann"], nil))
		return len(tickets) == 1
	})
	keys := eticket.Keys{}
	for _, k := range a.call("GET", "/api/v1/events/"+ev.str("id")+"/ticket-keys", "", nil).data()["keys"].([]any) {
		k := k.(map[string]any)
		pub, _ := base64.StdEncoding.DecodeString(k["public_key"].(string))
		keys[uint16(k["key_id"].(float64))] = ed25519.PublicKey(pub)
	}
	tk := tickets[0].(map[string]any)
	got, err := eticket.Verify(tk["code"].(string), keys, showAt)
	t.Errorf("ann's ticket (valid_until %v) at the door when the show starts: %v (the code says valid until %s)", tk["valid_until"], err, fmt.Sprint(got.NotAfter))
}
