package payment_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/IBM/sarama"
	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v82/webhook"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/proto"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/lua"
	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/payment"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/testkit"
)

func TestRefundPercent(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	buyer := paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED
	for _, tc := range []struct {
		name      string
		cause     paymentv1.RefundCause
		showIn    time.Duration
		cancelled bool
		want      int64
	}{
		{"30 days ahead", buyer, 30 * day, false, 100},
		{"just over 7 days", buyer, 7*day + time.Second, false, 100},
		{"exactly 7 days", buyer, 7 * day, false, 50},
		{"5 days", buyer, 5 * day, false, 50},
		{"exactly 3 days", buyer, 3 * day, false, 50},
		{"just under 3 days", buyer, 3*day - time.Second, false, 0},
		{"show started", buyer, -time.Hour, false, 0},
		{"event cancelled, 1 day", buyer, day, true, 100},
		{"organizer cancels, 1 day", paymentv1.RefundCause_REFUND_CAUSE_ORGANIZER_CANCELLED, day, false, 100},
		{"money after the hold, 1 day", paymentv1.RefundCause_REFUND_CAUSE_NOT_CONFIRMED, day, false, 100},
		{"an admin's refund in full, 1 day", paymentv1.RefundCause_REFUND_CAUSE_SUPPORT, day, false, 100},
	} {
		if got := payment.RefundPercent(tc.cause, now.Add(tc.showIn), now, tc.cancelled); got != tc.want {
			t.Errorf("%s: %d%%, want %d%%", tc.name, got, tc.want)
		}
	}
}

// signed returns a Stripe event for a PaymentIntent and its Stripe-Signature
// header computed with secret at ts.
func signed(eventID, typ, intentID, paymentID, secret string, ts time.Time) ([]byte, string) {
	payload, _ := json.Marshal(map[string]any{
		"id": eventID, "object": "event", "type": typ, "api_version": "2020-08-27", "created": ts.Unix(),
		"data": map[string]any{"object": map[string]any{"id": intentID, "object": "payment_intent",
			"metadata": map[string]string{"payment_id": paymentID}}},
	})
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: ts})
	return payload, sp.Header
}

