package payment_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/api/httpbody"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/services/payment"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/bookingref"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/telemetry"
	"github.com/bookingrush/rush/services/platform/topic"
	"github.com/bookingrush/rush/services/testkit"
)

// payKey creates a payment with an Idempotency-Key.
func (e *env) payKey(t *testing.T, user, bookingID, method, key string) (*connect.Response[paymentv1.CreatePaymentResponse], error) {
	t.Helper()
	req := testkit.As(t, e.Mesh, user, authn.RoleUser, &paymentv1.CreatePaymentRequest{BookingId: bookingID, PaymentMethod: method})
	req.Header().Set("Idempotency-Key", key)
	return e.payment.CreatePayment(context.Background(), req)
}

// TestCreatePaymentIdempotencyKey: the same key answers the same payment
// (also to concurrent retries, also once the hold is paid), never a second
// charge; the key with another request is a conflict; a malformed key is a
// validation error.
func TestCreatePaymentIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := start(t, "-payment.sim-delay=1h")
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 10})
	buyer := s.Users[0]
	b := e.Reserve(t, s, buyer, 1)
	key := "pay-" + uuid.NewString()
	ids := make(chan string, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			res, err := e.payKey(t, buyer, b.GetId(), payment.SimSlow, key)
			if err != nil {
				t.Errorf("create payment: %v", err)
				return
			}
			ids <- res.Msg.GetPayment().GetId()
		})
	}
	wg.Wait()
	close(ids)
	first := ""
	for id := range ids {
		if first == "" {
			first = id
		}
		if id != first {
			t.Fatalf("two payments for one key: %s and %s", first, id)
		}
	}
	res, err := e.payKey(t, buyer, b.GetId(), payment.SimSlow, key)
	if err != nil || res.Msg.GetPayment().GetId() != first || res.Header().Get("Idempotent-Replayed") != "true" ||
		res.Msg.GetPayment().GetAmount() != "49.90" {
		t.Fatalf("replay: %v %v", res, err)
	}
	if n := e.Count(t, `SELECT count(*) FROM payments WHERE booking_id = $1`, b.GetId()); n != 1 {
		t.Fatalf("%d payments", n)
	}
	other := e.Reserve(t, s, buyer, 1)
	if _, err := e.payKey(t, buyer, other.GetId(), payment.SimSlow, key); code(err) != connect.CodeAlreadyExists {
		t.Fatalf("same key, other booking: %v", err)
	}
	if _, err := e.payKey(t, buyer, other.GetId(), payment.SimSlow, "bad key!"); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("malformed key: %v", err)
	}
	// Another payer's key space is their own.
	theirs := e.Reserve(t, s, s.Users[1], 1)
	if _, err := e.payKey(t, s.Users[1], theirs.GetId(), payment.SimSlow, key); err != nil {
		t.Fatalf("same key, other payer: %v", err)
	}
}

// TestSameKeyRetryThatLostTheRace: a call that found no payment of its
// Idempotency-Key, and looks at the booking only after a concurrent call
// with the same key paid it and the saga confirmed it, answers that payment
// (replayed), not "only a reserved booking can be paid": a retry never
// turns a buyer's own payment into a refusal.
func TestSameKeyRetryThatLostTheRace(t *testing.T) {
	t.Parallel()
	e := start(t)
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 10})
	buyer := s.Users[0]
	b := e.Reserve(t, s, buyer, 1)
	key := "pay-" + uuid.NewString()
	var once atomic.Bool
	paused, release := make(chan struct{}), make(chan struct{})
	payment.SetAfterKeyMiss(func(k string) {
		if k == key && once.CompareAndSwap(false, true) {
			close(paused)
			<-release
		}
	})
	t.Cleanup(func() { payment.SetAfterKeyMiss(nil) })
	type answer struct {
		res *connect.Response[paymentv1.CreatePaymentResponse]
		err error
	}
	late := make(chan answer, 1)
	go func() {
		res, err := e.payKey(t, buyer, b.GetId(), payment.SimOK, key)
		late <- answer{res, err}
	}()
	<-paused
	won, err := e.payKey(t, buyer, b.GetId(), payment.SimOK, key)
	if err != nil {
		close(release)
		t.Fatalf("the first payment: %v", err)
	}
	e.waitBooking(t, buyer, b.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED, 30*time.Second)
	close(release)
	a := <-late
	if a.err != nil || a.res.Msg.GetPayment().GetId() != won.Msg.GetPayment().GetId() || a.res.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the retry that lost the race: %v %v, want payment %s replayed", a.res, a.err, won.Msg.GetPayment().GetId())
	}
	if n := e.Count(t, `SELECT count(*) FROM payments WHERE booking_id = $1`, b.GetId()); n != 1 {
		t.Fatalf("%d payments", n)
	}
}

// standInCharge is the charge of every intent of stripeStandIn, in cents
// (the tests buy 2 seats at 25.00).
const standInCharge = 5000

// stripeStandIn is a local stand-in of Stripe's API for the app's Stripe
// provider: a PaymentIntent's first creation answers 503, a retry (the
// same idempotency key) the intent pi_<payment id>, or idempotency_error
// when it sends other parameters than the first; pm_card_declined is
// refused with a 402 every time. Each intent's charge is standInCharge, of
// which handRefunded cents were refunded by hand in the dashboard: when
// that is all of it, a refund answers charge_already_refunded; otherwise a
// refund larger than what is left answers amount_too_large. A refund's
// idempotency key is kept as Stripe keeps it: a retry with it answers its
// first refund again, with other parameters idempotency_error, and from 24
// hours of the stand-in's clock on (advance) it is forgotten: a retry then
// makes a new refund. GET /v1/refunds?payment_intent= lists an intent's
// refunds, newest first, with their metadata. dispute, when given, answers
// the status and amount of a dispute of every charge ("" for none): a
// refund of a charge disputed and not won answers charge_disputed, and GET
// /v1/disputes lists it. A refund made can fail afterwards (failRefund), as
// Stripe's do (a closed card): its money no longer counts as back, and the
// listing shows it failed. creates counts the calls per idempotency key,
// refunds the refunds made (key: amount).
func stripeStandIn(t *testing.T, handRefunded int64, dispute ...func() (status string, cents int64)) (url string, creates func(key string) int, refunds func() map[string]string) {
	t.Helper()
	s := newStandIn(t, handRefunded, dispute...)
	return s.URL, s.creates, s.refunds
}

