package lua_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/bookingrush/rush/lua"
)

// TestRateLimitBucket runs ratelimit.lua against the local Redis: a bucket
// of 3 refilled at 10 tokens a second.
func TestRateLimitBucket(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { _ = rdb.Close() })
	key := "rl:luatest:" + uuid.NewString()
	t.Cleanup(func() { rdb.Del(ctx, key) })
	script := lua.Script("ratelimit.lua")
	take := func() []int64 {
		t.Helper()
		res, err := script.Run(ctx, rdb, []string{key}, 3, "10", 1).Int64Slice()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for i, want := range []int64{2, 1, 0} {
		if res := take(); res[0] != 1 || res[1] != want || res[2] != 0 {
			t.Fatalf("take %d = %v, want allowed with %d left", i+1, res, want)
		}
	}
	res := take()
	if res[0] != 0 || res[1] != 0 || res[2] < 1 || res[2] > 100 {
		t.Fatalf("empty bucket = %v, want refused, retry within 100 ms", res)
	}
	ttl, err := rdb.PTTL(ctx, key).Result()
	if err != nil || ttl <= 0 || ttl > 2*time.Second {
		t.Fatalf("bucket TTL = %v %v", ttl, err)
	}
	time.Sleep(time.Duration(res[2])*time.Millisecond + 20*time.Millisecond)
	if res := take(); res[0] != 1 {
		t.Fatalf("after the retry delay = %v, want allowed", res)
	}
	if res := take(); res[0] != 0 {
		t.Fatalf("refill overshot: %v", res)
	}
}
