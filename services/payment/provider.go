package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
)

// Intent is what a provider is asked to charge.
type Intent struct {
	// PaymentID is our payment's id; providers echo it back in the webhook
	// (PaymentIntent metadata), so a webhook finds its payment even before
	// the provider's id is stored.
	PaymentID, BookingID, UserID string
	// Method is the payment_method of the request.
	Method string
	// AmountCents is the amount in minor units; Currency its ISO 4217 code.
	AmountCents int64
	Currency    string
	// TraceParent is the W3C traceparent of the call that created the
	// payment ("" when not traced): it rides in the intent's metadata, so
	// the webhook, which starts a trace of its own, links to it.
	TraceParent string
}

// metadata is what a PaymentIntent carries of ours, echoed in its webhooks.
func (in Intent) metadata() map[string]string {
	m := map[string]string{"payment_id": in.PaymentID, "booking_id": in.BookingID, "user_id": in.UserID}
	if in.TraceParent != "" {
		m["traceparent"] = in.TraceParent
	}
	return m
}

// Outcome is what a webhook event says about a payment.
type Outcome int

// Outcomes of a webhook event.
const (
	// OutcomeOther is an event this service does not act on (acknowledged).
	OutcomeOther Outcome = iota
	// OutcomeSucceeded: the payment was charged.
	OutcomeSucceeded
	// OutcomeFailed: the payment was declined or errored.
	OutcomeFailed
	// OutcomeReturned: money of the payment went back to the buyer outside
	// Booking Rush (ReturnedCents of it): a refund made by hand in the
	// provider's dashboard (charge.refunded), or a dispute the buyer won
	// (charge.dispute.closed, status lost).
	OutcomeReturned
	// OutcomeRefundFailed: a refund the provider had accepted failed
	// afterwards, or was cancelled (RefundID, RefundCents; FailureReason
	// says why): its money is back with us, not with the buyer.
	OutcomeRefundFailed
)

// Event is a verified webhook event.
type Event struct {
	// ID is the provider's event id: the idempotency key of the webhook.
	ID string
	// Type is the provider's event type, e.g. "payment_intent.succeeded".
	Type    string
	Outcome Outcome
	// ProviderPaymentID is the provider's payment id (a PaymentIntent id).
	ProviderPaymentID string
	// PaymentID is our payment id from the intent's metadata, if present.
	PaymentID string
	// TraceParent is the payment's trace, from the intent's metadata.
	TraceParent string
	// FailureReason says why a failed payment failed.
	FailureReason string
	// ReturnedCents is, for OutcomeReturned, how much of the charge is back
	// with the buyer in all.
	ReturnedCents int64
	// RefundID, RefundCents, RefundStatus and RefundKind are, for
	// OutcomeRefundFailed, the provider's refund, its amount, its status
	// (failed or canceled) and our marker on it (refundShare or refundRest;
	// "" on a refund Booking Rush did not make).
	RefundID, RefundStatus, RefundKind string
	RefundCents                        int64
	// Payload is the event as the provider lists it, for a listed event
	// (MissedEvents): what is kept of it is storedPayload's.
	Payload []byte
	// returnedCause is the refund cause HandleWebhook chose for an
	// OutcomeReturned (returnedCause).
	returnedCause paymentv1.RefundCause
}

