package edge

import (
	"context"
	"hash/fnv"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// TestSyncedBucketsShareOneLimit: two replicas decide the reserve limit in
// their own memory; after a sync each knows what the other took, and the
// shared bucket in Redis owes what they took together beyond the burst.
func TestSyncedBucketsShareOneLimit(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { _ = rdb.Close() })
	prefix := "rlsync:" + uuid.NewString()[:8] + ":"
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})
	// 3 at once, one a minute: no refill to speak of during the test.
	ru := &rule{name: "reserve", limit: Limit{Rate: 1, Burst: 3}, perSec: 1.0 / 60,
		args: []any{3, "0.016666666666666666", 1}, failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})}
	replica := func() *syncedBuckets {
		s := newSyncedBuckets(ru, rdb, prefix, time.Hour, zap.NewNop()) // synced by hand below
		t.Cleanup(s.close)
		return s
	}
	a, b := replica(), replica()
	now := time.Now()
	takes := func(s *syncedBuckets, who string, n int) string {
		var out []string
		for range n {
			ok, _, retry := s.take(who, now)
			if ok {
				out = append(out, "ok")
			} else {
				out = append(out, "no")
				if retry <= 0 {
					t.Errorf("refused with retry after %d ms", retry)
				}
			}
		}
		return strings.Join(out, " ")
	}
	if got := takes(a, "u:alice", 4); got != "ok ok ok no" {
		t.Fatalf("replica a, alone: %s", got)
	}
	// b has not heard of alice yet: it allows her (at most a burst per
	// replica between syncs).
	if got := takes(b, "u:alice", 2); got != "ok ok" {
		t.Fatalf("replica b before a sync: %s", got)
	}
	a.sync()
	b.sync()
	if got := takes(b, "u:alice", 1) + " " + takes(a, "u:alice", 1); got != "no no" {
		t.Fatalf("after the syncs: %s", got)
	}
	// A single token is not worth a shared bucket: bob's first is kept
	// here, and sent with his second.
	if got := takes(b, "u:bob", 1); got != "ok" {
		t.Fatalf("bob: %s", got)
	}
	b.sync()
	bob := prefix + "reserve:{s" + strconv.Itoa(shard("u:bob")) + "}u:bob"
	if n := rdb.Exists(context.Background(), bob).Val(); n != 0 {
		t.Fatalf("a shared bucket for bob's single token")
	}
	if got := takes(b, "u:bob", 1); got != "ok" {
		t.Fatalf("bob's second: %s", got)
	}
	b.sync()
	// The shared bucket: alice owes two tokens, bob has one left.
	for who, want := range map[string]float64{"u:alice": -2, "u:bob": 1} {
		key := prefix + "reserve:{s" + strconv.Itoa(shard(who)) + "}" + who
		v, err := rdb.HGet(context.Background(), key, "t").Float64()
		if err != nil || v > want+0.01 || v < want-0.01 {
			t.Errorf("%s: %v tokens (%v), want %v", key, v, err, want)
		}
		if ttl := rdb.PTTL(context.Background(), key).Val(); ttl <= 0 {
			t.Errorf("%s: no expiry (%v)", key, ttl)
		}
	}
}

// TestSyncedBucketsWithoutRedis: while Redis does not answer, the replica
// keeps deciding alone, counts the failure, and sends what it owes once
// Redis is back.
func TestSyncedBucketsWithoutRedis(t *testing.T) {
	t.Parallel()
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = down.Close() })
	failed := prometheus.NewCounter(prometheus.CounterOpts{Name: "failed"})
	ru := &rule{name: "reserve", limit: Limit{Rate: 1, Burst: 2}, perSec: 1.0 / 60,
		args: []any{2, "0.016666666666666666", 1}, failed: failed}
	s := newSyncedBuckets(ru, down, "rlsync-down:", time.Hour, zap.NewNop())
	t.Cleanup(s.close)
	now := time.Now()
	var got []bool
	for range 3 {
		ok, _, _ := s.take("u:carol", now)
		got = append(got, ok)
	}
	s.sync()
	if ok, _, _ := s.take("u:carol", now); ok || got[0] != true || got[1] != true || got[2] != false {
		t.Fatalf("decisions %v, then %v: want the burst of 2, then refusals", got, ok)
	}
	if v := testutil.ToFloat64(failed); v != 1 {
		t.Errorf("store errors counted %v, want 1", v)
	}
	// The tokens taken are still owed, for the next sync.
	sh := &s.shards[shard("u:carol")]
	sh.mu.Lock()
	owed, dirty := sh.m["u:carol"].taken, len(sh.dirty)
	sh.mu.Unlock()
	if owed != 2 || dirty != 1 {
		t.Errorf("owed %d tokens in %d dirty buckets, want 2 in 1", owed, dirty)
	}
}

// TestShardIsFNV1a: the shard of a bucket is FNV-1a's, as it always was,
// so replicas of this release and the last share their buckets' keys.
func TestShardIsFNV1a(t *testing.T) {
	for _, who := range []string{"", "u:alice", "ip:10.0.0.1", "u:" + uuid.NewString(), "ip:2001:db8::"} {
		h := fnv.New32a()
		_, _ = h.Write([]byte(who))
		if got, want := shard(who), int(h.Sum32()%syncShards); got != want {
			t.Errorf("shard(%q) = %d, want %d", who, got, want)
		}
	}
}
