package payment

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/postgres"
)

// Payment is a payments row.
type Payment struct {
	ID, BookingID, UserID string
	// EventID is the booking's event (for an organizer's cancellation).
	EventID                    string
	AmountCents, RefundedCents int64
	Currency, Status, Provider string
	Method, ProviderRef        string
	FailedReason               string
	RefundedAt                 time.Time
	CreatedAt, UpdatedAt       time.Time
	// IdempotencyKey is the Idempotency-Key of the CreatePayment call.
	IdempotencyKey string
	// RefundPercent is the refund decided (-1 while none is), for
	// RefundCause; RefundRequestedAt is when it was decided.
	RefundPercent     int64
	RefundCause       string
	RefundReason      string
	RefundRequestedAt time.Time
	// SucceededAt is when the money arrived; SettledAt when its booking was
	// seen confirmed (by the reconciler).
	SucceededAt, SettledAt time.Time
	// ClientSecret is never stored: only CreatePayment returns it.
	ClientSecret string
	// Duplicate marks money that arrived for this payment after it had
	// failed while another payment paid its booking (lateCharge): refunded
	// in full, never the booking's charge.
	Duplicate bool
	// HoldExpiresAt is when the hold it pays for expires, as the booking
	// service said at its creation (zero for payments from before it was
	// kept): the reconciler leaves an open intent to its buyer until then.
	HoldExpiresAt time.Time
	// RefundClaimedAt is when an attempt to execute its refund (or a rest
	// of it) claimed it to call the provider; zero when none holds it
	// (claimRefund).
	RefundClaimedAt time.Time
	// TraceParent is the W3C traceparent of the call that created the
	// payment ("" without one): every creation of its intent sends it, so
	// a retry under the provider's idempotency key sends the first call's
	// parameters.
	TraceParent string
	// RefundFailures counts the refunds of this payment that failed at the
	// provider after it accepted them; RefundFailedAt and
	// RefundFailureReason are the last one's (zero and "" for none).
	RefundFailures      int
	RefundFailedAt      time.Time
	RefundFailureReason string
	// RestDueCause is the cause of the rest of the price owed beyond a
	// share refunded under the policy ("" for none): its event was
	// cancelled (everyone gets 100%) after its buyer's own cancel
	// (MarkRestDue). It lasts until the rest is given (topUp): at once, or,
	// when the refund of the share failed at the provider, once that is made
	// good (restDue).
	RestDueCause string
}

// RefundOwedCents is what a payment whose refund failed at the provider
// owes its buyer: the decided refund less what did come back, and the rest
// of the price when one is due (RestDueCause).
func (p Payment) RefundOwedCents() int64 {
	return p.shareOwedCents() + p.restDueCents()
}

// shareOwedCents is the decided refund less what did come back.
func (p Payment) shareOwedCents() int64 {
	return max(refundCents(p.AmountCents, p.RefundPercent)-p.RefundedCents, 0)
}

// restDueCents is the rest of the price beyond the decided refund, when
// one is due (RestDueCause), else 0.
func (p Payment) restDueCents() int64 {
	if p.RestDueCause == "" {
		return 0
	}
	return p.AmountCents - max(refundCents(p.AmountCents, p.RefundPercent), p.RefundedCents)
}

// PaymentFilter selects a page of payments of one status, of one booking,
// or both (ListPayments).
type PaymentFilter struct {
	// Status is the stored status listed; "" is any (with BookingID).
	Status string
	// BookingID, when set, lists that booking's payments only.
	BookingID string
	// Page is 1-based; PerPage the page size.
	Page, PerPage int
}

// List answers one page of f's payments and how many match over all
// pages: the refund_failed ones of every booking newest failure first (the
// index payments_refund_failed_idx), the others newest first (a booking's
// through payments_booking_idx).
func (s *Store) List(ctx context.Context, f PaymentFilter) ([]Payment, int, error) {
	// Only the conditions asked for, so that a generic plan of the
	// statement still uses the index they allow.
	var conds []string
	var args []any
	if f.Status != "" {
		args = append(args, f.Status)
		conds = append(conds, fmt.Sprintf("status = $%d", len(args)))
	}
	if f.BookingID != "" {
		args = append(args, f.BookingID)
		conds = append(conds, fmt.Sprintf("booking_id = $%d", len(args)))
	}
	if len(conds) == 0 {
		return nil, 0, errs.New(errs.Validation, "a status or a booking is required")
	}
	where := strings.Join(conds, " AND ")
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM payments WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, dbErr(err)
	}
	order := `created_at DESC, id`
	if f.Status == StatusRefundFailed && f.BookingID == "" {
		order = `refund_failed_at DESC, id`
	}
	rows, err := s.db.Query(ctx, `SELECT `+paymentColumns+` FROM payments WHERE `+where+` ORDER BY `+order+fmt.Sprintf(` LIMIT $%d OFFSET $%d`, len(args)+1, len(args)+2),
		append(args, f.PerPage, (f.Page-1)*f.PerPage)...)
	if err != nil {
		return nil, 0, dbErr(err)
	}
	defer rows.Close()
	var out []Payment
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, 0, dbErr(err)
		}
		out = append(out, p)
	}
	return out, total, dbErr(rows.Err())
}

