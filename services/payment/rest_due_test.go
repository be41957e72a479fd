package payment_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/gen/bookingrush/catalog/v1/catalogv1connect"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

// fiveDaysAhead puts a show where a buyer's cancel gets 50% back under the
// refund policy.
const fiveDaysAhead = 5*24*time.Hour + 2*time.Hour

// cancelHalf has buyer cancel booking b, paid by p, five days before the
// show: 25.00 of the 50.00 go back (the share, at the stand-in).
func (e *env) cancelHalf(t *testing.T, buyer string, b *bookingv1.Booking, p *paymentv1.Payment) {
	t.Helper()
	if _, err := e.booking.CancelBooking(context.Background(), testkit.As(t, e.Mesh, buyer, authn.RoleUser,
		&bookingv1.CancelBookingRequest{BookingId: b.GetId()})); err != nil {
		t.Fatalf("the buyer cancels: %v", err)
	}
	if got := e.getPayment(t, buyer, p.GetId()); got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED ||
		got.GetRefundedAmount() != "25.00" {
		t.Fatalf("the buyer's cancel five days before the show: %v, want 25.00 back", got)
	}
}

// cancelAsTheShareFails has the shop's organizer cancel its event through
// the catalog (which has the payment service refund every paid booking)
// while the stand-in holds the answers of the next held refunds it makes:
// once they are all held, Stripe reports that the refund of the share of
// buyer's payment p failed (a closed card), and once that is recorded the
// refunds answer and the cancellation finishes.
func (e *env) cancelAsTheShareFails(t *testing.T, stand *standIn, s testkit.Shop, buyer string, p *paymentv1.Payment, held int) {
	t.Helper()
	arrived, release := stand.holdRefunds(t, held)
	catalog := catalogv1connect.NewCatalogServiceClient(server.NewClient(), e.URL(t, "catalog"))
	req := testkit.As(t, e.Mesh, s.Organizer, authn.RoleOrganizer, &catalogv1.CancelEventRequest{EventId: s.Event, Reason: "storm"})
	done := make(chan error, 1)
	go func() {
		_, err := catalog.CancelEvent(context.Background(), req)
		done <- err
	}()
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatalf("the cancellation did not make %d refunds", held)
	}
	e.sendEvent(t, "refund.failed", stand.failRefundOf(t, p.GetProviderReference(), "share", "expired_or_canceled_card"))
	e.waitPayment(t, buyer, p.GetId(), paymentv1.PaymentStatus_PAYMENT_STATUS_REFUND_FAILED, 10*time.Second)
	release()
	if err := <-done; err != nil {
		t.Fatalf("cancel the event: %v", err)
	}
}

// TestEventCancelledAsARefundFailsGivesTheRest: a buyer cancelled five days
// before the show and got 25.00 of 50.00 back; the organizer then cancels
// the event, and while the cancellation works through its paid bookings
// (8 refunds at a time, all of them held at the provider here) Stripe
// reports that the buyer's 25.00 failed. Before, the cancellation decided
// from the payment as listed before it started (refunded in part) and, on
// reaching it refund_failed, neither gave the rest nor recorded it as due:
// the admins saw 25.00 owed, the admin's retry gave back 25.00 and the
// buyer of a cancelled event ended with half the price, the money audit
// content. Now the rest is recorded as due whatever became of the share
// meanwhile: 50.00 owed, and the admin's retry gives the share and then the
// rest.
func TestEventCancelledAsARefundFailsGivesTheRest(t *testing.T) {
	t.Parallel()
	stand := newStandIn(t, 0)
	e := startStripe(t, stand.URL)
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 18, Users: 9, ShowIn: fiveDaysAhead, Price: "25.00"})
	// Eight purchases before the buyer's fill the cancellation's eight
	// refunds at a time (the buyer's is listed last, oldest first).
	for _, u := range s.Users[:8] {
		e.paidThroughStandIn(t, s, u)
	}
	buyer := s.Users[8]
	b, p := e.paidThroughStandIn(t, s, buyer)
	e.cancelHalf(t, buyer, b, p)

	e.cancelAsTheShareFails(t, stand, s, buyer, p, 8)

	got := e.getPayment(t, buyer, p.GetId())
	if got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUND_FAILED || got.GetRefundOwed() != "50.00" {
		t.Fatalf("the cancelled event's payment whose share failed meanwhile: %v, want refund_failed with 50.00 owed (the share and the rest)", got)
	}
	if n := e.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND rest_due_cause = 'REFUND_CAUSE_ORGANIZER_CANCELLED'`, p.GetId()); n != 1 {
		t.Fatal("the rest is not recorded as due")
	}
	e.retryGivesTheWholePrice(t, stand, p, 9)
}

// TestShareFailsWhileTheRestIsRefunded: the organizer cancels the event of
// a buyer who had cancelled for 25.00 of 50.00, and Stripe reports that
// 25.00 failed while the cancellation's refund of the other 25.00 (the
// rest) is on its way. Before, the rest's record found the payment no
// longer refunded in part and recorded nothing: the rest was back with the
// buyer at Stripe but not in our records (0.00 back, 25.00 owed, no rest
// event), and after the admin's retry the payment said 25.00 back, in part,
// for a cancelled event. Now the rest is recorded (25.00 back, the share's
// 25.00 owed), and the retry completes the price.
func TestShareFailsWhileTheRestIsRefunded(t *testing.T) {
	t.Parallel()
	stand := newStandIn(t, 0)
	e := startStripe(t, stand.URL)
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 4, ShowIn: fiveDaysAhead, Price: "25.00"})
	buyer := s.Users[0]
	b, p := e.paidThroughStandIn(t, s, buyer)
	e.cancelHalf(t, buyer, b, p)

	e.cancelAsTheShareFails(t, stand, s, buyer, p, 1) // the rest's refund

	got := e.getPayment(t, buyer, p.GetId())
	if got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUND_FAILED || got.GetRefundedAmount() != "25.00" || got.GetRefundOwed() != "25.00" {
		t.Fatalf("the payment whose share failed while its rest was refunded: %v, want refund_failed, the rest's 25.00 back and the share's 25.00 owed", got)
	}
	if n := e.Count(t, `SELECT count(*) FROM outbox WHERE aggregate_id = $1 AND topic = 'payment.refunded'`, p.GetId()); n != 2 {
		t.Fatalf("%d payment.refunded events, want the share's and the rest's", n)
	}
	e.retryGivesTheWholePrice(t, stand, p, 1)
}

// retryGivesTheWholePrice has an admin retry the failed refund of payment
// p: it ends refunded 50.00, the whole charge back at the stand-in, and the
// money audit counts refunded payments, all settled.
func (e *env) retryGivesTheWholePrice(t *testing.T, stand *standIn, p *paymentv1.Payment, refunded int) {
	t.Helper()
	got := e.refundPaymentAs(t, uuid.NewString(), authn.RoleAdmin, p.GetId())
	if got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED || got.GetRefundedAmount() != "50.00" {
		t.Fatalf("an admin's retry: %v, want refunded 50.00 (the whole price of a cancelled event)", got)
	}
	if back := stand.backOf(p.GetProviderReference()); back != standInCharge {
		t.Fatalf("%d cents back with the buyer at the provider, want the whole %d", back, standInCharge)
	}
	if r := e.AuditMoneySettled(t, e.prefix); r.Refunded != refunded || r.RefundFailed != 0 {
		t.Fatalf("money audit %v, want %d refunded", r, refunded)
	}
}
