package edge_test

import (
	"testing"
	"time"
)

// TestTimesAnOrganizerCannotSell: dates an organizer types that could
// never sell, or would be written wrong, are refused up front. A venue
// zone must be a zone of the tz database (files of the host's zoneinfo
// directory that are none, such as "localtime", "posixrules", "Factory" or
// the leap-second "right/" tree, wrote a 20:00 CET show as 21:00 CEST, or
// in the replica's own zone). A show at most 10 years ahead (a typo "2107"
// for "2027" was taken, and its tickets' codes, whose validity is 32-bit
// Unix seconds, said they expired in 1971: every buyer refused at the
// door). And an event publishes only with a show that starts after its sale
// opens (sale dates typed for the wrong month published, and every buyer
// got SALE_NOT_OPEN show_started at the opening), and an event on sale
// cannot move its opening past every show.
func TestTimesAnOrganizerCannotSell(t *testing.T) {
	t.Parallel()
	_, _, a := startWhole(t)
	org := a.people([]string{"org"}, "org")["org"]
	now := time.Now().UTC().Truncate(time.Second)
	event := func(title, zone string, saleIn time.Duration) apiReply {
		return a.call("POST", "/api/v1/events", org, map[string]any{"title": title, "venue": "Hall", "time_zone": zone,
			"sale_start_at": now.Add(saleIn).Format(time.RFC3339), "sale_end_at": now.Add(saleIn + 10*24*time.Hour).Format(time.RFC3339)})
	}
	for _, zone := range []string{"localtime", "posixrules", "right/Europe/Paris", "Factory"} {
		if r := event("Zone "+zone, zone, 0); r.status != 400 || r.code() != "VALIDATION_ERROR" {
			t.Errorf("time_zone %q: %s, want 400 VALIDATION_ERROR", zone, r)
		}
	}

	ev := event("Far Night", "Europe/Paris", 0)
	a.want(ev, 201, "")
	far := a.call("POST", "/api/v1/events/"+ev.str("id")+"/shows", org, map[string]any{"show_date": "2107-06-01T18:00:00Z"})
	a.want(far, 400, "VALIDATION_ERROR")

	late := event("Late Sale", "Europe/Paris", 10*24*time.Hour)
	a.want(late, 201, "")
	show := a.call("POST", "/api/v1/events/"+late.str("id")+"/shows", org, map[string]any{"show_date": now.Add(5 * 24 * time.Hour).Format(time.RFC3339)})
	a.want(show, 201, "")
	a.want(a.call("POST", "/api/v1/shows/"+show.str("id")+"/zones", org, map[string]any{"name": "Floor", "price": "25.00", "total_seats": 4}), 201, "")
	a.want(a.call("POST", "/api/v1/events/"+late.str("id")+"/publish", org, nil), 409, "CONFLICT")
	// Nor may an event on sale move its opening past every show.
	a.want(a.call("PUT", "/api/v1/events/"+late.str("id"), org, map[string]any{"sale_start_at": now.Add(-time.Minute).Format(time.RFC3339)}), 200, "")
	a.want(a.call("POST", "/api/v1/events/"+late.str("id")+"/publish", org, nil), 200, "")
	a.want(a.call("PUT", "/api/v1/events/"+late.str("id"), org, map[string]any{"sale_start_at": now.Add(6 * 24 * time.Hour).Format(time.RFC3339)}), 409, "CONFLICT")
}
