package payment

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	gatev1 "github.com/bookingrush/rush/gen/bookingrush/gate/v1"
	"github.com/bookingrush/rush/gen/bookingrush/gate/v1/gatev1connect"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/services/platform/audit"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/money"
	"github.com/bookingrush/rush/services/platform/outbox"
	"github.com/bookingrush/rush/services/platform/topic"
)

// Topics the payment service publishes (through the outbox); every value
// is a binary paymentv1.PaymentEvent keyed by the payment id.
const (
	TopicSuccess  = topic.PaymentSuccess
	TopicFailed   = topic.PaymentFailed
	TopicRefunded = topic.PaymentRefunded
	// TopicRefundFailed carries a refund that failed at the provider after
	// it accepted it (notify mails its buyer).
	TopicRefundFailed = topic.PaymentRefundFailed
)

// Service holds the payment rules; the handlers only translate.
type Service struct {
	store    *Store
	provider Provider
	booking  bookingv1connect.BookingServiceClient
	shows    Shows
	gate     gatev1connect.GateServiceClient
	relay    *outbox.Relay
	log      *zap.Logger
	metrics  *metrics
	now      func() time.Time
}

// NewService returns the payment service.
func NewService(store *Store, provider Provider, booking bookingv1connect.BookingServiceClient, shows Shows, gate gatev1connect.GateServiceClient, relay *outbox.Relay, log *zap.Logger, reg prometheus.Registerer) (*Service, error) {
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Service{store: store, provider: provider, booking: booking, shows: shows, gate: gate, relay: relay, log: log, metrics: m, now: time.Now}, nil
}

// Create starts paying for the caller's own live hold. The amount is the
// booking's total as the booking service knows it: nothing the client sends.
// key is the call's Idempotency-Key ("" for none): a retry with the same key
// answers the payment the first call created (replayed true), whatever
// happened to the hold since.
func (s *Service) Create(ctx context.Context, p *authn.Principal, bookingID, method, key string) (pay Payment, replayed bool, err error) {
	if key == "" {
		return s.create(ctx, p, bookingID, method, key)
	}
	if prev, ok, err := s.store.ByKey(ctx, p.UserID, key); err != nil || ok {
		if err != nil {
			return Payment{}, false, err
		}
		return s.replay(ctx, p, prev, bookingID, method)
	}
	if f := afterKeyMiss.Load(); f != nil {
		(*f)(key)
	}
	pay, replayed, err = s.create(ctx, p, bookingID, method, key)
	if err == nil {
		return pay, replayed, nil
	}
	if c := errs.FromConnect(err).Code; c == errs.Conflict || c == errs.ReservationExpired {
		// A concurrent call with the same key may have paid the hold since
		// the look above (the booking is then confirmed, or has its
		// payment): that payment is this call's answer, not a refusal.
		if prev, ok, kerr := s.store.ByKey(ctx, p.UserID, key); kerr == nil && ok {
			return s.replay(ctx, p, prev, bookingID, method)
		}
	}
	return Payment{}, false, err
}

// afterKeyMiss, when set (by tests), runs after Create found no payment
// of its Idempotency-Key, before it looks at the booking.
var afterKeyMiss atomic.Pointer[func(key string)]

// create pays for the hold when no payment of key exists yet (Create).
func (s *Service) create(ctx context.Context, p *authn.Principal, bookingID, method, key string) (pay Payment, replayed bool, err error) {
	b, amount, err := s.payable(ctx, p, bookingID)
	if err != nil {
		return Payment{}, false, err
	}
	pay = Payment{
		ID: uuid.NewString(), BookingID: bookingID, EventID: b.GetEventId(), UserID: p.UserID, AmountCents: amount,
		Currency: b.GetCurrency(), Status: StatusPending, Provider: s.provider.Name(), Method: method, IdempotencyKey: key,
		TraceParent: traceParent(ctx),
	}
	if pay.Currency == "" {
		pay.Currency = "USD"
	}
	if exp := b.GetExpiresAt(); exp != nil {
		pay.HoldExpiresAt = exp.AsTime()
	}
	if err := checkMethod(s.provider, method); err != nil {
		return Payment{}, false, err
	}
	if err := s.store.Insert(ctx, pay); err != nil {
		if errors.Is(err, errKeyUsed) {
			// A concurrent call with the same key won: answer its payment.
			prev, _, err := s.store.ByKey(ctx, p.UserID, key)
			if err != nil {
				return Payment{}, false, err
			}
			return s.replay(ctx, p, prev, bookingID, method)
		}
		return Payment{}, false, err
	}
	out, err := s.charge(ctx, pay)
	return out, false, err
}

// payable answers the caller's booking and its amount when it is a live
// hold that may be paid now, else why not.
func (s *Service) payable(ctx context.Context, p *authn.Principal, bookingID string) (*bookingv1.Booking, int64, error) {
	// The caller's token travels on: another user's booking is NOT_FOUND
	// to the booking service already.
	res, err := s.booking.GetBooking(ctx, connect.NewRequest(&bookingv1.GetBookingRequest{BookingId: bookingID}))
	if err != nil {
		return nil, 0, errs.FromConnect(err)
	}
	b := res.Msg.GetBooking()
	if b.GetUserId() != p.UserID {
		// Admins see every booking, but pay only for their own.
		return nil, 0, errs.New(errs.NotFound, "booking not found")
	}
	switch b.GetStatus() {
	case bookingv1.BookingStatus_BOOKING_STATUS_RESERVED:
		if b.GetExpiresAt() != nil && !b.GetExpiresAt().AsTime().After(s.now()) {
			return nil, 0, errs.New(errs.ReservationExpired, "the reservation expired; reserve again")
		}
	case bookingv1.BookingStatus_BOOKING_STATUS_EXPIRED:
		return nil, 0, errs.New(errs.ReservationExpired, "the reservation expired; reserve again")
	default:
		return nil, 0, errs.New(errs.Conflict, "only a reserved booking can be paid", "status", bookingStatusName(b.GetStatus()))
	}
	// A cancelled event takes no money, even in the moment before its
	// holds are released (a payment that slips through anyway is refunded:
	// the booking engine never confirms a booking of a cancelled event).
	start, event, err := s.shows.ShowOf(ctx, b.GetShowId())
	if err != nil {
		return nil, 0, err
	}
	switch event {
	case catalogv1.EventStatus_EVENT_STATUS_PUBLISHED:
	case catalogv1.EventStatus_EVENT_STATUS_CANCELLED:
		return nil, 0, errs.New(errs.Conflict, "the event was cancelled; it takes no payments", "status", "cancelled")
	default:
		// A publish that failed put it back to draft after buyers held
		// seats: nothing of it is sold (the booking engine confirms
		// nothing of it either).
		return nil, 0, errs.New(errs.Conflict, "the event is not on sale; it takes no payments", "status", "draft")
	}
	// Nor does a hold made once its show had started (the booking engine
	// refuses such reserves; a zone loaded before it knew show starts, or
	// an older replica, may still have made one). A hold made before the
	// start is paid as usual, even a moment after it: it was sold while
	// on sale, and its ticket opens the door until a day after the show
	// (docs/architecture.md, "A show that started sells no more").
	if created := b.GetCreatedAt(); created != nil && !start.IsZero() && !created.AsTime().Before(start) {
		return nil, 0, errs.New(errs.Conflict, "the show had already started when these seats were reserved; they cannot be paid",
			"reason", "show_started", "show_date", start.UTC().Format(time.RFC3339))
	}
	amount, err := money.Parse(b.GetTotalAmount())
	if err != nil || amount <= 0 {
		return nil, 0, errs.New(errs.Internal, "the booking has no valid amount")
	}
	return b, amount, nil
}

// charge asks the provider to take the pending payment pay and records
// its answer: the intent (the client secret is answered, never stored),
// or the payment failed with the provider's error, which it answers.
func (s *Service) charge(ctx context.Context, pay Payment) (Payment, error) {
	// The provider call must not be cut by a client that goes away: the
	// payment row exists and must end up with the provider's answer.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	ref, secret, err := s.provider.CreateIntent(pctx, Intent{
		PaymentID: pay.ID, BookingID: pay.BookingID, UserID: pay.UserID, Method: pay.Method, AmountCents: pay.AmountCents, Currency: pay.Currency,
		TraceParent: pay.TraceParent,
	})
	if err != nil {
		if ferr := s.store.Fail(pctx, pay.ID, errs.FromConnect(err).Message); ferr != nil {
			s.log.Warn("payment left pending after a provider error", zap.String("payment", pay.ID), zap.Error(ferr))
		}
		return Payment{}, err
	}
	status := StatusProcessing
	if pay.Method == "card" {
		status = StatusPending // the buyer's browser confirms with the client secret
	}
	if err := s.store.SetIntent(pctx, pay.ID, ref, status); err != nil {
		return Payment{}, err
	}
	out, err := s.store.Get(pctx, pay.ID)
	out.ClientSecret = secret
	return out, err
}

