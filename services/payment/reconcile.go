package payment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/background"
	"github.com/bookingrush/rush/services/platform/errs"
)

// Reconciler settles every payment the normal path left open, so that each
// succeeded payment ends in exactly one of (booking confirmed, payment
// refunded in full) whatever crashed or stalled on the way:
//
//   - a refund decided but not finished (its seats or the provider were
//     unreachable, or the process died during the provider's call) is
//     finished with the recorded decision;
//   - a refund that failed at the provider after it accepted it
//     (refund_failed) is NOT made again: the same card would refuse again;
//     it is counted (payment_refund_failed_payments) for a person to act;
//   - a succeeded payment whose booking was not seen confirmed after a
//     grace period (longer than a saga's life) is settled: a confirmed
//     booking is marked settled, a live hold is confirmed, anything else
//     (the hold ended, or the booking engine never had it) is refunded in
//     full;
//   - a pending or processing payment older than payment.stale-after (its
//     webhook lost) is asked of the provider: its outcome is applied as the
//     webhook would have, and an intent nobody finished is cancelled and
//     marked failed once the hold it pays for expired (until then its buyer
//     may still be finishing it, in their bank's 3-D Secure step: a
//     waitlist offer's hold outlives stale-after), asked again stale-after
//     later or when the hold expires, whichever comes first;
//   - the rest of the price due to a cancelled event's buyer (restDue) is
//     given when the attempt that owed it could not (the cancellation's, or
//     the one that made a failed refund of the share good);
//   - the provider's events of the handled types are listed,
//     payment.event-lag behind, and each one no webhook brought is applied as its webhook
//     would have been (missedEvents): money returned by hand or by a
//     dispute is caught although the endpoint was not subscribed to it, or
//     its deliveries failed for longer than the provider retries.
//
// Every payment replica runs one; a pass runs in one replica at a time (a
// Postgres advisory lock per schema) and every action is idempotent.
type Reconciler struct {
	*background.Task
	svc *Service
	cfg Config
	log *zap.Logger
}

// NewReconciler returns the reconciler of svc.
func NewReconciler(svc *Service, cfg Config, log *zap.Logger) *Reconciler {
	r := &Reconciler{svc: svc, cfg: cfg, log: log.Named("reconciler")}
	r.Task = background.New(r.loop)
	return r
}

func (r *Reconciler) loop(ctx context.Context) {
	t := time.NewTicker(r.cfg.ReconcileInterval)
	defer t.Stop()
	for background.Wait(ctx, t, nil) {
		if err := r.Once(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("reconciler pass failed; retrying next interval", zap.Error(err))
		}
	}
}

// reconcileBatch is how many payments one query of a pass takes.
const reconcileBatch = 200

// unsettledAlarm is the age from which an unsettled payment counts in the
// payment_unsettled_payments gauge (the alert's threshold).
const unsettledAlarm = 5 * time.Minute

// Once runs one pass, unless another replica is running one, and then
// counts what is still unsettled (every replica does, so the gauge of each
// is fresh).
func (r *Reconciler) Once(ctx context.Context) error {
	if err := r.pass(ctx); err != nil {
		return err
	}
	return r.gauge(ctx)
}

func (r *Reconciler) pass(ctx context.Context) error {
	conn, err := r.svc.store.db.Acquire(ctx)
	if err != nil {
		return dbErr(err)
	}
	defer conn.Release()
	const lock = `hashtext('rush.payment.reconciler:' || current_schema())`
	var mine bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+lock+`)`).Scan(&mine); err != nil || !mine {
		return dbErr(err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lock+`)`) //nolint:errcheck // the session ends with the conn otherwise
	deadline := time.Now().Add(r.cfg.ReconcileInterval)
	for _, step := range []func(context.Context, time.Time) error{r.finishRefunds, r.finishRests, r.settle, r.staleIntents, r.missedEvents} {
		if err := step(ctx, deadline); err != nil {
			return err
		}
	}
	return nil
}

