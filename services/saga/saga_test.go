package saga_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/fx"
	"google.golang.org/protobuf/proto"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	sagav1 "github.com/bookingrush/rush/gen/bookingrush/saga/v1"
	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/payment"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/saga"
	"github.com/bookingrush/rush/services/testkit"
)

// TestPaymentAfterExpiryIsRefunded: the money arrives after the hold
// expired; the saga cannot confirm, refunds 100% and releases nothing
// again: the seats came back once, at expiry.
func TestPaymentAfterExpiryIsRefunded(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"-booking.hold-ttl=1s", "-booking.idempotency-ttl=1s", "-payment.sim-delay=2500ms"})
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 6})
	buyer := s.Users[0]
	b := e.Reserve(t, s, buyer, 2)
	p := e.pay(t, buyer, b.GetId(), payment.SimSlow) // answers after the hold expired
	e.waitSaga(t, p.GetId(), saga.StatusCompensated, 20*time.Second)

	res, err := e.payment.GetPayment(context.Background(), testkit.As(t, e.Mesh, buyer, authn.RoleUser, &paymentv1.GetPaymentRequest{PaymentId: p.GetId()}))
	if err != nil || res.Msg.GetPayment().GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED || res.Msg.GetPayment().GetRefundedAmount() != "99.80" {
		t.Fatalf("payment after compensation %v %v", res, err)
	}
	if got := e.Booking(t, buyer, b.GetId()); got.GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_EXPIRED {
		t.Fatalf("booking %v", got)
	}
	if z := e.Zone(t, s); z.GetAvailable() != 6 || z.GetHeld() != 0 || z.GetSold() != 0 {
		t.Fatalf("zone %v: seats released twice or not at all", z)
	}
	sg, err := e.saga.ListSagas(context.Background(), testkit.As(t, e.Mesh, uuid.NewString(), authn.RoleAdmin, &sagav1.ListSagasRequest{BookingId: b.GetId()}))
	if err != nil || len(sg.Msg.GetSagas()) != 1 {
		t.Fatalf("list sagas %v %v", sg, err)
	}
	steps := map[string]sagav1.StepStatus{}
	for _, st := range sg.Msg.GetSagas()[0].GetSteps() {
		steps[st.GetName()] = st.GetStatus()
	}
	if steps[saga.StepConfirm] != sagav1.StepStatus_STEP_STATUS_FAILED || steps[saga.StepNotify] != sagav1.StepStatus_STEP_STATUS_SKIPPED ||
		steps[saga.StepRefund] != sagav1.StepStatus_STEP_STATUS_SUCCEEDED || !strings.Contains(sg.Msg.GetSagas()[0].GetLastError(), "RESERVATION_EXPIRED") {
		t.Fatalf("saga %v", sg.Msg.GetSagas()[0])
	}
	testkit.Eventually(t, 10*time.Second, "one payment.refunded relayed", func() bool {
		return e.Count(t, `SELECT count(*) FROM outbox WHERE aggregate_id = $1 AND topic = 'payment.refunded' AND published_at IS NOT NULL`, p.GetId()) == 1
	})
	testkit.Eventually(t, 10*time.Second, "Postgres agrees with Redis", func() bool {
		d, err := booking.Reconcile(context.Background(), e.Redis, e.Pool, e.prefix, s.Event)
		return err == nil && len(d) == 0
	})
}

