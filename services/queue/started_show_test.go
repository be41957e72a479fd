package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/testkit"
)

// TestAStartedShowsSeatsDoNotKeepTheLineMoving: an event of two shows,
// the first played already with seats left unsold (its seats are off sale:
// reserve answers SALE_NOT_OPEN, show_started), the second's last seat
// just held. Nothing is left to buy, so admission stops and every waiting
// buyer is told sold out. Before, the admission step counted the started
// show's unsold seats as available: the line never said sold out and kept
// admitting buyers into a sale with nothing in it.
func TestAStartedShowsSeatsDoNotKeepTheLineMoving(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{queue: true, rate: 1000, seats: 1, users: 3})
	var played, playedZone string
	if err := m.db.QueryRow(`INSERT INTO shows (event_id, show_date, total_seats, available_seats)
		VALUES ($1, now() - interval '1 hour', 0, 0) RETURNING id`, f.event).Scan(&played); err != nil {
		t.Fatal(err)
	}
	if err := m.db.QueryRow(`INSERT INTO seat_zones (show_id, name, price, total_seats, available_seats)
		VALUES ($1, 'Floor', 49.90, 5, 5) RETURNING id`, played).Scan(&playedZone); err != nil {
		t.Fatal(err)
	}
	m.load(f)
	m.setSettings(f, true, 1000, 1) // one shopper at a time
	ctx := context.Background()
	for _, u := range f.users {
		if _, err := m.join(ctx, false, f, u); err != nil {
			t.Fatal(err)
		}
	}
	pass := m.waitAdmitted(f, f.users[0], 5*time.Second).GetQueuePass()
	// The played show's seats are off sale.
	started := f
	started.show, started.zone = played, playedZone
	if err := m.reserve(false, started, f.users[0], pass); !errs.Is(err, errs.SaleNotOpen) {
		t.Fatalf("reserve of a played show: %v, want SALE_NOT_OPEN", err)
	}
	// The last seat on sale is held: nothing is left.
	if err := m.reserve(false, f, f.users[0], pass); err != nil {
		t.Fatalf("reserve of the last seat: %v", err)
	}
	testkit.Eventually(t, 3*time.Second, "the line says sold out", func() bool { return m.line(f).GetSoldOut() })
	if st, err := m.status(ctx, false, f, f.users[1]); err != nil || st.GetStatus() != soldOut || st.GetPosition() != 1 {
		t.Fatalf("a waiting buyer once nothing is left to buy: %v %v, want sold out, first in line", st, err)
	}
	time.Sleep(500 * time.Millisecond)
	if c := m.cursor(f); c != 1 {
		t.Fatalf("cursor %d with nothing left to buy, want 1", c)
	}
}