// Payment statuses, as stored.
const (
	StatusPending           = "pending"
	StatusProcessing        = "processing"
	StatusSucceeded         = "succeeded"
	StatusFailed            = "failed"
	StatusRefunded          = "refunded"
	StatusPartiallyRefunded = "partially_refunded"
	// StatusRefundFailed is a payment whose refund the provider accepted and
	// then failed (or cancelled): the buyer is owed it, and the booking has
	// ended. Only an admin's retry (RefundPayment) moves it on.
	StatusRefundFailed = "refund_failed"
)

// Store is the payment service's SQL.
type Store struct{ db *pgxpool.Pool }

// NewStore returns the store.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

const paymentColumns = `id::text, booking_id::text, user_id::text, (amount * 100)::bigint, (refunded_amount * 100)::bigint,
	currency, status, provider, COALESCE(payment_method, ''), COALESCE(provider_payment_id, ''), COALESCE(failed_reason, ''),
	COALESCE(refunded_at, 'epoch'), created_at, updated_at, COALESCE(idempotency_key, ''), COALESCE(refund_percent, -1),
	COALESCE(refund_cause, ''), COALESCE(refund_reason, ''), COALESCE(refund_requested_at, 'epoch'),
	COALESCE(succeeded_at, 'epoch'), COALESCE(settled_at, 'epoch'), duplicate_charge, COALESCE(hold_expires_at, 'epoch'),
	COALESCE(refund_claimed_at, 'epoch'), COALESCE(trace_parent, ''), refund_failures, COALESCE(refund_failed_at, 'epoch'),
	COALESCE(refund_failure_reason, ''), COALESCE(rest_due_cause, '')`

func scanPayment(row pgx.Row) (Payment, error) {
	var p Payment
	err := row.Scan(&p.ID, &p.BookingID, &p.UserID, &p.AmountCents, &p.RefundedCents, &p.Currency, &p.Status, &p.Provider,
		&p.Method, &p.ProviderRef, &p.FailedReason, &p.RefundedAt, &p.CreatedAt, &p.UpdatedAt, &p.IdempotencyKey,
		&p.RefundPercent, &p.RefundCause, &p.RefundReason, &p.RefundRequestedAt, &p.SucceededAt, &p.SettledAt, &p.Duplicate, &p.HoldExpiresAt,
		&p.RefundClaimedAt, &p.TraceParent, &p.RefundFailures, &p.RefundFailedAt, &p.RefundFailureReason, &p.RestDueCause)
	for _, t := range []*time.Time{&p.RefundedAt, &p.RefundRequestedAt, &p.SucceededAt, &p.SettledAt, &p.HoldExpiresAt, &p.RefundClaimedAt, &p.RefundFailedAt} {
		if t.Unix() == 0 {
			*t = time.Time{}
		}
	}
	return p, err
}

// errKeyUsed is an Insert whose Idempotency-Key the payer used before (a
// concurrent retry won the race): the caller answers that payment.
var errKeyUsed = errors.New("idempotency key used")

// Insert records a new pending payment. A booking with a payment that did
// not fail answers CONFLICT naming it (one charge per booking); a key the
// payer used already is errKeyUsed.
func (s *Store) Insert(ctx context.Context, p Payment) error {
	var holdExpires *time.Time
	if !p.HoldExpiresAt.IsZero() {
		holdExpires = &p.HoldExpiresAt
	}
	_, err := s.db.Exec(ctx, `INSERT INTO payments (id, booking_id, user_id, amount, currency, status, provider, payment_method, idempotency_key, event_id,
			hold_expires_at, trace_parent)
		VALUES ($1, $2, $3, $4::numeric / 100, $5, 'pending', $6, $7, NULLIF($8, ''), NULLIF($9, '')::uuid, $10, NULLIF($11, ''))`,
		p.ID, p.BookingID, p.UserID, p.AmountCents, p.Currency, p.Provider, p.Method, p.IdempotencyKey, p.EventID, holdExpires, p.TraceParent)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && p.IdempotencyKey != "" {
		// Whichever unique index refused the row first, a payment made
		// with this key by a concurrent retry is the answer.
		if _, ok, kerr := s.ByKey(ctx, p.UserID, p.IdempotencyKey); kerr == nil && ok {
			return errKeyUsed
		}
	}
	if errors.As(err, &pe) && pe.Code == "23505" {
		return s.chargedAlready(ctx, p.BookingID)
	}
	return dbErr(err)
}

