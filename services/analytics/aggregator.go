package analytics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/services/platform/deadletter"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/logging"
	"github.com/bookingrush/rush/services/platform/money"
)

// delta is what one message adds to its event's hour and day. Money is in
// minor units.
type delta struct {
	reservations, seatsReserved, confirmed, seatsSold, seatsReturned, cancellations, expirations int64
	revenue, refunds                                                                             int64
}

func (d *delta) add(o delta) {
	d.reservations += o.reservations
	d.seatsReserved += o.seatsReserved
	d.confirmed += o.confirmed
	d.seatsSold += o.seatsSold
	d.seatsReturned += o.seatsReturned
	d.cancellations += o.cancellations
	d.expirations += o.expirations
	d.revenue += o.revenue
	d.refunds += o.refunds
}

// item is one countable message: its processed_events key, the event it
// counts for, when, and what.
type item struct {
	key       string
	eventID   string
	bookingID string // the booking; a refund's eventID is resolved from it
	at        time.Time
	d         delta
	msg       *sarama.ConsumerMessage
}

// Aggregator consumes booking.events and payment.refunded in batches (one
// partition each) and adds each batch to the aggregates in one transaction
// together with its processed_events keys.
type Aggregator struct {
	cfg Config
	db  *pgxpool.Pool
	log *zap.Logger
	now func() time.Time
}

// NewAggregator returns the aggregator.
func NewAggregator(cfg Config, db *pgxpool.Pool, log *zap.Logger) *Aggregator {
	return &Aggregator{cfg: cfg, db: db, log: log.Named("analytics"), now: time.Now}
}

// Handle counts a batch. An error (Postgres unreachable, a refund whose
// booking is not persisted yet) counts nothing and the batch is delivered
// again; messages the database refuses for good are dead-lettered.
func (a *Aggregator) Handle(ctx context.Context, msgs []*sarama.ConsumerMessage) error {
	var items []item
	seen := map[string]bool{}
	for _, m := range msgs {
		it, ok := a.decode(kafka.MessageContext(ctx, m), m)
		if !ok || seen[it.key] {
			continue
		}
		seen[it.key] = true
		items = append(items, it)
	}
	if len(items) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, a.db, func(tx pgx.Tx) error { return a.write(ctx, tx, items) })
	if err == nil || !isDataError(err) {
		return err
	}
	// One refused row would block the partition forever: count the batch
	// item by item and dead-letter what the database refuses.
	a.log.Warn("analytics: batch refused, counting item by item", zap.Error(err))
	for _, it := range items {
		err := pgx.BeginFunc(ctx, a.db, func(tx pgx.Tx) error { return a.write(ctx, tx, []item{it}) })
		if err == nil {
			continue
		}
		if !isDataError(err) {
			return err
		}
		if err := a.deadLetter(ctx, it.msg, err); err != nil {
			return err
		}
	}
	return nil
}