// standInRefund is a refund stripeStandIn made.
type standInRefund struct {
	ID, Key, Intent string
	Amount          int64
	Metadata        map[string]string
	at              time.Time
	params          string // what an idempotent retry must send again
}

// standIn is stripeStandIn's state.
type standIn struct {
	URL string

	mu           sync.Mutex
	handRefunded int64
	offset       time.Duration            // the stand-in's clock is time.Now() + offset
	calls        map[string]int           // intent creations per idempotency key
	intentParams map[string]string        // the first intent creation's parameters per idempotency key
	byKey        map[string]standInRefund // refunds by idempotency key, while kept
	made         []standInRefund          // every refund, oldest first
	refunded     map[string]int64         // intent -> cents refunded, by hand and by us
	posts        int                      // refund requests answered without an error
	failed       map[string]string        // refund id -> failure_reason, of the refunds that failed
	hold         *standInHold             // holds the next refund request's answer
}

// newStandIn starts stripeStandIn.
func newStandIn(t *testing.T, handRefunded int64, dispute ...func() (status string, cents int64)) *standIn {
	t.Helper()
	s := &standIn{handRefunded: handRefunded, calls: map[string]int{}, intentParams: map[string]string{}, byKey: map[string]standInRefund{}, refunded: map[string]int64{},
		failed: map[string]string{}}
	stand := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := neturl.ParseQuery(string(body))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/payment_intents":
			key := r.Header.Get("Idempotency-Key")
			s.mu.Lock()
			s.calls[key]++
			n := s.calls[key]
			first, seen := s.intentParams[key]
			if !seen {
				s.intentParams[key] = form.Encode()
			}
			s.mu.Unlock()
			switch {
			case seen && first != form.Encode():
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with."}}`))
			case form.Get("payment_method") == "pm_card_declined":
				w.WriteHeader(http.StatusPaymentRequired)
				_, _ = w.Write([]byte(`{"error":{"type":"card_error","code":"card_declined","message":"Your card was declined."}}`))
			case n == 1:
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"error":{"type":"api_error","message":"try again"}}`))
			default:
				_, _ = fmt.Fprintf(w, `{"id":"pi_%s","object":"payment_intent","client_secret":"pi_%[1]s_secret","status":"requires_payment_method"}`,
					strings.TrimPrefix(key, "rush-intent-"))
			}
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/payment_intents/"):
			id := strings.TrimPrefix(r.URL.Path, "/v1/payment_intents/")
			s.mu.Lock()
			back := s.refundedOf(id)
			s.mu.Unlock()
			_, _ = fmt.Fprintf(w, `{"id":%q,"object":"payment_intent","client_secret":"%s_secret","status":"requires_payment_method",
				"latest_charge":{"id":"ch_1","object":"charge","amount":%d,"amount_refunded":%d,"refunded":%t}}`,
				id, id, standInCharge, back, back == standInCharge)
		case r.Method == http.MethodPost && r.URL.Path == "/v1/refunds":
			if len(dispute) > 0 {
				if st, _ := dispute[0](); st != "" && st != "won" {
					w.WriteHeader(http.StatusBadRequest)
					_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"charge_disputed","message":"Charge ch_1 has been charged back; cannot issue a refund."}}`))
					return
				}
			}
			s.refund(w, r.Header.Get("Idempotency-Key"), form)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/refunds":
			pi := r.URL.Query().Get("payment_intent")
			var data []map[string]any
			s.mu.Lock()
			for _, re := range slices.Backward(s.made) {
				if re.Intent == pi {
					data = append(data, s.refundObject(re))
				}
			}
			s.mu.Unlock()
			list, _ := json.Marshal(map[string]any{"object": "list", "url": "/v1/refunds", "has_more": false, "data": append([]map[string]any{}, data...)})
			_, _ = w.Write(list)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/disputes":
			data := "[]"
			if len(dispute) > 0 {
				if st, cents := dispute[0](); st != "" {
					data = fmt.Sprintf(`[{"id":"dp_1","object":"dispute","amount":%d,"status":%q,"payment_intent":%q}]`, cents, st, r.URL.Query().Get("payment_intent"))
				}
			}
			_, _ = fmt.Fprintf(w, `{"object":"list","url":"/v1/disputes","has_more":false,"data":%s}`, data)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(stand.Close)
	s.URL = stand.URL
	return s
}

// refund answers POST /v1/refunds under the idempotency key.
func (s *standIn) refund(w http.ResponseWriter, key string, form neturl.Values) {
	pi := form.Get("payment_intent")
	amount, _ := strconv.ParseInt(form.Get("amount"), 10, 64)
	meta := map[string]string{}
	for k, v := range form {
		if name, ok := strings.CutPrefix(k, "metadata["); ok {
			meta[strings.TrimSuffix(name, "]")] = v[0]
		}
	}
	params := fmt.Sprintf("%s %d %v", pi, amount, meta)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().Add(s.offset)
	re, kept := s.byKey[key]
	if kept && now.Sub(re.at) >= 24*time.Hour {
		delete(s.byKey, key) // Stripe forgets a key after 24 hours
		kept = false
	}
	if kept && re.params != params {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with."}}`))
		return
	}
	if !kept {
		switch back := s.refundedOf(pi); {
		case back == standInCharge:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"charge_already_refunded","message":"Charge ch_1 has already been refunded."}}`))
			return
		case back+amount > standInCharge:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"amount_too_large","message":"Refund amount is greater than unrefunded amount on charge."}}`))
			return
		}
		re = standInRefund{ID: fmt.Sprintf("re_%d_%s", len(s.made)+1, key), Key: key, Intent: pi, Amount: amount, Metadata: meta, at: now, params: params}
		s.refunded[pi] += amount
		s.made = append(s.made, re)
		s.byKey[key] = re
	}
	s.posts++
	if h := s.hold; h != nil {
		// The refund is made; its answer waits.
		if h.n--; h.n == 0 {
			s.hold = nil
			close(h.arrived)
		}
		s.mu.Unlock()
		<-h.release
		s.mu.Lock()
	}
	_, _ = fmt.Fprintf(w, `{"id":%q,"object":"refund","status":"succeeded","amount":%d}`, re.ID, re.Amount)
}

