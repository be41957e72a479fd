package payment

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/errs"
)

// StripeConfig is the top-level stripe section: the account's keys.
type StripeConfig struct {
	// SecretKey is the API key ("sk_live_..." / "sk_test_..."); required
	// with payment.provider=stripe.
	SecretKey config.Secret `yaml:"secret_key"`
	// WebhookSecret is the webhook endpoint's signing secret ("whsec_...");
	// required with Stripe. The simulator signs its webhooks with it too
	// (a random one per process when empty).
	WebhookSecret config.Secret `yaml:"webhook_secret"`
	// APIURL is Stripe's API base URL (a stripe-mock in tests).
	APIURL string `yaml:"api_url"`
}

// RegisterFlags registers stripe.* flags.
func (c *StripeConfig) RegisterFlags(f *flag.FlagSet) {
	config.SecretVar(f, &c.SecretKey, "stripe.secret-key", "", "Stripe API secret key (payment.provider=stripe)")
	config.SecretVar(f, &c.WebhookSecret, "stripe.webhook-secret", "", "signing secret of the Stripe webhook endpoint; the simulator signs with it too (random when empty)")
	f.StringVar(&c.APIURL, "stripe.api-url", stripe.APIURL, "Stripe API base URL")
}

// Validate checks the URL; whether the keys are required depends on
// payment.provider (checked when the payment service starts).
func (c *StripeConfig) Validate() error {
	if !strings.HasPrefix(c.APIURL, "http://") && !strings.HasPrefix(c.APIURL, "https://") {
		return errors.New("stripe.api-url: must be an http(s) URL")
	}
	return nil
}

// Stripe charges through Stripe PaymentIntents.
type Stripe struct {
	client        *stripe.Client
	webhookSecret string
	log           *zap.Logger
}

