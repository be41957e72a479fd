package analytics

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bookingrush/rush/services/platform/postgres"
)

// Store reads the aggregates.
type Store struct {
	db *pgxpool.Pool
}

// NewStore returns the store on db.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

// Scope selects the events a report covers: every event, or the listed
// ones (one event, or an organizer's events as the catalog names them; an
// empty list covers nothing).
type Scope struct {
	All      bool
	EventIDs []string
}

func (sc Scope) args() (bool, []string) {
	if sc.EventIDs == nil {
		return sc.All, []string{}
	}
	return sc.All, sc.EventIDs
}

// scoped restricts an aggregate table aliased a to the scope ($1, $2).
const scoped = `($1::boolean OR a.event_id = ANY($2::text[]::uuid[]))`

// Totals are summed aggregates; money in decimal strings. SeatsSold is net
// of the seats confirmed bookings gave back, as NetRevenue is of refunds.
type Totals struct {
	Reservations, Confirmed, Cancelled, Expired, SeatsSold int64
	Revenue, Refunds, NetRevenue                           string
}

// Summary sums the daily aggregates of the days from..to (both included).
func (s *Store) Summary(ctx context.Context, sc Scope, from, to time.Time) (Totals, error) {
	all, ids := sc.args()
	var t Totals
	err := s.db.QueryRow(ctx, `SELECT COALESCE(sum(a.reservations), 0), COALESCE(sum(a.confirmed_bookings), 0),
			COALESCE(sum(a.cancellations), 0), COALESCE(sum(a.expirations), 0), COALESCE(sum(a.seats_sold - a.seats_returned), 0),
			COALESCE(sum(a.revenue), 0)::numeric(14,2)::text, COALESCE(sum(a.refunds), 0)::numeric(14,2)::text,
			(COALESCE(sum(a.revenue), 0) - COALESCE(sum(a.refunds), 0))::numeric(14,2)::text
		FROM analytics_event_daily a
		WHERE `+scoped+` AND a.day BETWEEN $3::date AND $4::date`, all, ids, from, to).
		Scan(&t.Reservations, &t.Confirmed, &t.Cancelled, &t.Expired, &t.SeatsSold, &t.Revenue, &t.Refunds, &t.NetRevenue)
	return t, dbErr(err)
}

// Point is one bucket of a series.
type Point struct {
	Start                              time.Time
	Reservations, Confirmed, SeatsSold int64
	Revenue                            string
}

// Daily is one point per day from..to, zero-filled. Revenue and seats sold
// are what was taken that day (refunds and seats given back are netted on
// the summary only).
func (s *Store) Daily(ctx context.Context, sc Scope, from, to time.Time) ([]Point, error) {
	all, ids := sc.args()
	return s.series(ctx, `SELECT d.day AT TIME ZONE 'UTC', COALESCE(x.r, 0), COALESCE(x.c, 0), COALESCE(x.s, 0),
			COALESCE(x.rev, 0)::numeric(14,2)::text
		FROM generate_series($3::date::timestamp, $4::date::timestamp, interval '1 day') AS d(day)
		LEFT JOIN (SELECT a.day, sum(a.reservations) r, sum(a.confirmed_bookings) c, sum(a.seats_sold) s, sum(a.revenue) rev
			FROM analytics_event_daily a
			WHERE `+scoped+` AND a.day BETWEEN $3::date AND $4::date GROUP BY a.day) x ON x.day = d.day::date
		ORDER BY d.day`, all, ids, from, to)
}

// Hourly is one point per hour of the days from..to, zero-filled.
func (s *Store) Hourly(ctx context.Context, sc Scope, from, to time.Time) ([]Point, error) {
	all, ids := sc.args()
	start, end := from, to.Add(23*time.Hour)
	return s.series(ctx, `SELECT h.hour, COALESCE(x.r, 0), COALESCE(x.c, 0), COALESCE(x.s, 0), COALESCE(x.rev, 0)::numeric(14,2)::text
		FROM generate_series($3::timestamptz, $4::timestamptz, interval '1 hour') AS h(hour)
		LEFT JOIN (SELECT a.hour, sum(a.reservations) r, sum(a.confirmed_bookings) c, sum(a.seats_sold) s, sum(a.revenue) rev
			FROM analytics_event_hourly a
			WHERE `+scoped+` AND a.hour BETWEEN $3::timestamptz AND $4::timestamptz GROUP BY a.hour) x ON x.hour = h.hour
		ORDER BY h.hour`, all, ids, start, end)
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

// EventSales is one event's line of the dashboard (the catalog names it).
type EventSales struct {
	EventID    string
	SeatsSold  int64
	NetRevenue string
}

// TopEvents are the (at most limit) events of the scope with the most net
// revenue from..to.
func (s *Store) TopEvents(ctx context.Context, sc Scope, from, to time.Time, limit int) ([]EventSales, error) {
	all, ids := sc.args()
	rows, err := s.db.Query(ctx, `SELECT a.event_id::text, sum(a.seats_sold - a.seats_returned), (sum(a.revenue) - sum(a.refunds))::numeric(14,2)::text
		FROM analytics_event_daily a
		WHERE `+scoped+` AND a.day BETWEEN $3::date AND $4::date
		GROUP BY a.event_id
		ORDER BY sum(a.revenue) - sum(a.refunds) DESC, sum(a.seats_sold - a.seats_returned) DESC, a.event_id
		LIMIT $5`, all, ids, from, to, limit)
	if err != nil {
		return nil, dbErr(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EventSales, error) {
		var e EventSales
		err := r.Scan(&e.EventID, &e.SeatsSold, &e.NetRevenue)
		return e, err
	})
	return out, dbErr(err)
}

// dbErr turns a Postgres failure into SERVICE_UNAVAILABLE; domain errors
// pass through.
func dbErr(err error) error { return postgres.StoreError("the analytics store", err) }