// due lists up to reconcileBatch payments matching where, oldest by order
// first.
func (r *Reconciler) due(ctx context.Context, where, order string, args ...any) ([]Payment, error) {
	rows, err := r.svc.store.db.Query(ctx, `SELECT `+paymentColumns+` FROM payments WHERE `+where+` ORDER BY `+order+` LIMIT `+
		strconv.Itoa(reconcileBatch), args...)
	if err != nil {
		return nil, dbErr(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Payment, error) { return scanPayment(row) })
	return out, dbErr(err)
}

// each runs act on the payments where selects, batch after batch, until a
// batch is short, every payment of a batch failed, or the pass is over.
func (r *Reconciler) each(ctx context.Context, deadline time.Time, where, order string, args []any, act func(Payment) string) error {
	for ctx.Err() == nil && time.Now().Before(deadline) {
		batch, err := r.due(ctx, where, order, args...)
		if err != nil {
			return err
		}
		failed := 0
		for _, p := range batch {
			action := act(p)
			r.svc.metrics.reconciler.WithLabelValues(action).Inc()
			if action == "failed" {
				failed++
			}
		}
		if len(batch) < reconcileBatch || failed == len(batch) {
			return nil
		}
	}
	return ctx.Err()
}

// finishRefunds finishes refunds decided at least a few seconds ago (a
// younger one may still be on its way) with their recorded decision,
// passing over those an attempt is executing (a live claim: claimRefund).
// A claim that lapsed is of an attempt that died during its provider call:
// the refund is finished asking the provider first for the refund that
// attempt may have made (Service.refund).
func (r *Reconciler) finishRefunds(ctx context.Context, deadline time.Time) error {
	return r.each(ctx, deadline, `refund_requested_at IS NOT NULL AND refunded_at IS NULL AND refund_requested_at < now() - interval '10 seconds'
			AND status <> 'refund_failed' AND (refund_claimed_at IS NULL OR refund_claimed_at <= now() - make_interval(secs => $1))`,
		`refund_requested_at`, []any{refundLease.Seconds()}, func(p Payment) string {
			if _, _, err := r.svc.RefundBooking(ctx, p.BookingID, p.ID, refundCause(p.RefundCause), p.RefundReason); err != nil {
				r.log.Warn("decided refund still not finished", zap.String("payment", p.ID), zap.Error(err))
				return "failed"
			}
			return "refund_finished"
		})
}

// finishRests gives the rest of the price due to the buyers of payments
// refunded for a share (restDue: their event was cancelled since) when the
// attempt that owed it could not give it (the provider unreachable, the
// process died): the cancellation's, or the one that made a failed refund
// of the share good. It passes over those whose share's refund is still
// failed, and those an attempt holds a live claim on.
func (r *Reconciler) finishRests(ctx context.Context, deadline time.Time) error {
	return r.each(ctx, deadline, `rest_due_cause IS NOT NULL AND refunded_at IS NOT NULL AND status <> 'refund_failed'
			AND (refund_claimed_at IS NULL OR refund_claimed_at <= now() - make_interval(secs => $1))`,
		`refunded_at`, []any{refundLease.Seconds()}, func(p Payment) string {
			if _, err := r.svc.restDue(ctx, p); err != nil {
				r.log.Warn("rest due of a cancelled event's payment still not given", zap.String("payment", p.ID), zap.Error(err))
				return "failed"
			}
			return "rest_given"
		})
}