// refundObject is the refund re as Stripe shows it (in a listing, in an
// event); under mu.
func (s *standIn) refundObject(re standInRefund) map[string]any {
	obj := map[string]any{"id": re.ID, "object": "refund", "amount": re.Amount, "currency": "usd", "status": "succeeded",
		"payment_intent": re.Intent, "metadata": re.Metadata}
	if why, ok := s.failed[re.ID]; ok {
		obj["status"], obj["failure_reason"] = "failed", why
	}
	return obj
}

// failRefund makes the last refund made of the intent fail, for reason (a
// Stripe failure_reason such as expired_or_canceled_card), as Stripe's
// refunds to a closed card do days after Stripe accepted them: its money is
// back on the account, not with the buyer. It answers the refund as
// Stripe's refund.failed event carries it.
func (s *standIn) failRefund(t *testing.T, pi, reason string) map[string]any {
	t.Helper()
	return s.failRefundOf(t, pi, "", reason)
}

// failRefundOf is failRefund of the last refund of the intent marked as
// kind (metadata[rush_refund]: share or rest; "" for any).
func (s *standIn) failRefundOf(t *testing.T, pi, kind, reason string) map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, re := range slices.Backward(s.made) {
		if re.Intent == pi && (kind == "" || re.Metadata["rush_refund"] == kind) {
			if _, ok := s.failed[re.ID]; !ok {
				s.failed[re.ID] = reason
				s.refunded[pi] -= re.Amount
			}
			return s.refundObject(re)
		}
	}
	t.Fatalf("the stand-in made no refund of %s", pi)
	return nil
}

// refundByHand refunds cents of the intent's charge by hand, as an
// operator does in Stripe's dashboard.
func (s *standIn) refundByHand(pi string, cents int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refunded[pi] = s.refundedOf(pi) + cents
}

// backOf is what of the intent's charge is back with the buyer now.
func (s *standIn) backOf(pi string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refundedOf(pi)
}

// standInHold holds the answers of refund requests: n more are held.
type standInHold struct {
	n                int
	arrived, release chan struct{}
}

// holdNextRefund makes the stand-in hold the answer to the next refund
// request, after it made the refund, until release: arrived is closed when
// the request is held. A hold still on at the test's end is released.
func (s *standIn) holdNextRefund(t *testing.T) (arrived <-chan struct{}, release func()) {
	return s.holdRefunds(t, 1)
}

// holdRefunds is holdNextRefund for the next n refund requests: arrived is
// closed when all n are held, release answers them all.
func (s *standIn) holdRefunds(t *testing.T, n int) (arrived <-chan struct{}, release func()) {
	h := &standInHold{n: n, arrived: make(chan struct{}), release: make(chan struct{})}
	var once sync.Once
	release = func() { once.Do(func() { close(h.release) }) }
	t.Cleanup(release)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = h
	return h.arrived, release
}

// refundPosts counts the refund requests (POST /v1/refunds) answered.
func (s *standIn) refundPosts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts
}

// refundedOf is what of the intent's charge is back, by hand and by us;
// under mu.
func (s *standIn) refundedOf(pi string) int64 {
	if _, ok := s.refunded[pi]; !ok {
		s.refunded[pi] = s.handRefunded
	}
	return s.refunded[pi]
}

// creates counts the intent creations under the idempotency key.
func (s *standIn) creates(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[key]
}

// refunds answers the refunds made, by idempotency key (the last one made
// under a key that was forgotten and used again).
func (s *standIn) refunds() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for _, re := range s.made {
		out[re.Key] = strconv.FormatInt(re.Amount, 10)
	}
	return out
}

// refundsOf answers the refunds made of the intent, oldest first.
func (s *standIn) refundsOf(pi string) []standInRefund {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []standInRefund
	for _, re := range s.made {
		if re.Intent == pi {
			out = append(out, re)
		}
	}
	return out
}

