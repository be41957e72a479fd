package booking_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/pgtest"
)

// TestKafkaDownReservationsStillSucceed: while Kafka refuses every write,
// reservations succeed and their events wait in the Redis stream; when Kafka
// is back they reach Postgres.
func TestKafkaDownReservationsStillSucceed(t *testing.T) {
	t.Parallel()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	var down atomic.Bool
	kc.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		if !down.Load() {
			return nil, nil, false
		}
		r := req.(*kmsg.ProduceRequest)
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, tp := range r.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = tp.Topic
			for _, p := range tp.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.NotEnoughReplicas.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})

	m := startMesh(t, "-kafka.brokers="+kc.ListenAddrs()[0])
	f := m.seed(eventOpts{seats: 50, maxPerUser: 4, users: 10})
	down.Store(true)
	for i, u := range f.users {
		if _, err := m.reserve(context.Background(), m.booking(i%2 == 0), f, u, 2, fmt.Sprintf("kafka-down-%02d", i)); err != nil {
			t.Fatalf("reserve while Kafka is down: %v", err)
		}
	}
	time.Sleep(500 * time.Millisecond) // give the relay time to try (and fail)
	backlog, err := m.rdb.XLen(context.Background(), fmt.Sprintf("%s{ev:%s}:stream", m.prefix, f.event)).Result()
	if err != nil || backlog != 10 {
		t.Fatalf("stream backlog = %d (%v), want the 10 reservations waiting", backlog, err)
	}
	var persisted int
	if err := m.db.QueryRow(`SELECT count(*) FROM bookings WHERE event_id = $1`, f.event).Scan(&persisted); err != nil || persisted != 0 {
		t.Fatalf("%d bookings reached Postgres although Kafka refused every write (%v)", persisted, err)
	}

	down.Store(false)
	m.waitReconciled(f, 30*time.Second)
	if err := m.db.QueryRow(`SELECT count(*) FROM bookings WHERE event_id = $1 AND status = 'reserved'`, f.event).Scan(&persisted); err != nil || persisted != 10 {
		t.Fatalf("after Kafka came back: %d reserved bookings (%v), want 10", persisted, err)
	}
	if backlog, _ := m.rdb.XLen(context.Background(), fmt.Sprintf("%s{ev:%s}:stream", m.prefix, f.event)).Result(); backlog != 0 {
		t.Fatalf("stream still holds %d entries after relaying", backlog)
	}
}

// TestPersisterIgnoresDuplicatesAndStaleEvents: replaying old events (a
// duplicate delivery, an out-of-order one) changes nothing in Postgres.
func TestPersisterIgnoresDuplicatesAndStaleEvents(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 1})
	b, err := m.reserve(context.Background(), m.booking(false), f, f.users[0], 2, "dup-key-01")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.booking(false).ConfirmBooking(context.Background(), as(m, "saga", authn.RoleService, &bookingv1.ConfirmBookingRequest{BookingId: b.GetId()})); err != nil {
		t.Fatal(err)
	}
	m.waitReconciled(f, 10*time.Second)

	// The reserved event of this booking, delivered again late.
	stale := &bookingv1.BookingEvent{Booking: b, Version: 1,
		Zone: &bookingv1.ZoneAvailability{ZoneId: f.zone, Total: 10, Available: 8, Held: 2}, ZoneVersion: 1}
	payload, _ := proto.Marshal(stale)
	msg := &sarama.ConsumerMessage{Topic: booking.TopicBookingEvents, Key: []byte(b.GetId()), Value: payload}
	p := newPersister(t, m.pool)
	for range 2 {
		if err := p.Handle(context.Background(), []*sarama.ConsumerMessage{msg, msg}); err != nil {
			t.Fatal(err)
		}
	}
	var status string
	if err := m.db.QueryRow(`SELECT status FROM bookings WHERE id = $1`, b.GetId()).Scan(&status); err != nil || status != "confirmed" {
		t.Fatalf("a stale event moved the booking back to %q (%v)", status, err)
	}
	m.waitReconciled(f, 5*time.Second)
}