// settle settles succeeded payments whose booking was not seen confirmed
// after the grace period: confirm while the hold lives, else refund.
func (r *Reconciler) settle(ctx context.Context, deadline time.Time) error {
	return r.each(ctx, deadline, `status = 'succeeded' AND settled_at IS NULL AND refund_requested_at IS NULL AND refunded_at IS NULL
			AND succeeded_at < now() - make_interval(secs => $1)`, `succeeded_at`, []any{r.cfg.ReconcileGrace.Seconds()},
		func(p Payment) string {
			action, err := r.settleOne(ctx, p)
			if err != nil {
				r.log.Warn("succeeded payment not settled yet", zap.String("payment", p.ID), zap.String("booking", p.BookingID), zap.Error(err))
				return "failed"
			}
			if action != "settled" {
				r.log.Info("payment settled by the reconciler", zap.String("payment", p.ID), zap.String("booking", p.BookingID), zap.String("action", action))
			}
			return action
		})
}

func (r *Reconciler) settleOne(ctx context.Context, p Payment) (string, error) {
	sys := authn.AsSystem(ctx)
	res, err := r.svc.booking.GetBooking(sys, connect.NewRequest(&bookingv1.GetBookingRequest{BookingId: p.BookingID}))
	if err != nil && errs.FromConnect(err).Code != errs.NotFound {
		return "", errs.FromConnect(err)
	}
	b := res.Msg.GetBooking() // nil when NOT_FOUND
	switch {
	case b.GetStatus() == bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED:
		return "settled", r.svc.store.MarkSettled(ctx, p.ID)
	case b.GetStatus() == bookingv1.BookingStatus_BOOKING_STATUS_RESERVED && b.GetExpiresAt().AsTime().After(r.svc.now()):
		_, err := r.svc.booking.ConfirmBooking(sys, connect.NewRequest(&bookingv1.ConfirmBookingRequest{BookingId: p.BookingID, PaymentId: p.ID}))
		if err == nil {
			return "confirmed", r.svc.store.MarkSettled(ctx, p.ID)
		}
		if c := errs.FromConnect(err).Code; c != errs.ReservationExpired && c != errs.Conflict {
			return "", errs.FromConnect(err)
		}
		// The hold ended meanwhile: refund.
	}
	_, _, err = r.svc.RefundBooking(ctx, p.BookingID, p.ID, paymentv1.RefundCause_REFUND_CAUSE_NOT_CONFIRMED,
		"the payment could not become a confirmed booking")
	return "refunded", err
}

// staleIntents asks the provider what became of payments still pending or
// processing after payment.stale-after; one whose intent was found open
// while its hold lived is asked again stale-after later, or once the hold
// expired.
func (r *Reconciler) staleIntents(ctx context.Context, deadline time.Time) error {
	return r.each(ctx, deadline, `status IN ('pending', 'processing') AND created_at < now() - make_interval(secs => $1)
			AND (intent_open_at IS NULL OR intent_open_at < now() - make_interval(secs => $1) OR hold_expires_at <= now())`,
		`created_at`, []any{r.cfg.StaleAfter.Seconds()}, func(p Payment) string {
			action, err := r.resolveIntent(ctx, p)
			if err != nil {
				r.log.Warn("stale payment not resolved yet", zap.String("payment", p.ID), zap.Error(err))
				return "failed"
			}
			if action == actionIntentOpen {
				r.log.Info("stale payment's intent still open while its hold lives; left to its buyer", zap.String("payment", p.ID),
					zap.Time("hold_expires_at", p.HoldExpiresAt))
				return action
			}
			r.log.Info("stale payment resolved", zap.String("payment", p.ID), zap.String("action", action))
			return action
		})
}

// actionIntentOpen is the reconciler's action for a stale payment whose
// intent is open while its hold lives: left to its buyer.
const actionIntentOpen = "intent_open"

// findLag is how long after payment.stale-after the reconciler keeps asking
// the provider for the intent of a payment without one (Stripe's search
// lags its writes, up to an hour in its outages) before it records the
// payment abandoned.
const findLag = time.Hour