// advance moves the stand-in's clock by d: the idempotency keys it holds
// age by d.
func (s *standIn) advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// TestRetryOfAFailedCreation: a CreatePayment whose provider call failed
// (the provider could not be reached: 503, or refused the card: 402) and
// that the client retries with the same Idempotency-Key creates the same
// payment again, under the same provider idempotency key: the retry after
// a 503 gets its intent, the retry of a declined card its 402 again, never
// a 201 with a failed payment. Each booking keeps one payment row.
func TestRetryOfAFailedCreation(t *testing.T) {
	t.Parallel()
	// Traced: every call has a trace of its own, and the retry must send
	// the intent the first call's (Stripe refuses a key's retry with other
	// parameters, idempotency_error, for a day).
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	stand, creates, _ := stripeStandIn(t, standInCharge)
	e := startWith(t, []fx.Option{telemetry.WithTracerProvider(tp)},
		"-payment.provider=stripe", "-stripe.secret-key=sk_test_123", "-stripe.api-url="+stand)
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 10})
	buyer := s.Users[0]

	b := e.Reserve(t, s, buyer, 1)
	key := "pay-" + uuid.NewString()
	if _, err := e.payKey(t, buyer, b.GetId(), "card", key); code(err) != connect.CodeUnavailable {
		t.Fatalf("the provider down: %v, want unavailable", err)
	}
	res, err := e.payKey(t, buyer, b.GetId(), "card", key)
	if err != nil {
		t.Fatalf("the retry: %v", err)
	}
	pay := res.Msg.GetPayment()
	if pay.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_PENDING || pay.GetClientSecret() != "pi_"+pay.GetId()+"_secret" ||
		pay.GetProviderReference() != "pi_"+pay.GetId() || res.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("the retry after a 503: %v (replayed %q)", pay, res.Header().Get("Idempotent-Replayed"))
	}
	// From then on, a retry answers that payment, with its client secret.
	res, err = e.payKey(t, buyer, b.GetId(), "card", key)
	if err != nil || res.Msg.GetPayment().GetId() != pay.GetId() || res.Header().Get("Idempotent-Replayed") != "true" ||
		res.Msg.GetPayment().GetClientSecret() != pay.GetClientSecret() {
		t.Fatalf("the replay: %v %v", res, err)
	}
	if n := creates("rush-intent-" + pay.GetId()); n != 2 {
		t.Fatalf("%d intent creations for the payment, want 2 (the 503, the retry)", n)
	}
	// Another key for the same hold is refused: the booking has its payment.
	if _, err := e.payKey(t, buyer, b.GetId(), "card", "pay-"+uuid.NewString()); code(err) != connect.CodeAlreadyExists {
		t.Fatalf("a second payment for the hold: %v", err)
	}

	declined := e.Reserve(t, s, buyer, 1)
	key = "pay-" + uuid.NewString()
	for i := range 2 {
		if _, err := e.payKey(t, buyer, declined.GetId(), "pm_card_declined", key); code(err) != connect.CodeFailedPrecondition {
			t.Fatalf("declined card, call %d: %v, want the 402 (failed precondition)", i+1, err)
		}
	}
	if n := e.Count(t, `SELECT count(*) FROM payments WHERE booking_id = $1 AND status = 'failed'`, declined.GetId()); n != 1 {
		t.Fatalf("%d failed payments for the declined hold, want 1", n)
	}
	// The buyer pays with another card under a new key (the stand-in
	// answers its first call 503, the retry the intent).
	other := "pay-" + uuid.NewString()
	if _, err := e.payKey(t, buyer, declined.GetId(), "card", other); code(err) != connect.CodeUnavailable {
		t.Fatalf("another card, first call: %v", err)
	}
	if _, err := e.payKey(t, buyer, declined.GetId(), "card", other); err != nil {
		t.Fatalf("another card, retried: %v", err)
	}
	// The declined card's key, retried now, is refused: the hold has its
	// payment, and the declined one stays failed.
	if res, err := e.payKey(t, buyer, declined.GetId(), "pm_card_declined", key); code(err) != connect.CodeAlreadyExists {
		t.Fatalf("the declined key retried after another payment: %v %v", res, err)
	}
	if n := e.Count(t, `SELECT count(*) FROM payments WHERE booking_id = $1`, declined.GetId()); n != 2 {
		t.Fatalf("%d payments for the declined hold, want 2", n)
	}
}

// paidThroughStandIn reserves 2 seats of s for buyer and pays them through
// stripeStandIn (its first answer is a 503, the retry the intent) with a
// signed success webhook, and waits for the booking's confirmation.
func (e *env) paidThroughStandIn(t *testing.T, s testkit.Shop, buyer string) (*bookingv1.Booking, *paymentv1.Payment) {
	t.Helper()
	b := e.Reserve(t, s, buyer, 2)
	key := "pay-" + uuid.NewString()
	_, _ = e.payKey(t, buyer, b.GetId(), "card", key)
	res, err := e.payKey(t, buyer, b.GetId(), "card", key)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Msg.GetPayment()
	sendSucceeded(t, e.payment, p)
	e.waitBooking(t, buyer, b.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED, 15*time.Second)
	return b, p
}

// sendSucceeded posts Stripe's signed payment_intent.succeeded of payment
// p to the webhook of the payment service c.
func sendSucceeded(t *testing.T, c paymentv1connect.PaymentServiceClient, p *paymentv1.Payment) {
	t.Helper()
	payload, sig := signed("evt_"+uuid.NewString(), "payment_intent.succeeded", p.GetProviderReference(), p.GetId(), webhookSecret, time.Now())
	req := connect.NewRequest(&paymentv1.HandleStripeWebhookRequest{Body: &httpbody.HttpBody{ContentType: "application/json", Data: payload}})
	req.Header().Set("Stripe-Signature", sig)
	if _, err := c.HandleStripeWebhook(context.Background(), req); err != nil {
		t.Fatalf("success webhook: %v", err)
	}
}

// TestRefundOfAChargePartlyRefundedAtTheProvider: part of a charge was
// refunded by hand in the provider's dashboard, and then the buyer cancels.
// The provider refuses the decided refund as larger than what is left; the
// buyer then gets the rest of the decided amount, once, and the payment
// records what the buyer has back in all. Before, the refund was retried
// every 30 s for good and the buyer never got the rest.
func TestRefundOfAChargePartlyRefundedAtTheProvider(t *testing.T) {
	t.Parallel()
	stand, _, refunds := stripeStandIn(t, 1200) // 12.00 of 50.00 back by hand
	e, buyer, b, p := paidAtStripe(t, stand, 10*24*time.Hour)

	// Ten days ahead the policy gives 100% back: 50.00, of which 12.00 went
	// back by hand, so 38.00 more.
	e.refundInFull(t, buyer, b, p, "'refunded_at_provider_amount' = '12.00'")
	pi := p.GetProviderReference()
	if got, want := refunds(), map[string]string{"rush-refund-" + pi + "-rest-3800": "3800"}; !maps.Equal(got, want) {
		t.Fatalf("refunds made at the provider %v, want %v", got, want)
	}
}

