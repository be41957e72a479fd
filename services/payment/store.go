package payment

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
	ID, BookingID, UserID      string
	AmountCents, RefundedCents int64
	Currency, Status, Provider string
	Method, ProviderRef        string
	FailedReason               string
	RefundedAt                 time.Time
	CreatedAt, UpdatedAt       time.Time
	// ClientSecret is never stored: only CreatePayment returns it.
	ClientSecret string
}

// Payment statuses, as stored.
const (
	StatusPending           = "pending"
	StatusProcessing        = "processing"
	StatusSucceeded         = "succeeded"
	StatusFailed            = "failed"
	StatusRefunded          = "refunded"
	StatusPartiallyRefunded = "partially_refunded"
)

// Store is the payment service's SQL.
type Store struct{ db *pgxpool.Pool }

// NewStore returns the store.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

const paymentColumns = `id::text, booking_id::text, user_id::text, (amount * 100)::bigint, (refunded_amount * 100)::bigint,
	currency, status, provider, COALESCE(payment_method, ''), COALESCE(provider_payment_id, ''), COALESCE(failed_reason, ''),
	COALESCE(refunded_at, 'epoch'), created_at, updated_at`

func scanPayment(row pgx.Row) (Payment, error) {
	var p Payment
	err := row.Scan(&p.ID, &p.BookingID, &p.UserID, &p.AmountCents, &p.RefundedCents, &p.Currency, &p.Status, &p.Provider,
		&p.Method, &p.ProviderRef, &p.FailedReason, &p.RefundedAt, &p.CreatedAt, &p.UpdatedAt)
	if p.RefundedAt.Unix() == 0 {
		p.RefundedAt = time.Time{}
	}
	return p, err
}

// Insert records a new pending payment. A booking with a payment that did
// not fail answers CONFLICT naming it (one charge per booking).
func (s *Store) Insert(ctx context.Context, p Payment) error {
	_, err := s.db.Exec(ctx, `INSERT INTO payments (id, booking_id, user_id, amount, currency, status, provider, payment_method)
		VALUES ($1, $2, $3, $4::numeric / 100, $5, 'pending', $6, $7)`,
		p.ID, p.BookingID, p.UserID, p.AmountCents, p.Currency, p.Provider, p.Method)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		var id, status string
		_ = s.db.QueryRow(ctx, `SELECT id::text, status FROM payments WHERE booking_id = $1 AND status <> 'failed'`, p.BookingID).Scan(&id, &status)
		return errs.New(errs.Conflict, "this booking already has a payment", "payment_id", id, "status", status)
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

// Fail marks a payment the provider refused at creation.
func (s *Store) Fail(ctx context.Context, id, reason string) error {
	_, err := s.db.Exec(ctx, `UPDATE payments SET status = 'failed', failed_reason = $2 WHERE id = $1 AND status IN ('pending', 'processing')`, id, reason)
	return dbErr(err)
}

// Get reads one payment.
func (s *Store) Get(ctx context.Context, id string) (Payment, error) {
	p, err := scanPayment(s.db.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, errs.New(errs.NotFound, "payment not found")
	}
	return p, dbErr(err)
}

// ShowOf returns when a show starts and whether its event was cancelled.
func (s *Store) ShowOf(ctx context.Context, showID string) (time.Time, bool, error) {
	var at time.Time
	var status string
	err := s.db.QueryRow(ctx, `SELECT sh.show_date, e.status FROM shows sh JOIN events e ON e.id = sh.event_id WHERE sh.id = $1`, showID).Scan(&at, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, errs.New(errs.NotFound, "show not found")
	}
	return at, status == "cancelled", dbErr(err)
}

// dbErr turns a Postgres failure into SERVICE_UNAVAILABLE (domain errors
// pass through).
func dbErr(err error) error { return postgres.StoreError("the payment store", err) }

// parseCents reads a decimal money string ("99.80") as minor units.
func parseCents(s string) (int64, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		return 0, fmt.Errorf("money %q: more than 2 decimals", s)
	}
	frac += strings.Repeat("0", 2-len(frac))
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w < 0 {
		return 0, fmt.Errorf("money %q: %v", s, err)
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("money %q: %v", s, err)
	}
	return w*100 + f, nil
}

// formatCents writes minor units as a decimal string ("99.80").
func formatCents(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }
