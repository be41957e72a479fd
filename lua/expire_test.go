package lua_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/bookingrush/rush/lua"
)

// TestExpireLooksAtAboutBatchHolds runs expire.lua against the local Redis
// on a due reserve batch's entry of 5 holds (one of them paid meanwhile) and
// a single hold's entry: a call with batch 2 finishes the entry it is in and
// stops (a call keeps Redis busy for about batch holds, not batch entries);
// the next call ends the rest; only the holds still held are released, and
// the count of live holds follows.
func TestExpireLooksAtAboutBatchHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { _ = rdb.Close() })
	k := lua.EventKeys("luatest:"+uuid.NewString()+":", "e")
	holds := []string{"h1", "h2", "h3", "h4", "h5", "h6"}
	pipe := rdb.TxPipeline()
	pipe.HSet(ctx, k.Meta(), "status", "published", "live", 5)
	pipe.HSet(ctx, k.Zone("z"), "total", 6, "available", 0, "held", 5, "sold", 1, "ver", 1, "show", "s", "price", 100)
	for _, h := range holds {
		status := "reserved"
		if h == "h2" {
			status = "confirmed"
		}
		pipe.HSet(ctx, k.Hold(h), "id", h, "user", "u"+h, "event", "e", "show", "s", "zone", "z", "qty", 1,
			"unit", 100, "status", status, "exp", 0, "created", 0, "idem", "k", "ver", 1)
		pipe.Set(ctx, k.User("u"+h), 1, 0)
	}
	pipe.ZAdd(ctx, k.Expiry(), redis.Z{Score: 0, Member: "h1 h2 h3 h4 h5"}, redis.Z{Score: 0, Member: "h6"})
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		keys := []string{k.Meta(), k.Zone("z"), k.Expiry(), k.Stream()}
		for _, h := range holds {
			keys = append(keys, k.Hold(h), k.User("u"+h))
		}
		rdb.Del(ctx, keys...)
	})
	expire := func() int {
		t.Helper()
		n, err := lua.Script("expire.lua").Run(ctx, rdb, []string{k.Expiry(), k.Stream(), k.Meta()}, k.Prefix(), 2, "expire").Int()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	check := func(wantSeen, wantHeld, wantLive int, wantEntries int64) {
		t.Helper()
		seen := expire()
		held, _ := rdb.HGet(ctx, k.Zone("z"), "held").Int()
		avail, _ := rdb.HGet(ctx, k.Zone("z"), "available").Int()
		live, _ := rdb.HGet(ctx, k.Meta(), "live").Int()
		entries, _ := rdb.ZCard(ctx, k.Expiry()).Result()
		if seen != wantSeen || held != wantHeld || avail != 5-wantHeld || live != wantLive || entries != wantEntries {
			t.Fatalf("looked at %d holds, zone held %d available %d, live %d, %d entries; want %d, %d, %d, %d, %d",
				seen, held, avail, live, entries, wantSeen, wantHeld, 5-wantHeld, wantLive, wantEntries)
		}
	}
	check(5, 1, 1, 1) // the batch's entry, whole, then stop
	check(1, 0, 0, 0) // the single hold: fewer than 2, done
	if s, _ := rdb.HGet(ctx, k.Hold("h2"), "status").Result(); s != "confirmed" {
		t.Fatalf("the paid hold is %q", s)
	}
	if s, _ := rdb.HGet(ctx, k.Hold("h3"), "status").Result(); s != "expired" {
		t.Fatalf("a due hold is %q", s)
	}
}