// NewStripe returns the Stripe provider; httpClient may be nil. stripe-go's
// own logging (warnings and errors only) goes to log.
func NewStripe(cfg StripeConfig, httpClient *http.Client, log *zap.Logger) (*Stripe, error) {
	if cfg.SecretKey == "" || cfg.WebhookSecret == "" {
		return nil, errors.New("payment.provider=stripe needs stripe.secret-key and stripe.webhook-secret (RUSH_STRIPE_SECRET_KEY, RUSH_STRIPE_WEBHOOK_SECRET)")
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	url := strings.TrimSuffix(cfg.APIURL, "/")
	noTelemetry := false
	backends := stripe.NewBackendsWithConfig(&stripe.BackendConfig{
		URL: &url, HTTPClient: httpClient, EnableTelemetry: &noTelemetry,
		LeveledLogger: log.Named("stripe").WithOptions(zap.IncreaseLevel(zap.WarnLevel)).Sugar(),
	})
	return &Stripe{
		client:        stripe.NewClient(cfg.SecretKey.Reveal(), stripe.WithBackends(backends)),
		webhookSecret: cfg.WebhookSecret.Reveal(),
		log:           log.Named("stripe"),
	}, nil
}

// Name is "stripe".
func (s *Stripe) Name() string { return "stripe" }

// CreateIntent creates a PaymentIntent for the booking's total. With
// method "card" the buyer's browser confirms it with the client secret;
// with a PaymentMethod id ("pm_...") it is confirmed at once.
func (s *Stripe) CreateIntent(ctx context.Context, in Intent) (string, string, error) {
	p := &stripe.PaymentIntentCreateParams{
		Amount:   stripe.Int64(in.AmountCents),
		Currency: stripe.String(strings.ToLower(in.Currency)),
		Metadata: in.metadata(),
	}
	if strings.HasPrefix(in.Method, "pm_") {
		p.PaymentMethod = stripe.String(in.Method)
		p.Confirm = stripe.Bool(true)
		p.PaymentMethodTypes = []*string{stripe.String("card")}
	} else {
		p.AutomaticPaymentMethods = &stripe.PaymentIntentCreateAutomaticPaymentMethodsParams{Enabled: stripe.Bool(true)}
	}
	// One intent per payment, even when this call is retried.
	p.SetIdempotencyKey("rush-intent-" + in.PaymentID)
	pi, err := s.client.V1PaymentIntents.Create(ctx, p)
	if err != nil {
		return "", "", s.stripeError(err)
	}
	return pi.ID, pi.ClientSecret, nil
}

// Metadata Booking Rush sets on each refund it makes: the marker by which
// FindRefund finds it again once Stripe forgot its idempotency key.
const (
	// refundMetaPayment is our payment's id.
	refundMetaPayment = "payment_id"
	// refundMetaKind is refundShare for the refund decided for the
	// payment (Refund), refundRest for a rest given after it (RefundRest).
	refundMetaKind = "rush_refund"
	// refundMetaOutside is, on a share made as a rest (part of the charge
	// had gone back by hand), that part, in cents: what Refund answered as
	// outside with it.
	refundMetaOutside = "outside_cents"
	// refundMetaRetry is, on a refund made again after p.Retry refunds of
	// the payment failed (PaymentRef.Retry), that number: FindRefund finds
	// the retry's own refund, not the first one's (failed, or the part of
	// a two-part refund that did not fail).
	refundMetaRetry = "rush_retry"

	refundShare = "share"
	refundRest  = "rest"
)

// Refund refunds amountCents of the PaymentIntent, marked as the payment's
// share. Stripe refuses a refund larger than what is left of the charge
// (amount_too_large): part of it was refunded in the dashboard. Then the
// charge's refunded amount is read, and only what amountCents leaves after
// it is refunded, under an idempotency key of its own (the first key is
// bound to the first amount), which names that rest: a retry that finds the
// same part refunds the same rest once, and one that finds more (the rest
// went through, or another hand refund) refunds only what is left. The
// charge's refunded amount includes what the payment holds as given back
// already (p.Back, on a refund made again after a failed one): only what
// it holds beyond that went back by hand.
func (s *Stripe) Refund(ctx context.Context, p PaymentRef, amountCents int64) (string, int64, error) {
	id, err := s.createRefund(ctx, p, amountCents, "rush-refund-"+p.ProviderID+retrySuffix(p), refundShare, 0)
	switch {
	case errors.Is(err, errRefundTooLarge):
		return s.refundRest(ctx, p, amountCents, refundShare)
	case errors.Is(err, errChargeDisputed):
		return s.disputed(ctx, p.ProviderID, amountCents)
	}
	return id, 0, err
}

// retrySuffix ends the idempotency keys of a refund made again after
// p.Retry refunds of the payment failed at Stripe ("" for the first): to
// the first key Stripe would answer the refund that failed, for 24 hours.
func retrySuffix(p PaymentRef) string {
	if m := retryMark(p); m != "" {
		return "-retry-" + m
	}
	return ""
}

// retryMark is the refundMetaRetry of p's refunds: "" for the first.
func retryMark(p PaymentRef) string {
	if p.Retry == 0 {
		return ""
	}
	return strconv.Itoa(p.Retry)
}

// FindRefund lists the PaymentIntent's refunds (GET /v1/refunds, newest
// first) and answers the share Refund made of the payment: the one whose
// metadata names the payment, the kind refundShare and p's retry (none for
// the first refund). Stripe keeps
// refunds and their metadata for good, unlike idempotency keys (kept 24
// hours), so this finds a refund whatever its age. One that failed or was
// cancelled gave nothing back: it is passed over, and a retry makes the
// refund again.
func (s *Stripe) FindRefund(ctx context.Context, p PaymentRef) (string, int64, bool, error) {
	params := &stripe.RefundListParams{PaymentIntent: stripe.String(p.ProviderID)}
	params.Limit = stripe.Int64(100)
	for r, err := range s.client.V1Refunds.List(ctx, params) {
		if err != nil {
			return "", 0, false, s.stripeError(err)
		}
		if r.Metadata[refundMetaPayment] != p.PaymentID || r.Metadata[refundMetaKind] != refundShare || r.Metadata[refundMetaRetry] != retryMark(p) ||
			r.Status == stripe.RefundStatusFailed || r.Status == stripe.RefundStatusCanceled {
			continue
		}
		outside, _ := strconv.ParseInt(r.Metadata[refundMetaOutside], 10, 64)
		return r.ID, outside, true, nil
	}
	return "", 0, false, nil
}

// errRefundTooLarge is a refund Stripe refused as larger than what is left
// of the charge (amount_too_large).
var errRefundTooLarge = errors.New("stripe: the refund is larger than what is left of the charge")

// errChargeDisputed is a refund Stripe refused because the buyer disputed
// the charge with their bank (charge_disputed).
var errChargeDisputed = errors.New("stripe: the buyer disputed the charge with their bank")

// disputed answers a refund Stripe refused because the charge is disputed.
// A dispute the buyer won (status lost, for us) gave the disputed amount
// back through the buyer's bank: that much is back outside, and nothing is
// refunded (Stripe refuses it); it answers it as the part outside when it
// covers amountCents. Otherwise (the dispute is still open, or gave back
// less) the refund waits: SERVICE_UNAVAILABLE, for the next try.
func (s *Stripe) disputed(ctx context.Context, providerID string, amountCents int64) (string, int64, error) {
	for d, err := range s.client.V1Disputes.List(ctx, &stripe.DisputeListParams{PaymentIntent: stripe.String(providerID)}) {
		if err != nil {
			return "", 0, s.stripeError(err)
		}
		if d.Status == stripe.DisputeStatusLost && d.Amount >= amountCents {
			return "", d.Amount, nil
		}
	}
	return "", 0, errs.Unavailable("the buyer disputed the charge with their bank: the refund waits for the dispute's end", errChargeDisputed, "dependency", "stripe")
}

// createRefund refunds amountCents of the PaymentIntent under the
// idempotency key, marked (metadata) as the payment's refund of kind, with
// outside, the part back by other means, on a share made as a rest:
// ErrRefundedAlready when the whole charge is back, errRefundTooLarge when
// less than amountCents is left, errChargeDisputed when the buyer disputed
// the charge.
//
// A key first used by a version of Booking Rush that set no marker (a
// refund in flight across the upgrade) is refused with idempotency_error
// while Stripe keeps it, the parameters differing: the request is then
// repeated as that version sent it, and Stripe answers the refund it made.
func (s *Stripe) createRefund(ctx context.Context, p PaymentRef, amountCents int64, key, kind string, outside int64) (string, error) {
	params := func(marked bool) *stripe.RefundCreateParams {
		rp := &stripe.RefundCreateParams{PaymentIntent: stripe.String(p.ProviderID), Amount: stripe.Int64(amountCents)}
		if marked {
			rp.AddMetadata(refundMetaPayment, p.PaymentID)
			rp.AddMetadata(refundMetaKind, kind)
			if outside > 0 {
				rp.AddMetadata(refundMetaOutside, strconv.FormatInt(outside, 10))
			}
			if m := retryMark(p); m != "" {
				rp.AddMetadata(refundMetaRetry, m)
			}
		}
		rp.SetIdempotencyKey(key)
		return rp
	}
	r, err := s.client.V1Refunds.Create(ctx, params(true))
	se := (*stripe.Error)(nil)
	if errors.As(err, &se) && se.Type == stripe.ErrorTypeIdempotency {
		s.log.Warn("a refund's idempotency key was first used without our marker; asking Stripe for that refund",
			zap.String("payment", p.PaymentID), zap.String("key", key))
		r, err = s.client.V1Refunds.Create(ctx, params(false))
	}
	switch {
	case errors.As(err, &se) && se.Code == stripe.ErrorCodeChargeAlreadyRefunded:
		return "", ErrRefundedAlready
	case errors.As(err, &se) && se.Code == stripe.ErrorCodeAmountTooLarge:
		return "", errRefundTooLarge
	case errors.As(err, &se) && se.Code == stripe.ErrorCodeChargeDisputed:
		return "", errChargeDisputed
	case err != nil:
		return "", s.stripeError(err)
	}
	return r.ID, nil
}

// RefundRest refunds what the PaymentIntent's charge lacks for totalCents
// to be back with the buyer.
func (s *Stripe) RefundRest(ctx context.Context, p PaymentRef, totalCents int64) (string, error) {
	p.Back = 0 // totalCents counts every refund of the charge
	id, _, err := s.refundRest(ctx, p, totalCents, refundRest)
	return id, err
}

// refundRest refunds what amountCents leaves after the part of the
// PaymentIntent's charge refunded beyond p.Back, marked as kind, and
// answers that part.
func (s *Stripe) refundRest(ctx context.Context, p PaymentRef, amountCents int64, kind string) (string, int64, error) {
	q := &stripe.PaymentIntentRetrieveParams{}
	q.AddExpand("latest_charge")
	pi, err := s.client.V1PaymentIntents.Retrieve(ctx, p.ProviderID, q)
	if err != nil {
		return "", 0, s.stripeError(err)
	}
	if pi.LatestCharge == nil {
		return "", 0, errs.Unavailable("the payment provider refused the refund as too large but shows no charge", nil, "dependency", "stripe")
	}
	if pi.LatestCharge.Refunded || pi.LatestCharge.AmountRefunded >= pi.LatestCharge.Amount {
		return "", 0, ErrRefundedAlready
	}
	outside := max(pi.LatestCharge.AmountRefunded-p.Back, 0)
	rest := amountCents - outside
	if rest <= 0 {
		return "", outside, nil
	}
	id, err := s.createRefund(ctx, p, rest, fmt.Sprintf("rush-refund-%s-rest-%d", p.ProviderID, rest)+retrySuffix(p), kind, outside)
	switch {
	case errors.Is(err, errRefundTooLarge):
		// Refunded by hand again since the read: the next try reads again.
		return "", 0, errs.Unavailable("the charge was refunded at the provider meanwhile; retry", err, "dependency", "stripe")
	case errors.Is(err, errChargeDisputed):
		return s.disputed(ctx, p.ProviderID, amountCents)
	}
	return id, outside, err
}

// Lookup retrieves the PaymentIntent. A canceled intent is failed; one that
// asks for another payment method after a decline is still open (the buyer
// may try another card while the hold lives).
func (s *Stripe) Lookup(ctx context.Context, providerID string) (IntentState, error) {
	pi, err := s.client.V1PaymentIntents.Retrieve(ctx, providerID, nil)
	if err != nil {
		return IntentState{}, s.stripeError(err)
	}
	st := IntentState{ClientSecret: pi.ClientSecret}
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded:
		st.Outcome = OutcomeSucceeded
	case stripe.PaymentIntentStatusCanceled:
		st.Outcome, st.FailureReason = OutcomeFailed, cancelledReason(pi.CancellationReason)
	}
	return st, nil
}