func TestStripeVerifiesWebhookSignatures(t *testing.T) {
	t.Parallel()
	st, err := payment.NewStripe(payment.StripeConfig{SecretKey: "sk_test_x", WebhookSecret: webhookSecret, APIURL: "http://127.0.0.1:1"}, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	payload, sig := signed("evt_1", "payment_intent.succeeded", "pi_1", "7b0c3f0e-8d5e-4d6c-9a51-2f1f7e9a0b11", webhookSecret, now)
	ev, err := st.VerifyWebhook(payload, sig)
	if err != nil || ev.ID != "evt_1" || ev.Outcome != payment.OutcomeSucceeded || ev.ProviderPaymentID != "pi_1" ||
		ev.PaymentID != "7b0c3f0e-8d5e-4d6c-9a51-2f1f7e9a0b11" {
		t.Fatalf("valid event: %+v %v", ev, err)
	}
	_, wrongSecret := signed("evt_1", "payment_intent.succeeded", "pi_1", "", "whsec_other", now)
	tampered := bytes.Replace(payload, []byte("pi_1"), []byte("pi_2"), 1)
	_, old := signed("evt_1", "payment_intent.succeeded", "pi_1", "", webhookSecret, now.Add(-10*time.Minute))
	for name, c := range map[string]struct {
		payload []byte
		sig     string
	}{
		"wrong secret": {payload, wrongSecret}, "tampered body": {tampered, sig}, "no header": {payload, ""},
		"replayed after 10 minutes": {payload, old}, "garbage header": {payload, "t=1,v1=zz"},
	} {
		if _, err := st.VerifyWebhook(c.payload, c.sig); !errorsIs(err, payment.ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
	if _, err := payment.NewStripe(payment.StripeConfig{APIURL: "https://api.stripe.com"}, nil, zap.NewNop()); err == nil {
		t.Fatal("stripe without keys accepted")
	}
}

func errorsIs(err, target error) bool {
	return err != nil && strings.Contains(err.Error(), target.Error())
}

// TestStripeRequests runs the Stripe provider against a local stand-in of
// the API and checks what it sends: amount in cents, currency, our payment
// id in the metadata, idempotency keys; and how it reads answers.
func TestStripeRequests(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string]url.Values{}
	keys := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		mu.Lock()
		got[r.URL.Path], keys[r.URL.Path] = form, r.Header.Get("Idempotency-Key")
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer sk_test_123" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v1/payment_intents" && form.Get("payment_method") == "pm_card_declined":
			w.WriteHeader(http.StatusPaymentRequired)
			_, _ = w.Write([]byte(`{"error":{"type":"card_error","code":"card_declined","message":"Your card was declined."}}`))
		case r.URL.Path == "/v1/payment_intents":
			_, _ = w.Write([]byte(`{"id":"pi_123","object":"payment_intent","client_secret":"pi_123_secret_abc","status":"requires_payment_method"}`))
		case r.URL.Path == "/v1/refunds":
			_, _ = w.Write([]byte(`{"id":"re_456","object":"refund","status":"succeeded"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	st, err := payment.NewStripe(payment.StripeConfig{SecretKey: config.Secret("sk_test_123"), WebhookSecret: webhookSecret, APIURL: srv.URL}, srv.Client(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, secret, err := st.CreateIntent(ctx, payment.Intent{PaymentID: "pay-1", BookingID: "bk-1", UserID: "u-1", Method: "card", AmountCents: 9980, Currency: "USD"})
	if err != nil || id != "pi_123" || secret != "pi_123_secret_abc" {
		t.Fatalf("create intent: %q %q %v", id, secret, err)
	}
	f := got["/v1/payment_intents"]
	if f.Get("amount") != "9980" || f.Get("currency") != "usd" || f.Get("metadata[payment_id]") != "pay-1" ||
		f.Get("automatic_payment_methods[enabled]") != "true" || keys["/v1/payment_intents"] != "rush-intent-pay-1" {
		t.Fatalf("intent request %v, idempotency key %q", f, keys["/v1/payment_intents"])
	}
	ref, outside, err := st.Refund(ctx, payment.PaymentRef{PaymentID: "pay-1", ProviderID: "pi_123"}, 4990)
	if err != nil || ref != "re_456" || outside != 0 {
		t.Fatalf("refund: %q %d %v", ref, outside, err)
	}
	if f := got["/v1/refunds"]; f.Get("payment_intent") != "pi_123" || f.Get("amount") != "4990" || keys["/v1/refunds"] != "rush-refund-pi_123" ||
		f.Get("metadata[payment_id]") != "pay-1" || f.Get("metadata[rush_refund]") != "share" {
		t.Fatalf("refund request %v key %q", f, keys["/v1/refunds"])
	}
	_, _, err = st.CreateIntent(ctx, payment.Intent{PaymentID: "pay-2", Method: "pm_card_declined", AmountCents: 100, Currency: "USD"})
	if !errs.Is(err, errs.PaymentFailed) {
		t.Fatalf("declined card: %v", err)
	}
	if f := got["/v1/payment_intents"]; f.Get("confirm") != "true" || f.Get("payment_method") != "pm_card_declined" {
		t.Fatalf("pm_ request %v", f)
	}
}

// TestPayOK: reserve, pay with sim_ok: the simulator's signed webhook
// marks the payment succeeded, payment.success starts the saga, and the
// booking is confirmed within seconds; the amount is the server's.
func TestPayOK(t *testing.T) {
	t.Parallel()
	e := start(t)
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 10})
	buyer := s.Users[0]
	b := e.Reserve(t, s, buyer, 2)
	p, err := e.pay(t, buyer, b.GetId(), payment.SimOK)
	if err != nil {
		t.Fatal(err)
	}
	if p.GetAmount() != "99.80" || p.GetCurrency() != "USD" || p.GetProvider() != "simulator" || p.GetUserId() != buyer ||
		!strings.HasPrefix(p.GetProviderReference(), "simpi_") {
		t.Fatalf("payment %v", p)
	}
	e.waitBooking(t, buyer, b.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED, 15*time.Second)
	if got := e.getPayment(t, buyer, p.GetId()); got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED {
		t.Fatalf("payment after confirmation %v", got)
	}
	if z := e.Zone(t, s); z.GetSold() != 2 || z.GetHeld() != 0 || z.GetAvailable() != 8 {
		t.Fatalf("zone %v", z)
	}
	// One webhook event, one payment.success relayed (binary PaymentEvent).
	if n := e.Count(t, `SELECT count(*) FROM payment_webhook_events WHERE payment_id = $1 AND processed_at IS NOT NULL`, p.GetId()); n != 1 {
		t.Fatalf("%d webhook events", n)
	}
	testkit.Eventually(t, 10*time.Second, "outbox relayed", func() bool {
		return e.Count(t, `SELECT count(*) FROM outbox WHERE aggregate_id = $1 AND topic = 'payment.success' AND published_at IS NOT NULL`, p.GetId()) == 1
	})
	testkit.Eventually(t, 10*time.Second, "saga completed", func() bool {
		return e.Count(t, `SELECT count(*) FROM sagas WHERE payment_id = $1 AND status = 'completed'`, p.GetId()) == 1
	})
	// On Kafka: a binary PaymentEvent keyed by the payment id, with its
	// content type, as consumers (notify, analytics) read it.
	msgs := make(chan *sarama.ConsumerMessage, 10)
	r := e.Kafka.NewRunner("test-reader", []string{payment.TopicSuccess}, func(_ context.Context, m *sarama.ConsumerMessage) error {
		msgs <- m
		return nil
	})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer r.Stop(context.Background()) //nolint:errcheck
	select {
	case m := <-msgs:
		var ev paymentv1.PaymentEvent
		if err := proto.Unmarshal(m.Value, &ev); err != nil || string(m.Key) != p.GetId() ||
			kafka.Headers(m)["content-type"] != "application/x-protobuf; proto=bookingrush.payment.v1.PaymentEvent" ||
			ev.GetType() != payment.TopicSuccess || ev.GetPayment().GetId() != p.GetId() || ev.GetPayment().GetAmount() != "99.80" ||
			ev.GetPayment().GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED || uuid.Validate(ev.GetId()) != nil || ev.GetOccurredAt() == nil {
			t.Fatalf("payment.success message key %q headers %v event %v (%v)", m.Key, kafka.Headers(m), &ev, err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no payment.success message")
	}
	// Until notify exists, its step fails without undoing anything.
	if n := e.Count(t, `SELECT count(*) FROM saga_steps st JOIN sagas s ON s.id = st.saga_id
		WHERE s.payment_id = $1 AND st.name = 'send-notification' AND st.status IN ('failed', 'skipped')`, p.GetId()); n != 1 {
		t.Fatalf("notification step not recorded as failed or skipped")
	}
	// A second payment for the same booking is refused: one charge per booking.
	if _, err := e.pay(t, buyer, b.GetId(), payment.SimOK); !errs.Is(err, errs.Conflict) {
		t.Fatalf("second payment: %v", err)
	}
	testkit.Eventually(t, 10*time.Second, "Postgres agrees with Redis", func() bool {
		d, err := booking.Reconcile(context.Background(), e.Redis, e.Pool, e.prefix, s.Event)
		return err == nil && len(d) == 0
	})
}

// TestPayDeclined: a declined payment fails, the booking stays a hold and
// expires; no saga starts.
func TestPayDeclined(t *testing.T) {
	t.Parallel()
	e := start(t, "-booking.hold-ttl=2s", "-booking.idempotency-ttl=2s")
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 5})
	buyer := s.Users[0]
	b := e.Reserve(t, s, buyer, 1)
	p, err := e.pay(t, buyer, b.GetId(), payment.SimDeclined)
	if err != nil {
		t.Fatal(err)
	}
	failed := e.waitPayment(t, buyer, p.GetId(), paymentv1.PaymentStatus_PAYMENT_STATUS_FAILED, 10*time.Second)
	if failed.GetFailedReason() != "Your card was declined." {
		t.Fatalf("failed payment %v", failed)
	}
	if got := e.Booking(t, buyer, b.GetId()); got.GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_RESERVED {
		t.Fatalf("booking after a declined payment %v", got)
	}
	testkit.Eventually(t, 10*time.Second, "payment.failed relayed", func() bool {
		return e.Count(t, `SELECT count(*) FROM outbox WHERE aggregate_id = $1 AND topic = 'payment.failed' AND published_at IS NOT NULL`, p.GetId()) == 1
	})
	e.waitBooking(t, buyer, b.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_EXPIRED, 10*time.Second)
	if z := e.Zone(t, s); z.GetAvailable() != 5 || z.GetHeld() != 0 || z.GetSold() != 0 {
		t.Fatalf("zone after expiry %v", z)
	}
	if n := e.Count(t, `SELECT count(*) FROM sagas WHERE booking_id = $1`, b.GetId()); n != 0 {
		t.Fatalf("%d sagas for a declined payment", n)
	}
	// Paying an expired hold is refused.
	if _, err := e.pay(t, buyer, b.GetId(), payment.SimOK); !errs.Is(err, errs.ReservationExpired) {
		t.Fatalf("pay an expired hold: %v", err)
	}
}

// TestCreatePaymentRules: only the caller's own live hold can be paid, and
// nothing the client sends sets the amount.
func TestCreatePaymentRules(t *testing.T) {
	t.Parallel()
	e := start(t, "-payment.sim-delay=1h")
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 10, Price: "12.34"})
	alice, bob := s.Users[0], s.Users[1]
	held := e.Reserve(t, s, alice, 3)

	if _, err := e.pay(t, bob, held.GetId(), payment.SimOK); code(err) != connect.CodeNotFound {
		t.Fatalf("another user's booking: %v", err)
	}
	if _, err := e.pay(t, alice, uuid.NewString(), payment.SimOK); code(err) != connect.CodeNotFound {
		t.Fatalf("unknown booking: %v", err)
	}
	if _, err := e.pay(t, alice, held.GetId(), "card"); code(err) != connect.CodeInvalidArgument ||
		!strings.Contains(err.Error(), "which takes sim_ok, sim_declined or sim_slow") {
		t.Fatalf("a Stripe method with the simulator: %v", err)
	}
	cancelled := e.Reserve(t, s, alice, 1)
	if _, err := e.booking.CancelBooking(context.Background(), testkit.As(t, e.Mesh, alice, authn.RoleUser,
		&bookingv1.CancelBookingRequest{BookingId: cancelled.GetId()})); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pay(t, alice, cancelled.GetId(), payment.SimOK); !errs.Is(err, errs.Conflict) {
		t.Fatalf("pay a cancelled booking: %v", err)
	}

	// A JSON client that sends an amount: Connect's JSON codec discards
	// unknown fields, and the charge is the booking's total.
	body := `{"booking_id":"` + held.GetId() + `","payment_method":"sim_slow","amount":"0.01","total_amount":"0.01"}`
	req, _ := http.NewRequest(http.MethodPost, e.URL(t, "payment")+"/bookingrush.payment.v1.PaymentService/CreatePayment", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.Token(t, alice, authn.RoleUser))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Payment struct {
			ID, Amount, Status string
		} `json:"payment"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("JSON create: %d %v", res.StatusCode, err)
	}
	if out.Payment.Amount != "37.02" || out.Payment.Status != "PAYMENT_STATUS_PROCESSING" {
		t.Fatalf("JSON payment %+v, want amount 37.02 (3 x 12.34) processing", out.Payment)
	}
	var stored string
	if err := e.Pool.QueryRow(context.Background(), `SELECT amount::text FROM payments WHERE id = $1`, out.Payment.ID).Scan(&stored); err != nil || stored != "37.02" {
		t.Fatalf("stored amount %q %v", stored, err)
	}
	// Only the payer (and admins) see the payment.
	if _, err := e.payment.GetPayment(context.Background(), testkit.As(t, e.Mesh, bob, authn.RoleUser,
		&paymentv1.GetPaymentRequest{PaymentId: out.Payment.ID})); code(err) != connect.CodeNotFound {
		t.Fatalf("another user's payment: %v", err)
	}
	if _, err := e.payment.GetPayment(context.Background(), testkit.As(t, e.Mesh, uuid.NewString(), authn.RoleAdmin,
		&paymentv1.GetPaymentRequest{PaymentId: out.Payment.ID})); err != nil {
		t.Fatalf("admin: %v", err)
	}
	// The internal refund is for the system only.
	if _, err := e.payment.RefundBooking(context.Background(), testkit.As(t, e.Mesh, alice, authn.RoleUser, &paymentv1.RefundBookingRequest{
		BookingId: held.GetId(), Cause: paymentv1.RefundCause_REFUND_CAUSE_ORGANIZER_CANCELLED})); code(err) != connect.CodePermissionDenied {
		t.Fatalf("a buyer calls RefundBooking: %v", err)
	}
}

// TestPaymentOfAStartedShow: a hold made before its show started is paid
// as usual once the show has started (it was sold while on sale); a hold
// made after the start (a zone loaded before zones carried their show's
// start sells it) is refused with CONFLICT, details.reason "show_started"
// and the show's start, and nothing is charged.
func TestPaymentOfAStartedShow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := start(t, "-payment.sim-delay=1h")
	legit := e.SeedShop(t, testkit.ShopOptions{Seats: 4})
	held := e.Reserve(t, legit, legit.Users[0], 1)
	// The show starts just after the hold was made, and has started when
	// it is paid (the catalog's own table: GetShow reads it).
	begins := held.GetCreatedAt().AsTime().Add(time.Millisecond)
	if _, err := e.Pool.Exec(ctx, `UPDATE shows SET show_date = $2 WHERE id = $1`, legit.Show, begins); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(begins))
	if _, err := e.pay(t, legit.Users[0], held.GetId(), payment.SimOK); err != nil {
		t.Fatalf("a hold made before the show started: %v", err)
	}

	late := e.SeedShop(t, testkit.ShopOptions{Seats: 4, ShowIn: -time.Hour})
	if err := e.Redis.HDel(ctx, lua.EventKeys(e.prefix, late.Event).Zone(late.Zone), "starts").Err(); err != nil {
		t.Fatal(err)
	}
	after := e.Reserve(t, late, late.Users[0], 1)
	_, err := e.pay(t, late.Users[0], after.GetId(), payment.SimOK)
	var date time.Time
	if err := e.Pool.QueryRow(ctx, `SELECT show_date FROM shows WHERE id = $1`, late.Show).Scan(&date); err != nil {
		t.Fatal(err)
	}
	if d := errs.FromConnect(err).Details; !errs.Is(err, errs.Conflict) || d["reason"] != "show_started" || d["show_date"] != date.UTC().Format(time.RFC3339) {
		t.Fatalf("a hold made after the show started: %v %v", err, d)
	}
	if n := e.Count(t, `SELECT count(*) FROM payments WHERE booking_id = $1`, after.GetId()); n != 0 {
		t.Fatalf("%d payments of the refused hold", n)
	}
}

// TestWebhookIdempotent: the same provider event twice is applied once;
// a bad signature changes nothing.
func TestWebhookIdempotent(t *testing.T) {
	t.Parallel()
	e := start(t, "-payment.sim-delay=1h") // sim_slow never answers during the test
	s := e.SeedShop(t, testkit.ShopOptions{})
	buyer := s.Users[0]
	b := e.Reserve(t, s, buyer, 1)
	p, err := e.pay(t, buyer, b.GetId(), payment.SimSlow)
	if err != nil {
		t.Fatal(err)
	}
	send := func(payload []byte, sig string) (*paymentv1.HandleStripeWebhookResponse, error) {
		req := connect.NewRequest(&paymentv1.HandleStripeWebhookRequest{Body: &httpbody.HttpBody{ContentType: "application/json", Data: payload}})
		req.Header().Set("Stripe-Signature", sig) // an anonymous call, as Stripe's
		res, err := e.payment.HandleStripeWebhook(context.Background(), req)
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}
	payload, sig := signed("evt_dup_"+uuid.NewString(), "payment_intent.succeeded", p.GetProviderReference(), p.GetId(), webhookSecret, time.Now())
	if _, err := send(payload, strings.Replace(sig, "v1=", "v1=00", 1)); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("bad signature: %v", err)
	}
	if got := e.getPayment(t, buyer, p.GetId()); got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_PROCESSING {
		t.Fatalf("a bad signature changed the payment: %v", got)
	}
	first, err := send(payload, sig)
	if err != nil || first.GetDuplicate() {
		t.Fatalf("first delivery %v %v", first, err)
	}
	again, err := send(payload, sig)
	if err != nil || !again.GetDuplicate() || again.GetEventId() != first.GetEventId() {
		t.Fatalf("second delivery %v %v", again, err)
	}
	// Another event for the same, already succeeded payment: recorded, no effect.
	other, sig2 := signed("evt_other_"+uuid.NewString(), "payment_intent.payment_failed", p.GetProviderReference(), p.GetId(), webhookSecret, time.Now())
	if res, err := send(other, sig2); err != nil || res.GetDuplicate() {
		t.Fatalf("late failure event %v %v", res, err)
	}
	e.waitBooking(t, buyer, b.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED, 15*time.Second)
	if got := e.getPayment(t, buyer, p.GetId()); got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED {
		t.Fatalf("payment %v", got)
	}
	testkit.Eventually(t, 10*time.Second, "saga completed", func() bool {
		return e.Count(t, `SELECT count(*) FROM sagas WHERE payment_id = $1 AND status = 'completed'`, p.GetId()) == 1
	})
	time.Sleep(300 * time.Millisecond)
	if n := e.Count(t, `SELECT count(*) FROM outbox WHERE aggregate_id = $1`, p.GetId()); n != 1 {
		t.Fatalf("%d outbox events, want one payment.success", n)
	}
	if n := e.Count(t, `SELECT count(*) FROM sagas WHERE payment_id = $1`, p.GetId()); n != 1 {
		t.Fatalf("%d sagas", n)
	}
}

// TestChargeOfAFailedPayment: money that arrives for a payment already
// marked failed (Stripe reports a declined card while its intent stays
// open, and the buyer pays it with another card) is never dropped: with
// no other payment of the booking it confirms the booking; when the buyer
// paid again meanwhile, it is refunded in full and the booking stays the
// other payment's.
func TestChargeOfAFailedPayment(t *testing.T) {
	t.Parallel()
	e := start(t)
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 4, Price: "20.00"})
	buyer := s.Users[0]
	declined := func(bookingID string) *paymentv1.Payment {
		t.Helper()
		p, err := e.pay(t, buyer, bookingID, payment.SimDeclined)
		if err != nil {
			t.Fatal(err)
		}
		return e.waitPayment(t, buyer, p.GetId(), paymentv1.PaymentStatus_PAYMENT_STATUS_FAILED, 15*time.Second)
	}
	charge := func(p *paymentv1.Payment) {
		t.Helper()
		payload, sig := signed("evt_late_"+uuid.NewString(), "payment_intent.succeeded", p.GetProviderReference(), p.GetId(), webhookSecret, time.Now())
		req := connect.NewRequest(&paymentv1.HandleStripeWebhookRequest{Body: &httpbody.HttpBody{ContentType: "application/json", Data: payload}})
		req.Header().Set("Stripe-Signature", sig)
		if _, err := e.payment.HandleStripeWebhook(context.Background(), req); err != nil {
			t.Fatalf("late success webhook: %v", err)
		}
	}

	t.Run("the only charge confirms the booking", func(t *testing.T) {
		b := e.Reserve(t, s, buyer, 1)
		failed := declined(b.GetId())
		charge(failed)
		e.waitBooking(t, buyer, b.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED, 15*time.Second)
		if got := e.getPayment(t, buyer, failed.GetId()); got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED || got.GetFailedReason() != "" {
			t.Fatalf("payment after its late charge: %v", got)
		}
	})

	t.Run("a second charge is refunded, the booking stays", func(t *testing.T) {
		b := e.Reserve(t, s, buyer, 1)
		failed := declined(b.GetId())
		paid, err := e.pay(t, buyer, b.GetId(), payment.SimOK)
		if err != nil {
			t.Fatal(err)
		}
		e.waitBooking(t, buyer, b.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED, 15*time.Second)
		charge(failed)
		got := e.getPayment(t, buyer, failed.GetId())
		if got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED || got.GetRefundedAmount() != "20.00" {
			t.Fatalf("duplicate charge: %v", got)
		}
		charge(failed) // another delivery of money for it: nothing more
		if again := e.getPayment(t, buyer, failed.GetId()); again.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED {
			t.Fatalf("duplicate charge after a second event: %v", again)
		}
		if got := e.getPayment(t, buyer, paid.GetId()); got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED {
			t.Fatalf("the payment that paid the booking: %v", got)
		}
		if st := e.Booking(t, buyer, b.GetId()).GetStatus(); st != bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED {
			t.Fatalf("booking %v after the duplicate's refund", st)
		}
	})
	r := e.AuditMoneySettled(t, e.prefix)
	if r.Confirmed != 2 || r.Refunded != 1 {
		t.Fatalf("money audit %v, want 2 confirmed and 1 refunded", r)
	}
}

