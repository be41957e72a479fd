package saga_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"go.uber.org/fx"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/services/payment"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/topic"
	"github.com/bookingrush/rush/services/saga"
	"github.com/bookingrush/rush/services/testkit"
)

// clientErr fails the test on an answer that is neither a success nor a
// 4xx the buyer can act on: a race between a buyer's own calls must never
// answer 500 or 503.
func clientErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	switch c := connect.CodeOf(err); c {
	case connect.CodeInternal, connect.CodeUnknown, connect.CodeUnavailable, connect.CodeDataLoss, connect.CodeDeadlineExceeded:
		t.Errorf("%s: %v (%v)", what, err, errs.FromConnect(err).Code)
	}
}

// TestTwoTabsPayOneHold: two tabs pay one hold at once, each with its own
// Idempotency-Key. One payment is taken, the other answers CONFLICT; money
// ends in one confirmed booking.
func TestTwoTabsPayOneHold(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 20, Users: 5})
	ctx := context.Background()
	for round := range 5 {
		buyer := s.Users[round]
		b := e.Reserve(t, s, buyer, 2)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var ok []*paymentv1.Payment
		for range 3 {
			wg.Go(func() {
				req := testkit.As(t, e.Mesh, buyer, authn.RoleUser, &paymentv1.CreatePaymentRequest{BookingId: b.GetId(), PaymentMethod: payment.SimOK})
				req.Header().Set("Idempotency-Key", "tab-"+uuid.NewString())
				res, err := e.payment.CreatePayment(ctx, req)
				clientErr(t, "create payment", err)
				if err == nil {
					mu.Lock()
					ok = append(ok, res.Msg.GetPayment())
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(ok) != 1 {
			t.Fatalf("round %d: %d payments taken for one hold", round, len(ok))
		}
		e.waitSaga(t, ok[0].GetId(), saga.StatusCompleted, 15*time.Second)
	}
	e.Drained(t, "booking-persister", topic.BookingEvents)
	e.AuditMoney(t, e.prefix)
}

// TestCancelAndRefundAtOnce: the buyer cancels a confirmed booking in one
// tab and asks its payment's refund in another, twice each, at once. The
// booking ends refunded, the money back in full (the show is 30 days
// away), the seats back once, and no call answers 5xx.
func TestCancelAndRefundAtOnce(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 20, Users: 5})
	ctx := context.Background()
	for round := range 5 {
		buyer := s.Users[round]
		b := e.Reserve(t, s, buyer, 2)
		p := e.pay(t, buyer, b.GetId(), payment.SimOK)
		e.waitSaga(t, p.GetId(), saga.StatusCompleted, 15*time.Second)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				_, err := e.booking.CancelBooking(ctx, testkit.As(t, e.Mesh, buyer, authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: b.GetId()}))
				clientErr(t, "cancel", err)
			})
			wg.Go(func() {
				_, err := e.payment.RefundPayment(ctx, testkit.As(t, e.Mesh, buyer, authn.RoleUser, &paymentv1.RefundPaymentRequest{PaymentId: p.GetId(), Reason: "changed my mind"}))
				clientErr(t, "refund", err)
			})
		}
		wg.Wait()
		if st := e.Booking(t, buyer, b.GetId()).GetStatus(); st != bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED {
			t.Fatalf("round %d: booking %v", round, st)
		}
		if n := e.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND status = 'refunded' AND refunded_amount = amount`, p.GetId()); n != 1 {
			t.Fatalf("round %d: payment not refunded in full", round)
		}
	}
	if z := e.Zone(t, s); z.GetAvailable() != 20 || z.GetHeld() != 0 || z.GetSold() != 0 {
		t.Fatalf("zone %v", z)
	}
	e.Drained(t, "booking-persister", topic.BookingEvents)
	e.AuditMoney(t, e.prefix)
}

// TestPayAsTheHoldExpires: holds of one second are paid around their
// deadline (sim_slow lands the money right when the sweeper may release
// them); every payment ends confirmed or refunded in full, the zone adds up.
func TestPayAsTheHoldExpires(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"-booking.hold-ttl=1s", "-booking.sweep-interval=50ms", "-payment.sim-delay=900ms", "-booking.idempotency-ttl=1h"})
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 40, Users: 10})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var pays []string
	for i, buyer := range s.Users {
		wg.Go(func() {
			b := e.Reserve(t, s, buyer, 1)
			time.Sleep(time.Duration(i*10) * time.Millisecond)
			req := testkit.As(t, e.Mesh, buyer, authn.RoleUser, &paymentv1.CreatePaymentRequest{BookingId: b.GetId(), PaymentMethod: payment.SimSlow})
			res, err := e.payment.CreatePayment(context.Background(), req)
			clientErr(t, "create payment", err)
			if err == nil {
				mu.Lock()
				pays = append(pays, res.Msg.GetPayment().GetId())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, p := range pays {
		testkit.Eventually(t, 30*time.Second, "saga ended", func() bool {
			st := e.sagaStatus(t, p)
			return st == saga.StatusCompleted || st == saga.StatusCompensated
		})
	}
	time.Sleep(2 * time.Second)
	z := e.Zone(t, s)
	if z.GetAvailable()+z.GetHeld()+z.GetSold() != 40 || z.GetHeld() != 0 {
		t.Fatalf("zone %v", z)
	}
	e.Drained(t, "booking-persister", topic.BookingEvents)
	e.AuditMoney(t, e.prefix)
}

// TestBuyerEndsThePaidHoldAsTheSagaConfirms: the money arrived and the saga
// is about to confirm when the buyer, in another tab, cancels the hold
// (cancel) or asks the payment's refund (refund). Either way the money ends
// back in full, once, the booking is not confirmed, and the seats come back.
func TestBuyerEndsThePaidHoldAsTheSagaConfirms(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"cancel", "refund"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			var e *env
			var mu sync.Mutex
			var buyer, bookingID, paymentID string
			var callErr error
			hooks := &saga.Hooks{BeforeStep: func(ctx context.Context, _, step string) error {
				mu.Lock()
				defer mu.Unlock()
				if step != saga.StepConfirm || bookingID == "" {
					return nil
				}
				id := bookingID
				bookingID = ""
				if how == "cancel" {
					_, callErr = e.booking.CancelBooking(context.Background(), testkit.As(t, e.Mesh, buyer, authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: id}))
				} else {
					_, callErr = e.payment.RefundPayment(context.Background(), testkit.As(t, e.Mesh, buyer, authn.RoleUser, &paymentv1.RefundPaymentRequest{PaymentId: paymentID}))
				}
				return nil
			}}
			e = start(t, []string{"-payment.sim-delay=500ms"}, fxSupply(hooks))
			s := e.SeedShop(t, testkit.ShopOptions{Seats: 4})
			buyer = s.Users[0]
			b := e.Reserve(t, s, buyer, 2)
			p := e.pay(t, buyer, b.GetId(), payment.SimSlow)
			mu.Lock()
			bookingID, paymentID = b.GetId(), p.GetId()
			mu.Unlock()
			e.waitSaga(t, p.GetId(), saga.StatusCompensated, 20*time.Second)
			mu.Lock()
			clientErr(t, how, callErr)
			mu.Unlock()
			if st := e.Booking(t, buyer, b.GetId()).GetStatus(); st == bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED {
				t.Fatalf("booking %v", st)
			}
			if n := e.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND status = 'refunded' AND refunded_amount = amount`, p.GetId()); n != 1 {
				t.Fatal("payment not refunded in full")
			}
			if z := e.Zone(t, s); z.GetAvailable() != 4 {
				t.Fatalf("zone %v", z)
			}
			e.Drained(t, "booking-persister", topic.BookingEvents)
			e.AuditMoney(t, e.prefix)
		})
	}
}

func fxSupply(h *saga.Hooks) fx.Option { return fx.Supply(h) }