// SetIntent stores the provider's id; a pending payment becomes status
// (the webhook may have decided it already, and then wins).
func (s *Store) SetIntent(ctx context.Context, id, providerRef, status string) error {
	_, err := s.db.Exec(ctx, `UPDATE payments SET provider_payment_id = COALESCE(provider_payment_id, $2),
		status = CASE WHEN status = 'pending' THEN $3 ELSE status END WHERE id = $1`, id, providerRef, status)
	return dbErr(err)
}

// KeepOpen records that the reconciler found the payment's intent still
// open at the provider while its hold lives (by Postgres' clock, the one
// the reconciler's selection reads), and answers whether it did: false
// when the hold expired, or its expiry is unknown (a payment from before
// it was kept).
func (s *Store) KeepOpen(ctx context.Context, id string) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE payments SET intent_open_at = now()
		WHERE id = $1 AND status IN ('pending', 'processing') AND hold_expires_at > now()`, id)
	if err != nil {
		return false, dbErr(err)
	}
	return tag.RowsAffected() == 1, nil
}

// Fail marks a payment the provider refused at creation.
func (s *Store) Fail(ctx context.Context, id, reason string) error {
	_, err := s.db.Exec(ctx, `UPDATE payments SET status = 'failed', failed_reason = $2 WHERE id = $1 AND status IN ('pending', 'processing')`, id, reason)
	return dbErr(err)
}

// Reopen makes a payment whose creation failed before the provider took it
// pending again, for a retry of its creation; false when it is not such a
// payment any more (a concurrent retry reopened it, or money arrived for
// it). A booking that has another payment by now answers CONFLICT naming
// it, as Insert does.
func (s *Store) Reopen(ctx context.Context, id, bookingID string) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE payments SET status = 'pending', failed_reason = NULL
		WHERE id = $1 AND status = 'failed' AND provider_payment_id IS NULL AND NOT duplicate_charge`, id)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return false, s.chargedAlready(ctx, bookingID)
	}
	if err != nil {
		return false, dbErr(err)
	}
	return tag.RowsAffected() == 1, nil
}

// chargedAlready is the CONFLICT of a second payment for bookingID, naming
// the booking's payment.
func (s *Store) chargedAlready(ctx context.Context, bookingID string) error {
	var id, status string
	_ = s.db.QueryRow(ctx, `SELECT id::text, status FROM payments WHERE booking_id = $1 AND status <> 'failed' AND NOT duplicate_charge`, bookingID).Scan(&id, &status)
	return errs.New(errs.Conflict, "this booking already has a payment", "payment_id", id, "status", status)
}

// ByKey finds the payment the payer created with an Idempotency-Key.
func (s *Store) ByKey(ctx context.Context, userID, key string) (Payment, bool, error) {
	return s.one(ctx, `SELECT `+paymentColumns+` FROM payments WHERE user_id = $1 AND idempotency_key = $2`, userID, key)
}

// ByBooking finds a booking's payment: the one that did not fail (nor was
// a duplicate charge), else the latest other one.
func (s *Store) ByBooking(ctx context.Context, bookingID string) (Payment, bool, error) {
	return s.one(ctx, `SELECT `+paymentColumns+` FROM payments WHERE booking_id = $1
		ORDER BY status = 'failed' OR duplicate_charge, created_at DESC LIMIT 1`, bookingID)
}

