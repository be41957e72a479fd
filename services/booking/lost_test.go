package booking_test

import (
	"context"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/faulttest"
)

// TestHoldsComeBackAfterRedisRestartWithoutAReserve: a zone is sold out in
// holds when Redis restarts empty. Nobody calls reserve afterwards (the
// catalog says sold out, so no buyer tries), so nothing starts the rebuild:
// the sweeper walks only the events Redis lists, which it lost. The holds'
// deadlines pass, and their seats never come back: Postgres keeps them
// reserved and the catalog keeps the zone sold out.
func TestHoldsComeBackAfterRedisRestartWithoutAReserve(t *testing.T) {
	t.Parallel()
	r := faulttest.StartRedis(t)
	m := startMesh(t, "-redis.url="+r.URL(), "-booking.drain-timeout=5s", "-booking.hold-ttl=2s")
	f := m.seed(eventOpts{seats: 4, maxPerUser: 2, users: 2})
	c := m.booking(true)
	ctx := context.Background()
	for i, u := range f.users {
		if _, err := m.reserve(ctx, c, f, u, 2, "sold-out-"+u); err != nil {
			t.Fatalf("reserve %d: %v", i, err)
		}
	}
	m.waitReconciled(f, 10*time.Second)

	r.Restart()

	// Well past the holds' deadlines and the sweeper's 2 s.
	time.Sleep(6 * time.Second)
	var reserved, catalogAvailable int
	if err := m.db.QueryRow(`SELECT count(*) FROM bookings WHERE event_id = $1 AND status = 'reserved'`, f.event).Scan(&reserved); err != nil {
		t.Fatal(err)
	}
	if err := m.db.QueryRow(`SELECT available_seats FROM seat_zones WHERE id = $1`, f.zone).Scan(&catalogAvailable); err != nil {
		t.Fatal(err)
	}
	if reserved != 0 || catalogAvailable != 4 {
		t.Fatalf("4 s after the holds' deadlines: %d holds still reserved in Postgres, the catalog shows %d of 4 seats available (Redis zone %v)",
			reserved, catalogAvailable, m.zone(f))
	}
}
