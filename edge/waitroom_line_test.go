package edge_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/faulttest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/testkit"
)

// queuedEventForTest is a published event with one zone of seats and the
// waiting room on (rate, cap); it answers the event id, the show id and
// the zone id.
func queuedEventForTest(t *testing.T, a *api, org string, seats int, settings map[string]any) (string, string, string) {
	t.Helper()
	ev := a.call("POST", "/api/v1/events", org, map[string]any{"title": "Review room", "venue": "Hall",
		"sale_start_at": "2026-01-01T00:00:00Z", "sale_end_at": "2030-01-01T00:00:00Z"})
	a.want(ev, 201, "")
	eventID := ev.str("id")
	show := a.call("POST", "/api/v1/events/"+eventID+"/shows", org, map[string]any{"show_date": "2030-06-01T20:00:00Z"})
	a.want(show, 201, "")
	zone := a.call("POST", "/api/v1/shows/"+show.str("id")+"/zones", org, map[string]any{"name": "Floor", "price": "10.00", "total_seats": seats})
	a.want(zone, 201, "")
	a.want(a.call("POST", "/api/v1/events/"+eventID+"/publish", org, map[string]any{}), 200, "")
	a.want(a.call("PUT", "/api/v1/events/"+eventID+"/queue", org, settings), 200, "")
	return eventID, show.str("id"), zone.str("id")
}

// TestWaitingRoomReconnectAfterSeatsCameBackIsNotToldSoldOut: a buyer hears
// "sold_out" (the stream ends, as documented), seats come back a while
// later (the holder cancels; in production the hold expires), and the
// buyer's EventSource reconnects with its ticket. It must hear where it
// stands now (admitted: the cursor passed it), not the sold-out state the
// queue replica cached when the last stream of the event left.
func TestWaitingRoomReconnectAfterSeatsCameBackIsNotToldSoldOut(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-edge.queue-update-interval=100ms", "-edge.queue-heartbeat=300ms")
	a := &api{t: t, base: m.URL(t, "edge")}
	_, orgID := a.register("rv-org@rush.test")
	org := m.Token(t, orgID, authn.RoleOrganizer)
	eventID, showID, zoneID := queuedEventForTest(t, a, org, 1, map[string]any{"enabled": true, "admit_per_second": 1000})
	buyerA, _ := a.register("rv-a@rush.test")
	buyerC, _ := a.register("rv-c@rush.test")
	base := m.URL(t, "edge")
	join := func(token string) string {
		r := a.call("POST", "/api/v1/queue/join", token, map[string]any{"event_id": eventID})
		a.want(r, 200, "")
		return r.str("ticket")
	}

	ta := join(buyerA)
	passA, _ := openStream(t, base, "ticket="+url.QueryEscape(ta), "").until(t, "admitted", 10*time.Second)["queue_pass"].(string)
	held := a.call("POST", "/api/v1/bookings/reserve", buyerA, map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": 1},
		"Idempotency-Key", "rv-key-0001", "X-Queue-Pass", passA)
	a.want(held, 201, "")

	tc := join(buyerC)
	openStream(t, base, "ticket="+url.QueryEscape(tc), "").until(t, "sold_out", 10*time.Second)

	// The edge stops following the line 5 s after its last stream left;
	// then the seat comes back and the admitter passes C.
	time.Sleep(7 * time.Second)
	a.want(a.call("POST", "/api/v1/bookings/"+held.str("id")+"/cancel", buyerA, nil), 200, "")
	time.Sleep(2 * time.Second)

	s := openStream(t, base, "ticket="+url.QueryEscape(tc), "")
	ev := s.next(t, 10*time.Second)
	if ev["status"] == "sold_out" {
		t.Fatalf("C reconnected after the seat came back and was told %v (a stale state; the stream ended)", ev)
	}
	for ev["status"] == "waiting" {
		ev = s.next(t, 10*time.Second)
	}
	if ev["status"] != "admitted" || ev["queue_pass"] == "" {
		t.Fatalf("C after the seat came back: %v, want admitted with a pass", ev)
	}
}

// TestWaitingRoomStreamWithRedisDownIsAFast503NamingIt: the queue's store
// (Redis) is down when a buyer opens the stream with its ticket (the
// EventSource way, no bearer token). The answer is the usual one of a
// failing dependency: 503 SERVICE_UNAVAILABLE naming redis, fast; not a
// 10 s wait and a 503 that names nothing.
func TestWaitingRoomStreamWithRedisDownIsAFast503NamingIt(t *testing.T) {
	t.Parallel()
	srv := faulttest.StartRedis(t)
	m := testkit.StartApp(t, testkit.Config(t, pgtest.Migrated(t), outageArgs(t, srv.URL(),
		"-postgres.migrate-on-start=false", "-rate-limit.enabled=false",
		"-redis.read-timeout=300ms", "-redis.write-timeout=300ms", "-redis.dial-timeout=300ms")...))
	a := &api{t: t, base: m.URL(t, "edge")}
	_, orgID := a.register("rv-org2@rush.test")
	eventID, _, _ := queuedEventForTest(t, a, m.Token(t, orgID, authn.RoleOrganizer), 10, map[string]any{"enabled": true, "admit_per_second": 1, "max_active": 1})
	buyerA, _ := a.register("rv-a2@rush.test")
	buyerB, _ := a.register("rv-b2@rush.test")
	for _, b := range []string{buyerA, buyerB} {
		a.want(a.call("POST", "/api/v1/queue/join", b, map[string]any{"event_id": eventID}), 200, "")
	}
	tb := a.call("POST", "/api/v1/queue/join", buyerB, map[string]any{"event_id": eventID}).str("ticket")

	srv.Kill()
	time.Sleep(time.Second) // the states the queue read before are more than a tick old
	began := time.Now()
	s := openStream(t, m.URL(t, "edge"), "ticket="+url.QueryEscape(tb), "")
	env := <-s.events
	took := time.Since(began)
	e, _ := env["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	if s.status != http.StatusServiceUnavailable || d["dependency"] != "redis" || took > 3*time.Second {
		t.Fatalf("stream with Redis down: %d %v after %v; want a fast 503 naming redis", s.status, env, took.Round(time.Millisecond))
	}
}