func (s *Store) one(ctx context.Context, q string, args ...any) (Payment, bool, error) {
	p, err := scanPayment(s.db.QueryRow(ctx, q, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, false, nil
	}
	if err != nil {
		return Payment{}, false, dbErr(err)
	}
	return p, true, nil
}

// Get reads one payment.
func (s *Store) Get(ctx context.Context, id string) (Payment, error) {
	p, err := scanPayment(s.db.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, errs.New(errs.NotFound, "payment not found")
	}
	return p, dbErr(err)
}

// SucceededOfEvent lists the event's payments that succeeded and were not
// refunded in full (what an organizer's cancellation must refund: those not
// refunded yet, and the rest of those its buyers had cancelled for less than
// the whole price, including those whose refund failed at the provider),
// oldest first. The payment decides, not the booking's status: a booking paid but
// confirmed in Redis only, or not confirmed yet, is refunded too (the event
// is cancelled: the refund releases the hold, and the saga's confirm then
// fails and its compensation finds the payment refunded already).
func (s *Store) SucceededOfEvent(ctx context.Context, eventID string) ([]Payment, error) {
	rows, err := s.db.Query(ctx, `SELECT `+paymentColumns+` FROM payments WHERE event_id = $1 AND status IN ('succeeded', 'partially_refunded', 'refund_failed')
		ORDER BY created_at, id`, eventID)
	if err != nil {
		return nil, dbErr(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Payment, error) { return scanPayment(r) })
	return out, dbErr(err)
}

// MarkRestDue records that the rest of the price is owed, for cause, to the
// buyer of a payment refunded for a share under the policy (refunded in
// part or for nothing, or whose refund of the share failed at the
// provider), until topUp gives it (and ends the due): at once, or for a
// share that failed, once it is made good. It answers whether it marked
// the payment, and whether that payment's share had failed; marked is false
// for any other payment (no share refunded, refunded in full, or a rest is
// due already).
func (s *Store) MarkRestDue(ctx context.Context, id, cause string) (marked, shareFailed bool, err error) {
	err = s.db.QueryRow(ctx, `UPDATE payments SET rest_due_cause = $2
		WHERE id = $1 AND refund_percent < 100 AND refunded_amount < amount AND rest_due_cause IS NULL
			AND (refunded_at IS NOT NULL OR status = 'refund_failed')
		RETURNING status = 'refund_failed'`, id, cause).Scan(&shareFailed)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, dbErr(err)
	}
	return true, shareFailed, nil
}

// RefundTally is a number of payments and an amount in cents.
type RefundTally struct {
	Count int
	Cents int64
}

// EventRefunds is where the refunds of an event's paid bookings stand: one
// payment per paid booking (a duplicate charge is not one), each in one of
// Refunded, InProgress and Failed; OutsideProvider are those of Refunded
// whose money support paid back outside the provider.
type EventRefunds struct {
	Currency                                            string
	Paid, Refunded, InProgress, Failed, OutsideProvider RefundTally
}

// RefundsOfEvent counts the event's paid bookings by the state of their
// refund, in one read: refunded in full (the amount given back), not yet
// refunded in full (succeeded, partially refunded: what they still get
// back), refund failed at the provider (what is owed).
func (s *Store) RefundsOfEvent(ctx context.Context, eventID string) (EventRefunds, error) {
	var r EventRefunds
	err := s.db.QueryRow(ctx, `SELECT COALESCE(max(currency), ''),
			count(*), COALESCE(sum(amount * 100), 0)::bigint,
			count(*) FILTER (WHERE status = 'refunded'), COALESCE(sum(refunded_amount * 100) FILTER (WHERE status = 'refunded'), 0)::bigint,
			count(*) FILTER (WHERE status IN ('succeeded', 'partially_refunded')),
			COALESCE(sum((amount - refunded_amount) * 100) FILTER (WHERE status IN ('succeeded', 'partially_refunded')), 0)::bigint,
			count(*) FILTER (WHERE status = 'refund_failed'),
			COALESCE(sum((amount - refunded_amount) * 100) FILTER (WHERE status = 'refund_failed'), 0)::bigint,
			count(*) FILTER (WHERE status = 'refunded' AND refund_reference LIKE 'outside:%'),
			COALESCE(sum(refunded_amount * 100) FILTER (WHERE status = 'refunded' AND refund_reference LIKE 'outside:%'), 0)::bigint
		FROM payments WHERE event_id = $1 AND NOT duplicate_charge
			AND status IN ('succeeded', 'partially_refunded', 'refunded', 'refund_failed')`, eventID).Scan(
		&r.Currency, &r.Paid.Count, &r.Paid.Cents, &r.Refunded.Count, &r.Refunded.Cents, &r.InProgress.Count, &r.InProgress.Cents,
		&r.Failed.Count, &r.Failed.Cents, &r.OutsideProvider.Count, &r.OutsideProvider.Cents)
	return r, dbErr(err)
}

// tx runs fn in a transaction; fn's error rolls it back and is returned as
// it is (Postgres failures are SERVICE_UNAVAILABLE).
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return dbErr(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return dbErr(tx.Commit(ctx))
}

// dbErr turns a Postgres failure into SERVICE_UNAVAILABLE (domain errors
// pass through).
func dbErr(err error) error { return postgres.StoreError("the payment store", err) }
