package payment_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/services/payment"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/testkit"
)

// sendIntentEvent sends a signed Stripe event of type typ about payment p's
// PaymentIntent, whose object has the fields of intent besides its id, the
// object name and our metadata.
func (e *env) sendIntentEvent(t *testing.T, typ string, p *paymentv1.Payment, intent map[string]any) {
	t.Helper()
	object := map[string]any{"id": p.GetProviderReference(), "object": "payment_intent", "metadata": map[string]string{"payment_id": p.GetId()}}
	maps.Copy(object, intent)
	e.sendEvent(t, typ, object)
}

// set sets the status of the stand-in's intent id (the buyer paid it, or it
// was cancelled at Stripe).
func (s *crashStripe) set(id, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intents[id] = status
}

// cardPayment starts the payment service on a Stripe stand-in (crashStripe,
// not hanging) with args, and has a buyer of a new shop pay a hold of qty
// seats by card: the payment is pending, its intent open.
func cardPayment(t *testing.T, qty int, args ...string) (*env, *crashStripe, testkit.Shop, *bookingv1.Booking, *paymentv1.Payment) {
	t.Helper()
	stripe := newCrashStripe(t)
	e := startStripe(t, stripe.URL, args...)
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 4})
	b := e.Reserve(t, s, s.Users[0], qty)
	p, err := e.pay(t, s.Users[0], b.GetId(), "card")
	if err != nil {
		t.Fatal(err)
	}
	return e, stripe, s, b, p
}

// TestAnOpenIntentLivesAsLongAsItsHold: a hold that lives longer than
// payment.stale-after (a waitlist offer lives booking.waitlist-offer-ttl, 30
// minutes, against 15; or a hold-ttl set above it) is paid by a buyer who
// is still in their bank's 3-D Secure step when stale-after has passed. The
// reconciler asked the provider, found the intent open and cancelled it,
// recording the payment failed: the buyer was cut off while their hold
// lived. An open intent is cancelled once its hold expired, not before.
func TestAnOpenIntentLivesAsLongAsItsHold(t *testing.T) {
	t.Parallel()
	stripe := newCrashStripe(t)
	e := startStripe(t, stripe.URL, "-payment.reconcile-interval=200ms", "-payment.stale-after=1s", "-booking.hold-ttl=8s")
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 4})
	buyer := s.Users[0]
	paying, abandoned := e.Reserve(t, s, buyer, 1), e.Reserve(t, s, buyer, 1)
	var pays []*paymentv1.Payment
	for _, b := range []*bookingv1.Booking{paying, abandoned} {
		p, err := e.pay(t, buyer, b.GetId(), "card")
		if err != nil {
			t.Fatal(err)
		}
		pays = append(pays, p)
	}

	time.Sleep(3 * time.Second) // stale-after passed 2 s ago (10 passes); the holds live 5 s more
	for _, p := range pays {
		got := e.getPayment(t, buyer, p.GetId())
		if st, _ := stripe.state(p.GetProviderReference()); st != "requires_payment_method" || got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_PENDING {
			t.Fatalf("a payment whose hold lives, stale-after past: intent %q at the provider, payment %v (%q): the buyer is cut off",
				st, got.GetStatus(), got.GetFailedReason())
		}
	}
	// The buyer finishes 3-D Secure in time: paid and confirmed.
	stripe.set(pays[0].GetProviderReference(), "succeeded")
	e.sendIntentEvent(t, "payment_intent.succeeded", pays[0], map[string]any{"status": "succeeded"})
	e.waitBooking(t, buyer, paying.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED, 15*time.Second)

	// Nobody finished the other one: once its hold expired, its intent is
	// cancelled and the payment failed.
	got := e.waitPayment(t, buyer, pays[1].GetId(), paymentv1.PaymentStatus_PAYMENT_STATUS_FAILED, 20*time.Second)
	if st, _ := stripe.state(pays[1].GetProviderReference()); st != "canceled" {
		t.Fatalf("the abandoned payment failed (%q) but its intent is %q at the provider", got.GetFailedReason(), st)
	}
	// Failed once its hold's deadline passed; the sweeper marks the hold
	// expired up to 2 s after it, maybe after this payment failed.
	if failed, exp := got.GetUpdatedAt().AsTime(), abandoned.GetExpiresAt().AsTime(); failed.Before(exp) {
		t.Fatalf("the abandoned payment failed at %v, before its hold expired at %v", failed, exp)
	}
	testkit.Eventually(t, 10*time.Second, "the abandoned hold expired", func() bool {
		return e.Booking(t, buyer, abandoned.GetId()).GetStatus() == bookingv1.BookingStatus_BOOKING_STATUS_EXPIRED
	})
	if r := e.AuditMoneySettled(t, e.prefix); r.Confirmed != 1 || len(r.Violations) != 0 {
		t.Fatalf("money audit %v", r)
	}
}

// TestIntentCancelledAtTheProvider: a PaymentIntent cancelled at Stripe
// (in the dashboard, by the buyer's bank flow, or by Stripe) can never be
// paid; Stripe says so with payment_intent.canceled. That event was
// ignored: the payment stayed pending until payment.stale-after (longer
// than the hold), and meanwhile its buyer could not pay the hold another
// way ("this booking already has a payment"), so they lost the seats. The
// payment fails with the cancellation's reason, and the buyer pays again.
func TestIntentCancelledAtTheProvider(t *testing.T) {
	t.Parallel()
	e, stripe, s, b, first := cardPayment(t, 2)
	buyer := s.Users[0]
	stripe.set(first.GetProviderReference(), "canceled")
	e.sendIntentEvent(t, "payment_intent.canceled", first, map[string]any{"status": "canceled", "cancellation_reason": "requested_by_customer"})

	got := e.getPayment(t, buyer, first.GetId())
	if got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_FAILED || got.GetFailedReason() != "the payment was cancelled at your request" {
		t.Fatalf("payment after its intent was cancelled at the provider: %v (%q), want failed, saying why", got.GetStatus(), got.GetFailedReason())
	}
	second, err := e.pay(t, buyer, b.GetId(), "card")
	if err != nil {
		t.Fatalf("paying the hold again after the cancelled intent: %v", err)
	}
	stripe.set(second.GetProviderReference(), "succeeded")
	e.sendIntentEvent(t, "payment_intent.succeeded", second, map[string]any{"status": "succeeded"})
	e.waitBooking(t, buyer, b.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED, 15*time.Second)
	// A second delivery changes nothing.
	e.sendIntentEvent(t, "payment_intent.canceled", first, map[string]any{"status": "canceled", "cancellation_reason": "requested_by_customer"})
	if got := e.getPayment(t, buyer, second.GetId()); got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED {
		t.Fatalf("the payment that paid the hold: %v", got.GetStatus())
	}
	if r := e.AuditMoneySettled(t, e.prefix); r.Confirmed != 1 || len(r.Violations) != 0 {
		t.Fatalf("money audit %v", r)
	}
}

// TestStripeRefusingOurKeyIsUnavailable: Stripe refuses the API key (401,
// a key rotated or mistyped; 403, a restricted key without the permission).
// That is our dependency failing, not the buyer's card: before, the buyer
// got 402 PAYMENT_FAILED "the payment provider refused: Invalid API Key
// provided", no 5xx reached the operators' alerts, and every payment was
// recorded failed. It is a 503 naming stripe, and a retry with the same
// Idempotency-Key once the key is fixed creates the payment.
func TestStripeRefusingOurKeyIsUnavailable(t *testing.T) {
	t.Parallel()
	var refuse atomic.Int32
	refuse.Store(http.StatusUnauthorized)
	stripe := newCrashStripe(t)
	target, _ := neturl.Parse(stripe.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch code := int(refuse.Load()); code {
		case http.StatusUnauthorized:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_***123"}}`))
		case http.StatusForbidden:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","message":"The provided key 'rk_test_***123' does not have the required permissions for this endpoint."}}`))
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(front.Close)
	e := startStripe(t, front.URL)
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 4})
	buyer := s.Users[0]
	b := e.Reserve(t, s, buyer, 1)
	key := "pay-" + uuid.NewString()
	for _, status := range []int32{http.StatusUnauthorized, http.StatusForbidden} {
		refuse.Store(status)
		_, err := e.payKey(t, buyer, b.GetId(), "card", key)
		if !errs.Is(err, errs.ServiceUnavailable) || !strings.Contains(err.Error(), "stripe") || strings.Contains(err.Error(), "sk_test") {
			t.Fatalf("Stripe refusing our key (%d): %v, want SERVICE_UNAVAILABLE naming stripe, without the key", status, err)
		}
	}
	refuse.Store(0)
	res, err := e.payKey(t, buyer, b.GetId(), "card", key)
	if err != nil || res.Msg.GetPayment().GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_PENDING || res.Msg.GetPayment().GetClientSecret() == "" {
		t.Fatalf("the retry once the key works: %v %v", res, err)
	}
}