// decode turns a message into an item; ok is false for messages that count
// nothing (undecodable ones are logged).
func (a *Aggregator) decode(ctx context.Context, m *sarama.ConsumerMessage) (item, bool) {
	switch m.Topic {
	case TopicBookingEvents:
		ev := new(bookingv1.BookingEvent)
		if err := proto.Unmarshal(m.Value, ev); err != nil || ev.GetBooking().GetId() == "" || ev.GetBooking().GetEventId() == "" {
			logging.Ctx(ctx, a.log).Error("analytics: skipping undecodable booking event", zap.Int32("partition", m.Partition), zap.Int64("offset", m.Offset), zap.Error(err))
			return item{}, false
		}
		b := ev.GetBooking()
		var d delta
		switch b.GetStatus() {
		case bookingv1.BookingStatus_BOOKING_STATUS_RESERVED:
			d.reservations, d.seatsReserved = 1, int64(b.GetQuantity())
		case bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED:
			cents, err := money.Parse(b.GetTotalAmount())
			if err != nil {
				logging.Ctx(ctx, a.log).Error("analytics: confirmed booking without a readable amount; counted without revenue", zap.String("booking", b.GetId()), zap.Error(err))
			}
			d.confirmed, d.seatsSold, d.revenue = 1, int64(b.GetQuantity()), cents
		case bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED, bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED:
			d.cancellations = 1
		case bookingv1.BookingStatus_BOOKING_STATUS_EXPIRED:
			d.expirations = 1
		default:
			return item{}, false
		}
		at := ev.GetOccurredAt().AsTime()
		if ev.GetOccurredAt() == nil {
			at = a.now()
		}
		return item{key: b.GetId() + ":" + strconv.FormatInt(ev.GetVersion(), 10), eventID: b.GetEventId(), bookingID: b.GetId(), at: at, d: d, msg: m}, true
	case TopicPaymentRefunded:
		ev := new(paymentv1.PaymentEvent)
		if err := proto.Unmarshal(m.Value, ev); err != nil || ev.GetId() == "" || ev.GetPayment().GetBookingId() == "" {
			logging.Ctx(ctx, a.log).Error("analytics: skipping undecodable payment event", zap.Int32("partition", m.Partition), zap.Int64("offset", m.Offset), zap.Error(err))
			return item{}, false
		}
		if ev.GetRefundCause() == paymentv1.RefundCause_REFUND_CAUSE_NOT_CONFIRMED {
			return item{}, false // never a sale, so never revenue to take back
		}
		if ev.GetFailedRefund() > 0 {
			// An admin's retry of a refund that failed at the provider: the
			// first refund's payment.refunded took the revenue back already,
			// and its failure gave nothing back (see the package comment).
			return item{}, false
		}
		cents, err := money.Parse(ev.GetRefundAmount())
		if err != nil || cents <= 0 {
			return item{}, false
		}
		at := ev.GetOccurredAt().AsTime()
		if ev.GetOccurredAt() == nil {
			at = a.now()
		}
		return item{key: "payment:" + ev.GetId(), bookingID: ev.GetPayment().GetBookingId(), at: at, d: delta{refunds: cents}, msg: m}, true
	}
	return item{}, false
}

// errBookingNotYet is a refund whose booking analytics has not seen on
// booking.events yet: retried until the grace ends.
var errBookingNotYet = errors.New("analytics: the refunded booking has not come through booking.events yet")

func (a *Aggregator) write(ctx context.Context, tx pgx.Tx, items []item) error {
	if err := a.remember(ctx, tx, items); err != nil {
		return err
	}
	if err := a.resolve(ctx, tx, items); err != nil {
		return err
	}
	keys := make([]string, 0, len(items))
	for _, it := range items {
		if it.eventID != "" {
			keys = append(keys, it.key)
		}
	}
	rows, err := tx.Query(ctx, `INSERT INTO processed_events (consumer, event_id)
		SELECT $1::text, k FROM unnest($2::text[]) AS k ON CONFLICT DO NOTHING RETURNING event_id`, ConsumerGroup, keys)
	if err != nil {
		return err
	}
	fresh, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	isFresh := make(map[string]bool, len(fresh))
	for _, k := range fresh {
		isFresh[k] = true
	}
	if err := a.settle(ctx, tx, items, isFresh); err != nil {
		return err
	}
	type bucket struct {
		event string
		at    time.Time
	}
	days, hours := map[bucket]*delta{}, map[bucket]*delta{}
	var dayOrder, hourOrder []bucket
	for _, it := range items {
		if !isFresh[it.key] {
			continue // counted before: a redelivery
		}
		at := it.at.UTC()
		day := bucket{it.eventID, time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)}
		hour := bucket{it.eventID, at.Truncate(time.Hour)}
		if days[day] == nil {
			days[day] = &delta{}
			dayOrder = append(dayOrder, day)
		}
		if hours[hour] == nil {
			hours[hour] = &delta{}
			hourOrder = append(hourOrder, hour)
		}
		days[day].add(it.d)
		hours[hour].add(it.d)
	}
	// The rows in one order (sorted), as every partition's batch writes
	// them: batches of other partitions, written at the same time, update
	// the same rows, and differing orders deadlock.
	byBucket := func(x, y bucket) int {
		return cmp.Or(strings.Compare(x.event, y.event), x.at.Compare(y.at))
	}
	slices.SortFunc(dayOrder, byBucket)
	slices.SortFunc(hourOrder, byBucket)
	var b pgx.Batch
	for _, k := range dayOrder {
		queueUpsert(&b, "analytics_event_daily", "day", k.event, k.at, days[k])
	}
	for _, k := range hourOrder {
		queueUpsert(&b, "analytics_event_hourly", "hour", k.event, k.at, hours[k])
	}
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, &b).Close()
}