// Find searches the PaymentIntents by the payment id CreateIntent put in
// their metadata. Stripe's search index lags writes (by about a minute,
// up to an hour in its outages): "" is "none found yet".
func (s *Stripe) Find(ctx context.Context, paymentID string) (string, error) {
	p := &stripe.PaymentIntentSearchParams{SearchParams: stripe.SearchParams{Query: "metadata['payment_id']:'" + paymentID + "'"}}
	for pi, err := range s.client.V1PaymentIntents.Search(ctx, p) {
		if err != nil {
			return "", s.stripeError(err)
		}
		return pi.ID, nil
	}
	return "", nil
}

// MissedEvents lists the handled events created in [from, to) from
// Stripe's events API (it keeps 30 days), oldest first. An event that
// cannot be read is skipped and logged: it is none of ours to decide.
func (s *Stripe) MissedEvents(ctx context.Context, from, to time.Time) ([]Event, error) {
	p := &stripe.EventListParams{Types: stripe.StringSlice(HandledEventTypes),
		CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: from.Unix(), LesserThan: to.Unix()}}
	p.Limit = stripe.Int64(100)
	var out []Event
	for ev, err := range s.client.V1Events.List(ctx, p) {
		if err != nil {
			return nil, s.stripeError(err)
		}
		e, err := decodeStripeEvent(*ev)
		if err != nil {
			s.log.Warn("a listed provider event is not readable; skipped", zap.String("event", ev.ID), zap.Error(err))
			continue
		}
		// The event as a webhook would have carried it, of which
		// storedPayload keeps the same fields.
		e.Payload, _ = json.Marshal(map[string]any{"id": ev.ID, "object": "event", "type": ev.Type, "api_version": ev.APIVersion,
			"created": ev.Created, "livemode": ev.Livemode, "data": map[string]json.RawMessage{"object": ev.Data.Raw}})
		out = append(out, e)
	}
	slices.Reverse(out) // Stripe lists the newest first
	return out, nil
}

