// Package moneyaudit checks the money invariant of Booking Rush across the
// payment records, the bookings in Postgres and the live records in Redis:
// for every succeeded payment, exactly one of (booking confirmed, payment
// refunded), refunded in full unless the buyer cancelled under the policy
// (and its event was not cancelled since: then the rest is given, or due
// while the refund of the buyer's share is failed); and no booking
// confirmed without exactly one such payment.
//
// It is an auditor, not a service: it reads the tables of the payment and
// booking services side by side (which no service may do) and writes
// nothing. The concurrent tests call it after their runs, and rushbench
// after every scenario, next to the inventory audit (booking.Reconcile).
package moneyaudit

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/bookingrush/rush/lua"
)

// Report is what an audit found.
type Report struct {
	// Payments counts the payments audited (every one that did not fail).
	Payments int
	// Confirmed and Refunded count the settled ones; Open the payments
	// still pending or processing (the reconciler resolves them) and those
	// whose refund failed at the provider (RefundFailed of them).
	Confirmed, Refunded, Open int
	// RefundFailed counts the payments whose refund the provider accepted
	// and then failed (status refund_failed): the money is kept and the
	// booking ended, so they are not settled; only a person settles them (an
	// admin retries the refund). Each is open, not a violation: the system
	// knows, shows (payment_refund_failed_payments) and alerts on it.
	RefundFailed int
	// Violations describe every breach of the invariant; none is the goal.
	Violations []string
}

// OK reports an audit without violations.
func (r Report) OK() bool { return len(r.Violations) == 0 }

func (r Report) String() string {
	return fmt.Sprintf("%d payments: %d confirmed, %d refunded, %d open (%d refund failed); %d violations",
		r.Payments, r.Confirmed, r.Refunded, r.Open, r.RefundFailed, len(r.Violations))
}

// Check audits every payment of the database db; rdb and prefix (the
// booking engine's key prefix) add the live booking records of Redis to the
// comparison (rdb nil: Postgres only). Run it once the system is quiet: a
// payment in flight is not yet settled.
func Check(ctx context.Context, db *pgxpool.Pool, rdb *redis.Client, prefix string) (Report, error) {
	var r Report
	rows, err := db.Query(ctx, `SELECT p.id::text, p.booking_id::text, p.status, (p.amount * 100)::bigint,
			(p.refunded_amount * 100)::bigint, COALESCE(p.refund_cause, ''), p.refund_requested_at IS NOT NULL,
			p.refunded_at IS NOT NULL, COALESCE(b.status, ''), COALESCE(b.event_id::text, ''), p.duplicate_charge,
			p.rest_due_cause IS NOT NULL, COALESCE(p.refund_percent, 100), COALESCE(e.status = 'cancelled', false)
		FROM payments p LEFT JOIN bookings b ON b.id = p.booking_id LEFT JOIN booking_events e ON e.event_id = b.event_id
		WHERE p.status <> 'failed' ORDER BY p.created_at`)
	if err != nil {
		return r, err
	}
	type live struct{ payment, booking, event string }
	var mustConfirm, mustNot []live
	for rows.Next() {
		var id, booking, status, cause, bStatus, event string
		var amount, refunded, percent int64
		var decided, done, duplicate, restDue, eventCancelled bool
		if err := rows.Scan(&id, &booking, &status, &amount, &refunded, &cause, &decided, &done, &bStatus, &event, &duplicate, &restDue,
			&percent, &eventCancelled); err != nil {
			rows.Close()
			return r, err
		}
		r.Payments++
		bad := func(format string, args ...any) {
			r.Violations = append(r.Violations, fmt.Sprintf("payment %s (booking %s): ", id, booking)+fmt.Sprintf(format, args...))
		}
		if eventCancelled && decided && percent < 100 && refunded < amount && !restDue {
			// Its buyer cancelled for a share, then its event was cancelled
			// (everyone gets 100%): the rest must be given or, while the
			// share's refund is failed, recorded as due.
			bad("refunded for %d%% of its price, and its event is cancelled with the rest neither given nor due", percent)
		}
		switch {
		case status == "pending" || status == "processing":
			r.Open++
		case status == "refund_failed":
			r.Open++
			r.RefundFailed++
			if bStatus == "confirmed" {
				bad("its refund failed, and its booking is still confirmed")
			}
			mustNot = append(mustNot, live{id, booking, event})
		case decided && !done:
			bad("its refund was decided but never made (money kept, booking %q)", bStatus)
		case duplicate:
			// Money that came after the payment failed, while another
			// payment paid the booking: the booking is the other's.
			r.Refunded++
			if refunded != amount {
				bad("a duplicate charge refunded %d of %d cents", refunded, amount)
			}
		case done || decided:
			r.Refunded++
			if bStatus == "confirmed" {
				bad("refunded, and its booking is still confirmed")
			}
			// Only the buyer's own cancel under the policy may give back
			// less than everything: an organizer's cancellation, money
			// that bought nothing and support's refund (SUPPORT) are in full.
			if cause != "" && cause != "REFUND_CAUSE_BUYER_CANCELLED" && refunded != amount {
				bad("refunded %d of %d cents for %s: only the buyer's own cancel under the refund policy gives back less than everything", refunded, amount, cause)
			}
			if restDue && refunded != amount {
				// Its event was cancelled while its refund had failed: the
				// rest is owed once the failed refund was made good.
				bad("refunded %d of %d cents with the rest of the price due (its event was cancelled), never given", refunded, amount)
			}
			mustNot = append(mustNot, live{id, booking, event})
		default: // succeeded, nothing given back
			r.Confirmed++
			if bStatus != "confirmed" {
				bad("succeeded and kept, but its booking is %q, not confirmed (no ticket, no refund)", bStatus)
			}
			mustConfirm = append(mustConfirm, live{id, booking, event})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, err
	}
	orphans, err := db.Query(ctx, `SELECT b.id::text FROM bookings b WHERE b.status = 'confirmed' AND (
			SELECT count(*) FROM payments p WHERE p.booking_id = b.id AND p.status = 'succeeded'
				AND p.refund_requested_at IS NULL AND p.refunded_at IS NULL) <> 1`)
	if err != nil {
		return r, err
	}
	for orphans.Next() {
		var id string
		if err := orphans.Scan(&id); err != nil {
			orphans.Close()
			return r, err
		}
		r.Violations = append(r.Violations, fmt.Sprintf("booking %s is confirmed without exactly one kept payment", id))
	}
	orphans.Close()
	if err := orphans.Err(); err != nil {
		return r, err
	}
	if rdb == nil {
		return r, nil
	}
	// Redis must agree: a live record of a kept payment's booking is
	// confirmed; one of a refunded payment's booking is not.
	check := func(set []live, confirmed bool) error {
		pipe := rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(set))
		for i, l := range set {
			if l.event != "" {
				cmds[i] = pipe.HGet(ctx, lua.EventKeys(prefix, l.event).Hold(l.booking), "status")
			}
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		for i, c := range cmds {
			if c == nil || errors.Is(c.Err(), redis.Nil) {
				continue
			}
			if st := c.Val(); (st == "confirmed") != confirmed {
				r.Violations = append(r.Violations, fmt.Sprintf("payment %s (booking %s): Redis has the booking %q, Postgres says otherwise",
					set[i].payment, set[i].booking, st))
			}
		}
		return nil
	}
	if err := check(mustConfirm, true); err != nil {
		return r, err
	}
	return r, check(mustNot, false)
}
