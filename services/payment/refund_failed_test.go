package payment_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/google/uuid"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/moneyaudit"
	"github.com/bookingrush/rush/services/testkit"
)

// refundPaymentAs asks RefundPayment of payment id as user with role.
func (e *env) refundPaymentAs(t *testing.T, user, role, id string) *paymentv1.Payment {
	t.Helper()
	r, err := e.payment.RefundPayment(context.Background(), testkit.As(t, e.Mesh, user, role, &paymentv1.RefundPaymentRequest{PaymentId: id}))
	if err != nil {
		t.Fatalf("refund of %s as %s: %v", id, role, err)
	}
	return r.Msg.GetPayment()
}

// expectRefundFailed checks that payment p (of buyer) is recorded with its
// refund failed for reason: nothing counts as given back, the money audit
// reports it open (not settled, no violation), and the failure applied once.
func (e *env) expectRefundFailed(t *testing.T, buyer string, p *paymentv1.Payment, reason string) {
	t.Helper()
	got := e.waitPayment(t, buyer, p.GetId(), paymentv1.PaymentStatus_PAYMENT_STATUS_REFUND_FAILED, 10*time.Second)
	if got.GetRefundedAmount() != "0.00" || got.GetRefundFailureReason() != reason {
		t.Fatalf("payment whose refund failed: %v", got)
	}
	r, err := moneyaudit.Check(context.Background(), e.Pool, e.Redis, e.prefix)
	if err != nil {
		t.Fatal(err)
	}
	if r.RefundFailed != 1 || r.Open != 1 || r.Refunded != 0 || !r.OK() {
		t.Fatalf("money audit %v %v, want the payment open with its refund failed (not refunded)", r, r.Violations)
	}
	if n := e.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND refund_failures = 1`, p.GetId()); n != 1 {
		t.Fatalf("the failure was not counted once")
	}
	if n := e.Count(t, `SELECT count(*) FROM audit_logs WHERE action = 'payment.refund_failed' AND entity_id = $1
		AND new_values->>'failure_reason' = $2`, p.GetId(), reason); n != 1 {
		t.Fatalf("%d refund_failed audit entries, want 1", n)
	}
}

// TestRefundThatFailsAtTheProvider: Stripe accepted a buyer's refund, and
// days later it failed (the card was closed: refund.failed, then
// refund.updated of the same failure; the money is back on our account).
// Before, the payment stayed "refunded": the buyer had neither the money
// nor the ticket, and the money audit called it settled. Now only a failed
// refund of ours counts (marker and intent), it applies once, the payment
// is refund_failed with Stripe's reason and open in the money audit, nothing
// retries it by itself (a closed card refuses again) nor its buyer's
// RefundPayment, and an admin's retry refunds it under a new idempotency
// key, after which it is refunded and the money audit settled. The failure
// is published once (payment.refund-failed: its buyer is mailed), and the
// retry's payment.refunded names the failure it makes good.
func TestRefundThatFailsAtTheProvider(t *testing.T) {
	t.Parallel()
	stand := newStandIn(t, 0)
	e, buyer, b, p := paidAtStripe(t, stand.URL, 10*24*time.Hour, "-payment.reconcile-interval=200ms")
	pi := p.GetProviderReference()
	if got := e.refundPaymentAs(t, buyer, authn.RoleUser, p.GetId()); got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED {
		t.Fatalf("refund: %v", got)
	}
	failed := stand.failRefund(t, pi, "expired_or_canceled_card")

	// Failed refunds that are none of ours change nothing.
	notOurs := func(edit func(obj map[string]any)) map[string]any {
		obj := maps.Clone(failed)
		obj["id"] = "re_" + uuid.NewString()
		edit(obj)
		return obj
	}
	for _, obj := range []map[string]any{
		notOurs(func(o map[string]any) { o["metadata"] = map[string]string{} }), // made by hand in the dashboard
		notOurs(func(o map[string]any) { o["payment_intent"] = "pi_someone_else" }),
		notOurs(func(o map[string]any) {
			o["metadata"] = map[string]string{"payment_id": uuid.NewString(), "rush_refund": "share"}
		}),
	} {
		e.sendEvent(t, "refund.failed", obj)
	}
	if got := e.getPayment(t, buyer, p.GetId()); got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED {
		t.Fatalf("a failed refund that is not ours changed the payment: %v", got)
	}

	e.sendEvent(t, "refund.failed", failed)
	e.sendEvent(t, "refund.updated", failed) // the same failure, another event
	e.expectRefundFailed(t, buyer, p, "expired_or_canceled_card")
	if st := e.Booking(t, buyer, b.GetId()).GetStatus(); st != bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED {
		t.Fatalf("booking %v, want it to stay refunded (its seats are sold again)", st)
	}

	// Nothing retries it by itself: not the reconciler (every 200 ms), not
	// its buyer.
	posts := stand.refundPosts()
	if got := e.refundPaymentAs(t, buyer, authn.RoleUser, p.GetId()); got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUND_FAILED {
		t.Fatalf("the buyer's refund call on a failed refund: %v", got)
	}
	time.Sleep(time.Second)
	if n := stand.refundPosts(); n != posts {
		t.Fatalf("%d refund requests made after the failure, want none by themselves", n-posts)
	}
	if got := e.getPayment(t, buyer, p.GetId()); got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUND_FAILED {
		t.Fatalf("payment %v, want it to stay refund_failed until a person acts", got)
	}

	// An admin retries once the buyer's bank takes it.
	got := e.refundPaymentAs(t, uuid.NewString(), authn.RoleAdmin, p.GetId())
	if got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED || got.GetRefundedAmount() != "50.00" {
		t.Fatalf("an admin's retry: %v", got)
	}
	made := stand.refunds()
	if made["rush-refund-"+pi+"-retry-1"] != "5000" || len(made) != 2 {
		t.Fatalf("refunds made at the provider %v, want the first and the retry under a key of its own", made)
	}
	if r := e.AuditMoneySettled(t, e.prefix); r.Refunded != 1 || r.RefundFailed != 0 {
		t.Fatalf("money audit after the retry %v", r)
	}
	if n := e.Count(t, `SELECT count(*) FROM outbox WHERE aggregate_id = $1 AND topic = 'payment.refunded'`, p.GetId()); n != 2 {
		t.Fatalf("%d payment.refunded events, want the first refund's and the retry's (naming the failure it makes good)", n)
	}
	if n := e.Count(t, `SELECT count(*) FROM outbox WHERE aggregate_id = $1 AND topic = 'payment.refund-failed'`, p.GetId()); n != 1 {
		t.Fatalf("%d payment.refund-failed events, want one (the failure, reported twice, told once)", n)
	}
	// A late copy of the old failure changes nothing now.
	e.sendEvent(t, "refund.updated", failed)
	if got := e.getPayment(t, buyer, p.GetId()); got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED {
		t.Fatalf("payment %v after a late copy of the old failure", got)
	}
}

// refundThatFails has the buyer refund payment p (refunded: the amount
// the refund answers as back), then fails the stand-in's last refund of it
// (a closed card) and tells the service so: it answers the payment once it
// is refund_failed.
func (e *env) refundThatFails(t *testing.T, stand *standIn, buyer string, p *paymentv1.Payment, refunded string) *paymentv1.Payment {
	t.Helper()
	if got := e.refundPaymentAs(t, buyer, authn.RoleUser, p.GetId()); got.GetRefundedAmount() != refunded {
		t.Fatalf("refund: %v, want %s back", got, refunded)
	}
	e.sendEvent(t, "refund.failed", stand.failRefund(t, p.GetProviderReference(), "expired_or_canceled_card"))
	return e.waitPayment(t, buyer, p.GetId(), paymentv1.PaymentStatus_PAYMENT_STATUS_REFUND_FAILED, 10*time.Second)
}

// TestRetryOfAFailedRefundOfAChargeRefundedByHand: 12.00 of the 50.00
// charge had gone back by hand, so the buyer's refund gave back the rest,
// 38.00, and that rest failed at Stripe (the payment holds 12.00 as back).
// Then another 5.00 went back by hand, and an admin retries: 38.00 no
// longer fits in what is left (33.00), so only the rest is refunded, and
// the buyer has the whole 50.00 back. Before, the retry read the charge's
// 17.00 refunded as all gone back by hand, gave back 21.00 (38.00 less
// 17.00) and recorded 50.00 as back: the buyer was 12.00 short and the
// money audit called the payment settled.
func TestRetryOfAFailedRefundOfAChargeRefundedByHand(t *testing.T) {
	t.Parallel()
	stand := newStandIn(t, 1200)
	e, buyer, _, p := paidAtStripe(t, stand.URL, 10*24*time.Hour)
	pi := p.GetProviderReference()
	if got := e.refundThatFails(t, stand, buyer, p, "50.00"); got.GetRefundedAmount() != "12.00" {
		t.Fatalf("payment whose rest failed: %v, want the 12.00 back by hand kept", got)
	}

	stand.refundByHand(pi, 500)
	got := e.refundPaymentAs(t, uuid.NewString(), authn.RoleAdmin, p.GetId())
	if got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED || got.GetRefundedAmount() != "50.00" {
		t.Fatalf("an admin's retry: %v", got)
	}
	if back := stand.backOf(pi); back != standInCharge {
		t.Fatalf("%d cents back with the buyer at the provider, want the whole %d", back, standInCharge)
	}
	if made := stand.refunds(); made["rush-refund-"+pi+"-rest-3300-retry-1"] != "3300" {
		t.Fatalf("refunds made at the provider %v, want the rest of 33.00 under a retry's key", made)
	}
	if r := e.AuditMoneySettled(t, e.prefix); r.Refunded != 1 || r.RefundFailed != 0 {
		t.Fatalf("money audit after the retry %v", r)
	}
}

// TestRetryOfAFailedRefundRecordedADayLater: a buyer's 25.00 refund failed
// at Stripe; an admin's retry made the refund again at Stripe, but its
// record failed (the commit after the provider call), and the admin
// retries again more than a day later, when Stripe has forgotten the
// retry's idempotency key. Before, a retry never looked for the refund an
// earlier attempt made (the lookup would have answered the failed first
// one): the buyer was paid back twice. Each retry's refund is marked with
// its number, and the second retry adopts the first retry's refund.
func TestRetryOfAFailedRefundRecordedADayLater(t *testing.T) {
	t.Parallel()
	stand := newStandIn(t, 0)
	e, buyer, _, p := paidAtStripe(t, stand.URL, 5*24*time.Hour)
	pi := p.GetProviderReference()
	e.refundThatFails(t, stand, buyer, p, "25.00")

	restore := e.failRefundRecords(t)
	admin := uuid.NewString()
	if _, err := e.payment.RefundPayment(context.Background(), testkit.As(t, e.Mesh, admin, authn.RoleAdmin,
		&paymentv1.RefundPaymentRequest{PaymentId: p.GetId()})); err == nil {
		t.Fatal("the retry was recorded although its commit failed")
	}
	stand.advance(25 * time.Hour)
	restore()

	got := e.refundPaymentAs(t, admin, authn.RoleAdmin, p.GetId())
	if got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED || got.GetRefundedAmount() != "25.00" {
		t.Fatalf("the retry a day later: %v", got)
	}
	if back := stand.backOf(pi); back != 2500 {
		t.Fatalf("%d cents back with the buyer at the provider, want 2500 (the failed refund's, made again once)", back)
	}
	made := stand.refundsOf(pi)
	if len(made) != 2 || made[1].Metadata["rush_retry"] != "1" {
		t.Fatalf("refunds at the provider %+v, want the failed one and one retry marked as the first", made)
	}
	if n := e.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND refund_reference = $2`, p.GetId(), made[1].ID); n != 1 {
		t.Fatalf("the payment does not record the retry's refund (%s)", made[1].ID)
	}
}