// replay answers a CreatePayment retried with the key of payment prev: the
// same payment (replayed), or CONFLICT when the key came with another
// request. An open payment's client secret (never stored) is asked from the
// provider again.
//
// A payment whose creation failed before the provider took it (it has no
// intent: the provider refused it, or could not be reached) is created
// again, as the same payment under the same provider idempotency key: the
// retry the first call's 503 asked for gets the provider's answer now, and
// a declined card answers declined again, never a 201 with a failed
// payment.
func (s *Service) replay(ctx context.Context, p *authn.Principal, prev Payment, bookingID, method string) (Payment, bool, error) {
	if prev.BookingID != bookingID || prev.Method != method {
		return Payment{}, false, errs.New(errs.Conflict, "this Idempotency-Key was used for a different request", "payment_id", prev.ID)
	}
	if prev.Status == StatusFailed && prev.ProviderRef == "" && !prev.Duplicate {
		if _, _, err := s.payable(ctx, p, bookingID); err != nil {
			return Payment{}, false, err
		}
		reopened, err := s.store.Reopen(ctx, prev.ID, prev.BookingID)
		if err != nil {
			return Payment{}, false, err
		}
		if reopened {
			prev.Status, prev.FailedReason = StatusPending, ""
			pay, err := s.charge(ctx, prev)
			return pay, false, err
		}
		// A concurrent retry reopened it first, or its money arrived:
		// answer it as it stands.
		if prev, err = s.store.Get(ctx, prev.ID); err != nil {
			return Payment{}, false, err
		}
	}
	if prev.Status == StatusPending && prev.ProviderRef == "" && !prev.Duplicate && s.now().Sub(prev.UpdatedAt) > abandonedAfter {
		// The call that created it died while it asked the provider (its
		// process was killed): no call can still be on its way. It is
		// charged again, as the same payment under the same provider
		// idempotency key (the provider answers the intent the dead call
		// created, if it did), instead of answering a payment nobody can
		// finish until the reconciler fails it, after the hold.
		if _, _, err := s.payable(ctx, p, bookingID); err != nil {
			return Payment{}, false, err
		}
		pay, err := s.charge(ctx, prev)
		return pay, false, err
	}
	if (prev.Status == StatusPending || prev.Status == StatusProcessing) && prev.ProviderRef != "" {
		if st, err := s.provider.Lookup(ctx, prev.ProviderRef); err == nil {
			prev.ClientSecret = st.ClientSecret
		}
	}
	return prev, true, nil
}

// abandonedAfter is the age from which a pending payment without intent
// was left by a call that died: longer than charge gives the provider.
const abandonedAfter = 45 * time.Second

// checkMethod rejects a method the configured provider does not take,
// naming the ones it does.
func checkMethod(p Provider, method string) error {
	sim := method == SimOK || method == SimDeclined || method == SimSlow
	_, isSim := p.(*Simulator)
	if isSim == sim {
		return nil
	}
	takes := "card or a PaymentMethod id pm_..."
	if isSim {
		takes = SimOK + ", " + SimDeclined + " or " + SimSlow
	}
	return errs.New(errs.Validation, "payment_method "+method+" is not taken by the "+p.Name()+" provider, which takes "+takes,
		"fields", []any{map[string]any{"field": "payment_method", "message": "not supported by " + p.Name() + ": use " + takes}})
}

// Get answers a payment to its payer, admins and the system; to anyone
// else it does not exist.
func (s *Service) Get(ctx context.Context, p *authn.Principal, id string) (Payment, error) {
	pay, err := s.store.Get(ctx, id)
	if err != nil {
		return Payment{}, err
	}
	if pay.UserID != p.UserID && p.Role != authn.RoleAdmin && p.Role != authn.RoleService {
		return Payment{}, errs.New(errs.NotFound, "payment not found")
	}
	return pay, nil
}

// RefundPayment is the buyer's (or an admin's) refund request: the booking
// is cancelled and the policy decides how much comes back. An admin's
// inFull refunds everything whatever the show's date (support's goodwill:
// cause REFUND_CAUSE_SUPPORT), with the same rules otherwise: a booking used
// at the door is refused, and a decision made before stands, except that a
// payment refunded in part under the policy (its buyer cancelled for 50% or
// 0%) gets the rest (topUp, as an event's cancellation gives it). inFull
// from anyone else is FORBIDDEN before anything is read.
func (s *Service) RefundPayment(ctx context.Context, p *authn.Principal, id, reason string, inFull bool) (Payment, error) {
	if inFull && p.Role != authn.RoleAdmin {
		return Payment{}, errs.New(errs.Forbidden, "only an admin (support) may refund a payment in full whatever the refund policy gives; without in_full the refund policy applies",
			"field", "in_full")
	}
	pay, err := s.Get(ctx, p, id)
	if err != nil {
		return Payment{}, err
	}
	if pay.Status == StatusRefundFailed {
		return s.retryFailedRefund(ctx, p, pay)
	}
	if pay.Status == StatusSucceeded && pay.RefundRequestedAt.IsZero() && !pay.Duplicate {
		if err := s.notUsed(ctx, pay.BookingID); err != nil {
			return Payment{}, err
		}
	}
	cause := paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED
	if inFull {
		cause = paymentv1.RefundCause_REFUND_CAUSE_SUPPORT
	}
	out, _, err := s.RefundBooking(ctx, pay.BookingID, pay.ID, cause, reason)
	if err != nil || !inFull || out.RefundedAt.IsZero() || out.RefundedCents >= out.AmountCents {
		return out, err
	}
	// Refunded in part before (the buyer's own cancel under the policy):
	// support gives the rest.
	if err := s.topUp(context.WithoutCancel(ctx), out.ID, reason, cause); err != nil {
		return Payment{}, err
	}
	return s.store.Get(ctx, out.ID)
}

// retryFailedRefund answers a payment whose refund failed at the provider
// (StatusRefundFailed) to a RefundPayment call: to its buyer as it stands
// (the same card would refuse again; a person looks at it), and to an admin
// (once the cause is dealt with: a card reopened, the buyer's bank asked)
// by making the refund again, what the failed refund carried, under a new
// provider idempotency key. Its success records the payment refunded (or
// partially refunded, for a share under the policy); a failure of it at the
// provider later makes it refund_failed again. Nothing else retries it.
func (s *Service) retryFailedRefund(ctx context.Context, p *authn.Principal, pay Payment) (Payment, error) {
	if p.Role != authn.RoleAdmin {
		return pay, nil
	}
	ctx = context.WithoutCancel(ctx) // a refund, once started, must be recorded
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	s.log.Warn("an admin retries a refund that failed at the provider", zap.String("payment", pay.ID), zap.String("admin", p.UserID),
		zap.String("failure_reason", pay.RefundFailureReason), zap.Int("failures", pay.RefundFailures))
	out, _, err := s.executeRefund(ctx, pay.ID, true)
	if err != nil {
		return Payment{}, err
	}
	return s.restDue(ctx, out)
}

// restDue gives the rest of the price due to the buyer of pay (RestDueCause:
// its event was cancelled after its buyer's cancel for a share) once that
// share is back (made good, when its refund had failed), as an event's
// cancellation gives it (topUp, under the due cause), and answers the
// payment as it is then. A payment still
// refund_failed, or with no rest due, is answered as it is. A rest not given
// (the provider unreachable) is given by the reconciler (finishRests).
func (s *Service) restDue(ctx context.Context, pay Payment) (Payment, error) {
	if pay.RestDueCause == "" || pay.RefundedAt.IsZero() {
		return pay, nil
	}
	if err := s.topUp(ctx, pay.ID, pay.RefundReason, refundCause(pay.RestDueCause)); err != nil {
		return Payment{}, err
	}
	return s.store.Get(ctx, pay.ID)
}

// List pages through the payments of one status, of one booking, or both,
// for admins (ListPayments): PerPage 0 is 20, Page 0 the first.
func (s *Service) List(ctx context.Context, f PaymentFilter) ([]Payment, int, PaymentFilter, error) {
	if _, err := authn.Require(ctx, authn.RoleAdmin); err != nil {
		return nil, 0, f, err
	}
	f.Page, f.PerPage = max(f.Page, 1), cmp.Or(f.PerPage, 20)
	pays, total, err := s.store.List(ctx, f)
	return pays, total, f, err
}

// reasonNotRefundFailed is the CONFLICT reason of
// RecordRefundOutsideProvider for a payment whose refund did not fail.
const reasonNotRefundFailed = "not_refund_failed"