// TestRefundPolicyEndToEnd: a buyer cancelling a confirmed booking 5 days
// before the show gets 50% back and the seats return; with RefundPayment
// 30 days before, 100%. Refunding again changes nothing.
func TestRefundPolicyEndToEnd(t *testing.T) {
	t.Parallel()
	e := start(t)
	soon := e.SeedShop(t, testkit.ShopOptions{Seats: 4, ShowIn: 5 * 24 * time.Hour, Price: "25.00"})
	later := e.SeedShop(t, testkit.ShopOptions{Seats: 4, ShowIn: 30 * 24 * time.Hour, Price: "25.00"})
	buyer := soon.Users[0]
	paid := func(s testkit.Shop, user string) (*bookingv1.Booking, *paymentv1.Payment) { return e.paid(t, s, user) }

	b1, p1 := paid(soon, buyer)
	res, err := e.booking.CancelBooking(context.Background(), testkit.As(t, e.Mesh, buyer, authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: b1.GetId()}))
	if err != nil || res.Msg.GetBooking().GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED {
		t.Fatalf("cancel confirmed: %v %v", res, err)
	}
	got := e.getPayment(t, buyer, p1.GetId())
	if got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED || got.GetRefundedAmount() != "25.00" {
		t.Fatalf("payment after a cancel 5 days ahead %v", got)
	}
	if z := e.Zone(t, soon); z.GetAvailable() != 4 || z.GetSold() != 0 || z.GetHeld() != 0 {
		t.Fatalf("zone after the refund %v", z)
	}

	other := later.Users[0]
	b2, p2 := paid(later, other)
	if _, err := e.payment.RefundPayment(context.Background(), testkit.As(t, e.Mesh, buyer, authn.RoleUser,
		&paymentv1.RefundPaymentRequest{PaymentId: p2.GetId()})); code(err) != connect.CodeNotFound {
		t.Fatalf("refund another user's payment: %v", err)
	}
	for range 2 {
		r, err := e.payment.RefundPayment(context.Background(), testkit.As(t, e.Mesh, other, authn.RoleUser,
			&paymentv1.RefundPaymentRequest{PaymentId: p2.GetId(), Reason: "changed plans"}))
		if err != nil || r.Msg.GetPayment().GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED || r.Msg.GetPayment().GetRefundedAmount() != "50.00" {
			t.Fatalf("refund 30 days ahead: %v %v", r, err)
		}
	}
	if b := e.Booking(t, other, b2.GetId()); b.GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED {
		t.Fatalf("booking after RefundPayment %v", b)
	}
	if z := e.Zone(t, later); z.GetAvailable() != 4 || z.GetSold() != 0 {
		t.Fatalf("zone after the refund %v", z)
	}
	// The audit trail: one refund per payment, by its actor (the buyer's
	// cancel reached payment as the system), and each booking's
	// cancellation once, by whoever released it: the buyer's cancel
	// through the booking service, the system for a refund asked of the
	// payment service.
	audits := func(action, entity, actor string) int {
		return e.Count(t, `SELECT count(*) FROM audit_logs WHERE action = $1 AND entity_id = $2 AND user_id IS NOT DISTINCT FROM nullif($3, '')::uuid`, action, entity, actor)
	}
	for _, c := range []struct {
		action, entity, actor string
		want                  int
	}{
		{"payment.refund", p1.GetId(), "", 1}, {"payment.refund", p1.GetId(), buyer, 0},
		{"payment.refund", p2.GetId(), other, 1}, {"payment.refund", p2.GetId(), "", 0},
		{"booking.cancel", b1.GetId(), buyer, 1}, {"booking.cancel", b1.GetId(), "", 0},
		{"booking.cancel", b2.GetId(), "", 1}, {"booking.cancel", b2.GetId(), other, 0},
	} {
		if n := audits(c.action, c.entity, c.actor); n != c.want {
			t.Errorf("%s of %s by %q: %d entries, want %d", c.action, c.entity, c.actor, n, c.want)
		}
	}
	if n := e.Count(t, `SELECT count(*) FROM audit_logs WHERE action = 'payment.refund' AND entity_id = $1
		AND old_values->>'status' = 'succeeded' AND new_values->>'status' = 'partially_refunded' AND new_values->>'refunded_amount' = '25.00'`, p1.GetId()); n != 1 {
		t.Errorf("refund values of %s not recorded", p1.GetId())
	}
	testkit.Eventually(t, 10*time.Second, "one payment.refunded per payment, relayed", func() bool {
		return e.Count(t, `SELECT count(*) FROM outbox WHERE topic = 'payment.refunded' AND published_at IS NOT NULL AND aggregate_id = ANY($1::uuid[])`,
			[]string{p1.GetId(), p2.GetId()}) == 2
	})
	for _, s := range []testkit.Shop{soon, later} {
		testkit.Eventually(t, 10*time.Second, "Postgres agrees with Redis", func() bool {
			d, err := booking.Reconcile(context.Background(), e.Redis, e.Pool, e.prefix, s.Event)
			return err == nil && len(d) == 0
		})
	}
}