// refundInFull asks the refund of the buyer's payment p of booking b twice
// (the second answers the first's outcome): each answers the payment
// refunded, 50.00 back in all. Then the booking is refunded, one refund
// audit entry has new_values->>audited (a condition such as
// "'refunded_at_provider' = 'true'"), the sagas are done and the money
// audit counts one refund.
func (e *env) refundInFull(t *testing.T, buyer string, b *bookingv1.Booking, p *paymentv1.Payment, audited string) {
	t.Helper()
	for range 2 {
		r, err := e.payment.RefundPayment(context.Background(), testkit.As(t, e.Mesh, buyer, authn.RoleUser,
			&paymentv1.RefundPaymentRequest{PaymentId: p.GetId()}))
		if err != nil || r.Msg.GetPayment().GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED ||
			r.Msg.GetPayment().GetRefundedAmount() != "50.00" {
			t.Fatalf("refund: %v %v", r, err)
		}
	}
	if st := e.Booking(t, buyer, b.GetId()).GetStatus(); st != bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED {
		t.Fatalf("booking %v", st)
	}
	if n := e.Count(t, `SELECT count(*) FROM audit_logs WHERE action = 'payment.refund' AND entity_id = $1
		AND new_values->>`+audited, p.GetId()); n != 1 {
		t.Fatalf("%d refund audit entries where %s, want 1", n, audited)
	}
	if r := e.AuditMoneySettled(t, e.prefix); r.Refunded != 1 {
		t.Fatalf("money audit %v, want 1 refunded", r)
	}
}

// TestRefundOfAChargeRefundedAtTheProvider: a refund that the provider
// refuses because the whole charge was refunded already (by hand, in its
// dashboard) is recorded as refunded in full, once: the money is back with
// the buyer, so the refund is not retried forever, and the booking is
// refunded as any other.
func TestRefundOfAChargeRefundedAtTheProvider(t *testing.T) {
	t.Parallel()
	stand, _, _ := stripeStandIn(t, standInCharge)
	e := startStripe(t, stand)
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 4, ShowIn: 5 * 24 * time.Hour, Price: "25.00"})
	buyer := s.Users[0]
	b, p := e.paidThroughStandIn(t, s, buyer)

	// Five days ahead the policy gives 50% back; the provider had given 100%.
	e.refundInFull(t, buyer, b, p, "'refunded_at_provider' = 'true'")
	if z := e.Zone(t, s); z.GetAvailable() != 4 || z.GetSold() != 0 || z.GetHeld() != 0 {
		t.Fatalf("zone after the refund %v", z)
	}
}

// TestRefundOfADisputedCharge: the buyer disputed the charge with their
// bank, and Stripe refuses its refund (charge_disputed). While the dispute
// is open the refund waits (503 naming stripe, retried); once the buyer won
// it (the bank gave the money back), the payment is recorded refunded in
// full, once, and no refund is made at the provider: before, the refund was
// retried every 30 s for good, the money shown as kept.
func TestRefundOfADisputedCharge(t *testing.T) {
	t.Parallel()
	var status atomic.Value
	status.Store("under_review")
	stand, _, refunds := stripeStandIn(t, 0, func() (string, int64) { return status.Load().(string), standInCharge })
	e, buyer, b, p := paidAtStripe(t, stand, 10*24*time.Hour)

	_, err := e.payment.RefundPayment(context.Background(), testkit.As(t, e.Mesh, buyer, authn.RoleUser, &paymentv1.RefundPaymentRequest{PaymentId: p.GetId()}))
	if !errs.Is(err, errs.ServiceUnavailable) || !strings.Contains(err.Error(), "disputed") {
		t.Fatalf("a refund while the dispute is open: %v", err)
	}
	status.Store("lost")
	e.refundInFull(t, buyer, b, p, "'refunded_at_provider_amount' = '50.00'")
	if got := refunds(); len(got) != 0 {
		t.Fatalf("refunds made at the provider of a charge the bank gave back: %v", got)
	}
}

