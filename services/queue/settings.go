package queue

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/postgres"
)

// Settings is the Postgres side of the queue: the events row holds the
// organizer's switch (queue_enabled) and the admission rate
// (queue_admit_per_second). The switch reaches the reserve script through
// the booking engine's meta; the rate is read here, cached for a short
// while, since every admitter tick and status answer needs it.
type Settings struct {
	db  *pgxpool.Pool
	ttl time.Duration

	mu    sync.Mutex
	rates map[string]cachedRate
}

type cachedRate struct {
	rate int
	at   time.Time
}

// eventQueue is an event's queue settings and sale status.
type eventQueue struct {
	enabled bool
	rate    int
	status  string
}

// NewSettings returns the settings store; rates are reused for ttl.
func NewSettings(db *pgxpool.Pool, ttl time.Duration) *Settings {
	return &Settings{db: db, ttl: ttl, rates: map[string]cachedRate{}}
}

// Rate is the event's admission rate (buyers per second). When Postgres
// fails, the last known rate is used if there is one: a stale rate is
// better than stopping the line.
func (s *Settings) Rate(ctx context.Context, ev string) (int, error) {
	s.mu.Lock()
	c, ok := s.rates[ev]
	s.mu.Unlock()
	if ok && time.Since(c.at) < s.ttl {
		return c.rate, nil
	}
	var rate int
	err := s.db.QueryRow(ctx, `SELECT queue_admit_per_second FROM events WHERE id = $1 AND deleted_at IS NULL`, ev).Scan(&rate)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, errs.New(errs.NotFound, "event not found")
	}
	if err != nil {
		if ok {
			return c.rate, nil
		}
		return 0, dbUnavailable(err)
	}
	s.mu.Lock()
	s.rates[ev] = cachedRate{rate: rate, at: time.Now()}
	s.mu.Unlock()
	return rate, nil
}

// forget drops the cached rate of ev.
func (s *Settings) forget(ev string) {
	s.mu.Lock()
	delete(s.rates, ev)
	s.mu.Unlock()
}

// status returns the event's sale status, found false when there is no
// such event.
func (s *Settings) status(ctx context.Context, ev string) (status string, found bool, err error) {
	err = s.db.QueryRow(ctx, `SELECT status FROM events WHERE id = $1 AND deleted_at IS NULL`, ev).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, dbUnavailable(err)
	}
	return status, true, nil
}

// update sets the event's switch and (when rate > 0) its rate, returning the
// settings before and after. A cancelled event does not change.
func (s *Settings) update(ctx context.Context, ev string, enabled bool, rate int) (before, after eventQueue, err error) {
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT queue_enabled, queue_admit_per_second, status FROM events
			WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, ev).Scan(&before.enabled, &before.rate, &before.status)
		if errors.Is(err, pgx.ErrNoRows) {
			return errs.New(errs.NotFound, "event not found")
		}
		if err != nil {
			return err
		}
		if before.status == "cancelled" {
			return errs.New(errs.Conflict, "a cancelled event does not change")
		}
		after = eventQueue{enabled: enabled, rate: before.rate, status: before.status}
		if rate > 0 {
			after.rate = rate
		}
		_, err = tx.Exec(ctx, `UPDATE events SET queue_enabled = $2, queue_admit_per_second = $3, updated_at = now() WHERE id = $1`,
			ev, after.enabled, after.rate)
		return err
	})
	if err != nil {
		var e *errs.Error
		if errors.As(err, &e) {
			return before, after, err
		}
		return before, after, dbUnavailable(err)
	}
	s.forget(ev)
	return before, after, nil
}

// dbUnavailable wraps a connection failure as SERVICE_UNAVAILABLE; other
// database errors stay internal.
func dbUnavailable(err error) error { return postgres.ConnectionError("the queue database", err) }
