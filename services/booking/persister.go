package booking

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/services/platform/deadletter"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/logging"
	"github.com/bookingrush/rush/services/platform/topic"
)

// PersisterGroup is the Kafka consumer group of the persister.
const PersisterGroup = "booking-persister"

// PersisterTopics are the topics PersisterGroup reads (the chart's KEDA
// trigger is checked against them).
var PersisterTopics = []string{TopicBookingEvents}

// Persister keeps Postgres' bookings and zone counters (booking_zones, the
// booking service's own) equal to Redis, and ends the waitlist place of
// each waitlist offer and of each entry a release's offers dropped
// (waitlist_entries):
// it consumes booking.events in batches and writes each batch in one
// transaction, keeping a booking's row only when the event's version is
// newer and a zone's counters only when the zone version is newer — so
// duplicates and out-of-order events change nothing. Offsets are committed
// (by the kafka runner) only after the transaction committed.
type Persister struct {
	db          *pgxpool.Pool
	log         *zap.Logger
	deadLetters prometheus.Counter
}

// NewPersister returns a persister writing to db and counting its dead
// letters in reg (booking_persister_dead_letters_total: the
// RushPersisterDeadLetters alert).
func NewPersister(db *pgxpool.Pool, reg prometheus.Registerer, log *zap.Logger) (*Persister, error) {
	dl := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "booking_persister_dead_letters_total",
		Help: "booking.events the persister could not write (a constraint refused them), kept in the dead_letters table.",
	})
	if err := reg.Register(dl); err != nil {
		return nil, err
	}
	return &Persister{db: db, log: log.Named("persister"), deadLetters: dl}, nil
}

// upsertBooking writes bookings (arrays, unnest), each only forward by
// version. Its fenced form, the persister's, also leaves out the changes
// stamped (the 17th array) at or before their event's fenced_at: they
// belong to a Redis state a rebuild replaced (booking_events.fenced_at).
const (
	upsertBookingInto = `
INSERT INTO bookings (id, reservation_id, user_id, event_id, show_id, zone_id, quantity, unit_price, total_amount,
                      status, version, expires_at, confirmed_at, cancelled_at, created_at, cancel_cause)
`
	upsertBookingArrays = `unnest($1::text[]::uuid[], $2::text[], $3::text[]::uuid[], $4::text[]::uuid[], $5::text[]::uuid[],
                     $6::text[]::uuid[], $7::int[], $8::text[]::numeric[], $9::text[]::numeric[], $10::text[], $11::bigint[],
                     $12::timestamptz[], $13::timestamptz[], $14::timestamptz[], $15::timestamptz[], $16::text[]`
	upsertBookingConflict = `
ON CONFLICT (id) DO UPDATE
   SET status = excluded.status, version = excluded.version, expires_at = excluded.expires_at,
       confirmed_at = excluded.confirmed_at, cancelled_at = excluded.cancelled_at, cancel_cause = excluded.cancel_cause
 WHERE bookings.version < excluded.version`
	upsertBooking       = upsertBookingInto + `SELECT * FROM ` + upsertBookingArrays + `)` + upsertBookingConflict
	upsertBookingFenced = upsertBookingInto + `SELECT id, rid, uid, eid, sid, zid, qty, unit, total, st, ver, exp, conf, canc, cre, cause
  FROM ` + upsertBookingArrays + `, $17::timestamptz[])
       AS u(id, rid, uid, eid, sid, zid, qty, unit, total, st, ver, exp, conf, canc, cre, cause, at)
 WHERE NOT EXISTS (SELECT 1 FROM booking_events e WHERE e.event_id = u.eid AND e.fenced_at >= u.at)` + upsertBookingConflict
)

// updateZone writes a zone's counters, only forward by version, and (as
// upsertBookingFenced) not from a change stamped ($6) at or before its
// event's fenced_at.
const updateZone = `
UPDATE booking_zones z
   SET available_seats = $2, held_seats = $3, sold_seats = $4, inventory_version = $5
 WHERE zone_id = $1 AND inventory_version < $5
   AND NOT EXISTS (SELECT 1 FROM booking_events e WHERE e.event_id = z.event_id AND e.fenced_at >= $6)`

// lockFences takes, for the transaction, the shared side of each event's
// fence lock (fenceLock): a rebuild's fence waits for the persister's
// transactions under way, and the persister's next statements see the
// fence it set.
const lockFences = `SELECT count(pg_advisory_xact_lock_shared(hashtextextended('booking-fence:' || e, 0))) FROM unnest($1::text[]) AS e`

// Handle writes one batch of booking.events messages.
func (p *Persister) Handle(ctx context.Context, msgs []*sarama.ConsumerMessage) error {
	bookings := map[string]*bookingv1.BookingEvent{}
	zones := map[string]*bookingv1.BookingEvent{}
	var order []string
	for _, m := range msgs {
		ev := new(bookingv1.BookingEvent)
		if err := proto.Unmarshal(m.Value, ev); err != nil || ev.GetBooking().GetId() == "" {
			logging.Ctx(kafka.MessageContext(ctx, m), p.log).Error("persister: skipping undecodable message", zap.Int32("partition", m.Partition), zap.Int64("offset", m.Offset), zap.Error(err))
			continue
		}
		id := ev.GetBooking().GetId()
		if prev, ok := bookings[id]; !ok || prev.GetVersion() < ev.GetVersion() {
			if !ok {
				order = append(order, id)
			}
			bookings[id] = ev
		}
		z := ev.GetZone().GetZoneId()
		if prev, ok := zones[z]; !ok || prev.GetZoneVersion() < ev.GetZoneVersion() {
			zones[z] = ev
		}
	}
	if len(bookings) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, p.db, func(tx pgx.Tx) error { return p.write(ctx, tx, order, bookings, zones) })
	if err == nil || !isDataError(err) {
		return err
	}
	// A row the database refuses (a constraint) would block the partition
	// forever: write the batch row by row and dead-letter the refused ones.
	p.log.Warn("persister: batch refused, writing row by row", zap.Error(err))
	for _, id := range order {
		ev := bookings[id]
		one := map[string]*bookingv1.BookingEvent{id: ev}
		z := map[string]*bookingv1.BookingEvent{ev.GetZone().GetZoneId(): zones[ev.GetZone().GetZoneId()]}
		err := pgx.BeginFunc(ctx, p.db, func(tx pgx.Tx) error { return p.write(ctx, tx, []string{id}, one, z) })
		if err == nil {
			continue
		}
		if !isDataError(err) {
			return err
		}
		payload, _ := proto.Marshal(ev)
		if derr := deadletter.Record(ctx, p.db, deadletter.Letter{Source: "booking-persister", Topic: TopicBookingEvents,
			Key: id, Payload: payload, Error: err.Error()}); derr != nil {
			return derr
		}
		p.deadLetters.Inc()
		p.log.Error("persister: booking event dead-lettered", zap.String("booking", id), zap.Error(err))
	}
	return nil
}

func (p *Persister) write(ctx context.Context, tx pgx.Tx, order []string, bookings, zones map[string]*bookingv1.BookingEvent) error {
	rows := make([]*bookingv1.Booking, len(order))
	versions := make([]int64, len(order))
	at := make([]pgtype.Timestamptz, len(order))
	events := map[string]bool{}
	var ends []waitlistEnd
	for i, id := range order {
		ev := bookings[id]
		rows[i], versions[i], at[i] = ev.GetBooking(), ev.GetVersion(), tstz(ev.GetOccurredAt())
		events[rows[i].GetEventId()] = true
		// A waitlist offer ends the place it took its buyer from (each of
		// its events says which: the newest of a batch is enough).
		if seq := ev.GetWaitlistSeq(); seq > 0 && rows[i].GetWaitlistOffer() {
			ends = append(ends, waitlistEnd{EventID: rows[i].GetEventId(), ZoneID: rows[i].GetZoneId(), UserID: rows[i].GetUserId(),
				Seq: seq, At: ev.GetOccurredAt().AsTime()})
		}
		// A release ends the places its seats' offers dropped (the event
		// of a release is its booking's last: the newest of a batch).
		for _, d := range ev.GetWaitlistDropped() {
			ends = append(ends, waitlistEnd{EventID: rows[i].GetEventId(), ZoneID: rows[i].GetZoneId(), UserID: d.GetUserId(),
				Seq: d.GetSeq(), At: ev.GetOccurredAt().AsTime()})
		}
	}
	var b pgx.Batch
	b.Queue(lockFences, slices.Sorted(maps.Keys(events)))
	queueBookings(&b, rows, versions, at)
	queueEnds(&b, ends)
	// The zones in one order (sorted): the batches of other partitions,
	// written at the same time, update the same zones, and updates in map
	// order deadlocked them (Postgres aborts one after deadlock_timeout).
	for _, id := range slices.Sorted(maps.Keys(zones)) {
		ev := zones[id]
		z := ev.GetZone()
		b.Queue(updateZone, z.GetZoneId(), z.GetAvailable(), z.GetHeld(), z.GetSold(), ev.GetZoneVersion(), tstz(ev.GetOccurredAt()))
	}
	return tx.SendBatch(ctx, &b).Close()
}

// queueBookings queues the upsert of bookings (each at its state version:
// a row only moves forward) as ONE statement (arrays, unnest): a row of a
// multi-row INSERT costs Postgres far less than a statement each. The
// persister writes batches of booking.events with it, and the booking
// service the confirmations and refunds that must be durable at once. With
// at (the persister's: when each change happened, by Redis's clock), the
// changes a rebuild's fence outdated are left out; the booking service's
// own writes (nil) are of the Redis it runs against and always land.
func queueBookings(b *pgx.Batch, bookings []*bookingv1.Booking, version []int64, at []pgtype.Timestamptz) {
	n := len(bookings)
	var (
		ids, keys, users, events, shows, zoneIDs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		qty                                      = make([]int32, n)
		unit, total, status                      = make([]string, n), make([]string, n), make([]string, n)
		expires, confirmed, cancelled, created   = make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
		causes                                   = make([]pgtype.Text, n)
	)
	for i, bk := range bookings {
		ids[i], keys[i], users[i], events[i], shows[i], zoneIDs[i] = bk.GetId(), bk.GetIdempotencyKey(), bk.GetUserId(), bk.GetEventId(), bk.GetShowId(), bk.GetZoneId()
		qty[i], unit[i], total[i], status[i] = bk.GetQuantity(), bk.GetUnitPrice(), bk.GetTotalAmount(), statusName(bk.GetStatus())
		expires[i], confirmed[i], cancelled[i], created[i] = tstz(bk.GetExpiresAt()), tstz(bk.GetConfirmedAt()), tstz(bk.GetCancelledAt()), tstz(bk.GetCreatedAt())
		if c := causeName(bk.GetCancelCause()); c != "" {
			causes[i] = pgtype.Text{String: c, Valid: true}
		}
	}
	if at != nil {
		b.Queue(upsertBookingFenced, ids, keys, users, events, shows, zoneIDs, qty, unit, total, status, version, expires, confirmed, cancelled, created, causes, at)
		return
	}
	b.Queue(upsertBooking, ids, keys, users, events, shows, zoneIDs, qty, unit, total, status, version, expires, confirmed, cancelled, created, causes)
}

// tstz is a timestamp column's value; unset is NULL.
func tstz(t *timestamppb.Timestamp) pgtype.Timestamptz {
	if t == nil {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t.AsTime(), Valid: true}
}

// isDataError reports a refusal by the database (class 22 data exception or
// 23 integrity violation) as opposed to a failure to reach it.
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code[:2] == "22" || pgErr.Code[:2] == "23")
}

// TopicBookingEvents is where the relay publishes booking changes.
const TopicBookingEvents = topic.BookingEvents

func statusName(s bookingv1.BookingStatus) string {
	for k, v := range statusToProto {
		if v == s {
			return k
		}
	}
	return fmt.Sprintf("unknown(%d)", s)
}