// TestRefundFailedWithoutItsWebhook: the endpoint was not subscribed to the
// refund events (set up before they were required) and the refund fails at
// Stripe: the reconciler finds refund.failed in Stripe's events API and
// records it as the webhook would have; a refund that succeeded (a
// refund.updated of it) changes nothing.
func TestRefundFailedWithoutItsWebhook(t *testing.T) {
	t.Parallel()
	stand := newStandIn(t, 0)
	front, add := withEventsAPI(t, stand.URL)
	e, buyer, _, p := paidAtStripe(t, front, 10*24*time.Hour, "-payment.reconcile-interval=200ms", "-payment.event-lag=1s")
	e.refundPaymentAs(t, buyer, authn.RoleUser, p.GetId())
	pi := p.GetProviderReference()
	ok := maps.Clone(stand.refundsOfAsStripe(pi)[0])
	add(map[string]any{"id": "evt_" + uuid.NewString(), "object": "event", "type": "refund.updated", "api_version": "2020-08-27",
		"created": time.Now().Unix(), "data": map[string]any{"object": ok}})
	add(map[string]any{"id": "evt_" + uuid.NewString(), "object": "event", "type": "refund.failed", "api_version": "2020-08-27",
		"created": time.Now().Unix(), "data": map[string]any{"object": stand.failRefund(t, pi, "lost_or_stolen_card")}})
	e.expectRefundFailed(t, buyer, p, "lost_or_stolen_card")
}

// refundsOfAsStripe answers the refunds made of the intent as Stripe shows
// them, oldest first.
func (s *standIn) refundsOfAsStripe(pi string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, re := range s.made {
		if re.Intent == pi {
			out = append(out, s.refundObject(re))
		}
	}
	return out
}