// TestWaitingRoomLineOfADraftIsNotFound: a draft event is its organizer's
// alone (GET /events/{id} answers 404 to anyone else); its waiting room's
// public line must not answer for it either, nor a buyer's join or status
// (they answered 409 SALE_NOT_OPEN with status "draft", telling anyone who
// had the id that the organizer's unannounced event exists). Its organizer
// still hears why there is no line.
func TestWaitingRoomLineOfADraftIsNotFound(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	a := &api{t: t, base: m.URL(t, "edge")}
	r := a.call("POST", "/api/v1/auth/register", "", map[string]any{"email": "rv-org5@rush.test", "password": "secret-pass-1", "full_name": "W"})
	a.want(r, http.StatusCreated, "")
	org := m.Token(t, r.str("user", "id"), authn.RoleOrganizer)
	ev := a.call("POST", "/api/v1/events", org, map[string]any{"title": "Secret draft", "venue": "Hall",
		"sale_start_at": "2026-01-01T00:00:00Z", "sale_end_at": "2030-01-01T00:00:00Z"})
	a.want(ev, 201, "")
	id := ev.str("id")
	a.want(a.call("GET", "/api/v1/events/"+id, "", nil), 404, "NOT_FOUND")
	if l := a.call("GET", "/api/v1/queue/lines/"+id, "", nil); l.status != 404 {
		t.Fatalf("the line of a draft, anonymously: %s", l)
	}
	buyer := m.Token(t, "00000000-0000-7000-8000-000000000077", authn.RoleUser)
	a.want(a.call("POST", "/api/v1/queue/join", buyer, map[string]any{"event_id": id}), 404, "NOT_FOUND")
	a.want(a.call("GET", "/api/v1/queue/status?event_id="+id, buyer, nil), 404, "NOT_FOUND")
	a.want(a.call("POST", "/api/v1/queue/join", org, map[string]any{"event_id": id}), 409, "SALE_NOT_OPEN")
}

// TestWaitingRoomStreamPlacesAJoinRedisLost: Redis (AOF, appendfsync
// everysec) crashes and comes back without its last second of writes, a
// join among them: its buyer holds a signed ticket whose number the line no
// longer counts, and nobody joins after. The buyer watches the edge's
// stream, the web app's way. The edge asks the queue about a ticket its
// state of the line does not count a few seconds after it was issued; the
// queue enters it again, and the buyer is admitted with a pass that
// reserves. A second lost buyer opens the stream later (a reload): its
// first answer asks the queue at once. Before, the stream said "waiting",
// position 0, until the sale ended: the cursor never passes the counter.
func TestWaitingRoomStreamPlacesAJoinRedisLost(t *testing.T) {
	t.Parallel()
	srv := faulttest.StartRedis(t)
	m := testkit.StartApp(t, testkit.Config(t, pgtest.Migrated(t), outageArgs(t, srv.URL(),
		"-postgres.migrate-on-start=false", "-rate-limit.enabled=false", "-booking.drain-timeout=5s",
		"-edge.queue-update-interval=100ms", "-edge.queue-heartbeat=300ms")...))
	a := &api{t: t, base: m.URL(t, "edge")}
	_, orgID := a.register("lj-org@rush.test")
	eventID, showID, zoneID := queuedEventForTest(t, a, m.Token(t, orgID, authn.RoleOrganizer), 10, map[string]any{"enabled": true, "admit_per_second": 1000})
	buyerA, _ := a.register("lj-a@rush.test")
	buyerB, _ := a.register("lj-b@rush.test")
	buyerC, _ := a.register("lj-c@rush.test")
	join := func(token string) string {
		r := a.call("POST", "/api/v1/queue/join", token, map[string]any{"event_id": eventID})
		a.want(r, 200, "")
		return r.str("ticket")
	}
	join(buyerA)
	srv.Save() // what the crash comes back to
	tb, tc := join(buyerB), join(buyerC)
	srv.Restart() // B's and C's joins are lost
	testkit.Eventually(t, 15*time.Second, "Redis answers again", func() bool {
		return a.call("GET", "/api/v1/queue/lines/"+eventID, "", nil).status == http.StatusOK
	})

	for i, b := range []struct{ token, ticket string }{{buyerB, tb}, {buyerC, tc}} {
		ev := openStream(t, m.URL(t, "edge"), "ticket="+url.QueryEscape(b.ticket), "").until(t, "admitted", 30*time.Second)
		pass, _ := ev["queue_pass"].(string)
		if pass == "" {
			t.Fatalf("buyer %d admitted without a pass: %v", i, ev)
		}
		a.want(a.call("POST", "/api/v1/bookings/reserve", b.token, map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": 1},
			"Idempotency-Key", fmt.Sprintf("lj-key-%04d", i), "X-Queue-Pass", pass), 201, "")
	}
}