// RecordRefundOutsideProvider records, for an admin, that what a payment
// whose refund failed at the provider owes its buyer was given back another
// way (support's bank transfer, named by reference): nothing is sent to the
// provider; the payment is refunded as decided (refunded, or partially
// refunded for a share; refunded in full with a rest due, its event
// cancelled, whose own payment.refunded follows), which settles it for the money audit; an audit
// entry names the admin, the reference and the note; and a payment.refunded
// naming the failure it makes good, marked refunded_outside_provider, tells
// the buyer support paid the money back another way than their card
// (analytics counts no second refund). Only a refund_failed payment
// (CONFLICT otherwise, reason not_refund_failed), and not while an admin's
// retry of its refund through the provider is under way (CONFLICT: both
// would pay).
func (s *Service) RecordRefundOutsideProvider(ctx context.Context, id, reference, note string) (Payment, error) {
	p, err := authn.Require(ctx, authn.RoleAdmin)
	if err != nil {
		return Payment{}, err
	}
	var pay Payment
	err = s.store.tx(ctx, func(tx pgx.Tx) error {
		before, err := scanPayment(tx.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return errs.New(errs.NotFound, "payment not found")
		}
		if err != nil {
			return dbErr(err)
		}
		if before.Status != StatusRefundFailed {
			return errs.New(errs.Conflict, "only a payment whose refund failed at the provider (status refund_failed) can be recorded as refunded outside it; this one is "+before.Status,
				"reason", reasonNotRefundFailed, "status", before.Status)
		}
		if !before.RefundClaimedAt.IsZero() && s.now().Sub(before.RefundClaimedAt) < refundLease {
			return errs.New(errs.Conflict, "a retry of this refund through the provider is under way; wait for its outcome",
				"reason", "refund_in_progress")
		}
		owed, share, rest := before.RefundOwedCents(), before.shareOwedCents(), before.restDueCents()
		total := before.RefundedCents + owed
		status := StatusPartiallyRefunded
		if total == before.AmountCents {
			status = StatusRefunded
		}
		// A rest due (its event was cancelled) is paid by the same transfer:
		// the decision becomes the whole price, under the rest's cause.
		pay, err = scanPayment(tx.QueryRow(ctx, `UPDATE payments SET refunded_amount = $2::numeric / 100, status = $3, refunded_at = now(),
			refund_reference = $4, refund_claimed_at = NULL,
			refund_percent = CASE WHEN rest_due_cause IS NULL THEN refund_percent ELSE 100 END,
			refund_cause = COALESCE(rest_due_cause, refund_cause), rest_due_cause = NULL
			WHERE id = $1 RETURNING `+paymentColumns, id, total, status, "outside:"+reference))
		if err != nil {
			return dbErr(err)
		}
		if err := audit.Record(ctx, tx, audit.Entry{UserID: p.UserID, Action: "payment.refund_outside_provider", EntityType: "payment", EntityID: id,
			Old: map[string]any{"status": before.Status, "refunded_amount": money.Format(before.RefundedCents)},
			New: map[string]any{"status": pay.Status, "refunded_amount": money.Format(total), "booking_id": pay.BookingID,
				"given_back": money.Format(owed), "reference": reference, "note": note, "admin": p.UserID,
				"failure_reason": before.RefundFailureReason},
		}); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, TopicRefunded, pay, &paymentv1.PaymentEvent{
			RefundAmount: money.Format(share), RefundCause: refundCause(before.RefundCause), RefundReason: pay.RefundReason,
			FailedRefund: int32(before.RefundFailures), RefundedOutsideProvider: true,
		}); err != nil || rest == 0 {
			return err
		}
		// The rest has its own event, as an event's cancellation gives it
		// (analytics takes its revenue back; the buyer is mailed it, paid
		// by our support team).
		return s.emit(ctx, tx, TopicRefunded, pay, &paymentv1.PaymentEvent{
			RefundAmount: money.Format(rest), RefundCause: refundCause(pay.RefundCause), RefundReason: pay.RefundReason,
			Rest: true, RefundedOutsideProvider: true,
		})
	})
	if err != nil {
		return Payment{}, err
	}
	s.log.Warn("an admin recorded a failed refund as given back outside the provider", zap.String("payment", id),
		zap.String("admin", p.UserID), zap.String("reference", reference))
	s.relay.Kick()
	return pay, nil
}

// reasonCheckedIn is the CONFLICT reason of a cancellation refused because
// a ticket of the booking was used at the door (the booking service's word
// for it too).
const reasonCheckedIn = "checked_in"

// notUsed refuses the refund a buyer (or an admin) asks for a confirmed
// booking whose tickets were used at the door, as the booking service
// refuses its cancellation: the refund releases its seats (as the system,
// which that service does not ask the gate about), and they are taken by
// someone inside. A cancelled event's bookings are refunded whether used or
// not.
func (s *Service) notUsed(ctx context.Context, bookingID string) error {
	res, err := s.booking.GetBooking(authn.AsSystem(ctx), connect.NewRequest(&bookingv1.GetBookingRequest{BookingId: bookingID}))
	if err != nil {
		if errs.FromConnect(err).Code == errs.NotFound {
			return nil
		}
		return errs.FromConnect(err)
	}
	b := res.Msg.GetBooking()
	if b.GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED {
		return nil
	}
	n, err := s.checkedIn(ctx, bookingID)
	if err != nil || n == 0 {
		return err
	}
	if _, event, err := s.shows.ShowOf(ctx, b.GetShowId()); err != nil || event == catalogv1.EventStatus_EVENT_STATUS_CANCELLED {
		return err
	}
	return errs.New(errs.Conflict, "a ticket of this booking was checked in at the door: it can no longer be cancelled",
		"reason", reasonCheckedIn, "checked_in", n)
}

// checkedIn answers how many of the booking's tickets were used at the door.
func (s *Service) checkedIn(ctx context.Context, bookingID string) (int, error) {
	used, err := s.gate.GetBookingCheckIns(authn.AsSystem(ctx), connect.NewRequest(&gatev1.GetBookingCheckInsRequest{BookingId: bookingID}))
	if err != nil {
		return 0, errs.FromPeer(err, "gate", "the gate service did not say whether this booking's tickets were used at the door; retry")
	}
	return int(used.Msg.GetCheckedIn()), nil
}

// RefundBooking refunds the booking's payment once, in three steps that a
// retry (or the reconciler) resumes where an interruption left them:
//
//  1. decide: the share (100%, or the policy's for a buyer cancelling a
//     confirmed booking) is recorded with the payment, once;
//  2. release: the booking engine releases the seats (a confirmed booking
//     becomes refunded, or cancelled when the share is 0%) and records that
//     in Postgres, so the booking can never be confirmed any more;
//  3. refund: the provider gives the share back, recorded with its
//     payment.refunded event in one transaction.
//
// The money moves last: a refunded payment never leaves a confirmed booking
// behind, even when a confirmation was in flight while the refund started.
func (s *Service) RefundBooking(ctx context.Context, bookingID, paymentID string, cause paymentv1.RefundCause, reason string) (Payment, int64, error) {
	ctx = context.WithoutCancel(ctx) // a refund, once decided, must finish
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	pay, err := s.decideRefund(ctx, bookingID, paymentID, "", cause, reason)
	if err != nil || !pay.RefundedAt.IsZero() || pay.Status == StatusRefundFailed {
		// A refund that failed at the provider is not made again here (a
		// saga's compensation run again, the reconciler): it would fail
		// again; an admin retries it (retryFailedRefund).
		return pay, pay.RefundedCents, err
	}
	if pay.Duplicate {
		// Never the booking's charge: the booking belongs to the payment
		// that paid it, and stays as it is.
		return s.executeRefund(ctx, pay.ID, false)
	}
	releaseAs := bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED
	if pay.RefundPercent == 0 {
		releaseAs = bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED
	}
	_, err = s.booking.CancelBooking(authn.AsSystem(ctx), connect.NewRequest(&bookingv1.CancelBookingRequest{
		BookingId: pay.BookingID, Reason: pay.RefundReason, Cause: bookingCause[pay.RefundCause], ReleaseAs: releaseAs,
	}))
	if err != nil && errs.FromConnect(err).Code != errs.NotFound {
		// NOT_FOUND: the booking engine never had it (or lost an unpaid
		// hold with Redis): nothing to release, nothing can confirm it.
		e := errs.FromConnect(err)
		return Payment{}, 0, errs.New(e.Code, "the refund is decided but the seats could not be released yet ("+e.Message+"); it finishes by itself, or retry")
	}
	return s.executeRefund(ctx, pay.ID, false)
}

// RefundEvent refunds every succeeded payment of a cancelled event in full
// (the organizer-cancellation rule of the refund policy: everyone gets
// 100%), each as RefundBooking does, at most once per payment, so calling
// it again after a partial failure only finishes the work. A payment whose
// buyer had cancelled for 50% or 0% of the price gets the rest: the show
// it was bought for will not take place. The rest is first recorded as due
// (MarkRestDue), then given (topUp, which ends the due). Whatever the
// provider reports meanwhile, the due stands until the rest is given: one
// whose buyer's refund of such a share failed at the provider (before the
// cancellation or while it works through its list, which takes minutes
// for a large event) counts it in what is owed, and gets it once the share
// is made good (restDue); one whose rest could not be given now gets it
// from the reconciler (finishRests). The refunds run a few at a time and
// are not cut short by a caller that goes away. It answers how many were
// due and how many failed.
func (s *Service) RefundEvent(ctx context.Context, eventID, reason string) (total, failed int, err error) {
	ctx = context.WithoutCancel(ctx)
	due, err := s.store.SucceededOfEvent(ctx, eventID)
	if err != nil {
		return 0, 0, err
	}
	var nfailed atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, p := range due {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			pay, _, err := s.RefundBooking(ctx, p.BookingID, p.ID, paymentv1.RefundCause_REFUND_CAUSE_ORGANIZER_CANCELLED, reason)
			if err == nil && pay.RefundPercent < 100 {
				// Its buyer had cancelled for a share: the rest is owed from
				// now on. Marked from the payment as it is now, not as listed
				// (its share may have failed at the provider since, or been
				// made good), and before it is given, so that a failure of
				// the share that lands meanwhile leaves it due.
				err = s.markRestDue(ctx, pay, paymentv1.RefundCause_REFUND_CAUSE_ORGANIZER_CANCELLED)
			}
			if err == nil {
				// Given now unless its share's refund failed at the provider
				// (then once that is made good: restDue).
				err = s.topUp(ctx, p.ID, reason, paymentv1.RefundCause_REFUND_CAUSE_ORGANIZER_CANCELLED)
			}
			if err != nil {
				nfailed.Add(1)
				s.log.Warn("refund of a cancelled event's payment failed", zap.String("payment", p.ID), zap.String("booking", p.BookingID), zap.Error(err))
			}
		})
	}
	wg.Wait()
	return len(due), int(nfailed.Load()), nil
}

