package catalog

import (
	"context"
	"maps"
	"slices"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/logging"
	"github.com/bookingrush/rush/services/platform/topic"
)

// CountersGroup is the Kafka consumer group that keeps the catalog's zone
// counters (seat_zones available, held and sold) from booking.events.
const CountersGroup = "catalog-counters"

// CountersTopics are the topics CountersGroup reads.
var CountersTopics = []string{topic.BookingEvents}

// counters keeps seat_zones' counters equal to the booking engine's, from
// the zone state every booking event carries: each batch in one
// transaction, a zone's counters moving only to a newer inventory version,
// so duplicates and out-of-order events change nothing. They are what the
// listings answer when the booking engine's live counts are unavailable,
// and they lag the engine by the consumer's lag (the booking service keeps
// its own durable copy; the catalog only shows these).
type counters struct {
	db  *pgxpool.Pool
	log *zap.Logger
}

// lockShows locks the shows of a batch's zones, in one order, before the
// zones: seat_zones_roll_up moves a show's counters with each zone, so two
// batches moving different zones of one show would each hold a zone and wait
// for the show the other holds.
const lockShows = `
SELECT 1 FROM shows WHERE id IN (SELECT show_id FROM seat_zones WHERE id = ANY($1::text[]::uuid[]))
 ORDER BY id FOR UPDATE`

const updateCounters = `
UPDATE seat_zones
   SET available_seats = $2, held_seats = $3, sold_seats = $4, inventory_version = $5
 WHERE id = $1 AND inventory_version < $5`

// handle applies one batch of booking.events.
func (c *counters) handle(ctx context.Context, msgs []*sarama.ConsumerMessage) error {
	latest := map[string]*bookingv1.BookingEvent{}
	for _, m := range msgs {
		ev := new(bookingv1.BookingEvent)
		if err := proto.Unmarshal(m.Value, ev); err != nil || ev.GetZone().GetZoneId() == "" {
			logging.Ctx(kafka.MessageContext(ctx, m), c.log).Error("catalog counters: skipping undecodable booking event",
				zap.Int32("partition", m.Partition), zap.Int64("offset", m.Offset), zap.Error(err))
			continue
		}
		z := ev.GetZone().GetZoneId()
		if prev, ok := latest[z]; !ok || prev.GetZoneVersion() < ev.GetZoneVersion() {
			latest[z] = ev
		}
	}
	if len(latest) == 0 {
		return nil
	}
	// Batches of the other partitions update the same zones (and shows) at
	// the same time: each locks the shows first, then the zones, both in
	// one order (sorted), so none waits on another in a cycle (in map
	// order, Postgres aborted one as a deadlock after deadlock_timeout).
	ids := slices.Sorted(maps.Keys(latest))
	var b pgx.Batch
	b.Queue(lockShows, ids)
	for _, id := range ids {
		ev := latest[id]
		z := ev.GetZone()
		b.Queue(updateCounters, id, z.GetAvailable(), z.GetHeld(), z.GetSold(), ev.GetZoneVersion())
	}
	return pgx.BeginFunc(ctx, c.db, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &b).Close() })
}