func (r *Reconciler) resolveIntent(ctx context.Context, p Payment) (string, error) {
	ev := Event{ID: "reconcile:" + p.ID, Type: "reconcile.lookup", PaymentID: p.ID, ProviderPaymentID: p.ProviderRef}
	action := "intent_abandoned"
	if p.ProviderRef == "" {
		// The process died during CreateIntent: before the provider took
		// it, or after (the card may be charged), before the intent's id
		// was stored. The provider is asked.
		ref, err := r.svc.provider.Find(ctx, p.ID)
		if err != nil {
			return "", err
		}
		if ref == "" && time.Since(p.CreatedAt) < r.cfg.StaleAfter+findLag {
			return "", fmt.Errorf("the provider knows no intent of the payment yet; asked again until %s old", r.cfg.StaleAfter+findLag)
		}
		p.ProviderRef, ev.ProviderPaymentID = ref, ref
	}
	if p.ProviderRef == "" {
		// The provider never took it: nothing was charged.
		ev.Outcome, ev.FailureReason = OutcomeFailed, "abandoned before the payment provider took it"
	} else {
		st, err := r.svc.provider.Lookup(ctx, p.ProviderRef)
		if err != nil {
			return "", err
		}
		switch st.Outcome {
		case OutcomeSucceeded:
			ev.Outcome, action = OutcomeSucceeded, "intent_succeeded"
		case OutcomeFailed:
			ev.Outcome, ev.FailureReason, action = OutcomeFailed, st.FailureReason, "intent_failed"
		default:
			// Nobody finished it yet. While the hold lives its buyer may
			// still be paying (in their bank's 3-D Secure step): a hold may
			// outlive stale-after (a waitlist offer's does), and the payment
			// service cannot know its TTL, only the expiry it was told.
			if open, err := r.svc.store.KeepOpen(ctx, p.ID); err != nil || open {
				return actionIntentOpen, err
			}
			// Nobody finished it in time: make sure nobody can any more.
			if err := r.svc.provider.Cancel(ctx, p.ProviderRef); err != nil {
				return "", err
			}
			ev.Outcome, ev.FailureReason = OutcomeFailed, "not completed in time; cancelled"
		}
	}
	return action, r.svc.applyLookup(ctx, ev)
}

// firstEventListing is how far back the first listing of a deployment
// reaches (its cursor starts there).
const firstEventListing = 24 * time.Hour

// eventWindow is the span of events listed and applied at once: the cursor
// moves window by window, so a long backlog (the first listing, a provider
// outage) is worked through pass after pass within each pass's time, with
// at most one window's events in memory.
const eventWindow = 10 * time.Minute

// missedEvents lists the provider's events created since the cursor, up to
// payment.event-lag ago, window by window, and applies each one that no
// webhook brought. The cursor moves past a window only when every event of
// it is applied, so a failure lists the same window again on the next pass
// (each event applies once).
func (r *Reconciler) missedEvents(ctx context.Context, deadline time.Time) error {
	name := r.svc.provider.Name()
	to := time.Now().Add(-r.cfg.EventLag).Truncate(time.Second)
	from := to.Add(-firstEventListing)
	err := r.svc.store.db.QueryRow(ctx, `SELECT listed_until FROM payment_event_cursor WHERE provider = $1`, name).Scan(&from)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return dbErr(err)
	}
	for from.Before(to) && ctx.Err() == nil && time.Now().Before(deadline) {
		end := from.Add(eventWindow)
		if end.After(to) {
			end = to
		}
		evs, err := r.svc.provider.MissedEvents(ctx, from, end)
		if errors.Is(err, ErrNoEventList) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := r.applyMissed(ctx, evs); err != nil {
			return err
		}
		if _, err := r.svc.store.db.Exec(ctx, `INSERT INTO payment_event_cursor (provider, listed_until) VALUES ($1, $2)
			ON CONFLICT (provider) DO UPDATE SET listed_until = excluded.listed_until`, name, end); err != nil {
			return dbErr(err)
		}
		from = end
	}
	return ctx.Err()
}

