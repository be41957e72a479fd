package queue

import (
	"context"
	"errors"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/postgres"
)

// Catalog is what the queue asks the catalog, which owns the events: an
// event's status, organizer and waiting-room switch (GetEvent), and a change
// of that switch (SetQueueEnabled, which has the booking engine reload the
// event's sale settings, so the reserve script enforces it at once).
type Catalog interface {
	GetEvent(context.Context, *connect.Request[catalogv1.GetEventRequest]) (*connect.Response[catalogv1.GetEventResponse], error)
	SetQueueEnabled(context.Context, *connect.Request[catalogv1.SetQueueEnabledRequest]) (*connect.Response[catalogv1.SetQueueEnabledResponse], error)
}

// Settings is the queue's side of an event's waiting room: its own table
// queue_settings holds the knobs, the admission rate (admit_per_second) and
// the cap on active shoppers (max_active, 0: none), and whether the system
// may switch the queue on under overload (auto); an event without a row has
// the defaults (100 a second, no cap, no auto). The switch itself is one of
// the event's sale settings, which the catalog owns. The knobs are cached
// for a short while, since every admission step needs them.
type Settings struct {
	db      *pgxpool.Pool
	catalog Catalog
	ttl     time.Duration

	mu    sync.Mutex
	knobs map[string]cachedKnobs
}

// Knobs are an event's admission rate (tickets a second) and cap on active
// shoppers (0: none).
type Knobs struct {
	Rate, MaxActive int
}

// defaultKnobs are those of an event nobody set.
var defaultKnobs = Knobs{Rate: 100}

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
func NewSettings(db *pgxpool.Pool, catalog Catalog, ttl time.Duration) *Settings {
	return &Settings{db: db, catalog: catalog, ttl: ttl, knobs: map[string]cachedKnobs{}}
}

var errEventNotFound = errs.New(errs.NotFound, "event not found")

// Knobs returns the event's knobs (errEventNotFound when the catalog has no
// such event). When a store fails, the last known ones are used if there
// are any: stale knobs are better than stopping the line.
func (s *Settings) Knobs(ctx context.Context, ev string) (Knobs, error) {
	s.mu.Lock()
	c, ok := s.knobs[ev]
	s.mu.Unlock()
	if ok && time.Since(c.at) < s.ttl {
		return c.Knobs, nil
	}
	k, _, found, err := s.own(ctx, s.db, ev, "")
	if err == nil && !found {
		// No row: the defaults, if the event exists.
		_, err = s.catalogEvent(ctx, ev)
	}
	if err != nil {
		if ok && !errors.Is(err, errEventNotFound) {
			return c.Knobs, nil
		}
		return Knobs{}, err
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

// querier is what a pool and a transaction have in common here.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// own reads the event's row of queue_settings (lock: "FOR UPDATE" inside a
// transaction); found is false without one (the defaults).
func (s *Settings) own(ctx context.Context, q querier, ev, lock string) (k Knobs, auto, found bool, err error) {
	err = q.QueryRow(ctx, `SELECT admit_per_second, max_active, auto FROM queue_settings WHERE event_id = $1 `+lock, ev).
		Scan(&k.Rate, &k.MaxActive, &auto)
	if errors.Is(err, pgx.ErrNoRows) {
		return defaultKnobs, false, false, nil
	}
	if err != nil {
		return Knobs{}, false, false, dbUnavailable(err)
	}
	return k, auto, true, nil
}

// catalogEvent asks the catalog for the event, as the system (which sees
// drafts too: mayChange decides what the caller may know).
func (s *Settings) catalogEvent(ctx context.Context, ev string) (*catalogv1.Event, error) {
	res, err := s.catalog.GetEvent(authn.AsSystem(ctx), connect.NewRequest(&catalogv1.GetEventRequest{Slug: ev}))
	if err != nil {
		e := errs.FromConnect(err)
		if e.Code == errs.NotFound {
			return nil, errEventNotFound
		}
		return nil, errs.Unavailable("the catalog did not answer the event's settings; retry", err, "dependency", "catalog")
	}
	return res.Msg.GetEvent(), nil
}

// statusName is the catalog's event status as the queue's rules name it.
var statusName = map[catalogv1.EventStatus]string{
	catalogv1.EventStatus_EVENT_STATUS_DRAFT:     "draft",
	catalogv1.EventStatus_EVENT_STATUS_PUBLISHED: "published",
	catalogv1.EventStatus_EVENT_STATUS_CANCELLED: "cancelled",
}

// event reads the event's queue settings (the knobs here, the switch, the
// status and the organizer from the catalog; errEventNotFound when there is
// no such event).
func (s *Settings) event(ctx context.Context, ev string) (eventQueue, error) {
	e, err := s.catalogEvent(ctx, ev)
	if err != nil {
		return eventQueue{}, err
	}
	k, auto, _, err := s.own(ctx, s.db, ev, "")
	if err != nil {
		return eventQueue{}, err
	}
	return eventQueue{enabled: e.GetQueueEnabled(), auto: auto, knobs: k, status: statusName[e.GetStatus()], organizer: e.GetOrganizerId()}, nil
}

// change is what SetQueueSettings asks: the switch, each knob and the auto
// switch, each unless nil (keep it).
type change struct {
	enabled         *bool
	rate, maxActive *int
	auto            *bool
}

// update writes the knobs and the auto switch of c (the switch itself is
// the catalog's: Service.apply sets it), returning the settings before and
// after. A cancelled event does not change.
func (s *Settings) update(ctx context.Context, ev string, c change) (before, after eventQueue, err error) {
	if before, err = s.event(ctx, ev); err != nil {
		return before, after, err
	}
	if before.status == "cancelled" {
		return before, after, errs.New(errs.Conflict, "a cancelled event does not change")
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		k, auto, _, err := s.own(ctx, tx, ev, "FOR UPDATE")
		if err != nil {
			return err
		}
		before.knobs, before.auto = k, auto
		after = before
		if c.enabled != nil {
			after.enabled = *c.enabled
		}
		if c.rate != nil {
			after.knobs.Rate = *c.rate
		}
		if c.maxActive != nil {
			after.knobs.MaxActive = *c.maxActive
		}
		if c.auto != nil {
			after.auto = *c.auto
		}
		_, err = tx.Exec(ctx, `INSERT INTO queue_settings (event_id, admit_per_second, max_active, auto) VALUES ($1, $2, $3, $4)
			ON CONFLICT (event_id) DO UPDATE SET admit_per_second = excluded.admit_per_second, max_active = excluded.max_active,
				auto = excluded.auto, updated_at = now()`, ev, after.knobs.Rate, after.knobs.MaxActive, after.auto)
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
