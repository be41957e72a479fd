package booking

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bookingrush/rush/services/platform/errs"
)

// LoadResult says what a load did.
type LoadResult struct {
	// Loaded is true when the inventory was written whole (first publish or
	// rebuild); false when only the sale settings were refreshed.
	Loaded bool
	Zones  int
	Holds  int
	// Dropped are the waitlist places the whole write's offers dropped
	// (their buyers' seats reached the per-user limit): the caller ends
	// their records.
	Dropped []waitlistEnd
}

// Load runs load.lua with snap: it writes the whole inventory when the event
// has none in Redis (the zones' waitlists too), and otherwise only
// refreshes its sale settings.
func (e *Engine) Load(ctx context.Context, eventID string, snap Snapshot) (LoadResult, error) {
	k := e.keys(eventID)
	p := k.Prefix()
	st := snap.Settings
	queue := "0"
	if st.Queue {
		queue = "1"
	}
	args := []any{p, st.Status, st.SaleStart.UnixMilli(), st.SaleEnd.UnixMilli(), st.MaxPerUser, queue, len(snap.Zones)}
	for _, z := range snap.Zones {
		var starts int64 // unknown: load.lua writes no starts, and the zone sells for the event's window
		if !z.ShowDate.IsZero() {
			starts = z.ShowDate.UnixMilli()
		}
		args = append(args, z.ID, z.ShowID, z.Total, z.Total-z.Held-z.Sold, z.Held, z.Sold, z.PriceCents, z.InventoryVersion, starts)
	}
	args = append(args, len(snap.Holds))
	for _, h := range snap.Holds {
		var confirmed int64
		if !h.ConfirmedAt.IsZero() {
			confirmed = h.ConfirmedAt.UnixMilli()
		}
		args = append(args, h.ID, h.UserID, eventID, h.ShowID, h.ZoneID, h.Quantity, h.UnitCents, h.Status,
			h.ExpiresAt.UnixMilli(), h.CreatedAt.UnixMilli(), confirmed, h.IdempotencyKey, h.Version)
	}
	args = append(args, len(snap.UserSeats))
	for u, n := range snap.UserSeats {
		args = append(args, u, n)
	}
	args = append(args, len(snap.Keys))
	for _, h := range snap.Keys {
		ttl := int64(time.Until(h.CreatedAt.Add(e.idemTTL)) / time.Second)
		if ttl < 1 {
			ttl = 1
		}
		args = append(args, h.UserID, h.IdempotencyKey, h.ID, fingerprint(h.ShowID, h.ZoneID, h.Quantity), ttl)
	}
	args = append(args, snap.OfferTTL.Milliseconds(), snap.WaitlistSeq, len(snap.Waiting))
	for _, w := range snap.Waiting {
		args = append(args, w.ZoneID, w.UserID, w.Seq, w.Quantity)
	}
	res, err := e.load.Run(ctx, e.rdb, []string{k.Meta(), k.Expiry(), k.Stream()}, args...).Slice()
	if err != nil {
		return LoadResult{}, unavailable(err)
	}
	switch res[0] {
	case "UPDATED", "LOADED":
		// On the list after the script (Retire checks again after taking
		// an event off): new sale settings may put a retired event on sale.
		if err := e.rdb.SAdd(ctx, e.eventsKey(), eventID).Err(); err != nil {
			return LoadResult{}, unavailable(err)
		}
		if res[0] == "UPDATED" {
			return LoadResult{}, nil
		}
		out := LoadResult{Loaded: true, Zones: int(res[1].(int64)), Holds: int(res[2].(int64))}
		at := time.UnixMilli(res[3].(int64))
		for i := 4; i+1 < len(res); i += 2 {
			zone, _ := res[i].(string)
			places, _ := res[i+1].(string)
			for _, p := range waitlistPlaces(places) {
				out.Dropped = append(out.Dropped, waitlistEnd{EventID: eventID, ZoneID: zone, UserID: p.GetUserId(), Seq: p.GetSeq(), At: at})
			}
		}
		return out, nil
	case "INVALID":
		return LoadResult{}, fmt.Errorf("load.lua: %v", res[1])
	}
	return LoadResult{}, fmt.Errorf("load.lua: unexpected answer %v", res)
}