// markRestDue records that the rest of pay's price is owed for cause
// (MarkRestDue), and says so when the refund of its share had failed at the
// provider: that buyer gets nothing to the card now.
func (s *Service) markRestDue(ctx context.Context, pay Payment, cause paymentv1.RefundCause) error {
	marked, shareFailed, err := s.store.MarkRestDue(ctx, pay.ID, cause.String())
	if marked && shareFailed {
		s.log.Warn("a cancelled event's payment whose refund failed at the provider owes its buyer the rest of the price too; given once an admin settles the failed refund",
			zap.String("payment", pay.ID), zap.String("booking", pay.BookingID))
	}
	return err
}

// topUp refunds the rest of a payment refunded for less than its whole
// price (its buyer cancelled for 50% or 0%) because its event is cancelled
// (cause ORGANIZER_CANCELLED) or an admin refunds it in full (SUPPORT),
// and records it as refunded in full for that cause, with the rest's
// payment.refunded event. It claims the payment's refund work
// and calls the provider outside any transaction, as executeRefund does
// (RefundRest reads the charge before it refunds, so a retry after an
// attempt that died gives nothing twice). A payment refunded in full, or
// whose refund has not been executed yet, is left as it is, and so is one
// whose share's refund failed at the provider (its rest stays due: restDue).
// When that failure lands while the provider is giving the rest, the rest
// is back with the buyer all the same: it is recorded as given (the price
// is decided in full, the share's refund is still owed, and the payment
// stays refund_failed until an admin makes that good).
func (s *Service) topUp(ctx context.Context, paymentID, reason string, cause paymentv1.RefundCause) error {
	short := func(p Payment) bool { return !p.RefundedAt.IsZero() && p.RefundedCents < p.AmountCents }
	pay, claim, _, err := s.claimRefund(ctx, paymentID, short)
	if err != nil || claim.IsZero() {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, refundCallTimeout)
	ref, err := s.provider.RefundRest(pctx, PaymentRef{PaymentID: pay.ID, ProviderID: pay.ProviderRef}, pay.AmountCents)
	cancel()
	if errors.Is(err, ErrRefundedAlready) {
		err = nil // the whole charge is back with the buyer already
	}
	if err != nil {
		s.releaseClaim(ctx, pay.ID, claim)
		return err
	}
	var rest int64
	err = s.recordRefund(ctx, pay.ID, claim, func(ctx context.Context, tx pgx.Tx, before Payment) error {
		// The share's refund failed at the provider during the call: the
		// rest went back, what the charge lacked for the whole price when
		// this attempt claimed it.
		shareFailed := before.Status == StatusRefundFailed && before.RefundPercent < 100
		switch {
		case shareFailed:
			rest = pay.AmountCents - pay.RefundedCents
		case short(before):
			rest = before.AmountCents - before.RefundedCents
		default:
			return nil // recorded by an attempt that took over a lapsed claim
		}
		pay, err := scanPayment(tx.QueryRow(ctx, `UPDATE payments SET refunded_amount = refunded_amount + $6::numeric / 100,
				status = CASE WHEN status = 'refund_failed' THEN status ELSE $2 END,
				refunded_at = CASE WHEN status = 'refund_failed' THEN NULL ELSE now() END,
				refund_percent = 100, refund_cause = $3, refund_reason = NULLIF($4, ''),
				refund_reference = COALESCE(NULLIF($5, ''), refund_reference), refund_claimed_at = NULL, rest_due_cause = NULL
			WHERE id = $1 RETURNING `+paymentColumns,
			before.ID, StatusRefunded, cause.String(), reason, ref, rest))
		if err != nil {
			return dbErr(err)
		}
		if err := audit.Record(ctx, tx, audit.Entry{Action: "payment.refund", EntityType: "payment", EntityID: pay.ID,
			Old: map[string]any{"status": before.Status, "refunded_amount": money.Format(before.RefundedCents), "refund_percent": before.RefundPercent,
				"cause": before.RefundCause},
			New: refundAudit(ctx, pay, map[string]any{"status": pay.Status, "refunded_amount": money.Format(pay.RefundedCents), "booking_id": pay.BookingID,
				"refund_percent": pay.RefundPercent, "cause": pay.RefundCause, "reason": pay.RefundReason, "rest": money.Format(rest)}),
		}); err != nil {
			return err
		}
		return s.emit(ctx, tx, TopicRefunded, pay, &paymentv1.PaymentEvent{
			RefundAmount: money.Format(rest), RefundCause: cause, RefundReason: pay.RefundReason, Rest: true,
		})
	})
	if err != nil || rest == 0 {
		return err
	}
	s.metrics.refunds.WithLabelValues(refundCauseLabel(cause)).Inc()
	s.relay.Kick()
	return nil
}

// DecideRefund is the first step of a refund the booking service drives (a
// buyer cancelling a confirmed booking of showID): the share is decided and
// recorded, nothing moves. The booking service releases the seats, then
// calls FinishRefund; an interruption in between is finished by the
// reconciler (RefundBooking, from the decision on).
func (s *Service) DecideRefund(ctx context.Context, bookingID, paymentID, showID string, cause paymentv1.RefundCause, reason string) (Payment, error) {
	if showID == "" {
		return Payment{}, errs.New(errs.Validation, "a refund decided by the booking service names the confirmed booking's show")
	}
	return s.decideRefund(ctx, bookingID, paymentID, showID, cause, reason)
}

// FinishRefund is the last step of a refund the booking service drives: it
// released the seats, so the decided share goes back now.
func (s *Service) FinishRefund(ctx context.Context, bookingID, paymentID string) (Payment, int64, error) {
	ctx = context.WithoutCancel(ctx) // a refund, once decided, must finish
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	var pay Payment
	err := s.store.tx(ctx, func(tx pgx.Tx) error {
		var err error
		pay, err = lockPayment(ctx, tx, bookingID, paymentID)
		return err
	})
	if err != nil {
		return Payment{}, 0, err
	}
	if pay.RefundRequestedAt.IsZero() && pay.RefundedAt.IsZero() {
		return Payment{}, 0, errs.New(errs.Conflict, "no refund was decided for this payment")
	}
	return s.executeRefund(ctx, pay.ID, false)
}

// refundCause reads a stored refund cause.
func refundCause(stored string) paymentv1.RefundCause {
	return paymentv1.RefundCause(paymentv1.RefundCause_value[stored])
}

// bookingCause is why a booking ends when its payment is refunded.
var bookingCause = map[string]bookingv1.CancelCause{
	paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED.String():     bookingv1.CancelCause_CANCEL_CAUSE_BUYER,
	paymentv1.RefundCause_REFUND_CAUSE_ORGANIZER_CANCELLED.String(): bookingv1.CancelCause_CANCEL_CAUSE_EVENT_CANCELLED,
	paymentv1.RefundCause_REFUND_CAUSE_NOT_CONFIRMED.String():       bookingv1.CancelCause_CANCEL_CAUSE_SYSTEM,
	paymentv1.RefundCause_REFUND_CAUSE_SUPPORT.String():             bookingv1.CancelCause_CANCEL_CAUSE_SUPPORT,
}

// refundAudit completes the new values of a refund's audit entry: an
// admin's refund in full (cause SUPPORT) says in_full, and an admin's call
// names the admin (the entry's actor is the caller already; the value
// keeps it readable next to the reason).
func refundAudit(ctx context.Context, pay Payment, values map[string]any) map[string]any {
	if refundCause(pay.RefundCause) == paymentv1.RefundCause_REFUND_CAUSE_SUPPORT {
		values["in_full"] = true
	}
	if p := authn.FromContext(ctx); p != nil && p.Role == authn.RoleAdmin {
		values["admin"] = p.UserID
	}
	return values
}

// decideRefund records the refund of the booking's payment (paymentID, or
// the booking's payment that did not fail) unless one was decided already,
// and answers the payment with its decision. Only the policy's own case (a
// buyer cancelling a booking that is confirmed) needs the booking: the
// booking service says it is confirmed by naming its show (confirmedShow),
// or else the booking engine is asked; every other cause refunds in full.
func (s *Service) decideRefund(ctx context.Context, bookingID, paymentID, confirmedShow string, cause paymentv1.RefundCause, reason string) (Payment, error) {
	var b *bookingv1.Booking
	if confirmedShow != "" {
		b = &bookingv1.Booking{Id: bookingID, ShowId: confirmedShow, Status: bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED}
	} else if cause == paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED {
		res, err := s.booking.GetBooking(authn.AsSystem(ctx), connect.NewRequest(&bookingv1.GetBookingRequest{BookingId: bookingID}))
		switch {
		case err == nil:
			b = res.Msg.GetBooking()
		case errs.FromConnect(err).Code != errs.NotFound:
			return Payment{}, errs.FromConnect(err)
		}
	}
	pct := int64(100)
	if b != nil && b.GetStatus() == bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED {
		// The policy applies to purchases; money for a booking that was
		// never confirmed is always returned in full.
		show, event, err := s.shows.ShowOf(ctx, b.GetShowId())
		if err != nil {
			return Payment{}, err
		}
		pct = RefundPercent(cause, show, s.now(), event == catalogv1.EventStatus_EVENT_STATUS_CANCELLED)
	}
	var pay Payment
	err := s.store.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if pay, err = lockPayment(ctx, tx, bookingID, paymentID); err != nil {
			return err
		}
		if !pay.RefundedAt.IsZero() || !pay.RefundRequestedAt.IsZero() {
			return nil // decided before: that decision stands
		}
		if pay.Status != StatusSucceeded {
			return errs.New(errs.Conflict, "only a succeeded payment can be refunded", "status", pay.Status)
		}
		pay, err = scanPayment(tx.QueryRow(ctx, `UPDATE payments SET refund_percent = $2, refund_cause = $3,
				refund_reason = NULLIF($4, ''), refund_requested_at = now()
			WHERE id = $1 RETURNING `+paymentColumns, pay.ID, pct, cause.String(), reason))
		return dbErr(err)
	})
	return pay, err
}