// settle keeps, per booking, the revenue and seats a confirmation counted
// and the refunds seen (analytics_bookings), and makes the batch's fresh
// refunds take back only what was counted: a refund of a paid hold that was
// never confirmed (a buyer's cancel before the saga confirmed, an event
// cancelled meanwhile) takes nothing back, and a confirmation counted after
// its booking's refund (the topics arrive in any order) is taken back at
// once. A cancellation gives back the seats its booking's confirmation
// counted, once (a booking's statuses come in order: booking.events is keyed
// by booking). The rows are updated in booking order (one order for every
// batch, or two partitions' batches could deadlock), each booking's items in
// theirs.
func (a *Aggregator) settle(ctx context.Context, tx pgx.Tx, items []item, fresh map[string]bool) error {
	var idx []int
	for i, it := range items {
		if fresh[it.key] && it.bookingID != "" && (it.d.confirmed > 0 || it.d.refunds > 0 || it.d.cancellations > 0) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	slices.SortStableFunc(idx, func(x, y int) int { return strings.Compare(items[x].bookingID, items[y].bookingID) })
	var b pgx.Batch
	for _, i := range idx {
		it := &items[i]
		switch {
		case it.d.cancellations > 0:
			b.Queue(`UPDATE analytics_bookings a SET sold_seats = 0
				FROM (SELECT booking_id, sold_seats FROM analytics_bookings WHERE booking_id = $1 FOR UPDATE) o
				WHERE a.booking_id = o.booking_id RETURNING o.sold_seats`, it.bookingID).
				QueryRow(func(row pgx.Row) error { return ignoreNoRows(row.Scan(&it.d.seatsReturned)) })
			continue
		case it.d.confirmed > 0:
			b.Queue(`UPDATE analytics_bookings SET counted_cents = $2, sold_seats = $3 WHERE booking_id = $1 RETURNING refunded_cents`,
				it.bookingID, it.d.revenue, it.d.seatsSold).
				QueryRow(func(row pgx.Row) error {
					var refunded int64
					if err := row.Scan(&refunded); err != nil {
						return ignoreNoRows(err)
					}
					it.d.refunds += min(it.d.revenue, refunded)
					return nil
				})
			continue
		}
		r := it.d.refunds
		b.Queue(`UPDATE analytics_bookings SET refunded_cents = refunded_cents + $2 WHERE booking_id = $1 RETURNING counted_cents, refunded_cents`, it.bookingID, r).
			QueryRow(func(row pgx.Row) error {
				var counted *int64
				var refunded int64
				if err := row.Scan(&counted, &refunded); err != nil {
					return ignoreNoRows(err)
				}
				if counted != nil { // NULL: counted before analytics kept it; taken back in full
					it.d.refunds = min(*counted, refunded) - min(*counted, refunded-r)
				}
				return nil
			})
	}
	return tx.SendBatch(ctx, &b).Close()
}

func ignoreNoRows(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	return err
}

// remember records the event of each booking the batch's booking.events
// name (analytics_bookings, its own table), so a later refund, which names
// only its booking, finds its event.
func (a *Aggregator) remember(ctx context.Context, tx pgx.Tx, items []item) error {
	var bookings, events []string
	for _, it := range items {
		if it.bookingID != "" && it.eventID != "" {
			bookings, events = append(bookings, it.bookingID), append(events, it.eventID)
		}
	}
	if len(bookings) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO analytics_bookings (booking_id, event_id)
		SELECT * FROM unnest($1::text[]::uuid[], $2::text[]::uuid[]) ON CONFLICT DO NOTHING`, bookings, events)
	return err
}

// resolve fills the event of refund items from analytics_bookings. A
// booking not there yet (its booking.events partition lags) is an error (the
// batch is retried) until OrphanGrace has passed since the refund; then the
// item is dead-lettered and left out.
func (a *Aggregator) resolve(ctx context.Context, tx pgx.Tx, items []item) error {
	var ids []string
	for _, it := range items {
		if it.bookingID != "" && it.eventID == "" {
			ids = append(ids, it.bookingID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT booking_id::text, event_id::text FROM analytics_bookings WHERE booking_id = ANY($1::text[]::uuid[])`, ids)
	if err != nil {
		return err
	}
	events := map[string]string{}
	for rows.Next() {
		var id, ev string
		if err := rows.Scan(&id, &ev); err != nil {
			rows.Close()
			return err
		}
		events[id] = ev
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range items {
		it := &items[i]
		if it.bookingID == "" || it.eventID != "" {
			continue
		}
		if ev, ok := events[it.bookingID]; ok {
			it.eventID = ev
			continue
		}
		if a.now().Sub(it.at) < a.cfg.OrphanGrace {
			return fmt.Errorf("%w (booking %s)", errBookingNotYet, it.bookingID)
		}
		// Within tx: the dead letter is kept only if the batch commits.
		if err := a.deadLetterIn(ctx, tx, it.msg, fmt.Errorf("%w after %v (booking %s)", errBookingNotYet, a.cfg.OrphanGrace, it.bookingID)); err != nil {
			return err
		}
		a.log.Error("analytics: refund of an unknown booking dead-lettered", zap.String("booking", it.bookingID))
	}
	return nil
}

func queueUpsert(b *pgx.Batch, table, col, event string, at time.Time, d *delta) {
	b.Queue(`INSERT INTO `+table+` AS a (event_id, `+col+`, reservations, seats_reserved, confirmed_bookings, seats_sold,
			cancellations, expirations, revenue, refunds, seats_returned)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::numeric / 100, $10::numeric / 100, $11)
		ON CONFLICT (event_id, `+col+`) DO UPDATE SET
			reservations = a.reservations + excluded.reservations,
			seats_reserved = a.seats_reserved + excluded.seats_reserved,
			confirmed_bookings = a.confirmed_bookings + excluded.confirmed_bookings,
			seats_sold = a.seats_sold + excluded.seats_sold,
			seats_returned = a.seats_returned + excluded.seats_returned,
			cancellations = a.cancellations + excluded.cancellations,
			expirations = a.expirations + excluded.expirations,
			revenue = a.revenue + excluded.revenue,
			refunds = a.refunds + excluded.refunds`,
		event, at, d.reservations, d.seatsReserved, d.confirmed, d.seatsSold, d.cancellations, d.expirations, d.revenue, d.refunds, d.seatsReturned)
}

func (a *Aggregator) deadLetter(ctx context.Context, m *sarama.ConsumerMessage, cause error) error {
	if err := a.deadLetterIn(ctx, a.db, m, cause); err != nil {
		return err
	}
	logging.Ctx(kafka.MessageContext(ctx, m), a.log).Error("analytics: message dead-lettered", zap.String("topic", m.Topic), zap.Int32("partition", m.Partition),
		zap.Int64("offset", m.Offset), zap.Error(cause))
	return nil
}

func (a *Aggregator) deadLetterIn(ctx context.Context, db deadletter.Execer, m *sarama.ConsumerMessage, cause error) error {
	return deadletter.Record(ctx, db, deadletter.Letter{Source: ConsumerGroup, Topic: m.Topic, Partition: &m.Partition,
		Offset: &m.Offset, Key: string(m.Key), Payload: m.Value, Error: cause.Error()})
}

// isDataError reports a refusal by the database (class 22 data exception or
// 23 integrity violation) as opposed to a failure to reach it.
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code[:2] == "22" || pgErr.Code[:2] == "23")
}