// Provider takes money. Both implementations speak Stripe's webhook format
// and signature scheme, so the webhook path is the same in production, in
// development and in tests.
type Provider interface {
	// Name is stored with payments and webhook events ("stripe", "simulator").
	Name() string
	// CreateIntent starts charging; the verdict arrives later as a webhook.
	// clientSecret, when not empty, lets the buyer's browser finish.
	CreateIntent(ctx context.Context, in Intent) (providerID, clientSecret string, err error)
	// Refund gives amountCents of the payment back, marked as its refund
	// (RefundMark in the refund's metadata, for FindRefund). It is
	// idempotent per payment for as long as the provider keeps its
	// idempotency keys (Stripe: 24 hours): a retry within that returns the
	// same refund; a later one asks FindRefund first (refundLookupAfter).
	// When part of the charge went back by other means (the provider's
	// dashboard) and amountCents no longer fits in what is left, it gives
	// back only what amountCents leaves after that part (nothing when the
	// part covers it) and answers the part as outside: the buyer has
	// p.Back + max(amountCents, outside) back (the part counts what the
	// charge's refunds hold beyond p.Back). ErrRefundedAlready: the whole charge
	// went back to the buyer already, by other means.
	Refund(ctx context.Context, p PaymentRef, amountCents int64) (refundID string, outside int64, err error)
	// FindRefund answers the refund Refund made of the payment (of p's
	// retry, p.Retry), by the marker it carries (not by its idempotency
	// key, which the provider forgets), with the part outside Refund answered with it; found false
	// when the provider has none (or only one that failed or was
	// cancelled: it gave nothing back).
	FindRefund(ctx context.Context, p PaymentRef) (refundID string, outside int64, found bool, err error)
	// RefundRest gives back, after Refund, what the charge still lacks for
	// the buyer to have totalCents back in all (what went back before, by
	// Refund or by hand, counts), under an idempotency key of its own that
	// names that rest; nothing when the buyer has that much back already.
	// It reads the charge before it refunds, so a retry of any age gives
	// nothing twice. ErrRefundedAlready: the whole charge is back.
	RefundRest(ctx context.Context, p PaymentRef, totalCents int64) (refundID string, err error)
	// VerifyWebhook checks the signature header over payload and decodes
	// the event; a bad signature is ErrBadSignature.
	VerifyWebhook(payload []byte, sigHeader string) (Event, error)
	// Lookup asks what became of an intent (a webhook may have been lost):
	// the reconciler settles stale payments by it, and a replayed
	// CreatePayment gets its client secret back from it.
	Lookup(ctx context.Context, providerID string) (IntentState, error)
	// Cancel stops an intent nobody finished from being paid later. An
	// intent that succeeded meanwhile is not cancelled (Lookup tells).
	Cancel(ctx context.Context, providerID string) error
	// MissedEvents lists the events of the types this service acts on
	// (HandledEventTypes) that the provider created in [from, to), oldest
	// first, so that one whose webhook never arrived (an endpoint not
	// subscribed to its type, an outage longer than the provider's retries)
	// is applied all the same. ErrNoEventList: the provider keeps no list
	// (the simulator).
	MissedEvents(ctx context.Context, from, to time.Time) ([]Event, error)
	// Find answers the intent the provider created for a payment whose
	// intent id was never stored (the process died during CreateIntent),
	// "" when it knows none (yet: Stripe's search lags a little). The
	// reconciler asks it before it records such a payment abandoned.
	Find(ctx context.Context, paymentID string) (providerID string, err error)
}

// PaymentRef names a payment to a provider: our payment's id and the
// provider's (a PaymentIntent id).
type PaymentRef struct {
	PaymentID, ProviderID string
	// Retry counts the refunds of the payment that failed at the provider
	// after it accepted them (Payment.RefundFailures): a refund made again
	// goes under an idempotency key of its own, as the provider answers
	// the failed refund to the first key.
	Retry int
	// Back is what of the charge the payment's record holds as given back
	// already, in cents (Payment.RefundedCents): nonzero only for a refund
	// made again after part of a refund failed (a share and its rest, one of
	// which failed; a rest made because part went back by hand). The
	// provider's own count of the charge's refunds includes it: only what
	// that count holds beyond Back went back by other means since.
	Back int64
}

// ErrRefundedAlready is a Refund of a charge the provider refunded in full
// already, outside Booking Rush: the money is back with the buyer, and no
// retry could ever move it.
var ErrRefundedAlready = errors.New("the payment provider refunded the whole charge already")

// IntentState is what the provider says of an intent now.
type IntentState struct {
	// Outcome is OutcomeSucceeded or OutcomeFailed once decided, and
	// OutcomeOther while the buyer may still pay.
	Outcome Outcome
	// FailureReason says why a failed intent failed.
	FailureReason string
	// ClientSecret lets the buyer's browser finish an open intent.
	ClientSecret string
}