// lockPayment locks the payment (paymentID, or the booking's payment that
// did not fail) for the transaction.
func lockPayment(ctx context.Context, tx pgx.Tx, bookingID, paymentID string) (Payment, error) {
	q := `SELECT ` + paymentColumns + ` FROM payments WHERE booking_id = $1 AND status <> 'failed' AND NOT duplicate_charge FOR UPDATE`
	args := []any{bookingID}
	if paymentID != "" {
		q = `SELECT ` + paymentColumns + ` FROM payments WHERE id = $2 AND booking_id = $1 FOR UPDATE`
		args = append(args, paymentID)
	}
	pay, err := scanPayment(tx.QueryRow(ctx, q, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, errs.New(errs.NotFound, "no payment for this booking")
	}
	return pay, dbErr(err)
}

// executeRefund gives the decided share of a payment back with the provider
// and records it with its outbox event. No transaction is open during the
// provider call: a short one claims the refund (claimRefund: two attempts
// never call the provider at once for one payment, a second one waits for
// the first), and another records the outcome and ends the claim
// (recordRefund). An attempt that dies between the two leaves its claim;
// once it lapsed, the next attempt (the reconciler's) asks the provider
// for the refund the dead one may have made before it refunds (refund). An
// already refunded payment is answered as it is, and so is one whose refund
// failed at the provider (StatusRefundFailed) unless retryFailed (an
// admin's retry): then what the failed refund carried (the decided share
// less what did come back) is refunded again.
func (s *Service) executeRefund(ctx context.Context, paymentID string, retryFailed bool) (Payment, int64, error) {
	pay, claim, stale, err := s.claimRefund(ctx, paymentID, func(p Payment) bool {
		return p.RefundedAt.IsZero() && (p.Status != StatusRefundFailed || retryFailed)
	})
	if err != nil {
		return Payment{}, 0, err
	}
	if claim.IsZero() {
		return pay, pay.RefundedCents, nil // refunded already, or its refund failed
	}
	// RefundedCents is 0 but for a retry after a refund of two (a share and
	// its rest) of which one failed.
	amount := refundCents(pay.AmountCents, pay.RefundPercent) - pay.RefundedCents
	var ref string
	var outsideCents int64 // what went back by other means (the provider's dashboard)
	if amount > 0 {
		pctx, cancel := context.WithTimeout(ctx, refundCallTimeout)
		ref, outsideCents, err = s.refund(pctx, pay, amount, stale)
		cancel()
		if errors.Is(err, ErrRefundedAlready) {
			// Refunded by hand at the provider: the whole charge is back
			// with the buyer, whatever share this refund decided. Record
			// that, or the refund would be retried forever.
			s.log.Warn("the provider had refunded the whole charge already; recorded as refunded in full",
				zap.String("payment", pay.ID), zap.Int64("decided_cents", amount), zap.Int64("charged_cents", pay.AmountCents))
			outsideCents, err = pay.AmountCents, nil
		}
		if err != nil {
			s.releaseClaim(ctx, pay.ID, claim)
			return Payment{}, 0, err
		}
		if outsideCents > 0 {
			// Part of the charge went back by hand; the provider gave
			// back only what the decision left. The buyer has the larger
			// of the two back, and that is what is recorded.
			s.log.Warn("part of the charge had been refunded at the provider; refunded only the rest of the decided amount",
				zap.String("payment", pay.ID), zap.Int64("decided_cents", amount), zap.Int64("outside_cents", outsideCents))
			amount = min(max(amount, outsideCents), pay.AmountCents)
		}
	}
	refunded := false
	err = s.recordRefund(ctx, pay.ID, claim, func(ctx context.Context, tx pgx.Tx, before Payment) error {
		if !before.RefundedAt.IsZero() {
			// Recorded by an attempt that took over a lapsed claim: its
			// record stands (the provider answered it the same refund).
			pay, amount = before, before.RefundedCents
			return nil
		}
		refunded = true
		retried := before.Status == StatusRefundFailed
		total := min(before.RefundedCents+amount, before.AmountCents)
		status := before.Status
		switch {
		case total == before.AmountCents:
			status = StatusRefunded
		case total > 0:
			status = StatusPartiallyRefunded
		}
		var err error
		pay, err = scanPayment(tx.QueryRow(ctx, `UPDATE payments SET refunded_amount = $2::numeric / 100, status = $3, refunded_at = now(),
			refund_reference = NULLIF($4, ''), refund_claimed_at = NULL WHERE id = $1 RETURNING `+paymentColumns, before.ID, total, status, ref))
		if err != nil {
			return dbErr(err)
		}
		given := total - before.RefundedCents
		amount = total
		if err := audit.Record(ctx, tx, audit.Entry{Action: "payment.refund", EntityType: "payment", EntityID: pay.ID,
			Old: map[string]any{"status": before.Status, "refunded_amount": money.Format(before.RefundedCents)},
			New: refundAudit(ctx, pay, map[string]any{"status": pay.Status, "refunded_amount": money.Format(total), "booking_id": pay.BookingID,
				"refund_percent": pay.RefundPercent, "cause": pay.RefundCause, "reason": pay.RefundReason,
				"refunded_at_provider": outsideCents > 0, "refunded_at_provider_amount": money.Format(outsideCents),
				"retry_after_failed_refund": retried}),
		}); err != nil {
			return err
		}
		ev := &paymentv1.PaymentEvent{
			RefundAmount: money.Format(amount), RefundCause: refundCause(pay.RefundCause), RefundReason: pay.RefundReason,
		}
		if retried {
			// The refund that failed was announced by its own
			// payment.refunded (the buyer was mailed, analytics took the
			// revenue back) and its failure by payment.refund-failed: this
			// one makes that failure good (FailedRefund names it), so notify
			// mails "on its way after all" once, and analytics counts no
			// second refund.
			ev.RefundAmount, ev.FailedRefund = money.Format(given), int32(before.RefundFailures)
		}
		return s.emit(ctx, tx, TopicRefunded, pay, ev)
	})
	if err != nil {
		return Payment{}, 0, err
	}
	if refunded {
		s.metrics.refunds.WithLabelValues(refundCauseLabel(refundCause(pay.RefundCause))).Inc()
		s.relay.Kick()
	}
	return pay, amount, nil
}

// refundLease is how long an attempt's claim on a payment's refund work
// holds (claimRefund): longer than its provider calls may take
// (refundCallTimeout) and its record after them. A claim older than this
// is of an attempt that died; the next attempt takes the work over.
const refundLease = 2 * time.Minute

// refundCallTimeout bounds the provider calls of one attempt at a refund.
const refundCallTimeout = time.Minute

// refundClaimPoll is how often an attempt that found another one's live
// claim looks again.
const refundClaimPoll = 200 * time.Millisecond

// claimRefund claims the payment's refund work for this attempt, in a
// short transaction: when need says the payment has work left, it records
// the claim (refund_claimed_at) unless another attempt holds a live one
// (younger than refundLease), which it waits for, polling without a
// connection held, until that attempt ended or ctx did (then
// SERVICE_UNAVAILABLE). It answers the payment as read, the claim's time
// (zero when need said there is no work left), and whether the claim it
// took over had been left by an attempt that died during its provider
// call (stale): the provider may have refunded for it.
func (s *Service) claimRefund(ctx context.Context, paymentID string, need func(Payment) bool) (pay Payment, claim time.Time, stale bool, err error) {
	for {
		busy := false
		err = s.store.tx(ctx, func(tx pgx.Tx) error {
			var err error
			if pay, err = scanPayment(tx.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1 FOR UPDATE`, paymentID)); err != nil {
				return dbErr(err)
			}
			if !need(pay) {
				return nil
			}
			err = tx.QueryRow(ctx, `UPDATE payments SET refund_claimed_at = now() WHERE id = $1
				AND (refund_claimed_at IS NULL OR refund_claimed_at <= now() - make_interval(secs => $2)) RETURNING refund_claimed_at`,
				paymentID, refundLease.Seconds()).Scan(&claim)
			if errors.Is(err, pgx.ErrNoRows) {
				busy = true
				return nil
			}
			return dbErr(err)
		})
		if err != nil || !busy {
			return pay, claim, !claim.IsZero() && !pay.RefundClaimedAt.IsZero(), err
		}
		select {
		case <-time.After(refundClaimPoll):
		case <-ctx.Done():
			return Payment{}, time.Time{}, false, errs.Unavailable("another attempt at this payment's refund is under way; retry", ctx.Err())
		}
	}
}

// recordRefund records the outcome of this attempt's provider call in a
// short transaction: fn gets the payment as it is now, locked, and writes
// it (ending the claim), under ctx, the record's own. The money moved already, so the record gets time
// of its own even when the caller's ran out; one that fails ends the
// claim, and the next attempt asks the provider again (its idempotency
// key, or FindRefund, answers the same refund).
func (s *Service) recordRefund(ctx context.Context, paymentID string, claim time.Time, fn func(ctx context.Context, tx pgx.Tx, before Payment) error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	err := s.store.tx(rctx, func(tx pgx.Tx) error {
		before, err := scanPayment(tx.QueryRow(rctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1 FOR UPDATE`, paymentID))
		if err != nil {
			return dbErr(err)
		}
		return fn(rctx, tx, before)
	})
	if err != nil {
		s.releaseClaim(ctx, paymentID, claim)
	}
	return err
}

// releaseClaim ends this attempt's claim (claim, as claimRefund answered
// it) when the attempt failed, so that the next one need not wait for the
// lease; a claim it cannot end (Postgres unreachable) lapses after
// refundLease, and the attempt after it asks the provider first.
func (s *Service) releaseClaim(ctx context.Context, paymentID string, claim time.Time) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := s.store.db.Exec(rctx, `UPDATE payments SET refund_claimed_at = NULL WHERE id = $1 AND refund_claimed_at = $2`, paymentID, claim); err != nil {
		s.log.Warn("a failed refund attempt's claim not ended; it lapses", zap.String("payment", paymentID), zap.Duration("lease", refundLease), zap.Error(err))
	}
}