// TestPersisterBatchWithARefusedRow: one batch of new bookings (written as
// one multi-row statement) where Postgres refuses one row: the others are
// written, the refused one goes to dead_letters, nothing is lost silently.
func TestPersisterBatchWithARefusedRow(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-target=booking") // no persister of its own: this test is the persister
	f := m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 3})
	now := timestamppb.Now()
	event := func(user string, qty int32, total string) (*bookingv1.BookingEvent, *sarama.ConsumerMessage) {
		id := uuid.NewString()
		ev := &bookingv1.BookingEvent{
			Booking: &bookingv1.Booking{Id: id, UserId: user, EventId: f.event, ShowId: f.show, ZoneId: f.zone, Quantity: qty,
				UnitPrice: "49.90", TotalAmount: total, Currency: "USD",
				Status: bookingv1.BookingStatus_BOOKING_STATUS_RESERVED, IdempotencyKey: "batch-" + id[:8],
				ExpiresAt: timestamppb.New(now.AsTime().Add(time.Minute)), CreatedAt: now},
			Version: 1, Zone: &bookingv1.ZoneAvailability{ZoneId: f.zone, Total: 10, Available: 10, Held: 0}, ZoneVersion: 0,
		}
		payload, _ := proto.Marshal(ev)
		return ev, &sarama.ConsumerMessage{Topic: booking.TopicBookingEvents, Key: []byte(id), Value: payload}
	}
	good1, m1 := event(f.users[0], 1, "49.90")
	bad, m2 := event(f.users[2], 2, "49.90") // not 2 x 49.90: bookings_amount_check
	good2, m3 := event(f.users[1], 3, "149.70")
	if err := newPersister(t, m.pool).Handle(context.Background(), []*sarama.ConsumerMessage{m1, m2, m3}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []*bookingv1.BookingEvent{good1, good2} {
		var qty int
		var status string
		err := m.db.QueryRow(`SELECT quantity, status FROM bookings WHERE id = $1`, want.GetBooking().GetId()).Scan(&qty, &status)
		if err != nil || qty != int(want.GetBooking().GetQuantity()) || status != "reserved" {
			t.Fatalf("booking %s: quantity %d status %q (%v)", want.GetBooking().GetId(), qty, status, err)
		}
	}
	var n int
	if err := m.db.QueryRow(`SELECT count(*) FROM bookings WHERE id = $1`, bad.GetBooking().GetId()).Scan(&n); err != nil || n != 0 {
		t.Fatalf("refused booking written: %d %v", n, err)
	}
	if err := m.db.QueryRow(`SELECT count(*) FROM dead_letters WHERE key = $1 AND source = 'booking-persister'`, bad.GetBooking().GetId()).Scan(&n); err != nil || n != 1 {
		t.Fatalf("refused booking in dead_letters: %d %v", n, err)
	}
}

// TestPersisterPartitionsDoNotDeadlock: the batches of several partitions,
// written at the same time, each move the same zones; the persister updates
// them in one order, so no transaction waits on another in a cycle (in map
// order, Postgres aborted one as a deadlock after deadlock_timeout, and the
// batch was retried a second later).
func TestPersisterPartitionsDoNotDeadlock(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-target=booking") // no persister of its own: this test is the persister
	fixtures := []fixture{
		m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 1}),
		m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 1}),
		m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 1}),
	}
	p := newPersister(t, m.pool)
	var version atomic.Int64
	batch := func() []*sarama.ConsumerMessage {
		var msgs []*sarama.ConsumerMessage
		for _, f := range fixtures {
			id := uuid.NewString()
			ev := &bookingv1.BookingEvent{
				Booking: &bookingv1.Booking{Id: id, UserId: f.users[0], EventId: f.event, ShowId: f.show, ZoneId: f.zone, Quantity: 1,
					UnitPrice: "49.90", TotalAmount: "49.90", Currency: "USD",
					Status: bookingv1.BookingStatus_BOOKING_STATUS_RESERVED, IdempotencyKey: "dl-" + id[:8],
					ExpiresAt: timestamppb.New(time.Now().Add(time.Minute)), CreatedAt: timestamppb.Now()},
				Version: 1, Zone: &bookingv1.ZoneAvailability{ZoneId: f.zone, Total: 10, Available: 10}, ZoneVersion: version.Add(1),
			}
			payload, _ := proto.Marshal(ev)
			msgs = append(msgs, &sarama.ConsumerMessage{Topic: booking.TopicBookingEvents, Key: []byte(id), Value: payload})
		}
		return msgs
	}
	pgtest.Writers(t, 4, 25, func() error { return p.Handle(context.Background(), batch()) }) // one writer per partition
}