// ErrNoEventList is MissedEvents of a provider that keeps no list of its
// events.
var ErrNoEventList = errors.New("the payment provider keeps no list of its events")

// ErrBadSignature is a webhook whose signature does not verify.
var ErrBadSignature = errors.New("webhook signature does not verify")

// Event types this service acts on.
const (
	eventSucceeded     = "payment_intent.succeeded"
	eventFailed        = "payment_intent.payment_failed"
	eventCanceled      = "payment_intent.canceled"
	eventChargeRefund  = "charge.refunded"
	eventDisputeClosed = "charge.dispute.closed"
	// A refund that failed (refund.failed) or was cancelled after Stripe
	// accepted it (refund.updated, status canceled: there is no event of
	// its own). refund.updated of a failure comes too; the first of the two
	// applies (applyRefundFailed).
	eventRefundFailed  = "refund.failed"
	eventRefundUpdated = "refund.updated"
)

// HandledEventTypes are the provider event types this service acts on: the
// ones its Stripe webhook endpoint must subscribe to, and the ones the
// reconciler lists to catch a webhook that never arrived.
var HandledEventTypes = []string{eventSucceeded, eventFailed, eventCanceled, eventChargeRefund, eventDisputeClosed, eventRefundFailed, eventRefundUpdated}

// verifyStripeEvent checks a Stripe-Signature header ("t=<unix>,v1=<hex
// hmac-sha256 of "<t>.<payload>">") with the endpoint secret and decodes a
// PaymentIntent event. The signature's time must be within Stripe's
// tolerance (5 minutes) of now in both directions: Stripe's library refuses
// only the old ones, and a signature dated ahead (a leaked secret, a
// provider clock far off) would otherwise stay replayable until that time
// and 5 minutes after it.
func verifyStripeEvent(payload []byte, sigHeader, secret string) (Event, error) {
	if at, ok := signedAt(sigHeader); ok && at.After(time.Now().Add(webhook.DefaultTolerance)) {
		return Event{}, fmt.Errorf("%w: signed at %v, more than %v ahead of now", ErrBadSignature, at.UTC(), webhook.DefaultTolerance)
	}
	ev, err := webhook.ConstructEventWithOptions(payload, sigHeader, secret,
		// The payload format we read (id, type, data.object.id/metadata) is
		// the same in every API version.
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	if err != nil {
		if errors.Is(err, webhook.ErrNotSigned) || errors.Is(err, webhook.ErrNoValidSignature) ||
			errors.Is(err, webhook.ErrInvalidHeader) || errors.Is(err, webhook.ErrTooOld) {
			return Event{}, fmt.Errorf("%w: %w", ErrBadSignature, err)
		}
		return Event{}, fmt.Errorf("webhook payload: %w", err)
	}
	return decodeStripeEvent(ev)
}

// decodeStripeEvent reads a Stripe event, delivered by webhook or listed
// from the API: the same object either way.
func decodeStripeEvent(ev stripe.Event) (Event, error) {
	out := Event{ID: ev.ID, Type: string(ev.Type)}
	switch out.Type {
	case eventSucceeded:
		out.Outcome = OutcomeSucceeded
	case eventFailed, eventCanceled:
		// A cancelled intent is final at the provider: it can never be
		// paid, so no success can follow it.
		out.Outcome = OutcomeFailed
	case eventChargeRefund, eventDisputeClosed:
		return returnedEvent(out, ev.Data)
	case eventRefundFailed, eventRefundUpdated:
		return refundFailedEvent(out, ev.Data)
	default:
		return out, nil
	}
	var pi stripe.PaymentIntent
	if ev.Data == nil || json.Unmarshal(ev.Data.Raw, &pi) != nil {
		return Event{}, errors.New("webhook payload: data.object is not a PaymentIntent")
	}
	out.ProviderPaymentID = pi.ID
	out.PaymentID = pi.Metadata["payment_id"]
	out.TraceParent = pi.Metadata["traceparent"]
	switch {
	case out.Type == eventCanceled:
		out.FailureReason = cancelledReason(pi.CancellationReason)
	case pi.LastPaymentError != nil:
		out.FailureReason = pi.LastPaymentError.Msg
		if out.FailureReason == "" {
			out.FailureReason = string(pi.LastPaymentError.Code)
		}
	}
	if out.Outcome == OutcomeFailed && out.FailureReason == "" {
		out.FailureReason = "payment failed"
	}
	return out, nil
}

// cancelledReason is the failure reason of a payment whose intent was
// cancelled at the provider, for the reason Stripe gives ("" for none), in
// the buyer's words: it reaches them in the payment (failed_reason) and in
// the mail, after "did not go through: ". A reason Stripe adds later is
// not said.
func cancelledReason(why stripe.PaymentIntentCancellationReason) string {
	if words, ok := cancelledWords[why]; ok {
		return words
	}
	return "the payment was cancelled"
}

var cancelledWords = map[stripe.PaymentIntentCancellationReason]string{
	// Ours (Cancel): the reservation ended, or the buyer paid another way.
	stripe.PaymentIntentCancellationReasonAbandoned:           "the payment was not completed in time",
	stripe.PaymentIntentCancellationReasonExpired:             "the payment was not completed in time",
	stripe.PaymentIntentCancellationReasonRequestedByCustomer: "the payment was cancelled at your request",
	stripe.PaymentIntentCancellationReasonDuplicate:           "the payment was cancelled as a duplicate of another",
	stripe.PaymentIntentCancellationReasonFraudulent:          "the payment was stopped by the payment provider's fraud checks",
	stripe.PaymentIntentCancellationReasonAutomatic:           "the payment provider cancelled the payment",
}

// returnedEvent reads a charge.refunded (a charge) or charge.dispute.closed
// (a dispute) event: money of a PaymentIntent back with the buyer. Stripe
// sends charge.refunded for Booking Rush's own refunds too; the payment's
// recorded refund decision tells them apart (applyReturned). A dispute that
// did not end lost (for us) moved no money for good: OutcomeOther.
func returnedEvent(out Event, data *stripe.EventData) (Event, error) {
	if data == nil {
		return Event{}, errors.New("webhook payload: no data.object")
	}
	var intent *stripe.PaymentIntent
	var meta map[string]string
	if out.Type == eventChargeRefund {
		var ch stripe.Charge
		if json.Unmarshal(data.Raw, &ch) != nil {
			return Event{}, errors.New("webhook payload: data.object is not a charge")
		}
		intent, meta, out.ReturnedCents = ch.PaymentIntent, ch.Metadata, ch.AmountRefunded
		if ch.Refunded {
			out.ReturnedCents = max(ch.Amount, ch.AmountRefunded)
		}
	} else {
		var d stripe.Dispute
		if json.Unmarshal(data.Raw, &d) != nil {
			return Event{}, errors.New("webhook payload: data.object is not a dispute")
		}
		if d.Status != stripe.DisputeStatusLost {
			return out, nil
		}
		intent, out.ReturnedCents = d.PaymentIntent, d.Amount
		if d.Charge != nil {
			meta = d.Charge.Metadata
		}
	}
	if intent == nil || intent.ID == "" {
		return out, nil // not a PaymentIntent's charge: none of ours
	}
	out.Outcome, out.ProviderPaymentID = OutcomeReturned, intent.ID
	out.PaymentID, out.TraceParent = meta["payment_id"], meta["traceparent"]
	if out.PaymentID == "" {
		out.PaymentID = intent.Metadata["payment_id"]
	}
	return out, nil
}

// refundFailedEvent reads a refund.failed or refund.updated event (a
// refund): OutcomeRefundFailed when the refund failed or was cancelled,
// OutcomeOther for any other state (pending, succeeded: the money is on its
// way or back with the buyer, as recorded). Whose refund it is (our marker,
// the payment it names) applyRefundFailed decides.
func refundFailedEvent(out Event, data *stripe.EventData) (Event, error) {
	var r stripe.Refund
	if data == nil || json.Unmarshal(data.Raw, &r) != nil || r.ID == "" {
		return Event{}, errors.New("webhook payload: data.object is not a refund")
	}
	if r.Status != stripe.RefundStatusFailed && r.Status != stripe.RefundStatusCanceled {
		return out, nil
	}
	out.Outcome = OutcomeRefundFailed
	out.RefundID, out.RefundCents, out.RefundStatus = r.ID, r.Amount, string(r.Status)
	out.PaymentID, out.RefundKind = r.Metadata[refundMetaPayment], r.Metadata[refundMetaKind]
	if r.PaymentIntent != nil {
		out.ProviderPaymentID = r.PaymentIntent.ID
	}
	switch {
	case r.FailureReason != "":
		out.FailureReason = string(r.FailureReason)
	case r.Status == stripe.RefundStatusCanceled:
		out.FailureReason = "canceled"
	default:
		out.FailureReason = string(stripe.RefundFailureReasonUnknown)
	}
	return out, nil
}

// signedAt is the t= time of a Stripe-Signature header; false when it has
// none or it is not a number (the library then refuses the header). It
// reads the header exactly as stripe-go does (its parseSignatureHeader):
// parts split at "," and "=", the key "t" exactly (" t" is an unknown part
// to it), the last t= winning. Reading it otherwise (the first t=, or
// trimmed keys) would let a "t=<now>" added to a future-dated signature
// pass the check above while the library verifies the signature with the
// future time.
func signedAt(header string) (at time.Time, ok bool) {
	for part := range strings.SplitSeq(header, ",") {
		kv := strings.Split(part, "=")
		if len(kv) == 2 && kv[0] == "t" {
			n, err := strconv.ParseInt(kv[1], 10, 64)
			at, ok = time.Unix(n, 0), err == nil
		}
	}
	return at, ok
}

// storedPayload is what of a verified provider event is kept in
// payment_webhook_events: the event's identity and type, and of its object
// only ids, status, amounts, our metadata and a failure's code and message.
// A provider event carries personal data of the buyer besides (a charge's
// billing details: the card holder's name, e-mail, phone and address; a
// receipt e-mail; shipping), which nothing here needs and which would
// outlive the buyer's account: it is never stored.
func storedPayload(payload []byte) string {
	var ev struct {
		ID         string `json:"id"`
		Object     string `json:"object"`
		Type       string `json:"type"`
		APIVersion string `json:"api_version,omitempty"`
		Created    int64  `json:"created"`
		Livemode   bool   `json:"livemode"`
		Data       struct {
			Object struct {
				ID             string            `json:"id"`
				Object         string            `json:"object"`
				Status         string            `json:"status,omitempty"`
				Amount         int64             `json:"amount,omitempty"`
				AmountReceived int64             `json:"amount_received,omitempty"`
				AmountRefunded int64             `json:"amount_refunded,omitempty"`
				Currency       string            `json:"currency,omitempty"`
				PaymentIntent  json.RawMessage   `json:"payment_intent,omitempty"`
				Metadata       map[string]string `json:"metadata,omitempty"`
				FailureReason  string            `json:"failure_reason,omitempty"`
				LastError      *struct {
					Code        string `json:"code,omitempty"`
					DeclineCode string `json:"decline_code,omitempty"`
					Message     string `json:"message,omitempty"`
					Type        string `json:"type,omitempty"`
				} `json:"last_payment_error,omitempty"`
			} `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return "{}"
	}
	if pi := ev.Data.Object.PaymentIntent; len(pi) > 0 && pi[0] != '"' {
		ev.Data.Object.PaymentIntent = nil // an expanded object: only its id is ours to keep
	}
	out, err := json.Marshal(ev)
	if err != nil {
		return "{}"
	}
	return string(out)
}