// refundLookupAfter is the age of a refund's decision from which an
// attempt to execute it first asks the provider for a refund an earlier
// attempt made (FindRefund), instead of relying on the idempotency key
// alone: the provider forgets its keys (Stripe after 24 hours), and a
// refund retried after that (its first attempt's commit failed, then a long
// outage) would be made a second time. Every attempt follows the decision,
// so while the decision is younger than this no attempt is older, and the
// provider still knows its key. An hour leaves a wide margin for clocks and
// costs one more provider call only to the retries of a long outage.
const refundLookupAfter = time.Hour

// refund gives amount of the decided payment back at the provider, or
// adopts the refund an earlier attempt made, answering it as
// Provider.Refund would: it asks the provider first from refundLookupAfter
// on, when the claim it took over was left by an attempt that died during
// its provider call (stale), and always for a refund made again after a
// failed one (an admin's retry, of any age: an earlier retry may have made
// it a day ago and failed to record it; FindRefund tells the retries
// apart by their number).
func (s *Service) refund(ctx context.Context, pay Payment, amount int64, stale bool) (ref string, outside int64, err error) {
	p := PaymentRef{PaymentID: pay.ID, ProviderID: pay.ProviderRef, Retry: pay.RefundFailures, Back: pay.RefundedCents}
	if pay.Status == StatusRefundFailed || stale || s.now().Sub(pay.RefundRequestedAt) >= refundLookupAfter {
		ref, outside, found, err := s.provider.FindRefund(ctx, p)
		if err != nil {
			return "", 0, err
		}
		if found {
			s.log.Warn("an earlier attempt had made the refund at the provider; recorded now", zap.String("payment", pay.ID),
				zap.String("refund", ref), zap.Time("decided_at", pay.RefundRequestedAt))
			return ref, outside, nil
		}
	}
	return s.provider.Refund(ctx, p, amount)
}

// emit adds the payment event ev (completed with id, type, payment and
// time) to the outbox within tx.
func (s *Service) emit(ctx context.Context, tx pgx.Tx, topic string, pay Payment, ev *paymentv1.PaymentEvent) error {
	ev.Id = uuid.NewString()
	ev.Type = topic
	ev.Payment = toProto(pay)
	ev.Payment.ClientSecret = ""
	ev.OccurredAt = timestamppb.New(s.now())
	return dbErr(outbox.Insert(ctx, tx, outbox.Message{
		ID: ev.Id, AggregateType: "payment", AggregateID: pay.ID, EventType: topic, Topic: topic, Payload: ev,
	}))
}

// WebhookResult is what HandleWebhook did.
type WebhookResult struct {
	EventID   string
	Duplicate bool
}

// HandleWebhook verifies a provider event and applies it once: the event
// id is recorded (a redelivery is acknowledged without effect) in the same
// transaction as the payment's new status and its outbox event.
func (s *Service) HandleWebhook(ctx context.Context, payload []byte, sigHeader string) (WebhookResult, error) {
	ev, err := s.provider.VerifyWebhook(payload, sigHeader)
	if errors.Is(err, ErrBadSignature) {
		return WebhookResult{}, errs.New(errs.Unauthorized, "the webhook signature does not verify")
	}
	if err != nil || ev.ID == "" {
		return WebhookResult{}, errs.New(errs.Validation, "the webhook payload is not a provider event")
	}
	return s.applyEvent(ctx, ev, storedPayload(payload))
}