// TestDuplicatePaymentSuccessStartsOneSaga: the relay delivers at least
// once; the same payment.success again starts no second saga.
func TestDuplicatePaymentSuccessStartsOneSaga(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	s := e.SeedShop(t, testkit.ShopOptions{})
	buyer := s.Users[0]
	b := e.Reserve(t, s, buyer, 1)
	p := e.pay(t, buyer, b.GetId(), payment.SimOK)
	e.waitSaga(t, p.GetId(), saga.StatusCompleted, 15*time.Second)

	ev := &paymentv1.PaymentEvent{Id: uuid.NewString(), Type: payment.TopicSuccess, Payment: &paymentv1.Payment{
		Id: p.GetId(), BookingId: b.GetId(), Status: paymentv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED}}
	value, _ := proto.Marshal(ev)
	for range 3 {
		if err := e.Producer.Publish(context.Background(), saga.TopicPaymentSuccess, []byte(p.GetId()), value, nil); err != nil {
			t.Fatal(err)
		}
	}
	// A marker published after the duplicates: once its saga exists, the
	// duplicates were consumed too (same key, same partition, in order).
	b2 := e.Reserve(t, s, buyer, 1)
	p2 := e.pay(t, buyer, b2.GetId(), payment.SimOK)
	e.waitSaga(t, p2.GetId(), saga.StatusCompleted, 15*time.Second)
	testkit.Eventually(t, 10*time.Second, "duplicates consumed", func() bool {
		lag, err := e.Kafka.Lag(context.Background(), saga.ConsumerGroup, saga.TopicPaymentSuccess)
		if err != nil {
			return false
		}
		for _, l := range lag {
			if l.Lag != 0 {
				return false
			}
		}
		return true
	})
	if n := e.Count(t, `SELECT count(*) FROM sagas WHERE payment_id = $1`, p.GetId()); n != 1 {
		t.Fatalf("%d sagas for one payment", n)
	}
	if z := e.Zone(t, s); z.GetSold() != 2 || z.GetHeld() != 0 {
		t.Fatalf("zone %v", z)
	}
}

// TestRestartMidSagaResumes: the orchestrator stops after recording the
// saga, before step 1 ran; a new process resumes it from the recorded step.
func TestRestartMidSagaResumes(t *testing.T) {
	t.Parallel()
	reached := make(chan string, 1)
	var once sync.Once
	hooks := &saga.Hooks{BeforeStep: func(ctx context.Context, sagaID, step string) error {
		if step != saga.StepConfirm {
			return nil
		}
		once.Do(func() { reached <- sagaID })
		<-ctx.Done() // the process stops here
		return ctx.Err()
	}}
	first := start(t, []string{"-saga.lease=1s"}, fx.Supply(hooks))
	s := first.SeedShop(t, testkit.ShopOptions{Seats: 3})
	buyer := s.Users[0]
	b := first.Reserve(t, s, buyer, 1)
	p := first.pay(t, buyer, b.GetId(), payment.SimOK)
	var sagaID string
	select {
	case sagaID = <-reached:
	case <-time.After(15 * time.Second):
		t.Fatal("the saga never reached confirm-booking")
	}
	first.Stop(t)
	var status, step string
	if err := pgtest.Open(t, first.dsn).QueryRow(`SELECT status, current_step FROM sagas WHERE id = $1`, sagaID).Scan(&status, &step); err != nil ||
		status != saga.StatusRunning || step != saga.StepConfirm {
		t.Fatalf("saga after the stop: %q at %q (%v), want running at confirm-booking", status, step, err)
	}

	second := restart(t, first.dsn, first.prefix, []string{"-saga.lease=1s"})
	second.waitSaga(t, p.GetId(), saga.StatusCompleted, 20*time.Second)
	if got := second.Booking(t, buyer, b.GetId()); got.GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED {
		t.Fatalf("booking %v", got)
	}
	res, err := second.saga.GetSaga(context.Background(), testkit.As(t, second.Mesh, uuid.NewString(), authn.RoleAdmin, &sagav1.GetSagaRequest{SagaId: sagaID}))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range res.Msg.GetSaga().GetSteps() {
		if st.GetName() == saga.StepConfirm && (st.GetStatus() != sagav1.StepStatus_STEP_STATUS_SUCCEEDED || st.GetAttempts() != 2) {
			t.Fatalf("confirm step %v, want succeeded at the second attempt", st)
		}
	}
	if z := second.Zone(t, s); z.GetSold() != 1 || z.GetHeld() != 0 || z.GetAvailable() != 2 {
		t.Fatalf("zone %v", z)
	}
}