// TestRefundRetriedAfterTheProviderForgotItsKey: a refund was made at
// Stripe but its record here failed (the commit after the provider call),
// and its retry comes more than 24 hours later (a long outage), when Stripe
// has forgotten the refund's idempotency key. Before, the retry made a
// second refund: the buyer who cancelled for 50% got 100% back, and the
// payment recorded 50%. The retry finds the refund Stripe made by the
// marker it carries (our payment id in its metadata) and records that one:
// one refund at the provider, recorded once.
func TestRefundRetriedAfterTheProviderForgotItsKey(t *testing.T) {
	t.Parallel()
	stand := newStandIn(t, 0)
	e, buyer, _, p := paidAtStripe(t, stand.URL, 5*24*time.Hour)
	pi := p.GetProviderReference()
	refund := func() (*paymentv1.Payment, error) {
		r, err := e.payment.RefundPayment(context.Background(), testkit.As(t, e.Mesh, buyer, authn.RoleUser,
			&paymentv1.RefundPaymentRequest{PaymentId: p.GetId()}))
		if err != nil {
			return nil, err
		}
		return r.Msg.GetPayment(), nil
	}

	// Five days ahead the policy gives 50% back: 25.00. The provider makes
	// the refund; recording it fails.
	restore := e.failRefundRecords(t)
	if pay, err := refund(); err == nil {
		t.Fatalf("the refund was recorded although its commit failed: %v", pay)
	}
	if got := stand.refundsOf(pi); len(got) != 1 || got[0].Amount != 2500 {
		t.Fatalf("refunds at the provider after the first attempt: %+v, want one of 2500", got)
	}
	// A day and more later Stripe has forgotten the key; the decision is
	// that old too. The store works again.
	stand.advance(25 * time.Hour)
	e.exec(t, `BEGIN; SET LOCAL session_replication_role = replica;
		UPDATE payments SET refund_requested_at = refund_requested_at - interval '25 hours' WHERE id = '`+p.GetId()+`'; COMMIT`)
	restore()

	pay, err := refund()
	if err != nil || pay.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED || pay.GetRefundedAmount() != "25.00" {
		t.Fatalf("the retry a day later: %v %v", pay, err)
	}
	made := stand.refundsOf(pi)
	if len(made) != 1 {
		amounts := []int64{}
		for _, re := range made {
			amounts = append(amounts, re.Amount)
		}
		t.Fatalf("refunds at the provider of %v cents, want the first attempt's only: the buyer was paid back twice", amounts)
	}
	if m := made[0].Metadata; m["payment_id"] != p.GetId() || m["rush_refund"] != "share" {
		t.Fatalf("the refund's metadata %v, want our payment id and kind share", m)
	}
	if n := e.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND refund_reference = $2`, p.GetId(), made[0].ID); n != 1 {
		t.Fatalf("the payment does not record the refund Stripe made (%s) as its refund", made[0].ID)
	}
	if n := e.Count(t, `SELECT count(*) FROM audit_logs WHERE action = 'payment.refund' AND entity_id = $1`, p.GetId()); n != 1 {
		t.Fatalf("%d refund audit entries, want 1", n)
	}
}

// TestRefundMadeBeforeRefundsWereMarked: a refund made by the version
// before refunds carried our marker (no metadata), whose record failed, is
// retried by this version while Stripe still keeps its key. Stripe refuses
// the key with other parameters (idempotency_error): the provider asks
// again as that version did and gets that refund, once; without that the
// retry failed until Stripe forgot the key, and then refunded again. A
// listing finds only marked refunds of the payment.
func TestRefundMadeBeforeRefundsWereMarked(t *testing.T) {
	t.Parallel()
	stand := newStandIn(t, 0)
	st, err := payment.NewStripe(payment.StripeConfig{SecretKey: "sk_test_123", WebhookSecret: webhookSecret, APIURL: stand.URL}, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req, _ := http.NewRequest(http.MethodPost, stand.URL+"/v1/refunds", strings.NewReader("payment_intent=pi_old&amount=2500"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Idempotency-Key", "rush-refund-pi_old")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	old := payment.PaymentRef{PaymentID: "pay-old", ProviderID: "pi_old"}
	if _, _, found, err := st.FindRefund(ctx, old); err != nil || found {
		t.Fatalf("an unmarked refund found as ours: %v %v", found, err)
	}
	ref, outside, err := st.Refund(ctx, old, 2500)
	if made := stand.refundsOf("pi_old"); err != nil || outside != 0 || len(made) != 1 || ref != made[0].ID {
		t.Fatalf("the retry of an unmarked refund: %q %d %v; refunds made %+v", ref, outside, err, made)
	}

	mine, theirs := payment.PaymentRef{PaymentID: "pay-new", ProviderID: "pi_new"}, payment.PaymentRef{PaymentID: "pay-other", ProviderID: "pi_new"}
	ref, _, err = st.Refund(ctx, mine, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, found, err := st.FindRefund(ctx, mine); err != nil || !found || got != ref {
		t.Fatalf("our marked refund %q not found: %q %v %v", ref, got, found, err)
	}
	if _, _, found, err := st.FindRefund(ctx, theirs); err != nil || found {
		t.Fatalf("a refund of another payment found as this one's: %v %v", found, err)
	}
}

// TestRefundCallsTheProviderOutsideATransaction: while Stripe takes its
// time to answer a refund, the payment's row is not locked and no Postgres
// connection is held for it. Before, the refund held the payment's row lock
// and a connection for the whole provider call (an event cancellation's 8
// parallel refunds held 8 of the pool's connections for the length of
// Stripe's answers). The refund is claimed in Postgres instead; a second
// refund call for the payment meanwhile waits for the first rather than
// calling the provider too, and both answer the one refund made.
func TestRefundCallsTheProviderOutsideATransaction(t *testing.T) {
	t.Parallel()
	stand := newStandIn(t, 0)
	e, buyer, _, p := paidAtStripe(t, stand.URL, 10*24*time.Hour)
	type answer struct {
		pay *paymentv1.Payment
		err error
	}
	answers := make(chan answer, 2)
	refund := func() {
		r, err := e.payment.RefundPayment(context.Background(), testkit.As(t, e.Mesh, buyer, authn.RoleUser,
			&paymentv1.RefundPaymentRequest{PaymentId: p.GetId()}))
		if err != nil {
			answers <- answer{err: err}
			return
		}
		answers <- answer{pay: r.Msg.GetPayment()}
	}

	arrived, release := stand.holdNextRefund(t)
	go refund()
	select {
	case <-arrived:
	case a := <-answers:
		t.Fatalf("the refund answered before the provider was asked: %v %v", a.pay, a.err)
	case <-time.After(20 * time.Second):
		t.Fatal("no refund request reached the provider")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tx, err := e.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, `SELECT 1 FROM payments WHERE id = $1 FOR UPDATE NOWAIT`, p.GetId())
	_ = tx.Rollback(ctx)
	if err != nil {
		t.Fatalf("the payment's row while the provider refunds: %v: a transaction holds it (and its connection) for the provider's call", err)
	}
	if n := e.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND refund_claimed_at IS NOT NULL AND refunded_at IS NULL`, p.GetId()); n != 1 {
		t.Fatal("the refund is not claimed while the provider refunds")
	}
	go refund()
	time.Sleep(time.Second)
	if n := stand.refundPosts(); n != 1 {
		t.Fatalf("%d refund requests at the provider while the first is answered, want 1", n)
	}
	release()
	for range 2 {
		select {
		case a := <-answers:
			if a.err != nil || a.pay.GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED || a.pay.GetRefundedAmount() != "50.00" {
				t.Fatalf("a refund call: %v %v", a.pay, a.err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a refund call did not answer")
		}
	}
	if made := stand.refundsOf(p.GetProviderReference()); len(made) != 1 || made[0].Amount != standInCharge {
		t.Fatalf("refunds at the provider %+v, want one of %d", made, standInCharge)
	}
	if n := e.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND refund_claimed_at IS NULL`, p.GetId()); n != 1 {
		t.Fatal("the refund's claim outlives its record")
	}
	if n := e.Count(t, `SELECT count(*) FROM audit_logs WHERE action = 'payment.refund' AND entity_id = $1`, p.GetId()); n != 1 {
		t.Fatalf("%d refund audit entries, want 1", n)
	}
}

// TestConcurrentPaymentsGetDistinctReferences: 30 buyers pay at once; each
// booking is confirmed and has its own reference, the same in the API and
// in Postgres (where it is unique).
func TestConcurrentPaymentsGetDistinctReferences(t *testing.T) {
	t.Parallel()
	e := start(t)
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 60, Users: 30})
	bookings := make([]*bookingv1.Booking, len(s.Users))
	for i, u := range s.Users {
		bookings[i] = e.Reserve(t, s, u, 2)
	}
	var wg sync.WaitGroup
	for i, u := range s.Users {
		wg.Go(func() {
			if _, err := e.pay(t, u, bookings[i].GetId(), payment.SimOK); err != nil {
				t.Errorf("pay: %v", err)
			}
		})
	}
	wg.Wait()
	refs := map[string]bool{}
	for i, u := range s.Users {
		got := e.waitBooking(t, u, bookings[i].GetId(), bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED, 20*time.Second)
		ref := got.GetReference()
		if ref != bookingref.Of(got.GetId()) || refs[ref] {
			t.Fatalf("booking %s: reference %q (seen before: %v)", got.GetId(), ref, refs[ref])
		}
		refs[ref] = true
		var stored string
		if err := e.Pool.QueryRow(context.Background(), `SELECT booking_reference(id) FROM bookings WHERE booking_reference_bits(id) = booking_reference_parse($2) AND id = $1`, got.GetId(), ref).Scan(&stored); err != nil || stored != ref {
			t.Fatalf("Postgres reference %q (%v), API %q", stored, err, ref)
		}
	}
	if z := e.Zone(t, s); z.GetSold() != 60 || z.GetAvailable() != 0 {
		t.Fatalf("zone %v", z)
	}
	e.AuditMoney(t, e.prefix)
}

// TestRefundQuoteAndZeroRefund: the quote says what a cancel would give
// back; under 3 days before the show it is nothing, and the cancelled
// purchase is "cancelled", not "refunded", with its seats back.
func TestRefundQuoteAndZeroRefund(t *testing.T) {
	t.Parallel()
	e := start(t)
	for _, tc := range []struct {
		showIn       time.Duration
		pct          int32
		refund       string
		status       bookingv1.BookingStatus
		paymentAfter paymentv1.PaymentStatus
	}{
		{30 * 24 * time.Hour, 100, "99.80", bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED, paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED},
		{5 * 24 * time.Hour, 50, "49.90", bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED, paymentv1.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED},
		{24 * time.Hour, 0, "0.00", bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED, paymentv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED},
	} {
		s := e.SeedShop(t, testkit.ShopOptions{Seats: 4, ShowIn: tc.showIn})
		buyer := s.Users[0]
		b := e.Reserve(t, s, buyer, 2)
		quote := func() *paymentv1.GetRefundQuoteResponse {
			t.Helper()
			res, err := e.payment.GetRefundQuote(context.Background(), testkit.As(t, e.Mesh, buyer, authn.RoleUser,
				&paymentv1.GetRefundQuoteRequest{BookingId: b.GetId()}))
			if err != nil {
				t.Fatalf("quote: %v", err)
			}
			return res.Msg
		}
		if q := quote(); !q.GetCancellable() || q.GetPaid() != "0.00" || q.GetRefundAmount() != "0.00" {
			t.Fatalf("quote of an unpaid hold: %v", q)
		}
		if _, err := e.payment.GetRefundQuote(context.Background(), testkit.As(t, e.Mesh, s.Users[1], authn.RoleUser,
			&paymentv1.GetRefundQuoteRequest{BookingId: b.GetId()})); code(err) != connect.CodeNotFound {
			t.Fatalf("quote of another's booking: %v", err)
		}
		p, err := e.pay(t, buyer, b.GetId(), payment.SimOK)
		if err != nil {
			t.Fatal(err)
		}
		e.waitBooking(t, buyer, b.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED, 15*time.Second)
		if q := quote(); !q.GetCancellable() || q.GetPaid() != "99.80" || q.GetRefundPercent() != tc.pct || q.GetRefundAmount() != tc.refund || q.GetPolicy() == "" {
			t.Fatalf("quote %v, want %d%% = %s", q, tc.pct, tc.refund)
		}
		res, err := e.booking.CancelBooking(context.Background(), testkit.As(t, e.Mesh, buyer, authn.RoleUser,
			&bookingv1.CancelBookingRequest{BookingId: b.GetId()}))
		if err != nil || res.Msg.GetBooking().GetStatus() != tc.status || res.Msg.GetBooking().GetCancelCause() != bookingv1.CancelCause_CANCEL_CAUSE_BUYER {
			t.Fatalf("cancel: %v %v, want %v", res, err, tc.status)
		}
		if got := e.getPayment(t, buyer, p.GetId()); got.GetStatus() != tc.paymentAfter || got.GetRefundedAmount() != tc.refund {
			t.Fatalf("payment after the cancel %v", got)
		}
		if z := e.Zone(t, s); z.GetAvailable() != 4 || z.GetSold() != 0 {
			t.Fatalf("zone %v", z)
		}
		// An ended purchase's quote says what was charged and given back.
		if q := quote(); q.GetCancellable() || q.GetPaid() != "99.80" || q.GetRefunded() != tc.refund {
			t.Fatalf("quote of an ended booking %v, want paid 99.80, refunded %s", q, tc.refund)
		}
		// Durable at once, before the money moved.
		if n := e.Count(t, `SELECT count(*) FROM bookings WHERE id = $1 AND status = $2 AND cancel_cause = 'buyer'`,
			b.GetId(), map[bookingv1.BookingStatus]string{bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED: "refunded",
				bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED: "cancelled"}[tc.status]); n != 1 {
			t.Fatal("the release is not in Postgres")
		}
	}
	e.AuditMoney(t, e.prefix)
}

// TestReconcilerSettlesWhatWasLeftOpen: payments left open by lost
// webhooks, a missing saga and an interrupted refund are all settled by
// the reconciler: in the end every succeeded payment has a confirmed
// booking or a full refund, and nothing is pending.
func TestReconcilerSettlesWhatWasLeftOpen(t *testing.T) {
	t.Parallel()
	e := start(t, "-payment.reconcile-interval=200ms", "-payment.reconcile-grace=1s", "-payment.stale-after=2s")
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 20, Users: 6, MaxPerUser: 10})
	ctx := context.Background()
	insert := func(user, bookingID, status, ref string, age time.Duration) string {
		t.Helper()
		var id string
		if err := e.Pool.QueryRow(ctx, `INSERT INTO payments (booking_id, user_id, amount, status, provider, provider_payment_id, created_at,
				succeeded_at) VALUES ($1, $2, 99.80, $3, 'simulator', NULLIF($4, ''), now() - make_interval(secs => $5),
				CASE WHEN $3 = 'succeeded' THEN now() - make_interval(secs => $5) END) RETURNING id::text`,
			bookingID, user, status, ref, age.Seconds()).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	// 1. Its webhook was lost: the provider says it succeeded; the hold
	// still lives, so it ends confirmed.
	lost := e.Reserve(t, s, s.Users[0], 2)
	lostPay := insert(s.Users[0], lost.GetId(), "processing", "simpi_ok_"+uuid.NewString(), time.Hour)
	// 2. Declined, webhook lost: failed.
	declined := e.Reserve(t, s, s.Users[1], 2)
	declinedPay := insert(s.Users[1], declined.GetId(), "processing", "simpi_declined_"+uuid.NewString(), time.Hour)
	// 3. The process died before the provider took it: failed.
	never := e.Reserve(t, s, s.Users[2], 2)
	neverPay := insert(s.Users[2], never.GetId(), "pending", "", time.Hour)
	// 4. Succeeded, but no saga ever ran, and the hold expired: refunded.
	gone := e.Reserve(t, s, s.Users[3], 2)
	if _, err := e.booking.CancelBooking(ctx, testkit.As(t, e.Mesh, s.Users[3], authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: gone.GetId()})); err != nil {
		t.Fatal(err)
	}
	gonePay := insert(s.Users[3], gone.GetId(), "succeeded", "simpi_ok_"+uuid.NewString(), time.Minute)
	// 5. Succeeded, no saga, the hold lives: confirmed.
	live := e.Reserve(t, s, s.Users[4], 2)
	livePay := insert(s.Users[4], live.GetId(), "succeeded", "simpi_ok_"+uuid.NewString(), time.Minute)
	// 6. A refund decided, then interrupted before the money moved.
	paid := e.Reserve(t, s, s.Users[5], 2)
	p, err := e.pay(t, s.Users[5], paid.GetId(), payment.SimOK)
	if err != nil {
		t.Fatal(err)
	}
	e.waitBooking(t, s.Users[5], paid.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED, 15*time.Second)
	if _, err := e.Pool.Exec(ctx, `UPDATE payments SET refund_percent = 100, refund_cause = 'REFUND_CAUSE_ORGANIZER_CANCELLED',
		refund_requested_at = now() - interval '1 minute' WHERE id = $1`, p.GetId()); err != nil {
		t.Fatal(err)
	}

	want := map[string]string{lostPay: "succeeded", declinedPay: "failed", neverPay: "failed", gonePay: "refunded", livePay: "succeeded", p.GetId(): "refunded"}
	testkit.Eventually(t, 30*time.Second, "every payment settled", func() bool {
		for id, st := range want {
			if e.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND status = $2`, id, st) != 1 {
				return false
			}
		}
		return true
	})
	e.waitBooking(t, s.Users[0], lost.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED, 15*time.Second)
	e.waitBooking(t, s.Users[4], live.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED, 15*time.Second)
	e.waitBooking(t, s.Users[5], paid.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED, 15*time.Second)
	testkit.Eventually(t, 15*time.Second, "kept payments marked settled", func() bool {
		return e.Count(t, `SELECT count(*) FROM payments WHERE id = ANY($1) AND settled_at IS NOT NULL`, []string{lostPay, livePay}) == 2
	})
	if n := e.Count(t, `SELECT count(*) FROM payment_webhook_events WHERE provider_event_id LIKE 'reconcile:%'`); n != 3 {
		t.Fatalf("%d reconciler lookups recorded, want 3", n)
	}
	e.Drained(t, "booking-persister", topic.BookingEvents)
	e.AuditMoney(t, e.prefix)
}

