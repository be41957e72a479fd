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
// organizer's switch (queue_enabled) and the two knobs, the admission rate
// (queue_admit_per_second) and the cap on active shoppers
// (queue_max_active, 0: none). The switch reaches the reserve script
// through the booking engine's meta; the knobs are read here, cached for a
// short while, since every admission step needs them.
type Settings struct {
	db  *pgxpool.Pool
	ttl time.Duration

	mu    sync.Mutex
	knobs map[string]cachedKnobs
}

// Knobs are an event's admission rate (tickets a second) and cap on active
// shoppers (0: none).
type Knobs struct {
	Rate, MaxActive int
}

type cachedKnobs struct {
	Knobs
	at time.Time
}

// eventQueue is an event's queue settings, sale status and organizer.
type eventQueue struct {
	enabled   bool
	auto      bool // the system may switch it on under overload
	knobs     Knobs
	status    string
	organizer string
}

// NewSettings returns the settings store; knobs are reused for ttl.
func NewSettings(db *pgxpool.Pool, ttl time.Duration) *Settings {
	return &Settings{db: db, ttl: ttl, knobs: map[string]cachedKnobs{}}
}

var errEventNotFound = errs.New(errs.NotFound, "event not found")

// Knobs returns the event's knobs. When Postgres fails, the last known ones
// are used if there are any: stale knobs are better than stopping the line.
func (s *Settings) Knobs(ctx context.Context, ev string) (Knobs, error) {
	s.mu.Lock()
	c, ok := s.knobs[ev]
	s.mu.Unlock()
	if ok && time.Since(c.at) < s.ttl {
		return c.Knobs, nil
	}
	var k Knobs
	err := s.db.QueryRow(ctx, `SELECT queue_admit_per_second, queue_max_active FROM events WHERE id = $1 AND deleted_at IS NULL`, ev).
		Scan(&k.Rate, &k.MaxActive)
	if errors.Is(err, pgx.ErrNoRows) {
		return Knobs{}, errEventNotFound
	}
	if err != nil {
		if ok {
			return c.Knobs, nil
		}
		return Knobs{}, dbUnavailable(err)
	}
	s.mu.Lock()
	s.knobs[ev] = cachedKnobs{Knobs: k, at: time.Now()}
	s.mu.Unlock()
	return k, nil
}

// forget drops the cached knobs of ev.
func (s *Settings) forget(ev string) {
	s.mu.Lock()
	delete(s.knobs, ev)
	s.mu.Unlock()
}

// event reads the event's queue settings, status and organizer
// (errEventNotFound when there is no such event).
func (s *Settings) event(ctx context.Context, ev string) (eventQueue, error) {
	var q eventQueue
	err := s.db.QueryRow(ctx, `SELECT queue_enabled, queue_auto, queue_admit_per_second, queue_max_active, status, organizer_id::text
		FROM events WHERE id = $1 AND deleted_at IS NULL`, ev).
		Scan(&q.enabled, &q.auto, &q.knobs.Rate, &q.knobs.MaxActive, &q.status, &q.organizer)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventQueue{}, errEventNotFound
	}
	if err != nil {
		return eventQueue{}, dbUnavailable(err)
	}
	return q, nil
}

// change is what SetQueueSettings asks: the switch, and each knob (and the
// auto switch) unless nil (keep it).
type change struct {
	enabled         bool
	rate, maxActive *int
	auto            *bool
}

// update applies c to the event, returning the settings before and after.
// A cancelled event does not change.
func (s *Settings) update(ctx context.Context, ev string, c change) (before, after eventQueue, err error) {
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT queue_enabled, queue_auto, queue_admit_per_second, queue_max_active, status, organizer_id::text FROM events
			WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, ev).
			Scan(&before.enabled, &before.auto, &before.knobs.Rate, &before.knobs.MaxActive, &before.status, &before.organizer)
		if errors.Is(err, pgx.ErrNoRows) {
			return errEventNotFound
		}
		if err != nil {
			return err
		}
		if before.status == "cancelled" {
			return errs.New(errs.Conflict, "a cancelled event does not change")
		}
		after = before
		after.enabled = c.enabled
		if c.rate != nil {
			after.knobs.Rate = *c.rate
		}
		if c.maxActive != nil {
			after.knobs.MaxActive = *c.maxActive
		}
		if c.auto != nil {
			after.auto = *c.auto
		}
		_, err = tx.Exec(ctx, `UPDATE events SET queue_enabled = $2, queue_admit_per_second = $3, queue_max_active = $4, queue_auto = $5,
			updated_at = now() WHERE id = $1`, ev, after.enabled, after.knobs.Rate, after.knobs.MaxActive, after.auto)
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