// Cancel cancels the PaymentIntent; one that succeeded meanwhile answers
// CONFLICT (Stripe refuses: payment_intent_unexpected_state, a state of the
// intent, not a defect) and the next Lookup sees it succeeded.
func (s *Stripe) Cancel(ctx context.Context, providerID string) error {
	p := &stripe.PaymentIntentCancelParams{CancellationReason: stripe.String(string(stripe.PaymentIntentCancellationReasonAbandoned))}
	_, err := s.client.V1PaymentIntents.Cancel(ctx, providerID, p)
	se := (*stripe.Error)(nil)
	switch {
	case errors.As(err, &se) && se.Code == stripe.ErrorCodePaymentIntentUnexpectedState:
		return errs.New(errs.Conflict, "the payment provider can no longer cancel the intent: "+se.Msg, "provider_code", string(se.Code))
	case err != nil:
		return s.stripeError(err)
	}
	return nil
}

// VerifyWebhook checks the Stripe-Signature header with the endpoint secret.
func (s *Stripe) VerifyWebhook(payload []byte, sigHeader string) (Event, error) {
	return verifyStripeEvent(payload, sigHeader, s.webhookSecret)
}

// stripeError maps a Stripe failure to our error vocabulary, by whose it
// is (Stripe's error types and codes: docs.stripe.com/api/errors,
// docs.stripe.com/error-codes):
//
//   - the buyer's (PAYMENT_FAILED, 402, with Stripe's message, which is
//     written for buyers): every card_error (a decline, an expired card, a
//     wrong CVC, 3-D Secure required), and an invalid_request_error about
//     the payment method the buyer chose (buyerRequestCodes, or one that
//     names the payment_method parameter: a PaymentMethod id that does not
//     exist). The same method would be refused again; another may pay;
//   - Stripe refusing our API key (401: rotated or mistyped; 403: a
//     restricted key without the permission): SERVICE_UNAVAILABLE naming
//     stripe and the setting, never the key's text (Stripe's message quotes
//     it in part);
//   - Stripe unreachable, failing (5xx, api_error) or limiting our rate
//     (429): SERVICE_UNAVAILABLE naming stripe, for a retry;
//   - any other refusal of our request (invalid_request_error about a
//     parameter we sent or an object of ours, idempotency_error, a 404 or
//     409 of our ids): a defect or a state of ours or Stripe's, never the
//     buyer's card. It is SERVICE_UNAVAILABLE naming stripe (the operators'
//     alerts see it; a retry may succeed once the cause is gone, and a
//     payment that failed so is created again by a retry with its
//     Idempotency-Key), and it is logged as an error with Stripe's type,
//     code, parameter and request id.
func (s *Stripe) stripeError(err error) error {
	var se *stripe.Error
	if !errors.As(err, &se) || se.HTTPStatusCode >= 500 || se.HTTPStatusCode == http.StatusTooManyRequests || se.HTTPStatusCode == 0 {
		return errs.Unavailable("the payment provider did not answer; retry", err, "dependency", "stripe")
	}
	if se.HTTPStatusCode == http.StatusUnauthorized || se.HTTPStatusCode == http.StatusForbidden {
		s.log.Error("Stripe refused Booking Rush's API key (stripe.secret-key)", zap.Int("status", se.HTTPStatusCode), zap.String("request_id", se.RequestID))
		return errs.Unavailable("the payment provider refused Booking Rush's API key (stripe.secret-key); retry later", err, "dependency", "stripe")
	}
	if buyersError(se) {
		if se.Code == stripe.ErrorCodePaymentMethodUnactivated {
			s.log.Warn("a buyer's payment method type is not activated on the Stripe account; activate it in Stripe's dashboard to take it",
				zap.String("message", se.Msg), zap.String("request_id", se.RequestID))
		}
		msg := se.Msg
		if msg == "" {
			msg = string(se.Code)
		}
		return errs.New(errs.PaymentFailed, "the payment provider refused: "+msg, "provider_code", string(se.Code))
	}
	s.log.Error("Stripe refused a request of Booking Rush's: a defect or a state of ours, not the buyer's card",
		zap.Int("status", se.HTTPStatusCode), zap.String("type", string(se.Type)), zap.String("code", string(se.Code)),
		zap.String("param", se.Param), zap.String("message", se.Msg), zap.String("request_id", se.RequestID))
	what := string(se.Type)
	if se.Code != "" {
		what += " " + string(se.Code)
	}
	return errs.Unavailable("the payment provider (stripe) refused Booking Rush's request ("+what+"); retry later", err,
		"dependency", "stripe", "provider_code", string(se.Code))
}

