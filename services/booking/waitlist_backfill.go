package booking

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/redis/go-redis/v9"
)

// A place taken on a waitlist before booking recorded its lines (before
// waitlist_entries existed) has no row, and a rebuild of the inventory,
// which writes the lines back from the rows, would lose it. So once per
// event, when a booking process starts, the places of the event's lines in
// Redis that have no row get one (recordUnrecordedPlaces), and the event is
// marked (wl:rec; load.lua marks every event whose lines it writes from the
// rows, which a rebuild and any first load by this code do).
//
// The rows are written as the joins' are (recordJoins: kept only over an
// older join sequence), so a place whose end was recorded meanwhile (an
// offer the persister wrote before this pass) stays ended, and under the
// event's fence like every waitlist record: a pass that read a Redis state
// a rebuild replaced since writes nothing.

// recordUnrecordedPlaces gives a row to every waitlist place without one,
// of every event not marked yet whose inventory is in Redis (loaded, or
// retired from the list with its keys: a cancelled event's lines wait there
// for the catalog to tell them), and marks each; it answers how many
// places it recorded. An event being rebuilt is left to its rebuild. Run
// again after a failure, it goes on with the events not marked.
func (s *Service) recordUnrecordedPlaces(ctx context.Context) (int, error) {
	loaded, err := s.eng.Events(ctx)
	if err != nil {
		return 0, unavailable(err)
	}
	known, err := s.store.soldEvents(ctx)
	if err != nil {
		return 0, err
	}
	todo, err := s.eng.unrecordedEvents(ctx, union(loaded, known))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ev := range todo {
		zones, err := s.store.eventZones(ctx, ev)
		if err != nil {
			return n, err
		}
		ids := make([]string, len(zones))
		for i, z := range zones {
			ids[i] = z[0]
		}
		places, at, ok, err := s.eng.waitlistPlaces(ctx, ev, ids)
		if err != nil {
			return n, err
		}
		if !ok {
			continue // lost, or fenced for a rebuild: its load marks it
		}
		if err := s.store.recordPlaces(ctx, ev, places, at); errors.Is(err, errRebuilding) {
			continue
		} else if err != nil {
			return n, err
		}
		if err := s.eng.markRecorded(ctx, ev); err != nil {
			return n, err
		}
		n += len(places)
	}
	return n, nil
}

// union answers the members of a and b, each once.
func union(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	var out []string
	for _, x := range append(append([]string{}, a...), b...) {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// soldEvents lists the events booking ever had on sale (not drafts): the
// ones whose inventory Redis may hold, listed or not.
func (s *Store) soldEvents(ctx context.Context) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT event_id::text FROM booking_events WHERE status <> 'draft'`)
	if err != nil {
		return nil, dbUnavailable(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, dbUnavailable(err)
}

// recordPlaces writes the rows of an event's places as Redis had them at
// at: each kept only over an older join of its buyer (recordJoins), with
// no join time (unknown).
func (s *Store) recordPlaces(ctx context.Context, eventID string, places []WaitingEntry, at time.Time) error {
	if len(places) == 0 {
		return nil
	}
	n := len(places)
	zones, users, seqs, qty, joinedAt := make([]string, n), make([]string, n), make([]int64, n), make([]int32, n), make([]pgtype.Timestamptz, n)
	for i, p := range places {
		zones[i], users[i], seqs[i], qty[i] = p.ZoneID, p.UserID, p.Seq, int32(p.Quantity)
	}
	return s.recordWaitlist(ctx, map[string]time.Time{eventID: at}, func(b *pgx.Batch) {
		b.Queue(recordJoins, eventID, zones, users, seqs, qty, joinedAt)
	})
}

// unrecordedEvents answers those of events whose inventory is in Redis
// (meta) and whose lines are not marked recorded, in one round trip.
func (e *Engine) unrecordedEvents(ctx context.Context, events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, nil
	}
	pipe := e.rdb.Pipeline()
	meta, rec := make([]*redis.IntCmd, len(events)), make([]*redis.IntCmd, len(events))
	for i, ev := range events {
		k := e.keys(ev)
		meta[i], rec[i] = pipe.Exists(ctx, k.Meta()), pipe.Exists(ctx, k.WaitlistRecorded())
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, unavailable(err)
	}
	var out []string
	for i, ev := range events {
		if meta[i].Val() == 1 && rec[i].Val() == 0 {
			out = append(out, ev)
		}
	}
	return out, nil
}

// waitlistPlaces reads every place of the event's zones' lines and Redis's
// time in one atomic step (MULTI); ok is false when the event's inventory
// is not in Redis (lost, or fenced for a rebuild). A place without the
// seats it waits for is left out (offer_waitlist drops it).
func (e *Engine) waitlistPlaces(ctx context.Context, eventID string, zones []string) (places []WaitingEntry, at time.Time, ok bool, err error) {
	k := e.keys(eventID)
	var clock *redis.TimeCmd
	var loaded *redis.IntCmd
	lines := make([]*redis.ZSliceCmd, len(zones))
	qty := make([]*redis.MapStringStringCmd, len(zones))
	_, err = e.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		clock, loaded = pipe.Time(ctx), pipe.Exists(ctx, k.Meta())
		for i, z := range zones {
			lines[i], qty[i] = pipe.ZRangeWithScores(ctx, k.Waitlist(z), 0, -1), pipe.HGetAll(ctx, k.WaitlistQty(z))
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, false, unavailable(err)
	}
	if loaded.Val() == 0 {
		return nil, time.Time{}, false, nil
	}
	for i, line := range lines {
		q := qty[i].Val()
		for _, m := range line.Val() {
			u, _ := m.Member.(string)
			if n := atoi(q[u]); n > 0 {
				places = append(places, WaitingEntry{ZoneID: zones[i], UserID: u, Seq: int64(m.Score), Quantity: n})
			}
		}
	}
	return places, clock.Val(), true, nil
}

// markIfLoaded sets KEYS[2] when KEYS[1] (the event's meta) exists: a mark
// written for an event Redis lost meanwhile would outlive it.
var markIfLoaded = redis.NewScript(`if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('SET', KEYS[2], '1') end return false`)

// markRecorded marks the event's lines recorded (wl:rec), when its
// inventory is still in Redis.
func (e *Engine) markRecorded(ctx context.Context, eventID string) error {
	k := e.keys(eventID)
	if err := markIfLoaded.Run(ctx, e.rdb, []string{k.Meta(), k.WaitlistRecorded()}).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return unavailable(err)
	}
	return nil
}
