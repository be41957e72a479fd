package payment

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/errs"
)

// Simulator methods.
const (
	SimOK       = "sim_ok"       // succeeds at once
	SimDeclined = "sim_declined" // fails at once
	SimSlow     = "sim_slow"     // succeeds after payment.sim-delay
)

// Deliverer posts a signed webhook to the payment service's webhook
// endpoint (HandleStripeWebhook).
type Deliverer func(ctx context.Context, payload []byte, sigHeader string) error

// Simulator is the development and test provider: it charges nothing and
// answers with a Stripe-shaped event, signed like Stripe's with the webhook
// secret and delivered to the service's own webhook RPC, so the
// verification and processing that run are the production ones.
type Simulator struct {
	secret  string
	delay   time.Duration
	log     *zap.Logger
	deliver Deliverer

	mu     sync.Mutex // orders the deliveries' start with Close
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewSimulator returns the simulator; it signs with secret and answers
// sim_slow after delay. Set its Deliverer before use.
func NewSimulator(secret string, delay time.Duration, log *zap.Logger) *Simulator {
	ctx, cancel := context.WithCancel(context.Background())
	return &Simulator{secret: secret, delay: delay, log: log.Named("simulator"), ctx: ctx, cancel: cancel}
}

// SetDeliverer sets where webhooks go.
func (s *Simulator) SetDeliverer(d Deliverer) { s.deliver = d }

// Close stops pending deliveries and waits for them: a payment whose webhook
// was not delivered stays processing.
func (s *Simulator) Close() {
	s.mu.Lock()
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
}

// Name is "simulator".
func (s *Simulator) Name() string { return "simulator" }

// CreateIntent accepts sim_ok, sim_declined and sim_slow and schedules the
// webhook that tells the outcome.
func (s *Simulator) CreateIntent(_ context.Context, in Intent) (string, string, error) {
	var delay time.Duration
	outcome := eventSucceeded
	switch in.Method {
	case SimOK:
	case SimSlow:
		delay = s.delay
	case SimDeclined:
		outcome = eventFailed
	default:
		return "", "", errs.New(errs.Validation, "the payment simulator takes payment_method sim_ok, sim_declined or sim_slow",
			"fields", []any{map[string]any{"field": "payment_method", "message": "one of sim_ok, sim_declined, sim_slow"}})
	}
	// The method is part of the id, so Lookup tells the outcome after a
	// restart, as Stripe would.
	id := "simpi_" + strings.TrimPrefix(in.Method, "sim_") + "_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	payload := simEvent(id, outcome, in)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return "", "", errs.Unavailable("the payment simulator is stopping; retry", nil, "dependency", "simulator")
	}
	s.wg.Go(func() { s.send(id, payload, delay) })
	return id, id + "_secret_sim", nil
}

// send waits delay, then delivers the signed event, retrying while the
// endpoint does not answer (the service may still be starting).
func (s *Simulator) send(intentID string, payload []byte, delay time.Duration) {
	select {
	case <-time.After(delay):
	case <-s.ctx.Done():
		return
	}
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		sig := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: s.secret, Timestamp: time.Now()})
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		err := s.deliver(ctx, payload, sig.Header)
		cancel()
		if err == nil {
			return
		}
		if attempt == 8 || s.ctx.Err() != nil {
			s.log.Error("simulated webhook not delivered; the payment stays processing", zap.String("intent", intentID), zap.Error(err))
			return
		}
		select {
		case <-time.After(backoff):
			backoff *= 2
		case <-s.ctx.Done():
			return
		}
	}
}

// Refund refunds at once; the refund id is derived from the intent, so a
// retry of any age answers the same refund.
func (s *Simulator) Refund(_ context.Context, p PaymentRef, _ int64) (string, int64, error) {
	return "simre_" + strings.TrimPrefix(p.ProviderID, "simpi_"), 0, nil
}

// FindRefund finds none: a simulated refund moves nothing and is made
// again, the same, by Refund.
func (s *Simulator) FindRefund(context.Context, PaymentRef) (string, int64, bool, error) {
	return "", 0, false, nil
}

// RefundRest refunds the rest at once, as Refund does.
func (s *Simulator) RefundRest(_ context.Context, p PaymentRef, _ int64) (string, error) {
	return "simre_" + strings.TrimPrefix(p.ProviderID, "simpi_") + "_rest", nil
}

// Lookup answers the outcome the intent's method stands for: sim_ok and
// sim_slow succeed, sim_declined fails.
func (s *Simulator) Lookup(_ context.Context, providerID string) (IntentState, error) {
	method, _, _ := strings.Cut(strings.TrimPrefix(providerID, "simpi_"), "_")
	switch method {
	case "ok", "slow":
		return IntentState{Outcome: OutcomeSucceeded}, nil
	case "declined":
		return IntentState{Outcome: OutcomeFailed, FailureReason: "Your card was declined."}, nil
	}
	return IntentState{}, errs.New(errs.NotFound, "the simulator has no intent "+providerID)
}

// Find knows no intent: a simulated one is decided when created, and its
// webhook, sent from this process, died with the one that created it.
func (s *Simulator) Find(context.Context, string) (string, error) { return "", nil }

// MissedEvents has no list to read (ErrNoEventList): the simulator's
// webhooks are delivered in process (those in flight when it stops are lost
// with it).
func (s *Simulator) MissedEvents(context.Context, time.Time, time.Time) ([]Event, error) {
	return nil, ErrNoEventList
}

// Cancel has nothing to stop: a simulated intent is decided when created.
func (s *Simulator) Cancel(context.Context, string) error { return nil }

// VerifyWebhook checks the signature exactly as the Stripe provider does.
func (s *Simulator) VerifyWebhook(payload []byte, sigHeader string) (Event, error) {
	return verifyStripeEvent(payload, sigHeader, s.secret)
}

// simEvent is a Stripe event for the intent, in Stripe's JSON shape.
func simEvent(intentID, eventType string, in Intent) []byte {
	pi := map[string]any{
		"id": intentID, "object": "payment_intent", "amount": in.AmountCents, "currency": strings.ToLower(in.Currency),
		"metadata": in.metadata(),
		"status":   "succeeded",
	}
	if eventType == eventFailed {
		pi["status"] = "requires_payment_method"
		pi["last_payment_error"] = map[string]any{"type": "card_error", "code": "card_declined",
			"decline_code": "generic_decline", "message": "Your card was declined."}
	}
	b, _ := json.Marshal(map[string]any{
		"id": "evt_sim_" + strings.ReplaceAll(uuid.NewString(), "-", ""), "object": "event",
		"api_version": stripe.APIVersion, "created": time.Now().Unix(), "livemode": false,
		"type": eventType, "data": map[string]any{"object": pi},
	})
	return b
}