// TestStripeErrorsByWhoseTheyAre: a refusal from Stripe is the buyer's (402
// PAYMENT_FAILED) only when it is about their card or the payment method
// they chose; any other refusal of our request is a 503 naming stripe,
// logged as an error. Before, every 4xx but 401, 403 and 429 read as the
// buyer's card refused: a parameter we sent wrong, an idempotency key
// reused with other parameters, an object of ours Stripe does not know.
func TestStripeErrorsByWhoseTheyAre(t *testing.T) {
	t.Parallel()
	type answer struct {
		status int
		body   string
	}
	var next atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		a := next.Load().(answer)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	t.Cleanup(srv.Close)
	core, logs := observer.New(zap.WarnLevel)
	st, err := payment.NewStripe(payment.StripeConfig{SecretKey: "sk_test_123", WebhookSecret: webhookSecret, APIURL: srv.URL}, srv.Client(), zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name                   string
		status                 int
		typ, code, param       string
		buyers, tellsOperators bool
	}{
		{"a declined card", http.StatusPaymentRequired, "card_error", "card_declined", "", true, false},
		{"3-D Secure failed", http.StatusBadRequest, "invalid_request_error", "payment_intent_authentication_failure", "", true, false},
		{"the buyer's PaymentMethod id unknown", http.StatusBadRequest, "invalid_request_error", "resource_missing", "payment_method", true, false},
		{"a method type the account has not activated", http.StatusBadRequest, "invalid_request_error", "payment_method_unactivated", "", true, true},
		{"a parameter we sent unknown", http.StatusBadRequest, "invalid_request_error", "parameter_unknown", "metadata[x]", false, false},
		{"an amount Stripe does not take", http.StatusBadRequest, "invalid_request_error", "amount_too_small", "amount", false, false},
		{"our idempotency key with other parameters", http.StatusBadRequest, "idempotency_error", "", "", false, false},
		{"an intent of ours unknown", http.StatusNotFound, "invalid_request_error", "resource_missing", "intent", false, false},
	} {
		body, _ := json.Marshal(map[string]any{"error": map[string]string{"type": c.typ, "code": c.code, "param": c.param, "message": "refused: " + c.name}})
		next.Store(answer{c.status, string(body)})
		logs.TakeAll()
		_, _, err := st.CreateIntent(context.Background(), payment.Intent{PaymentID: uuid.NewString(), Method: "pm_card_visa", AmountCents: 100, Currency: "USD"})
		got := errs.FromConnect(err)
		ours := logs.FilterMessageSnippet("not the buyer's card").FilterField(zap.String("code", c.code)).Len()
		switch {
		case c.buyers && (got.Code != errs.PaymentFailed || !strings.Contains(got.Message, "refused: "+c.name)):
			t.Errorf("%s: %v, want the buyer's PAYMENT_FAILED with Stripe's message", c.name, err)
		case c.buyers && ours != 0:
			t.Errorf("%s: logged as a refusal of ours", c.name)
		case c.buyers && c.tellsOperators != (logs.FilterMessageSnippet("activate it in Stripe's dashboard").Len() == 1):
			t.Errorf("%s: operators told %v, want %v", c.name, !c.tellsOperators, c.tellsOperators)
		case !c.buyers && (got.Code != errs.ServiceUnavailable || got.Details["dependency"] != "stripe"):
			t.Errorf("%s: %v, want SERVICE_UNAVAILABLE naming stripe", c.name, err)
		case !c.buyers && ours != 1:
			t.Errorf("%s: %d error logs of a refusal of ours, want 1", c.name, ours)
		}
	}
}