// TestSucceededOfEventFollowsPayments: what an organizer's cancellation
// refunds is every payment of the event that succeeded, whatever its booking
// says yet (the persister writes a confirmation moments after Redis knows
// it); refunded, failed and other events' payments are left. A payment
// created through the service carries its booking's event.
func TestSucceededOfEventFollowsPayments(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := context.Background()
	s := e.SeedShop(t, testkit.ShopOptions{Users: 1})
	other := e.SeedShop(t, testkit.ShopOptions{Users: 1})
	insert := func(shop testkit.Shop, status string) string {
		t.Helper()
		var id string
		if err := e.Pool.QueryRow(ctx, `INSERT INTO payments (booking_id, user_id, event_id, amount, status, provider, succeeded_at,
				refunded_amount, refunded_at)
			VALUES ($1, $2, $3, 25, $4, 'simulator', CASE WHEN $4 <> 'failed' THEN now() END,
				CASE WHEN $4 = 'refunded' THEN 25 ELSE 0 END, CASE WHEN $4 = 'refunded' THEN now() END) RETURNING id::text`,
			uuid.NewString(), shop.Users[0], shop.Event, status).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	want := map[string]bool{insert(s, "succeeded"): true}
	insert(s, "refunded")
	insert(s, "failed")
	insert(other, "succeeded")
	b := e.Reserve(t, s, s.Users[0], 1)
	pay, err := e.pay(t, s.Users[0], b.GetId(), "sim_ok")
	if err != nil {
		t.Fatal(err)
	}
	e.waitPayment(t, s.Users[0], pay.GetId(), paymentv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED, 10*time.Second)
	want[pay.GetId()] = true

	got, err := payment.NewStore(e.Pool).SucceededOfEvent(ctx, s.Event)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, p := range got {
		ids[p.ID] = true
	}
	if len(got) != len(want) || !ids[pay.GetId()] {
		t.Fatalf("succeeded payments of the event %v, want %v", ids, want)
	}
	for id := range want {
		if !ids[id] {
			t.Fatalf("succeeded payments of the event %v, want %v", ids, want)
		}
	}
}