// Retire takes the events with nothing left to do off the list of loaded
// events, which the relay's scan and the sweeper walk, so that their work
// follows the events that can still change rather than every event ever
// loaded. An event qualifies when it cannot sell (its sale is over by
// Redis's clock, which the scripts read, or its status is not published),
// has no expiry entry (no live hold) and an empty stream (everything
// relayed). Its keys stay. What can still change it puts it back after its
// script: Load (new sale settings) and Release (a refund of a sold
// booking). A change between the check and the removal is caught by
// checking again after it and putting back what no longer qualifies (the
// queue's Lines.deactivate does the same). Returns how many it retired.
func (e *Engine) Retire(ctx context.Context) (int, error) {
	events, err := e.Events(ctx)
	if err != nil {
		return 0, err
	}
	done, err := e.finished(ctx, events)
	if err != nil || len(done) == 0 {
		return 0, err
	}
	// go-redis spreads a []string argument into one argument per member.
	if err := e.rdb.SRem(ctx, e.eventsKey(), done).Err(); err != nil {
		return 0, err
	}
	still, err := e.finished(ctx, done)
	if err != nil {
		// Put them all back: the next call decides again.
		return 0, errors.Join(err, e.rdb.SAdd(ctx, e.eventsKey(), done).Err())
	}
	if back := without(done, still); len(back) > 0 {
		if err := e.rdb.SAdd(ctx, e.eventsKey(), back).Err(); err != nil {
			return 0, err
		}
	}
	return len(still), nil
}

// finished returns those of events that Retire may take off the list, in
// one pipelined round trip.
func (e *Engine) finished(ctx context.Context, events []string) ([]string, error) {
	pipe := e.rdb.Pipeline()
	now := pipe.Time(ctx)
	metas := make([]*redis.SliceCmd, len(events))
	holds := make([]*redis.IntCmd, len(events))
	backlog := make([]*redis.IntCmd, len(events))
	for i, ev := range events {
		k := e.keys(ev)
		metas[i] = pipe.HMGet(ctx, k.Meta(), "status", "sale_end")
		holds[i] = pipe.ZCard(ctx, k.Expiry())
		backlog[i] = pipe.XLen(ctx, k.Stream())
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	nowMs := now.Val().UnixMilli()
	var out []string
	for i, ev := range events {
		m := metas[i].Val()
		status, _ := m[0].(string)
		end, _ := m[1].(string)
		saleEnd, err := strconv.ParseInt(end, 10, 64)
		if status == "" || err != nil {
			continue // not loaded, or being rebuilt: leave it to the rebuild
		}
		if (status == "published" && nowMs < saleEnd) || holds[i].Val() > 0 || backlog[i].Val() > 0 {
			continue
		}
		out = append(out, ev)
	}
	return out, nil
}

// without returns the members of all that are not in some.
func without(all, some []string) []string {
	in := make(map[string]bool, len(some))
	for _, s := range some {
		in[s] = true
	}
	var out []string
	for _, s := range all {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
}

// Fence removes the event's meta key, so every script refuses to change the
// event (reserve answers "unavailable, retry") until Load writes it again.
// It also drops the derived keys a rebuild writes anew (zones, holds of
// the expiry set, user counters), so no stale count survives.
func (e *Engine) Fence(ctx context.Context, eventID string) error {
	k := e.keys(eventID)
	if err := e.rdb.Del(ctx, k.Meta()).Err(); err != nil {
		return unavailable(err)
	}
	var cursor uint64
	for {
		keys, next, err := e.rdb.Scan(ctx, cursor, k.Prefix()+"*", 500).Result()
		if err != nil {
			return unavailable(err)
		}
		var drop []string
		for _, key := range keys {
			if key != k.Stream() && key != k.Meta() && !isRebuildLock(e, eventID, key) {
				drop = append(drop, key)
			}
		}
		if len(drop) > 0 {
			if err := e.rdb.Del(ctx, drop...).Err(); err != nil {
				return unavailable(err)
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

func (e *Engine) rebuildLockKey(eventID string) string { return e.keys(eventID).Prefix() + "rebuild" }

func isRebuildLock(e *Engine, eventID, key string) bool { return key == e.rebuildLockKey(eventID) }

// lockRebuild takes the event's rebuild lock for ttl; false when another
// process holds it.
func (e *Engine) lockRebuild(ctx context.Context, eventID, owner string, ttl time.Duration) (bool, error) {
	ok, err := e.rdb.SetNX(ctx, e.rebuildLockKey(eventID), owner, ttl).Result()
	if err != nil {
		return false, unavailable(err)
	}
	return ok, nil
}

func (e *Engine) unlockRebuild(ctx context.Context, eventID, owner string) {
	_ = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`).
		Run(ctx, e.rdb, []string{e.rebuildLockKey(eventID)}, owner).Err()
}

// StreamBacklog is how many entries of the event's stream were not yet
// relayed to Kafka (pending or new).
func (e *Engine) StreamBacklog(ctx context.Context, eventID string) (int64, error) {
	n, err := e.rdb.XLen(ctx, e.keys(eventID).Stream()).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, unavailable(err)
	}
	return n, nil
}

// errRebuilding answers reserve calls while an event's inventory is fenced.
var errRebuilding = errs.New(errs.ServiceUnavailable, "the event's inventory is being rebuilt; retry in a moment")
