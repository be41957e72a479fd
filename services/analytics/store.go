package analytics

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/postgres"
)

// Store reads the aggregates.
type Store struct {
	db *pgxpool.Pool
}

// NewStore returns the store on db.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

// Event is what authorization needs to know about an event.
type Event struct {
	OrganizerID string
	Status      string
	Deleted     bool
}

// Event reads one event; NOT_FOUND when there is none.
func (s *Store) Event(ctx context.Context, id string) (Event, error) {
	var e Event
	err := s.db.QueryRow(ctx, `SELECT organizer_id::text, status, deleted_at IS NOT NULL FROM events WHERE id = $1`, id).
		Scan(&e.OrganizerID, &e.Status, &e.Deleted)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, errs.New(errs.NotFound, "event not found")
	}
	return e, dbErr(err)
}

// Scope selects the events a report covers: one event, one organizer's
// events, or (both empty) all events.
type Scope struct {
	EventID, OrganizerID string
}

func (sc Scope) args() (any, any) {
	var ev, org any
	if sc.EventID != "" {
		ev = sc.EventID
	}
	if sc.OrganizerID != "" {
		org = sc.OrganizerID
	}
	return ev, org
}

// scoped restricts an aggregate table aliased a, joined with events e.
const scoped = `($1::uuid IS NULL OR a.event_id = $1::uuid) AND ($2::uuid IS NULL OR e.organizer_id = $2::uuid)`

// Totals are summed aggregates; money in decimal strings.
type Totals struct {
	Reservations, Confirmed, Cancelled, Expired, SeatsSold int64
	Revenue, Refunds, NetRevenue                           string
}

// Summary sums the daily aggregates of the days from..to (both included).
func (s *Store) Summary(ctx context.Context, sc Scope, from, to time.Time) (Totals, error) {
	ev, org := sc.args()
	var t Totals
	err := s.db.QueryRow(ctx, `SELECT COALESCE(sum(a.reservations), 0), COALESCE(sum(a.confirmed_bookings), 0),
			COALESCE(sum(a.cancellations), 0), COALESCE(sum(a.expirations), 0), COALESCE(sum(a.seats_sold), 0),
			COALESCE(sum(a.revenue), 0)::numeric(14,2)::text, COALESCE(sum(a.refunds), 0)::numeric(14,2)::text,
			(COALESCE(sum(a.revenue), 0) - COALESCE(sum(a.refunds), 0))::numeric(14,2)::text
		FROM analytics_event_daily a JOIN events e ON e.id = a.event_id
		WHERE `+scoped+` AND a.day BETWEEN $3::date AND $4::date`, ev, org, from, to).
		Scan(&t.Reservations, &t.Confirmed, &t.Cancelled, &t.Expired, &t.SeatsSold, &t.Revenue, &t.Refunds, &t.NetRevenue)
	return t, dbErr(err)
}

// Point is one bucket of a series.
type Point struct {
	Start                              time.Time
	Reservations, Confirmed, SeatsSold int64
	Revenue                            string
}

// Daily is one point per day from..to, zero-filled. Revenue is what was
// taken that day (refunds are reported apart, on the summary).
func (s *Store) Daily(ctx context.Context, sc Scope, from, to time.Time) ([]Point, error) {
	ev, org := sc.args()
	return s.series(ctx, `SELECT d.day AT TIME ZONE 'UTC', COALESCE(x.r, 0), COALESCE(x.c, 0), COALESCE(x.s, 0),
			COALESCE(x.rev, 0)::numeric(14,2)::text
		FROM generate_series($3::date::timestamp, $4::date::timestamp, interval '1 day') AS d(day)
		LEFT JOIN (SELECT a.day, sum(a.reservations) r, sum(a.confirmed_bookings) c, sum(a.seats_sold) s, sum(a.revenue) rev
			FROM analytics_event_daily a JOIN events e ON e.id = a.event_id
			WHERE `+scoped+` AND a.day BETWEEN $3::date AND $4::date GROUP BY a.day) x ON x.day = d.day::date
		ORDER BY d.day`, ev, org, from, to)
}

// Hourly is one point per hour of the days from..to, zero-filled.
func (s *Store) Hourly(ctx context.Context, sc Scope, from, to time.Time) ([]Point, error) {
	ev, org := sc.args()
	start, end := from, to.Add(23*time.Hour)
	return s.series(ctx, `SELECT h.hour, COALESCE(x.r, 0), COALESCE(x.c, 0), COALESCE(x.s, 0), COALESCE(x.rev, 0)::numeric(14,2)::text
		FROM generate_series($3::timestamptz, $4::timestamptz, interval '1 hour') AS h(hour)
		LEFT JOIN (SELECT a.hour, sum(a.reservations) r, sum(a.confirmed_bookings) c, sum(a.seats_sold) s, sum(a.revenue) rev
			FROM analytics_event_hourly a JOIN events e ON e.id = a.event_id
			WHERE `+scoped+` AND a.hour BETWEEN $3::timestamptz AND $4::timestamptz GROUP BY a.hour) x ON x.hour = h.hour
		ORDER BY h.hour`, ev, org, start, end)
}

func (s *Store) series(ctx context.Context, sql string, args ...any) ([]Point, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, dbErr(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Point, error) {
		var p Point
		err := r.Scan(&p.Start, &p.Reservations, &p.Confirmed, &p.SeatsSold, &p.Revenue)
		return p, err
	})
	return out, dbErr(err)
}

// TotalSeats is the capacity of an event over all its shows.
func (s *Store) TotalSeats(ctx context.Context, eventID string) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT COALESCE(sum(z.total_seats), 0) FROM seat_zones z JOIN shows sh ON sh.id = z.show_id
		WHERE sh.event_id = $1`, eventID).Scan(&n)
	return n, dbErr(err)
}

// EventSales is one event's line of the dashboard.
type EventSales struct {
	EventID, Title string
	SeatsSold      int64
	NetRevenue     string
}

// TopEvents are the (at most limit) events of the scope with the most net
// revenue from..to.
func (s *Store) TopEvents(ctx context.Context, sc Scope, from, to time.Time, limit int) ([]EventSales, error) {
	ev, org := sc.args()
	rows, err := s.db.Query(ctx, `SELECT e.id::text, e.title, sum(a.seats_sold), (sum(a.revenue) - sum(a.refunds))::numeric(14,2)::text
		FROM analytics_event_daily a JOIN events e ON e.id = a.event_id
		WHERE `+scoped+` AND a.day BETWEEN $3::date AND $4::date
		GROUP BY e.id, e.title
		ORDER BY sum(a.revenue) - sum(a.refunds) DESC, sum(a.seats_sold) DESC, e.id
		LIMIT $5`, ev, org, from, to, limit)
	if err != nil {
		return nil, dbErr(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EventSales, error) {
		var e EventSales
		err := r.Scan(&e.EventID, &e.Title, &e.SeatsSold, &e.NetRevenue)
		return e, err
	})
	return out, dbErr(err)
}

// dbErr turns a Postgres failure into SERVICE_UNAVAILABLE; domain errors
// pass through.
func dbErr(err error) error { return postgres.StoreError("the analytics store", err) }