// TestStripeRefusingOurRequestIsUnavailable: Stripe refuses a request of
// ours for a reason that is not the buyer's (an unknown parameter: a
// defect of ours). Before, the buyer got 402 PAYMENT_FAILED "the payment
// provider refused: ...", for their payment and for their cancel's refund
// alike, and no 5xx reached the operators' alerts. It is a 503 naming
// stripe; a retry with the same Idempotency-Key once Stripe takes the
// request creates the payment, and the cancel retried refunds. A refusal
// about the buyer's payment method stays their 402.
func TestStripeRefusingOurRequestIsUnavailable(t *testing.T) {
	t.Parallel()
	var refuse atomic.Value
	refuse.Store("")
	stripe := newCrashStripe(t)
	target, _ := neturl.Parse(stripe.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if body := refuse.Load().(string); body != "" && r.Method == http.MethodPost {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(body))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	ours := `{"error":{"type":"invalid_request_error","code":"parameter_unknown","param":"metadata[x]","message":"Received unknown parameter: metadata[x]"}}`
	theirs := `{"error":{"type":"invalid_request_error","code":"payment_intent_authentication_failure","message":"The provided PaymentMethod has failed authentication."}}`
	e := startStripe(t, front.URL)
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 4, ShowIn: 10 * 24 * time.Hour})
	buyer := s.Users[0]
	unavailable := func(what string, err error) {
		t.Helper()
		if got := errs.FromConnect(err); got.Code != errs.ServiceUnavailable || got.Details["dependency"] != "stripe" {
			t.Fatalf("%s while Stripe refuses our request: %v, want SERVICE_UNAVAILABLE naming stripe", what, err)
		}
	}

	b := e.Reserve(t, s, buyer, 1)
	key := "pay-" + uuid.NewString()
	refuse.Store(ours)
	_, err := e.payKey(t, buyer, b.GetId(), "card", key)
	unavailable("the payment", err)
	refuse.Store("")
	res, err := e.payKey(t, buyer, b.GetId(), "card", key)
	if err != nil || res.Msg.GetPayment().GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_PENDING || res.Msg.GetPayment().GetClientSecret() == "" {
		t.Fatalf("the retry once Stripe takes the request: %v %v", res, err)
	}
	p := res.Msg.GetPayment()
	e.sendIntentEvent(t, "payment_intent.succeeded", p, map[string]any{"status": "succeeded"})
	e.waitBooking(t, buyer, b.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED, 15*time.Second)

	cancel := func() (*paymentv1.Payment, error) {
		r, err := e.payment.RefundPayment(context.Background(), testkit.As(t, e.Mesh, buyer, authn.RoleUser, &paymentv1.RefundPaymentRequest{PaymentId: p.GetId()}))
		if err != nil {
			return nil, err
		}
		return r.Msg.GetPayment(), nil
	}
	refuse.Store(ours)
	_, err = cancel()
	unavailable("the cancel's refund", err)
	refuse.Store("")
	if pay, err := cancel(); err != nil || pay.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED {
		t.Fatalf("the cancel retried once Stripe takes the refund: %v %v", pay, err)
	}

	other := e.Reserve(t, s, buyer, 1)
	refuse.Store(theirs)
	if _, err := e.payKey(t, buyer, other.GetId(), "pm_card_visa", "pay-"+uuid.NewString()); code(err) != connect.CodeFailedPrecondition {
		t.Fatalf("the buyer's payment method failing authentication: %v, want their 402 (failed precondition)", err)
	}
}

// TestMoneyForAFailedPaymentBeatsAnOpenOne: the buyer's card is declined
// (payment_failed: the payment fails, its intent stays open), the buyer
// starts paying again (a second payment, its intent open), and then pays
// the first intent with another card in the form still open in their first
// tab. That money arrived in time for a live hold, and nothing else paid
// it: before, it was taken for a duplicate charge and refunded, while the
// second payment was never finished and the hold expired: the buyer paid
// correctly and got no ticket. The money that arrived pays the booking; the
// open payment is failed and its intent cancelled (a charge of it that
// still came would be a duplicate, refunded in full).
func TestMoneyForAFailedPaymentBeatsAnOpenOne(t *testing.T) {
	t.Parallel()
	e, stripe, s, b, first := cardPayment(t, 2)
	buyer := s.Users[0]
	e.sendIntentEvent(t, "payment_intent.payment_failed", first, map[string]any{"status": "requires_payment_method",
		"last_payment_error": map[string]any{"type": "card_error", "code": "card_declined", "message": "Your card was declined."}})
	e.waitPayment(t, buyer, first.GetId(), paymentv1.PaymentStatus_PAYMENT_STATUS_FAILED, 5*time.Second)
	second, err := e.pay(t, buyer, b.GetId(), "card")
	if err != nil {
		t.Fatal(err)
	}
	stripe.set(first.GetProviderReference(), "succeeded")
	e.sendIntentEvent(t, "payment_intent.succeeded", first, map[string]any{"status": "succeeded"})

	e.waitBooking(t, buyer, b.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED, 15*time.Second)
	if got := e.getPayment(t, buyer, first.GetId()); got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED {
		t.Fatalf("the payment whose money arrived: %v (refunded %q)", got.GetStatus(), got.GetRefundedAmount())
	}
	if got := e.getPayment(t, buyer, second.GetId()); got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_FAILED || got.GetFailedReason() == "" {
		t.Fatalf("the open payment after the other was charged: %v (%q)", got.GetStatus(), got.GetFailedReason())
	}
	testkit.Eventually(t, 5*time.Second, "the open payment's intent cancelled", func() bool {
		st, _ := stripe.state(second.GetProviderReference())
		return st == "canceled"
	})
	// Had the buyer paid it all the same, that money is a duplicate charge.
	stripe.set(second.GetProviderReference(), "succeeded")
	e.sendIntentEvent(t, "payment_intent.succeeded", second, map[string]any{"status": "succeeded"})
	if got := e.getPayment(t, buyer, second.GetId()); got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED {
		t.Fatalf("a charge of the superseded payment: %v", got.GetStatus())
	}
	if r := e.AuditMoneySettled(t, e.prefix); r.Confirmed != 1 || r.Refunded != 1 || len(r.Violations) != 0 {
		t.Fatalf("money audit %v", r)
	}
}
