package saga_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"go.uber.org/fx"
	"google.golang.org/protobuf/proto"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/gen/bookingrush/catalog/v1/catalogv1connect"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	sagav1 "github.com/bookingrush/rush/gen/bookingrush/saga/v1"
	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/payment"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/faulttest"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/platform/topic"
	"github.com/bookingrush/rush/services/saga"
	"github.com/bookingrush/rush/services/testkit"
)

// TestDeadLetteredSagaComesBack: the money arrived for a booking the
// booking engine does not know, so the saga refunds; the payment service is
// down, so the refund fails every retry and the saga is dead-lettered
// (table and topic, once) with its admin read side; the payment service
// comes back and the revived saga refunds. Money is never kept.
func TestDeadLetteredSagaComesBack(t *testing.T) {
	t.Parallel()
	paymentAddr := faulttest.FreeAddr(t)
	e := start(t, []string{"-target=auth,catalog,booking,relay,persister,saga", "-peer.payment=" + paymentAddr,
		"-saga.retries=1", "-saga.timeout=3s", "-saga.revive-after=300ms", "-saga.lease=1s"})
	s := e.SeedShop(t, testkit.ShopOptions{})
	bookingID := uuid.NewString()
	var paymentID string
	if err := e.Pool.QueryRow(context.Background(), `INSERT INTO payments (booking_id, user_id, amount, status, provider, succeeded_at)
		VALUES ($1, $2, 10, 'succeeded', 'simulator', now()) RETURNING id::text`, bookingID, s.Users[0]).Scan(&paymentID); err != nil {
		t.Fatal(err)
	}
	value, _ := proto.Marshal(&paymentv1.PaymentEvent{Id: uuid.NewString(), Type: payment.TopicSuccess,
		Payment: &paymentv1.Payment{Id: paymentID, BookingId: bookingID, Status: paymentv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED}})
	if err := e.Producer.Publish(context.Background(), saga.TopicPaymentSuccess, []byte(paymentID), value, nil); err != nil {
		t.Fatal(err)
	}
	// And a message that is no PaymentEvent at all.
	if err := e.Producer.Publish(context.Background(), saga.TopicPaymentSuccess, []byte("junk"), []byte("not protobuf \xff"), nil); err != nil {
		t.Fatal(err)
	}
	e.waitSaga(t, paymentID, saga.StatusFailed, 20*time.Second)
	testkit.Eventually(t, 10*time.Second, "dead letter relayed to saga.dead-letter", func() bool {
		return e.Count(t, `SELECT count(*) FROM outbox WHERE topic = 'saga.dead-letter' AND published_at IS NOT NULL AND key = $1`, paymentID) == 1
	})
	admin := uuid.NewString()
	testkit.Eventually(t, 10*time.Second, "two dead letters", func() bool {
		return e.Count(t, `SELECT count(*) FROM dead_letters WHERE source = 'saga'`) == 2
	})
	dl, err := e.saga.ListDeadLetters(context.Background(), testkit.As(t, e.Mesh, admin, authn.RoleAdmin, &sagav1.ListDeadLettersRequest{}))
	if err != nil || dl.Msg.GetMeta().GetTotal() != 2 {
		t.Fatalf("dead letters %v %v", dl, err)
	}
	var found bool
	for _, d := range dl.Msg.GetDeadLetters() {
		if d.GetKey() == paymentID {
			found = true
			var ev paymentv1.PaymentEvent
			if d.GetSagaId() == "" || d.GetTopic() != saga.TopicPaymentSuccess || d.GetAttempts() != 2 ||
				!strings.Contains(d.GetError(), saga.StepRefund) || proto.Unmarshal(d.GetPayload(), &ev) != nil || ev.GetPayment().GetId() != paymentID {
				t.Fatalf("dead letter %v", d)
			}
		}
	}
	if !found {
		t.Fatalf("no dead letter for the saga: %v", dl.Msg.GetDeadLetters())
	}
	if _, err := e.saga.ListSagas(context.Background(), testkit.As(t, e.Mesh, s.Users[0], authn.RoleUser, &sagav1.ListSagasRequest{})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("a user lists sagas: %v", err)
	}
	if _, err := e.saga.GetSaga(context.Background(), testkit.As(t, e.Mesh, admin, authn.RoleAdmin, &sagav1.GetSagaRequest{SagaId: uuid.NewString()})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("unknown saga: %v", err)
	}
	// Revived every 300 ms meanwhile, failing again without a new dead letter.
	time.Sleep(time.Second)
	if n := e.Count(t, `SELECT count(*) FROM dead_letters WHERE key = $1`, paymentID); n != 1 {
		t.Fatalf("%d dead letters for one saga", n)
	}

	// The payment service comes back where the saga looks for it.
	booking := strings.TrimPrefix(e.URL(t, "booking"), "http://")
	catalog := strings.TrimPrefix(e.URL(t, "catalog"), "http://")
	testkit.StartApp(t, testkit.Config(t, e.dsn, "-postgres.migrate-on-start=false", "-target=payment",
		"-payment.addr="+paymentAddr, "-peer.booking="+booking, "-peer.catalog="+catalog, "-booking.key-prefix="+e.prefix))
	e.waitSaga(t, paymentID, saga.StatusCompensated, 20*time.Second)
	if n := e.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND status = 'refunded' AND refunded_amount = 10`, paymentID); n != 1 {
		t.Fatal("the revived saga did not refund in full")
	}
	e.AuditMoney(t, e.prefix)
}

// TestRedisFrozenDuringSaga: Redis stops answering (SIGSTOP) when the saga
// is about to confirm. Thawed within the saga's time, the hold is
// confirmed; frozen longer, the saga refunds once Redis answers again
// (dead-lettered meanwhile, then revived), releasing the booking first,
// whatever the confirmations sent during the freeze did when Redis ran
// them. Either way: exactly one of (confirmed, refunded in full).
func TestRedisFrozenDuringSaga(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		freeze  time.Duration
		args    []string
		outcome string
	}{
		{"thawed in time", 2 * time.Second, []string{"-saga.timeout=15s"}, saga.StatusCompleted},
		{"thawed too late", 6 * time.Second, []string{"-saga.timeout=2s", "-saga.retries=1", "-saga.revive-after=500ms"}, saga.StatusCompensated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := faulttest.StartRedis(t)
			var once sync.Once
			hooks := &saga.Hooks{BeforeStep: func(_ context.Context, _, step string) error {
				if step == saga.StepConfirm {
					once.Do(func() {
						r.Freeze()
						time.AfterFunc(tc.freeze, func() { r.Thaw() })
					})
				}
				return nil
			}}
			e := start(t, append([]string{"-redis.url=" + r.URL(), "-booking.redis-timeout=300ms", "-saga.retry-backoff-max=200ms"}, tc.args...),
				fx.Supply(hooks))
			s := e.SeedShop(t, testkit.ShopOptions{Seats: 4})
			buyer := s.Users[0]
			b := e.Reserve(t, s, buyer, 2)
			p := e.pay(t, buyer, b.GetId(), payment.SimOK)
			e.waitSaga(t, p.GetId(), tc.outcome, 40*time.Second)
			want := bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED
			if tc.outcome == saga.StatusCompensated {
				want = bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED
				if got := e.Booking(t, buyer, b.GetId()).GetStatus(); got != want && got != bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED {
					t.Fatalf("booking %v after the refund", got)
				}
				if n := e.Count(t, `SELECT count(*) FROM dead_letters WHERE key = $1`, p.GetId()); n != 1 {
					t.Fatalf("%d dead letters, want the one of the refund that could not run", n)
				}
				if z := e.Zone(t, s); z.GetAvailable() != 4 || z.GetSold() != 0 || z.GetHeld() != 0 {
					t.Fatalf("zone %v after the refund", z)
				}
			} else {
				if got := e.Booking(t, buyer, b.GetId()).GetStatus(); got != want {
					t.Fatalf("booking %v", got)
				}
				// Durable at once: Postgres has it confirmed, whatever the persister did.
				if n := e.Count(t, `SELECT count(*) FROM bookings WHERE id = $1 AND status = 'confirmed'`, b.GetId()); n != 1 {
					t.Fatal("the confirmation is not in Postgres")
				}
			}
			e.Drained(t, "booking-persister", topic.BookingEvents)
			e.AuditMoney(t, e.prefix)
			t.Logf("%s: saga %s after a freeze of %v (%s)", tc.name, tc.outcome, tc.freeze, strconv.Quote(r.Addr()))
		})
	}
}

// TestRedisRestartedEmptyKeepsWhatWasPaid: the relay is behind (not
// running) when Redis restarts empty, so every change since the last relay
// is lost with it. The inventory rebuilt from Postgres still has the paid
// booking confirmed (its confirmation was recorded when it was made), so
// its buyer keeps the ticket and can still cancel it for a refund; the
// unpaid hold made meanwhile is gone, and a payment for a hold that is gone
// ends refunded. The money and inventory audits pass.
func TestRedisRestartedEmptyKeepsWhatWasPaid(t *testing.T) {
	t.Parallel()
	r := faulttest.StartRedis(t)
	e := start(t, []string{"-target=auth,catalog,booking,persister,payment,saga,gate", "-redis.url=" + r.URL(), "-payment.sim-delay=2s",
		"-booking.drain-timeout=5s"})
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 10, Users: 4})
	ctx := context.Background()
	paid := e.Reserve(t, s, s.Users[0], 2)
	p := e.pay(t, s.Users[0], paid.GetId(), payment.SimOK)
	e.waitSaga(t, p.GetId(), saga.StatusCompleted, 15*time.Second)
	unpaid := e.Reserve(t, s, s.Users[1], 1)
	slow := e.Reserve(t, s, s.Users[2], 1)
	late := e.pay(t, s.Users[2], slow.GetId(), payment.SimSlow) // its webhook comes after the restart
	if n := e.Count(t, `SELECT count(*) FROM bookings WHERE id = $1 AND status = 'confirmed'`, paid.GetId()); n != 1 {
		t.Fatal("the paid booking is not in Postgres, though the relay never ran")
	}

	r.Restart()

	// The first reserve finds the event gone and starts the rebuild.
	testkit.Eventually(t, 20*time.Second, "a reserve after the rebuild", func() bool {
		req := testkit.As(t, e.Mesh, s.Users[3], authn.RoleUser, &bookingv1.ReserveRequest{ShowId: s.Show, ZoneId: s.Zone, Quantity: 1})
		req.Header().Set("Idempotency-Key", "after-restart-1")
		_, err := e.booking.Reserve(ctx, req)
		return err == nil
	})
	if got := e.Booking(t, s.Users[0], paid.GetId()); got.GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED {
		t.Fatalf("the paid booking after the rebuild: %v", got)
	}
	if _, err := e.booking.GetBooking(ctx, testkit.As(t, e.Mesh, s.Users[1], authn.RoleUser, &bookingv1.GetBookingRequest{BookingId: unpaid.GetId()})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("the unpaid hold lost with Redis: %v", err)
	}
	if z := e.Zone(t, s); z.GetSold() != 2 || z.GetHeld() != 1 || z.GetAvailable() != 7 {
		t.Fatalf("zone after the rebuild %v", z)
	}
	e.waitSaga(t, late.GetId(), saga.StatusCompensated, 30*time.Second)
	// The buyer of the paid booking can still cancel it for a refund.
	res, err := e.booking.CancelBooking(ctx, testkit.As(t, e.Mesh, s.Users[0], authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: paid.GetId()}))
	if err != nil || res.Msg.GetBooking().GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED {
		t.Fatalf("cancel after the rebuild: %v %v", res, err)
	}
	if z := e.Zone(t, s); z.GetSold() != 0 || z.GetAvailable() != 9 {
		t.Fatalf("zone after the refund %v", z)
	}
	e.AuditMoney(t, e.prefix)
}

// TestMoneyInvariantUnderConcurrentBuyers hammers the money invariant: 40
// buyers of two events at once reserve, pay (accepted, declined, or slowly,
// so that the money arrives around the hold's deadline), retry payments
// with the same Idempotency-Key, cancel holds and purchases, or let holds
// expire, while the organizer cancels one event mid-rush. Once the system is
// quiet, every succeeded payment has exactly one of (booking confirmed,
// payment refunded in full), nothing is pending, and Redis and Postgres
// agree on every zone.
func TestMoneyInvariantUnderConcurrentBuyers(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"-target=auth,booking,relay,persister,payment,saga,catalog,gate", "-booking.hold-ttl=3s", "-booking.idempotency-ttl=3s",
		"-payment.sim-delay=2700ms", "-saga.timeout=3s", "-payment.reconcile-interval=300ms", "-payment.reconcile-grace=6s"})
	shops := []testkit.Shop{
		e.SeedShop(t, testkit.ShopOptions{Seats: 60, Users: 20, MaxPerUser: 10}),
		e.SeedShop(t, testkit.ShopOptions{Seats: 60, Users: 20, MaxPerUser: 10}),
	}
	ctx := context.Background()
	catalog := catalogv1connect.NewCatalogServiceClient(server.NewClient(), e.URL(t, "catalog"))
	var wg sync.WaitGroup
	for si, s := range shops {
		for ui, u := range s.Users {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(si), uint64(ui)))
				for round := range 3 {
					req := testkit.As(t, e.Mesh, u, authn.RoleUser, &bookingv1.ReserveRequest{ShowId: s.Show, ZoneId: s.Zone, Quantity: int32(1 + rng.IntN(3))})
					req.Header().Set("Idempotency-Key", fmt.Sprintf("chaos-%d-%d-%d", si, ui, round))
					res, err := e.booking.Reserve(ctx, req)
					if err != nil {
						continue // sold out, over the limit, or the event is cancelled
					}
					b := res.Msg.GetBooking()
					payWith := func(method, key string) {
						preq := testkit.As(t, e.Mesh, u, authn.RoleUser, &paymentv1.CreatePaymentRequest{BookingId: b.GetId(), PaymentMethod: method})
						preq.Header().Set("Idempotency-Key", key)
						_, _ = e.payment.CreatePayment(ctx, preq)
					}
					cancel := func() {
						_, _ = e.booking.CancelBooking(ctx, testkit.As(t, e.Mesh, u, authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: b.GetId()}))
					}
					key := "pay-" + b.GetId()
					switch rng.IntN(7) {
					case 0, 1:
						payWith(payment.SimOK, key)
					case 2: // a retry racing the first call
						var pw sync.WaitGroup
						pw.Go(func() { payWith(payment.SimOK, key) })
						pw.Go(func() { payWith(payment.SimOK, key) })
						pw.Wait()
					case 3:
						payWith(payment.SimDeclined, key)
					case 4: // the money comes around the hold's deadline
						payWith(payment.SimSlow, key)
					case 5:
						payWith(payment.SimOK, key)
						time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
						cancel() // a hold, or a purchase refunded under the policy
					case 6:
						if rng.IntN(2) == 0 {
							cancel()
						} // else it expires
					}
					time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
				}
			})
		}
	}
	time.Sleep(1500 * time.Millisecond)
	cancelled := shops[1]
	if _, err := catalog.CancelEvent(ctx, testkit.As(t, e.Mesh, cancelled.Organizer, authn.RoleOrganizer,
		&catalogv1.CancelEventRequest{EventId: cancelled.Event, Reason: "chaos"})); err != nil {
		t.Logf("cancel (retried below): %v", err)
	}
	wg.Wait()
	// Cancelling again finishes what raced the first call.
	if _, err := catalog.CancelEvent(ctx, testkit.As(t, e.Mesh, cancelled.Organizer, authn.RoleOrganizer,
		&catalogv1.CancelEventRequest{EventId: cancelled.Event, Reason: "chaos"})); err != nil {
		t.Fatalf("cancel again: %v", err)
	}
	// One statement, one snapshot: counted apart, a payment could succeed
	// between two counts and its saga start after them.
	testkit.Eventually(t, 60*time.Second, "every payment and saga settled", func() bool {
		return e.Count(t, `SELECT
			(SELECT count(*) FROM payments WHERE status IN ('pending', 'processing') OR (refund_requested_at IS NOT NULL AND refunded_at IS NULL))
			+ (SELECT count(*) FROM sagas WHERE status IN ('running', 'compensating') OR (status = 'failed' AND retry_at IS NOT NULL))
			+ (SELECT count(*) FROM payments p WHERE p.status = 'succeeded' AND NOT EXISTS (SELECT 1 FROM sagas s WHERE s.payment_id = p.id))`) == 0
	})
	e.Drained(t, "booking-persister", topic.BookingEvents)
	r := e.AuditMoney(t, e.prefix)
	if r.Confirmed == 0 || r.Refunded == 0 {
		t.Fatalf("the run tested too little: %v", r)
	}
	for _, s := range shops {
		testkit.Eventually(t, 15*time.Second, "Postgres agrees with Redis", func() bool {
			d, err := booking.Reconcile(ctx, e.Redis, e.Pool, e.prefix, s.Event)
			return err == nil && len(d) == 0
		})
	}
	if z := e.Zone(t, cancelled); z.GetSold() != 0 || z.GetHeld() != 0 || z.GetAvailable() != 60 {
		t.Fatalf("the cancelled event's zone %v", z)
	}
	t.Logf("money audit: %v", r)
}

// slowPaymentOnItsOwnRedis starts the mesh on a Redis of its own (to be
// restarted empty) and has the first buyer of a new shop pay a hold of two
// seats with sim_slow, whose money arrives 5 s later.
func slowPaymentOnItsOwnRedis(t *testing.T) (*env, *faulttest.Redis, testkit.Shop, *bookingv1.Booking, *paymentv1.Payment) {
	t.Helper()
	r := faulttest.StartRedis(t)
	e := start(t, []string{"-redis.url=" + r.URL(), "-payment.sim-delay=5s", "-saga.timeout=3s", "-booking.drain-timeout=5s",
		"-payment.reconcile-interval=300ms"})
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 10, Users: 2})
	held := e.Reserve(t, s, s.Users[0], 2)
	return e, r, s, held, e.pay(t, s.Users[0], held.GetId(), payment.SimSlow)
}

// refundedAfterRedisRestart restarts r empty before p's money arrives, and
// waits for the saga to refund p in full.
func (e *env) refundedAfterRedisRestart(t *testing.T, r *faulttest.Redis, p *paymentv1.Payment) {
	t.Helper()
	r.Restart()
	if n := e.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND status = 'processing'`, p.GetId()); n != 1 {
		t.Fatal("the money arrived before Redis restarted: the test needs a longer payment.sim-delay")
	}
	e.waitSaga(t, p.GetId(), saga.StatusCompensated, 30*time.Second)
	if n := e.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND status = 'refunded' AND refunded_amount = amount`, p.GetId()); n != 1 {
		t.Fatal("the payment is not refunded in full")
	}
}

// TestMoneyForACancelledEventRedisLostIsRefunded: an organizer cancels an
// event while a buyer's payment is on its way, and Redis then restarts
// empty before the money arrives. A cancelled event sells nothing, so no
// reserve rebuilds its inventory; but its bookings still change for money:
// the saga cannot confirm the hold, and the refund releases the booking
// before the money goes back. Both must find the event's records, rebuilt
// from Postgres as a published event's are, or the refund waits for ever:
// before, both answered SALE_NOT_OPEN for as long as Redis lacked the
// event, the refund stayed decided and never made, and the buyer was
// charged with no ticket and no refund.
func TestMoneyForACancelledEventRedisLostIsRefunded(t *testing.T) {
	t.Parallel()
	e, r, s, held, p := slowPaymentOnItsOwnRedis(t)
	ctx := context.Background()
	catalog := catalogv1connect.NewCatalogServiceClient(server.NewClient(), e.URL(t, "catalog"))
	if _, err := catalog.CancelEvent(ctx, testkit.As(t, e.Mesh, s.Organizer, authn.RoleOrganizer,
		&catalogv1.CancelEventRequest{EventId: s.Event, Reason: "storm warning"})); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	testkit.Eventually(t, 10*time.Second, "the released hold recorded", func() bool {
		return e.Count(t, `SELECT count(*) FROM bookings WHERE id = $1 AND status = 'cancelled'`, held.GetId()) == 1
	})

	e.refundedAfterRedisRestart(t, r, p)
	if got := e.Booking(t, s.Users[0], held.GetId()); got.GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED {
		t.Fatalf("the booking: %v", got)
	}
	e.AuditMoney(t, e.prefix)
}