// TestRebuildAfterRedisLostTheEvent: the event's keys vanish; reserve refuses
// (SERVICE_UNAVAILABLE) until the fenced rebuild from Postgres is done; then
// the counts equal Postgres, holds made before the loss still expire or
// confirm, and a retried Idempotency-Key replays instead of selling twice.
func TestRebuildAfterRedisLostTheEvent(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 20, maxPerUser: 4, users: 5})
	c := m.booking(true)
	var holds []*bookingv1.Booking
	for i, u := range f.users {
		b, err := m.reserve(context.Background(), c, f, u, 2, fmt.Sprintf("before-loss-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		holds = append(holds, b)
	}
	if _, err := c.ConfirmBooking(context.Background(), as(m, "saga", authn.RoleService, &bookingv1.ConfirmBookingRequest{BookingId: holds[0].GetId()})); err != nil {
		t.Fatal(err)
	}
	m.waitReconciled(f, 10*time.Second)
	before := m.checkInvariant(f)

	// Redis loses every key of the event.
	ctx := context.Background()
	keys, err := m.rdb.Keys(ctx, fmt.Sprintf("%s{ev:%s}:*", m.prefix, f.event)).Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys %v %v", keys, err)
	}
	if err := m.rdb.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}

	_, err = m.reserve(ctx, c, f, f.users[1], 1, "during-loss-1")
	if !errs.Is(err, errs.ServiceUnavailable) {
		t.Fatalf("reserve during the loss: %v, want SERVICE_UNAVAILABLE", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err = m.reserve(ctx, c, f, f.users[1], 1, "after-rebuild-1")
		if err == nil {
			break
		}
		if !errs.Is(err, errs.ServiceUnavailable) || time.Now().After(deadline) {
			t.Fatalf("reserve after the loss: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	after := m.checkInvariant(f)
	if after["sold"] != before["sold"] || after["held"] != before["held"]+1 || after["available"] != before["available"]-1 {
		t.Fatalf("rebuilt counts %v, before the loss %v (plus one new seat held)", after, before)
	}
	// A retry of a reservation made before the loss replays it.
	again, err := m.reserve(ctx, c, f, f.users[2], 2, "before-loss-2")
	if err != nil || again.GetId() != holds[2].GetId() {
		t.Fatalf("replay after rebuild: %v %v", again, err)
	}
	// A hold made before the loss can still be confirmed.
	if _, err := c.ConfirmBooking(ctx, as(m, "saga", authn.RoleService, &bookingv1.ConfirmBookingRequest{BookingId: holds[3].GetId()})); err != nil {
		t.Fatalf("confirm a rebuilt hold: %v", err)
	}
	if z := m.checkInvariant(f); z["sold"] != before["sold"]+2 {
		t.Fatalf("zone after confirming a rebuilt hold: %v", z)
	}
	m.waitReconciled(f, 10*time.Second)
}

// TestLoadWaitsForAnotherProcessRebuilding: Redis lost the event and another
// booking process holds its rebuild lock (it died mid-rebuild: the lock
// lapses after its TTL). The catalog's load answers once the inventory is
// there, not before: it answered success at once, with nothing loaded, and
// the catalog's publish or cancellation went on as if its settings were
// live (the recovery pass, the same way, marked Redis recovered).
func TestLoadWaitsForAnotherProcessRebuilding(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 4, maxPerUser: 4, users: 1})
	if _, err := m.reserve(context.Background(), m.booking(false), f, f.users[0], 2, "before-loss"); err != nil {
		t.Fatal(err)
	}
	m.waitReconciled(f, 10*time.Second)
	m.dropEvent(f)
	lock := fmt.Sprintf("%s{ev:%s}:rebuild", m.prefix, f.event)
	if err := m.rdb.Set(context.Background(), lock, "a process that died", time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	m.load(f)
	if z := m.zone(f); z["held"] != 2 || z["available"] != 2 {
		t.Fatalf("the zone when the load answered: %v, want 2 held and 2 available", z)
	}
}

func newPersister(t *testing.T, db *pgxpool.Pool) *booking.Persister {
	t.Helper()
	p, err := booking.NewPersister(db, prometheus.NewRegistry(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return p
}