// applyEvent applies a provider event once, delivered by webhook or listed
// by the reconciler (missedEvents): the event id is recorded (a second
// delivery is acknowledged without effect) in the same transaction as the
// payment's new status and its outbox event. stored is what is kept of
// its payload (storedPayload).
func (s *Service) applyEvent(ctx context.Context, ev Event, stored string) (WebhookResult, error) {
	var err error
	if ev.Outcome == OutcomeReturned {
		if ev.returnedCause, err = s.returnedCause(ctx, ev); err != nil {
			return WebhookResult{}, err
		}
	}
	tx, err := s.store.db.Begin(ctx)
	if err != nil {
		return WebhookResult{}, dbErr(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	tag, err := tx.Exec(ctx, `INSERT INTO payment_webhook_events (provider, provider_event_id, event_type, payload)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, s.provider.Name(), ev.ID, ev.Type, stored)
	if err != nil {
		return WebhookResult{}, dbErr(err)
	}
	if tag.RowsAffected() == 0 {
		return WebhookResult{EventID: ev.ID, Duplicate: true}, nil
	}
	linkPaymentTrace(ctx, ev)
	decided, pay := "", ""
	switch ev.Outcome {
	case OutcomeOther:
	case OutcomeReturned:
		if pay, decided, err = s.applyReturned(ctx, tx, ev); err != nil {
			return WebhookResult{}, err
		}
	case OutcomeRefundFailed:
		if pay, decided, err = s.applyRefundFailed(ctx, tx, ev); err != nil {
			return WebhookResult{}, err
		}
	default:
		if pay, decided, err = s.applyOutcome(ctx, tx, ev); err != nil {
			return WebhookResult{}, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return WebhookResult{}, dbErr(err)
	}
	s.decided(ctx, pay, decided)
	return WebhookResult{EventID: ev.ID}, nil
}

// decided counts a payment that applyOutcome decided (status "" for none)
// and relays its event at once; a duplicate charge (its transaction
// committed) is refunded now, or else by the reconciler's next pass.
func (s *Service) decided(ctx context.Context, pay, status string) {
	if status == outcomeRefundFailed {
		s.metrics.refundFailures.Inc()
		s.relay.Kick()
		return
	}
	if status == outcomeReturned {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		defer cancel()
		p, err := s.store.Get(rctx, pay)
		if err == nil {
			_, _, err = s.RefundBooking(rctx, p.BookingID, p.ID, refundCause(p.RefundCause), p.RefundReason)
		}
		if err != nil {
			s.log.Warn("money back at the provider not recorded yet; the reconciler finishes it", zap.String("payment", pay), zap.Error(err))
		}
		return
	}
	if status == outcomeDuplicate {
		s.metrics.outcomes.WithLabelValues(StatusSucceeded).Inc()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		defer cancel()
		if _, _, err := s.executeRefund(rctx, pay, false); err != nil {
			s.log.Warn("duplicate charge not refunded yet; the reconciler retries", zap.String("payment", pay), zap.Error(err))
		}
		return
	}
	if status == outcomeSuperseding {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		defer cancel()
		s.cancelSuperseded(rctx, pay)
		status = StatusSucceeded
	}
	if status != "" {
		s.metrics.outcomes.WithLabelValues(status).Inc()
	}
	s.relay.Kick()
}

// applyOutcome moves a pending or processing payment to succeeded or
// failed and emits payment.success or payment.failed, answering the
// payment's id and its new status; a payment already decided keeps its
// state (events may arrive late or out of order) and answers status "",
// except for money that arrives for a failed payment (lateCharge).
func (s *Service) applyOutcome(ctx context.Context, tx pgx.Tx, ev Event) (id, status string, err error) {
	pay, err := s.eventPayment(ctx, tx, ev, true)
	if errors.Is(err, pgx.ErrNoRows) {
		s.log.Warn("webhook for an unknown payment acknowledged", zap.String("event", ev.ID), zap.String("intent", ev.ProviderPaymentID))
		return "", "", nil
	}
	if err != nil {
		return "", "", dbErr(err)
	}
	if pay.ProviderRef != "" && ev.ProviderPaymentID != "" && ev.ProviderPaymentID != pay.ProviderRef {
		// Our payment's id in the metadata of an intent that is not its
		// own (another system on the same account: every endpoint gets
		// every event): that intent's outcome is not this payment's.
		s.log.Warn("webhook of another intent naming a payment acknowledged", zap.String("event", ev.ID),
			zap.String("intent", ev.ProviderPaymentID), zap.String("payment", pay.ID), zap.String("payment_intent", pay.ProviderRef))
		return "", "", nil
	}
	if _, err := tx.Exec(ctx, `UPDATE payment_webhook_events SET payment_id = $3, processed_at = now()
		WHERE provider = $1 AND provider_event_id = $2`, s.provider.Name(), ev.ID, pay.ID); err != nil {
		return "", "", dbErr(err)
	}
	if pay.Status == StatusFailed && ev.Outcome == OutcomeSucceeded {
		status, err := s.lateCharge(ctx, tx, pay, ev)
		return pay.ID, status, err
	}
	if pay.Status != StatusPending && pay.Status != StatusProcessing {
		return pay.ID, "", nil
	}
	topic := TopicSuccess
	if ev.Outcome == OutcomeSucceeded {
		pay, err = scanPayment(tx.QueryRow(ctx, `UPDATE payments SET status = 'succeeded', succeeded_at = now(),
			provider_payment_id = COALESCE(provider_payment_id, NULLIF($2, '')) WHERE id = $1 RETURNING `+paymentColumns, pay.ID, ev.ProviderPaymentID))
	} else {
		topic = TopicFailed
		pay, err = scanPayment(tx.QueryRow(ctx, `UPDATE payments SET status = 'failed', failed_reason = $3,
			provider_payment_id = COALESCE(provider_payment_id, NULLIF($2, '')) WHERE id = $1 RETURNING `+paymentColumns, pay.ID, ev.ProviderPaymentID, ev.FailureReason))
	}
	if err != nil {
		return "", "", dbErr(err)
	}
	return pay.ID, pay.Status, s.emit(ctx, tx, topic, pay, &paymentv1.PaymentEvent{})
}

// lateCharge applies a success that arrives for a payment marked failed:
// money was taken all the same. Stripe reports each declined attempt
// (payment_failed) while its intent stays open, so a buyer who tries
// another card in the same form pays the intent of a failed payment; a
// creation that timed out may have charged too. Such money must end as a
// confirmed booking or a refund like any other:
//   - when nothing else charges the booking, the payment succeeds and
//     payment.success starts the saga (it confirms the hold if it lives,
//     refunds in full if not);
//   - when another payment of the booking is still open (pending or
//     processing: the buyer started paying again and has not finished),
//     the money that arrived wins: that one fails as superseded (no
//     payment.failed mail: the buyer paid), its intent is cancelled after
//     the commit (a charge of it that still comes is a duplicate, below),
//     and this one succeeds as above. Before, the money was refunded as a
//     duplicate and the open payment, never finished, let the hold expire:
//     a buyer who paid in time got no ticket;
//   - when another payment of the booking took money (the buyer paid
//     again meanwhile), this one is a duplicate charge: it succeeds with a
//     full refund decided (cause NOT_CONFIRMED: never the booking's
//     purchase), outside the one-charge-per-booking index, and the refund
//     is made after the commit (Refund, or the reconciler's next pass),
//     without touching the booking the other payment holds.
//
// It answers the status decided, "" when the charge was already applied.
func (s *Service) lateCharge(ctx context.Context, tx pgx.Tx, pay Payment, ev Event) (string, error) {
	if !pay.SucceededAt.IsZero() {
		return "", nil
	}
	var other, otherStatus string
	err := tx.QueryRow(ctx, `SELECT id::text, status FROM payments WHERE booking_id = $1 AND id <> $2 AND status <> 'failed'
		AND NOT duplicate_charge FOR UPDATE`, pay.BookingID, pay.ID).Scan(&other, &otherStatus)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", dbErr(err)
	}
	s.log.Warn("a payment marked failed was charged", zap.String("payment", pay.ID), zap.String("booking", pay.BookingID),
		zap.String("failed_reason", pay.FailedReason), zap.String("other_payment", other), zap.String("other_status", otherStatus))
	superseded := otherStatus == StatusPending || otherStatus == StatusProcessing
	if superseded {
		// Failed first: the one-charge-per-booking index then takes this one.
		if _, err := tx.Exec(ctx, `UPDATE payments SET status = 'failed', failed_reason = $2 WHERE id = $1`, other, reasonSuperseded); err != nil {
			return "", dbErr(err)
		}
		other = ""
	}
	if other == "" {
		// A concurrent CreatePayment for the booking makes this update
		// break the index: the webhook answers 503 and its retry finds
		// the other payment.
		pay, err = scanPayment(tx.QueryRow(ctx, `UPDATE payments SET status = 'succeeded', succeeded_at = now(), failed_reason = NULL,
			provider_payment_id = COALESCE(provider_payment_id, NULLIF($2, '')) WHERE id = $1 RETURNING `+paymentColumns, pay.ID, ev.ProviderPaymentID))
		if err != nil {
			return "", dbErr(err)
		}
		status := pay.Status
		if superseded {
			status = outcomeSuperseding
		}
		return status, s.emit(ctx, tx, TopicSuccess, pay, &paymentv1.PaymentEvent{})
	}
	if _, err := tx.Exec(ctx, `UPDATE payments SET status = 'succeeded', succeeded_at = now(), duplicate_charge = true,
			provider_payment_id = COALESCE(provider_payment_id, NULLIF($2, '')),
			refund_percent = 100, refund_cause = $3, refund_reason = $4, refund_requested_at = now()
		WHERE id = $1`, pay.ID, ev.ProviderPaymentID, paymentv1.RefundCause_REFUND_CAUSE_NOT_CONFIRMED.String(),
		"a second charge for a booking another payment paid already: refunded in full"); err != nil {
		return "", dbErr(err)
	}
	return outcomeDuplicate, nil
}

// eventPayment reads the payment a provider event is about: by the payment
// id our metadata gives it, else by its intent; locked for update when lock.
func (s *Service) eventPayment(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, ev Event, lock bool) (Payment, error) {
	forUpdate := ""
	if lock {
		forUpdate = " FOR UPDATE"
	}
	if _, err := uuid.Parse(ev.PaymentID); err == nil {
		return scanPayment(q.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1 AND provider = $2`+forUpdate, ev.PaymentID, s.provider.Name()))
	}
	return scanPayment(q.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE provider_payment_id = $1`+forUpdate, ev.ProviderPaymentID))
}

// returnedCause is the refund cause of a purchase whose whole charge went
// back at the provider (applyReturned): BUYER_CANCELLED (the purchase was
// made and ends: analytics takes its revenue back) when its booking is
// confirmed now, NOT_CONFIRMED (never a sale) otherwise. A booking service
// that does not answer makes the webhook answer 503, for Stripe's retry.
func (s *Service) returnedCause(ctx context.Context, ev Event) (paymentv1.RefundCause, error) {
	pay, err := s.eventPayment(ctx, s.store.db, ev, false)
	if errors.Is(err, pgx.ErrNoRows) {
		return paymentv1.RefundCause_REFUND_CAUSE_NOT_CONFIRMED, nil
	}
	if err != nil {
		return 0, dbErr(err)
	}
	res, err := s.booking.GetBooking(authn.AsSystem(ctx), connect.NewRequest(&bookingv1.GetBookingRequest{BookingId: pay.BookingID}))
	switch {
	case err == nil && res.Msg.GetBooking().GetStatus() == bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED:
		return paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED, nil
	case err == nil || errs.FromConnect(err).Code == errs.NotFound:
		return paymentv1.RefundCause_REFUND_CAUSE_NOT_CONFIRMED, nil
	}
	return 0, errs.FromConnect(err)
}

// applyReturned applies money of a payment that went back to the buyer
// outside Booking Rush (OutcomeReturned): a refund made by hand in the
// provider's dashboard, a dispute the buyer won. When the whole charge is
// back, the purchase ends as any refunded one: a full refund is decided
// (cause returnedCause: BUYER_CANCELLED for a confirmed booking, whose
// revenue analytics takes back) here, in the webhook's transaction, and finished after the commit (or by
// the reconciler's next pass) by RefundBooking, which releases the booking
// (its tickets revoked, its seats back) and records the payment refunded
// in full (the provider answers the charge refunded already). Money the
// buyer's charge never brought (a pending payment's success was not seen
// yet) is applied first, as its success webhook would.
//
// A payment with a refund decided already is left to it (Stripe sends
// charge.refunded for Booking Rush's own refunds too), and a part of the
// charge back by hand changes nothing here: a later refund gives only the
// rest (Refund). It answers the payment and outcomeReturned when a refund
// was decided, "" otherwise.
func (s *Service) applyReturned(ctx context.Context, tx pgx.Tx, ev Event) (id, status string, err error) {
	pay, err := s.eventPayment(ctx, tx, ev, true)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && pay.ProviderRef != "" && pay.ProviderRef != ev.ProviderPaymentID) {
		s.log.Warn("money back for an unknown payment acknowledged", zap.String("event", ev.ID), zap.String("intent", ev.ProviderPaymentID))
		return "", "", nil
	}
	if err != nil {
		return "", "", dbErr(err)
	}
	if pay.Status == StatusPending || pay.Status == StatusProcessing || (pay.Status == StatusFailed && pay.SucceededAt.IsZero()) {
		// Charged (it went back since): its success is applied first.
		charged := ev
		charged.Outcome = OutcomeSucceeded
		if _, st, err := s.applyOutcome(ctx, tx, charged); err != nil || st == outcomeDuplicate {
			return pay.ID, st, err
		}
		if pay, err = scanPayment(tx.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1`, pay.ID)); err != nil {
			return "", "", dbErr(err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE payment_webhook_events SET payment_id = $3, processed_at = now()
		WHERE provider = $1 AND provider_event_id = $2`, s.provider.Name(), ev.ID, pay.ID); err != nil {
		return "", "", dbErr(err)
	}
	if pay.Status != StatusSucceeded || !pay.RefundRequestedAt.IsZero() || !pay.RefundedAt.IsZero() {
		return pay.ID, "", nil
	}
	if ev.ReturnedCents < pay.AmountCents {
		s.log.Warn("part of a charge went back at the provider; the purchase stands", zap.String("payment", pay.ID),
			zap.Int64("returned_cents", ev.ReturnedCents), zap.Int64("charged_cents", pay.AmountCents), zap.String("event", ev.Type))
		return pay.ID, "", nil
	}
	s.log.Warn("the whole charge went back to the buyer at the provider; the purchase is refunded", zap.String("payment", pay.ID),
		zap.String("booking", pay.BookingID), zap.String("event", ev.Type))
	cause := ev.returnedCause
	if cause == paymentv1.RefundCause_REFUND_CAUSE_UNSPECIFIED {
		cause = paymentv1.RefundCause_REFUND_CAUSE_NOT_CONFIRMED
	}
	if _, err := tx.Exec(ctx, `UPDATE payments SET refund_percent = 100, refund_cause = $2, refund_reason = $3, refund_requested_at = now()
		WHERE id = $1`, pay.ID, cause.String(),
		"the whole charge went back to the buyer at the payment provider ("+ev.Type+")"); err != nil {
		return "", "", dbErr(err)
	}
	return pay.ID, outcomeReturned, nil
}

// applyRefundFailed applies a refund of ours that failed at the provider
// after it accepted it, or was cancelled (OutcomeRefundFailed): the money
// is back with Booking Rush, and the buyer, whose booking ended, has
// neither it nor a ticket. Only our refunds count: the refund carries our
// marker (a share or a rest) and names a payment of its intent; any other
// (made by hand in the dashboard, another system's on the same account) is
// acknowledged with a log line.
//
// Each failed refund applies once (payment_refund_failures: Stripe reports
// a failure by refund.failed and by refund.updated): the payment becomes
// refund_failed, what the refund carried no longer counts as given back,
// and why is kept (Stripe's failure_reason). Its booking stays ended (its
// seats may be sold again) and nothing retries the refund by itself: a
// refund to a closed card fails again. The reconciler counts such payments
// (payment_refund_failed_payments, alert RushRefundFailed), the money audit
// reports them open, and an admin's RefundPayment retries the refund
// (retryFailedRefund).
//
// A failure that arrives while the refund's attempt has not recorded it
// yet (Stripe's answer and its commit in between) answers
// SERVICE_UNAVAILABLE: the webhook is retried, or the listing of missed
// events applies it on a later pass.
func (s *Service) applyRefundFailed(ctx context.Context, tx pgx.Tx, ev Event) (id, status string, err error) {
	ours := ev.RefundKind == refundShare || ev.RefundKind == refundRest
	var pay Payment
	if ours {
		pay, err = s.eventPayment(ctx, tx, ev, true)
	}
	if !ours || errors.Is(err, pgx.ErrNoRows) || (err == nil && (pay.ProviderRef == "" || pay.ProviderRef != ev.ProviderPaymentID)) {
		s.log.Warn("a failed refund that is none of ours acknowledged", zap.String("event", ev.ID), zap.String("refund", ev.RefundID),
			zap.String("intent", ev.ProviderPaymentID), zap.String("payment", ev.PaymentID), zap.String("marker", ev.RefundKind))
		return "", "", nil
	}
	if err != nil {
		return "", "", dbErr(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE payment_webhook_events SET payment_id = $3, processed_at = now()
		WHERE provider = $1 AND provider_event_id = $2`, s.provider.Name(), ev.ID, pay.ID); err != nil {
		return "", "", dbErr(err)
	}
	if pay.RefundedAt.IsZero() && pay.Status != StatusRefundFailed {
		if !pay.RefundRequestedAt.IsZero() {
			return "", "", errs.Unavailable("the refund that failed is not recorded with its payment yet; retry", nil, "payment_id", pay.ID)
		}
		s.log.Warn("a failed refund of ours for a payment with no refund decided acknowledged", zap.String("event", ev.ID),
			zap.String("refund", ev.RefundID), zap.String("payment", pay.ID))
		return pay.ID, "", nil
	}
	tag, err := tx.Exec(ctx, `INSERT INTO payment_refund_failures (provider, refund_id, payment_id, amount, status, reason)
		VALUES ($1, $2, $3, $4::numeric / 100, $5, $6) ON CONFLICT DO NOTHING`,
		s.provider.Name(), ev.RefundID, pay.ID, ev.RefundCents, ev.RefundStatus, truncate(ev.FailureReason, 500))
	if err != nil {
		return "", "", dbErr(err)
	}
	if tag.RowsAffected() == 0 {
		return pay.ID, "", nil // applied by the other event of the same failure
	}
	back := min(ev.RefundCents, pay.RefundedCents)
	after, err := scanPayment(tx.QueryRow(ctx, `UPDATE payments SET status = 'refund_failed', refunded_amount = refunded_amount - $2::numeric / 100,
			refunded_at = NULL, refund_failures = refund_failures + 1, refund_failed_at = now(), refund_failure_reason = $3
		WHERE id = $1 RETURNING `+paymentColumns, pay.ID, back, truncate(ev.FailureReason, 500)))
	if err != nil {
		return "", "", dbErr(err)
	}
	if err := audit.Record(ctx, tx, audit.Entry{Action: "payment.refund_failed", EntityType: "payment", EntityID: pay.ID,
		Old: map[string]any{"status": pay.Status, "refunded_amount": money.Format(pay.RefundedCents)},
		New: map[string]any{"status": after.Status, "refunded_amount": money.Format(after.RefundedCents), "booking_id": pay.BookingID,
			"refund": ev.RefundID, "refund_status": ev.RefundStatus, "refund_amount": money.Format(ev.RefundCents),
			"failure_reason": ev.FailureReason, "event": ev.Type},
	}); err != nil {
		return "", "", err
	}
	// Its buyer was told of the refund (payment.refunded): they are told
	// of its failure too (notify mails them, once per failure).
	if err := s.emit(ctx, tx, TopicRefundFailed, after, &paymentv1.PaymentEvent{
		RefundAmount: money.Format(back), RefundCause: refundCause(after.RefundCause), RefundReason: after.RefundReason,
		FailedRefund: int32(after.RefundFailures),
	}); err != nil {
		return "", "", err
	}
	s.log.Error("a refund failed at the provider after it accepted it: the buyer is owed the money and has no ticket; an admin retries the refund (POST /api/v1/payments/{id}/refund) once its cause is dealt with",
		zap.String("payment", pay.ID), zap.String("booking", pay.BookingID), zap.String("refund", ev.RefundID),
		zap.String("failure_reason", ev.FailureReason), zap.Int64("refund_cents", ev.RefundCents), zap.String("event", ev.Type))
	return pay.ID, outcomeRefundFailed, nil
}

