package catalog

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/services/platform/pgtest"
)

// TestCountersPartitionsDoNotDeadlock: the batches of several partitions,
// written at the same time, each move some zones of one show (and so, by
// seat_zones_roll_up, the show); none waits on another in a cycle, whatever
// zones it carries, and the counters end at the newest version of each zone.
func TestCountersPartitionsDoNotDeadlock(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Migrated(t)
	db := pgtest.Open(t, dsn)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	var show string
	if err := db.QueryRow(`WITH o AS (INSERT INTO users (email, password_hash, role) VALUES ('org@x.test', 'x', 'organizer') RETURNING id),
		e AS (INSERT INTO events (organizer_id, title, slug) SELECT id, 'Rush', 'rush' FROM o RETURNING id)
		INSERT INTO shows (event_id, show_date, total_seats, available_seats) SELECT id, now() + interval '30 days', 0, 0 FROM e RETURNING id`).Scan(&show); err != nil {
		t.Fatal(err)
	}
	zones := make([]string, 4)
	for i := range zones {
		if err := db.QueryRow(`INSERT INTO seat_zones (show_id, name, price, total_seats, available_seats) VALUES ($1, 'Z'||$2::int, 10, 100, 100) RETURNING id`,
			show, i).Scan(&zones[i]); err != nil {
			t.Fatal(err)
		}
	}
	c := &counters{db: pool, log: zap.NewNop()}
	var version atomic.Int64
	batch := func() []*sarama.ConsumerMessage {
		var msgs []*sarama.ConsumerMessage
		for _, i := range rand.Perm(len(zones))[:2+rand.IntN(len(zones)-1)] {
			v := version.Add(1)
			payload, _ := proto.Marshal(&bookingv1.BookingEvent{ZoneVersion: v,
				Zone: &bookingv1.ZoneAvailability{ZoneId: zones[i], Total: 100, Available: int32(100 - v%50), Held: int32(v % 50)}})
			msgs = append(msgs, &sarama.ConsumerMessage{Value: payload})
		}
		return msgs
	}
	pgtest.Writers(t, 4, 25, func() error { return c.handle(context.Background(), batch()) }) // one writer per partition
	var total, available int
	if err := db.QueryRow(`SELECT total_seats, available_seats FROM shows WHERE id = $1`, show).Scan(&total, &available); err != nil {
		t.Fatal(err)
	}
	var sum int
	if err := db.QueryRow(`SELECT sum(available_seats) FROM seat_zones WHERE show_id = $1`, show).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if total != 400 || available != sum {
		t.Fatalf("show counters %d/%d, zones' available seats sum to %d", available, total, sum)
	}
}