// buyerRequestCodes are the invalid_request_error codes about the payment
// method the buyer chose, rather than our request: its authentication
// failed (3-D Secure), its attempt failed or expired, its provider or the
// buyer declined, it is of a type the account has not activated (only
// another method can pay: the operators are told too), it does not fit the
// intent, or its state does not allow the payment.
var buyerRequestCodes = []stripe.ErrorCode{
	stripe.ErrorCodePaymentIntentAuthenticationFailure,
	stripe.ErrorCodePaymentIntentPaymentAttemptFailed,
	stripe.ErrorCodePaymentIntentPaymentAttemptExpired,
	stripe.ErrorCodePaymentMethodProviderDecline,
	stripe.ErrorCodePaymentMethodCustomerDecline,
	stripe.ErrorCodePaymentMethodUnactivated,
	stripe.ErrorCodePaymentIntentIncompatiblePaymentMethod,
	stripe.ErrorCodePaymentMethodUnexpectedState,
}

// buyersError tells a refusal that is the buyer's (stripeError).
func buyersError(se *stripe.Error) bool {
	return se.Type == stripe.ErrorTypeCard ||
		(se.Type == stripe.ErrorTypeInvalidRequest && (slices.Contains(buyerRequestCodes, se.Code) || se.Param == "payment_method"))
}