// TestAnAdminRefundsInFull: support gives a buyer ill two days before the
// show the whole price back (RefundPayment with in_full), which the refund
// policy does not (nothing under 3 days). Only an admin may: the buyer's
// own in_full, or an organizer's, is PERMISSION_DENIED and changes nothing.
// The admin's refunds 100% (cause support, recorded, in its
// payment.refunded and in the metrics), the booking is refunded and its
// seats come back, and the audit entry names the admin and says in_full;
// calling again changes nothing. A payment an admin had refunded under the
// policy before (0%, the booking cancelled) gets the rest, once.
func TestAnAdminRefundsInFull(t *testing.T) {
	t.Parallel()
	e := start(t)
	s := e.SeedShop(t, testkit.ShopOptions{Users: 2, Seats: 4, ShowIn: 2 * 24 * time.Hour, Price: "25.00"})
	admin := uuid.NewString()
	refund := func(who, role, id string, inFull bool) (*paymentv1.Payment, error) {
		t.Helper()
		r, err := e.payment.RefundPayment(context.Background(), testkit.As(t, e.Mesh, who, role,
			&paymentv1.RefundPaymentRequest{PaymentId: id, Reason: "ill two days before the show", InFull: inFull}))
		if err != nil {
			return nil, err
		}
		return r.Msg.GetPayment(), nil
	}
	refundEvents := func(id string, where string) int {
		t.Helper()
		return e.Count(t, `SELECT count(*) FROM outbox WHERE topic = 'payment.refunded' AND aggregate_id = $1 AND `+where, id)
	}

	ill := s.Users[0]
	b1, p1 := e.paid(t, s, ill)
	for _, role := range []string{authn.RoleUser, authn.RoleOrganizer} {
		_, err := refund(ill, role, p1.GetId(), true)
		if code(err) != connect.CodePermissionDenied || !strings.Contains(err.Error(), "only an admin") {
			t.Fatalf("in_full as %s: %v, want PERMISSION_DENIED", role, err)
		}
	}
	if got := e.getPayment(t, ill, p1.GetId()); got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED || got.GetRefundedAmount() != "0.00" {
		t.Fatalf("payment after a refused in_full: %v", got)
	}
	if z := e.Zone(t, s); e.Booking(t, ill, b1.GetId()).GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED || z.GetSold() != 2 {
		t.Fatalf("booking or zone changed by a refused in_full: %v", z)
	}
	if n := e.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND refund_requested_at IS NULL`, p1.GetId()); n != 1 {
		t.Fatal("a refused in_full decided a refund")
	}

	for range 2 { // calling again answers the payment as it is
		got, err := refund(admin, authn.RoleAdmin, p1.GetId(), true)
		if err != nil || got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED || got.GetRefundedAmount() != "50.00" {
			t.Fatalf("an admin's in_full two days before the show: %v %v", got, err)
		}
	}
	if b := e.Booking(t, ill, b1.GetId()); b.GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED ||
		b.GetCancelCause() != bookingv1.CancelCause_CANCEL_CAUSE_SUPPORT {
		t.Fatalf("booking after the admin's in_full: %v", b)
	}
	if z := e.Zone(t, s); z.GetAvailable() != 4 || z.GetSold() != 0 || z.GetHeld() != 0 {
		t.Fatalf("zone after the admin's in_full: %v", z)
	}
	if n := e.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND refund_cause = 'REFUND_CAUSE_SUPPORT' AND refund_percent = 100`, p1.GetId()); n != 1 {
		t.Error("the payment does not record cause support at 100%")
	}
	if n := refundEvents(p1.GetId(), `payload->>'refundCause' = 'REFUND_CAUSE_SUPPORT' AND payload->>'refundAmount' = '50.00'`); n != 1 ||
		refundEvents(p1.GetId(), "true") != 1 {
		t.Errorf("%d payment.refunded of cause support for 50.00 (of %d), want one", n, refundEvents(p1.GetId(), "true"))
	}
	audited := func(id string) int {
		t.Helper()
		return e.Count(t, `SELECT count(*) FROM audit_logs WHERE action = 'payment.refund' AND entity_id = $1 AND user_id = $2
			AND new_values->>'in_full' = 'true' AND new_values->>'admin' = $2::text AND new_values->>'cause' = 'REFUND_CAUSE_SUPPORT'
			AND new_values->>'reason' = 'ill two days before the show'`, id, admin)
	}
	if n := audited(p1.GetId()); n != 1 {
		t.Errorf("%d audit entries of the refund naming the admin and in_full, want 1", n)
	}

	// An admin's refund under the policy first: nothing back two days
	// before the show, the booking cancelled. in_full then gives the rest.
	other := s.Users[1]
	b2, p2 := e.paid(t, s, other)
	if got, err := refund(admin, authn.RoleAdmin, p2.GetId(), false); err != nil || got.GetRefundedAmount() != "0.00" {
		t.Fatalf("an admin's refund under the policy two days before: %v %v", got, err)
	}
	for range 2 {
		got, err := refund(admin, authn.RoleAdmin, p2.GetId(), true)
		if err != nil || got.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED || got.GetRefundedAmount() != "50.00" {
			t.Fatalf("in_full after a policy refund of 0%%: %v %v", got, err)
		}
	}
	if b := e.Booking(t, other, b2.GetId()); b.GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED {
		t.Fatalf("booking after the rest: %v", b)
	}
	if n := refundEvents(p2.GetId(), `payload->>'refundCause' = 'REFUND_CAUSE_SUPPORT' AND payload->>'rest' = 'true' AND payload->>'refundAmount' = '50.00'`); n != 1 ||
		refundEvents(p2.GetId(), "true") != 2 {
		t.Errorf("%d rest events of cause support (of %d payment.refunded), want one of two", n, refundEvents(p2.GetId(), "true"))
	}
	if n := audited(p2.GetId()); n != 1 {
		t.Errorf("%d audit entries of the rest naming the admin and in_full, want 1", n)
	}
	if z := e.Zone(t, s); z.GetAvailable() != 4 || z.GetSold() != 0 {
		t.Fatalf("zone at the end: %v", z)
	}
	metrics := func() string {
		t.Helper()
		res, err := http.Get(e.URL(t, "metrics") + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	if m := metrics(); !strings.Contains(m, `payment_refunds_total{cause="support"} 2`) {
		t.Errorf("payment_refunds_total of cause support is not 2:\n%s", m)
	}
	e.AuditMoneySettled(t, e.prefix)
}
