package booking

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Mismatch is one disagreement between Redis and Postgres.
type Mismatch struct {
	ZoneID string
	What   string
}

func (m Mismatch) String() string { return m.ZoneID + ": " + m.What }

// Reconcile compares an event's inventory in Redis (keys under prefix) with
// booking's own Postgres tables: each zone's counters in booking_zones, and
// the seats of its bookings (held = reserved, sold = confirmed). An empty result means they
// agree and the invariant holds on both sides. Tests and the bench use it
// after a run; it reads, never writes.
func Reconcile(ctx context.Context, rdb *redis.Client, db *pgxpool.Pool, prefix, eventID string) ([]Mismatch, error) {
	rows, err := db.Query(ctx, `SELECT z.zone_id::text, z.total_seats, z.available_seats, z.held_seats, z.sold_seats,
			COALESCE(sum(b.quantity) FILTER (WHERE b.status = 'reserved'), 0),
			COALESCE(sum(b.quantity) FILTER (WHERE b.status = 'confirmed'), 0)
		FROM booking_zones z LEFT JOIN bookings b ON b.zone_id = z.zone_id
		WHERE z.event_id = $1 GROUP BY z.zone_id ORDER BY z.zone_id`, eventID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	eng := &Engine{prefix: prefix}
	var out []Mismatch
	for rows.Next() {
		var id string
		var total, avail, held, sold, bHeld, bSold int
		if err := rows.Scan(&id, &total, &avail, &held, &sold, &bHeld, &bSold); err != nil {
			return nil, err
		}
		v, err := rdb.HMGet(ctx, eng.keys(eventID).Zone(id), "total", "available", "held", "sold").Result()
		if err != nil {
			return nil, err
		}
		r := make([]int, 4)
		for i, x := range v {
			s, _ := x.(string)
			r[i], _ = strconv.Atoi(s)
		}
		add := func(format string, args ...any) {
			out = append(out, Mismatch{ZoneID: id, What: fmt.Sprintf(format, args...)})
		}
		if v[0] == nil {
			add("not loaded in Redis")
			continue
		}
		if r[1] < 0 || r[1]+r[2]+r[3] != r[0] {
			add("Redis invariant broken: total %d available %d held %d sold %d", r[0], r[1], r[2], r[3])
		}
		if r[0] != total || r[1] != avail || r[2] != held || r[3] != sold {
			add("Redis total/available/held/sold %d/%d/%d/%d, Postgres %d/%d/%d/%d", r[0], r[1], r[2], r[3], total, avail, held, sold)
		}
		if bHeld != held || bSold != sold {
			add("Postgres counters held/sold %d/%d, its bookings %d/%d", held, sold, bHeld, bSold)
		}
	}
	return out, rows.Err()
}