// truncate cuts s to at most n bytes (a provider's text, stored).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// outcomeRefundFailed is what applyRefundFailed answers for a refund of
// ours that failed at the provider.
const outcomeRefundFailed = "refund_failed"

// outcomeReturned is what applyReturned answers for a purchase whose money
// went back at the provider: the caller finishes its refund once its
// transaction committed.
const outcomeReturned = "returned"

// outcomeDuplicate is what applyOutcome answers for a duplicate charge
// (lateCharge): the caller refunds it once its transaction committed.
const outcomeDuplicate = "duplicate_charge"

// outcomeSuperseding is what applyOutcome answers for money of a failed
// payment that superseded an open payment of its booking (lateCharge): it
// succeeded, and the caller cancels the open one's intent once its
// transaction committed.
const outcomeSuperseding = "succeeded_superseding"

// reasonSuperseded is the failure reason of an open payment whose booking
// another payment's money paid (lateCharge).
const reasonSuperseded = "superseded: another payment of this booking was charged"

// cancelSuperseded cancels at the provider the intents of the payments of
// paymentID's booking that its money superseded, so their buyer cannot pay
// them any more; one that cannot be cancelled (paid meanwhile) brings a
// duplicate charge, refunded in full.
func (s *Service) cancelSuperseded(ctx context.Context, paymentID string) {
	rows, err := s.store.db.Query(ctx, `SELECT provider_payment_id FROM payments WHERE booking_id = (SELECT booking_id FROM payments WHERE id = $1)
		AND status = 'failed' AND failed_reason = $2 AND provider_payment_id IS NOT NULL`, paymentID, reasonSuperseded)
	var refs []string
	if err == nil {
		refs, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	for _, ref := range refs {
		if cerr := s.provider.Cancel(ctx, ref); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	if err != nil {
		s.log.Warn("an open payment superseded by another's money not cancelled at the provider; a charge of it would be refunded as a duplicate",
			zap.String("payment", paymentID), zap.Error(err))
	}
}

// traceParent is the W3C traceparent of ctx's span, "" when it has none.
func traceParent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c["traceparent"]
}

// linkPaymentTrace links the webhook's span (its own trace: the provider
// calls when it likes) to the trace that created the payment, named in the
// intent's metadata, so one finds the other; the outbox event the webhook
// writes continues the webhook's trace to the saga.
func linkPaymentTrace(ctx context.Context, ev Event) {
	span := trace.SpanFromContext(ctx)
	if ev.TraceParent == "" || !span.IsRecording() {
		return
	}
	sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": ev.TraceParent}))
	if sc.IsValid() {
		span.AddLink(trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{attribute.String("rush.link", "payment created")}})
	}
}
