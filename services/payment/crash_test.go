package payment_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"go.uber.org/fx"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/services/app"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/faulttest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

// crashStripe is a Stripe stand-in that can hold the answer of a
// PaymentIntent creation (the payment process dies while it waits for it),
// after charging it or not, and remembers every intent and refund.
type crashStripe struct {
	URL string

	mu      sync.Mutex
	hang    bool // creations wait for release and answer nothing useful
	charge  bool // a held creation charged the card before the answer was lost
	creates map[string]int
	intents map[string]string // intent id -> status
	refunds map[string]string // intent id -> amount
	release chan struct{}
}

func newCrashStripe(t *testing.T) *crashStripe {
	t.Helper()
	s := &crashStripe{creates: map[string]int{}, intents: map[string]string{}, refunds: map[string]string{}, release: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := neturl.ParseQuery(string(body))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/payment_intents":
			key := r.Header.Get("Idempotency-Key")
			id := "pi_" + strings.TrimPrefix(key, "rush-intent-")
			s.mu.Lock()
			s.creates[key]++
			hang := s.hang
			status := "requires_payment_method"
			if form.Get("confirm") == "true" {
				status = "succeeded"
			}
			if _, ok := s.intents[id]; !ok && (!hang || s.charge) {
				s.intents[id] = status
			}
			s.mu.Unlock()
			if hang {
				<-s.release
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"error":{"type":"api_error","message":"gone"}}`))
				return
			}
			_, _ = fmt.Fprintf(w, `{"id":%q,"object":"payment_intent","client_secret":"%s_secret","status":%q}`, id, id, status)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/payment_intents/search":
			// Only the query Find sends: metadata['payment_id']:'<id>'.
			q := r.URL.Query().Get("query")
			id := "pi_" + strings.TrimSuffix(strings.TrimPrefix(q, "metadata['payment_id']:'"), "'")
			s.mu.Lock()
			status, ok := s.intents[id]
			s.mu.Unlock()
			data := "[]"
			if ok {
				data = fmt.Sprintf(`[{"id":%q,"object":"payment_intent","status":%q}]`, id, status)
			}
			_, _ = fmt.Fprintf(w, `{"object":"search_result","url":"/v1/payment_intents/search","has_more":false,"data":%s}`, data)
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/payment_intents/"):
			id := strings.TrimPrefix(r.URL.Path, "/v1/payment_intents/")
			s.mu.Lock()
			status, ok := s.intents[id]
			s.mu.Unlock()
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such payment_intent"}}`))
				return
			}
			_, _ = fmt.Fprintf(w, `{"id":%q,"object":"payment_intent","client_secret":"%s_secret","status":%q}`, id, id, status)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/cancel"):
			id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/payment_intents/"), "/cancel")
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.intents[id] == "succeeded" {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"succeeded"}}`))
				return
			}
			s.intents[id] = "canceled"
			_, _ = fmt.Fprintf(w, `{"id":%q,"object":"payment_intent","status":"canceled"}`, id)
		case r.Method == http.MethodPost && r.URL.Path == "/v1/refunds":
			pi := form.Get("payment_intent")
			s.mu.Lock()
			s.refunds[pi] = form.Get("amount")
			s.mu.Unlock()
			_, _ = fmt.Fprintf(w, `{"id":"re_%s","object":"refund","status":"succeeded","amount":%s}`, pi, form.Get("amount"))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { s.setHang(false, false); s.once() }) // runs before srv.Close
	s.URL = srv.URL
	return s
}

var releaseOnce sync.Map

func (s *crashStripe) once() {
	if _, loaded := releaseOnce.LoadOrStore(s, true); !loaded {
		close(s.release)
	}
}

func (s *crashStripe) setHang(hang, charge bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang, s.charge = hang, charge
}

func (s *crashStripe) state(id string) (intent, refund string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.intents[id], s.refunds[id]
}

// crashEnv is the mesh without payment (auth, catalog, booking and its
// workers, saga) on one schema, and payment in an fx app of its own that a
// test stops as abruptly as fx allows (errors ignored, in-flight calls
// left hanging: a pod killed mid-call).
type crashEnv struct {
	rest    *testkit.App
	dsn     string
	payArgs []string
	payAddr string
}

func startCrashEnv(t *testing.T, stripeURL string, extra ...string) *crashEnv {
	t.Helper()
	dsn := pgtest.Migrated(t)
	prefix := testkit.KeyPrefix(t, testkit.Config(t, dsn).Redis.URL.Reveal())
	payAddr := faulttest.FreeAddr(t)
	rest := testkit.StartApp(t, testkit.Config(t, dsn, "-postgres.migrate-on-start=false",
		"-target=auth,catalog,booking,relay,persister,saga", "-booking.key-prefix="+prefix,
		"-peer.payment="+payAddr, "-saga.retry-backoff=20ms"))
	hostport := func(name string) string { return strings.TrimPrefix(rest.URL(t, name), "http://") }
	args := append([]string{"-postgres.migrate-on-start=false", "-target=payment", "-payment.addr=" + payAddr,
		"-peer.booking=" + hostport("booking"), "-peer.catalog=" + hostport("catalog"),
		"-kafka.brokers=" + strings.Join(rest.Kafka.Brokers(), ","), "-payment.outbox-poll=50ms",
		"-payment.provider=stripe", "-stripe.secret-key=sk_test_123", "-stripe.webhook-secret=" + webhookSecret, "-stripe.api-url=" + stripeURL,
		"-server.shutdown-timeout=500ms"}, extra...)
	return &crashEnv{rest: rest, dsn: dsn, payArgs: args, payAddr: payAddr}
}

// startPayment runs the payment target; kill stops it.
func (e *crashEnv) startPayment(t *testing.T) (paymentv1connect.PaymentServiceClient, func()) {
	t.Helper()
	a := app.New(testkit.Config(t, e.dsn, e.payArgs...), fx.NopLogger)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatalf("start payment: %v", err)
	}
	var once sync.Once
	kill := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = a.Stop(ctx) // a crash: whatever did not stop is abandoned
		})
	}
	t.Cleanup(kill)
	return paymentv1connect.NewPaymentServiceClient(server.NewClient(), "http://"+e.payAddr), kill
}

func (e *crashEnv) payKey(ctx context.Context, t *testing.T, c paymentv1connect.PaymentServiceClient, user, bookingID, method, key string) (*connect.Response[paymentv1.CreatePaymentResponse], error) {
	req := testkit.As(t, e.rest.Mesh, user, authn.RoleUser, &paymentv1.CreatePaymentRequest{BookingId: bookingID, PaymentMethod: method})
	req.Header().Set("Idempotency-Key", key)
	return c.CreatePayment(ctx, req)
}

// TestPaymentCreationInterruptedByACrashCanBeRetried: the payment process
// dies while CreatePayment waits for the provider (the payment row is
// written, pending, without an intent: a deploy's SIGKILL, an OOM). The
// buyer retries with the same Idempotency-Key a minute later, once a new
// process runs, well within the hold's 10 minutes. The retry must get a payment the
// buyer can finish (an intent, its client secret), as a retry after a 503
// does. Today it answers the dead pending payment again (no intent, no
// client secret), and any other key is refused ("this booking already has
// a payment"), until the reconciler fails the row after payment.stale-after
// (15 min, longer than the hold): the buyer cannot pay and loses the seats.
func TestPaymentCreationInterruptedByACrashCanBeRetried(t *testing.T) {
	t.Parallel()
	stripe := newCrashStripe(t)
	e := startCrashEnv(t, stripe.URL)
	s := e.rest.SeedShop(t, testkit.ShopOptions{Seats: 10})
	buyer := s.Users[0]
	b := e.rest.Reserve(t, s, buyer, 1)
	key := "pay-" + uuid.NewString()

	first, kill := e.startPayment(t)
	stripe.setHang(true, false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err := e.payKey(ctx, t, first, buyer, b.GetId(), "card", key)
	cancel()
	if err == nil {
		t.Fatal("the payment was created although the provider never answered")
	}
	testkit.Eventually(t, 5*time.Second, "payment row written", func() bool {
		return e.rest.Count(t, `SELECT count(*) FROM payments WHERE booking_id = $1`, b.GetId()) == 1
	})
	kill()
	stripe.setHang(false, false)
	// The buyer retries a minute later (long after any provider call of
	// the dead process could have ended).
	if _, err := e.rest.Pool.Exec(context.Background(), `BEGIN; SET LOCAL session_replication_role = replica;
		UPDATE payments SET created_at = created_at - interval '1 minute', updated_at = updated_at - interval '1 minute' WHERE booking_id = '`+b.GetId()+`'; COMMIT`); err != nil {
		t.Fatal(err)
	}

	second, _ := e.startPayment(t)
	res, err := e.payKey(context.Background(), t, second, buyer, b.GetId(), "card", key)
	if err != nil {
		t.Fatalf("the retry after the crash: %v", err)
	}
	pay := res.Msg.GetPayment()
	if pay.GetClientSecret() == "" || pay.GetProviderReference() == "" {
		_, other := e.payKey(context.Background(), t, second, buyer, b.GetId(), "card", "pay-"+uuid.NewString())
		t.Fatalf("the retry with the same key after the crash answers %v (replayed %q): no intent, no client secret, so the buyer cannot pay; "+
			"another key: %v", pay.GetStatus(), res.Header().Get("Idempotent-Replayed"), other)
	}
}

// TestReconcilerAsksTheProviderAboutAPaymentACrashLeftWithoutIntent: the
// payment process dies after Stripe created and charged the intent
// (payment_method pm_..., confirmed at once) but before the intent's id
// was stored, and the success webhook is lost (what the reconciler exists
// for). The reconciler then finds a stale pending payment without intent
// and records it failed, "abandoned before the payment provider took it",
// without asking the provider: the charge is kept without a ticket and
// never refunded. Stripe finds the intent under the idempotency key the
// payment was created with (rush-intent-<payment id>).
func TestReconcilerAsksTheProviderAboutAPaymentACrashLeftWithoutIntent(t *testing.T) {
	t.Parallel()
	stripe := newCrashStripe(t)
	e := startCrashEnv(t, stripe.URL, "-payment.reconcile-interval=200ms", "-payment.stale-after=2s", "-payment.reconcile-grace=2s")
	s := e.rest.SeedShop(t, testkit.ShopOptions{Seats: 10})
	buyer := s.Users[0]
	b := e.rest.Reserve(t, s, buyer, 1)

	first, kill := e.startPayment(t)
	stripe.setHang(true, true) // charged, then the process dies before it hears so
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, _ = e.payKey(ctx, t, first, buyer, b.GetId(), "pm_card_visa", "pay-"+uuid.NewString())
	cancel()
	var payID string
	testkit.Eventually(t, 5*time.Second, "payment row written", func() bool {
		_ = e.rest.Pool.QueryRow(context.Background(), `SELECT id::text FROM payments WHERE booking_id = $1`, b.GetId()).Scan(&payID)
		return payID != ""
	})
	kill()
	stripe.setHang(false, false)
	if st, _ := stripe.state("pi_" + payID); st != "succeeded" {
		t.Fatalf("stand-in intent %q, want succeeded", st)
	}

	_, _ = e.startPayment(t)
	var status, reason string
	testkit.Eventually(t, 20*time.Second, "payment settled by the reconciler", func() bool {
		_ = e.rest.Pool.QueryRow(context.Background(), `SELECT status, COALESCE(failed_reason, '') FROM payments WHERE id = $1`, payID).Scan(&status, &reason)
		return status != "pending" && status != "processing"
	})
	// Give a correct reconciler the time to confirm or refund it.
	testkit.Eventually(t, 20*time.Second, "charge confirmed or refunded", func() bool {
		_ = e.rest.Pool.QueryRow(context.Background(), `SELECT status, COALESCE(failed_reason, '') FROM payments WHERE id = $1`, payID).Scan(&status, &reason)
		_, refund := stripe.state("pi_" + payID)
		return refund != "" || (status == "succeeded" && e.rest.Count(t, `SELECT count(*) FROM bookings WHERE id = $1 AND status = 'confirmed'`, b.GetId()) == 1) ||
			status == "failed"
	})
	if _, refund := stripe.state("pi_" + payID); status == "failed" && refund == "" {
		t.Fatalf("the provider charged the buyer (intent pi_%s succeeded) but the payment is recorded %q (%q) and nothing is refunded: money kept without a ticket",
			payID, status, reason)
	}
}

// TestRefundOfAProcessThatDiedDuringTheProviderCall: the payment process
// dies while Stripe refunds (the refund is made; its answer never heard).
// The refund stays claimed; once the claim lapsed, the reconciler of the
// process that runs next finishes it, asking Stripe first for the refund
// the dead attempt made (by its marker): the payment records that refund,
// and no second refund request is made.
func TestRefundOfAProcessThatDiedDuringTheProviderCall(t *testing.T) {
	t.Parallel()
	stand := newStandIn(t, 0)
	e := startCrashEnv(t, stand.URL, "-payment.reconcile-interval=200ms")
	s := e.rest.SeedShop(t, testkit.ShopOptions{Seats: 4, ShowIn: 10 * 24 * time.Hour, Price: "25.00"})
	buyer := s.Users[0]
	b := e.rest.Reserve(t, s, buyer, 2)
	ctx := context.Background()

	first, kill := e.startPayment(t)
	key := "pay-" + uuid.NewString()
	_, _ = e.payKey(ctx, t, first, buyer, b.GetId(), "card", key) // the stand-in's first answer is a 503
	res, err := e.payKey(ctx, t, first, buyer, b.GetId(), "card", key)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Msg.GetPayment()
	sendSucceeded(t, first, p)
	testkit.Eventually(t, 20*time.Second, "booking confirmed", func() bool {
		return e.rest.Booking(t, buyer, b.GetId()).GetStatus() == bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED
	})

	arrived, _ := stand.holdNextRefund(t)
	go func() {
		_, _ = first.RefundBooking(ctx, testkit.AsService(t, e.rest.Mesh, "saga", &paymentv1.RefundBookingRequest{
			BookingId: b.GetId(), PaymentId: p.GetId(), Cause: paymentv1.RefundCause_REFUND_CAUSE_ORGANIZER_CANCELLED, Reason: "the event was cancelled"}))
	}()
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("no refund request reached the provider")
	}
	kill()
	// The dead attempt's claim lapses (refundLease).
	if _, err := e.rest.Pool.Exec(ctx, `BEGIN; SET LOCAL session_replication_role = replica;
		UPDATE payments SET refund_claimed_at = refund_claimed_at - interval '5 minutes' WHERE id = '`+p.GetId()+`'; COMMIT`); err != nil {
		t.Fatal(err)
	}

	_, _ = e.startPayment(t)
	testkit.Eventually(t, 40*time.Second, "refund finished by the reconciler", func() bool {
		return e.rest.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND status = 'refunded' AND refund_claimed_at IS NULL`, p.GetId()) == 1
	})
	made := stand.refundsOf(p.GetProviderReference())
	if len(made) != 1 || stand.refundPosts() != 1 {
		t.Fatalf("refunds at the provider %+v after %d refund requests, want the dead attempt's only", made, stand.refundPosts())
	}
	if n := e.rest.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND refund_reference = $2 AND refunded_amount = 50`, p.GetId(), made[0].ID); n != 1 {
		t.Fatalf("the payment does not record the refund the dead attempt made (%s)", made[0].ID)
	}
}