// applyMissed applies the listed events that no webhook brought.
func (r *Reconciler) applyMissed(ctx context.Context, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	rows, err := r.svc.store.db.Query(ctx, `SELECT provider_event_id FROM payment_webhook_events
		WHERE provider = $1 AND provider_event_id = ANY($2::text[])`, r.svc.provider.Name(), ids)
	if err != nil {
		return dbErr(err)
	}
	seen, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return dbErr(err)
	}
	for _, ev := range evs {
		if slices.Contains(seen, ev.ID) {
			continue
		}
		res, err := r.svc.applyEvent(ctx, ev, storedPayload(ev.Payload))
		if err != nil {
			r.svc.metrics.reconciler.WithLabelValues("failed").Inc()
			return fmt.Errorf("provider event %s (%s), which no webhook brought: %w", ev.ID, ev.Type, err)
		}
		if !res.Duplicate {
			r.svc.metrics.reconciler.WithLabelValues("missed_event").Inc()
			r.log.Warn("applied a provider event no webhook brought; check the webhook endpoint's event types and deliveries",
				zap.String("event", ev.ID), zap.String("type", ev.Type), zap.String("payment", ev.PaymentID))
		}
	}
	return nil
}

// gauge counts the payments that stayed unsettled past the alarm age, and
// those whose refund failed at the provider (a person acts on them; the
// reconciler does not retry them).
func (r *Reconciler) gauge(ctx context.Context) error {
	var unconfirmed, pending, refundFailed float64
	err := r.svc.store.db.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE status = 'succeeded' AND settled_at IS NULL AND refund_requested_at IS NULL AND refunded_at IS NULL
				AND succeeded_at < now() - make_interval(secs => $1)),
			count(*) FILTER (WHERE refund_requested_at IS NOT NULL AND refunded_at IS NULL AND status <> 'refund_failed'
				AND refund_requested_at < now() - make_interval(secs => $1)),
			count(*) FILTER (WHERE status = 'refund_failed')
		FROM payments WHERE (status = 'succeeded' AND settled_at IS NULL AND refund_requested_at IS NULL)
			OR (refund_requested_at IS NOT NULL AND refunded_at IS NULL)`, unsettledAlarm.Seconds()).Scan(&unconfirmed, &pending, &refundFailed)
	if err != nil {
		return dbErr(err)
	}
	r.svc.metrics.unsettled.WithLabelValues("unconfirmed").Set(unconfirmed)
	r.svc.metrics.unsettled.WithLabelValues("refund_pending").Set(pending)
	r.svc.metrics.refundFailed.Set(refundFailed)
	return nil
}

// applyLookup applies an outcome the reconciler learned from the provider
// as a webhook would, recorded under the synthetic event id ev.ID (so it is
// applied once, and the trail shows who decided).
func (s *Service) applyLookup(ctx context.Context, ev Event) error {
	var pay, decided string
	err := s.store.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO payment_webhook_events (provider, provider_event_id, event_type)
			VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, s.provider.Name(), ev.ID, ev.Type)
		if err != nil {
			return dbErr(err)
		}
		if tag.RowsAffected() == 0 {
			// Decided by an earlier pass whose answer was lost: look again.
			if _, err := tx.Exec(ctx, `UPDATE payment_webhook_events SET received_at = now()
				WHERE provider = $1 AND provider_event_id = $2`, s.provider.Name(), ev.ID); err != nil {
				return dbErr(err)
			}
		}
		pay, decided, err = s.applyOutcome(ctx, tx, ev)
		return err
	})
	if err == nil {
		s.decided(ctx, pay, decided)
	}
	return err
}

// MarkSettled records that the booking of a succeeded payment was seen
// confirmed.
func (s *Store) MarkSettled(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `UPDATE payments SET settled_at = now() WHERE id = $1 AND settled_at IS NULL`, id)
	return dbErr(err)
}
