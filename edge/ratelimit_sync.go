package edge

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/lua"
	"github.com/bookingrush/rush/services/platform/breaker"
)

// syncedBuckets decide one limit (the reserve route's, or the general one)
// in this replica's memory, with no round trip, and reconcile it with the
// shared buckets in Redis every interval in the background: each bucket's
// tokens taken here since the last sync are debited from the shared bucket
// (every replica does the same), and the local bucket takes the shared
// balance, less what was taken here meanwhile. One script call per shard of
// buckets per interval replaces a script call per request.
//
// Between two syncs each replica may allow up to a full bucket that other
// replicas already spent: the limit is exact with one replica, and with n
// replicas a client gets at most (n-1) bursts more than the limit once, then
// owes them (the shared bucket goes negative and refills from there).
//
// A bucket is reconciled once it has taken syncFrom tokens here: a client
// that makes a single request before its bucket is full again (the crowd's
// one queue join, a buyer's one reserve) costs Redis nothing, where it
// cost a shared bucket written, kept and expired. So with n replicas a
// client may also get up to n*(syncFrom-1) tokens per refill-to-full time
// that no other replica hears of: one per replica. While
// Redis does not answer, each replica keeps deciding alone (the full rate
// per replica), logged and counted, whatever rate-limit.on-redis-error
// says: a route that needs Redis (the reserve, the queue join) fails
// anyway, and one that does not (the catalog's pages) stays up.
type syncedBuckets struct {
	ru       *rule
	rdb      redis.Scripter
	script   *redis.Script
	prefix   string // of the bucket keys: prefix + "{s<shard>}u:" + who
	interval time.Duration
	log      *zap.Logger
	logged   logSampler

	shards [syncShards]syncShard
	swept  time.Time // the last walk over every bucket (forgetting the full ones)
	stop   chan struct{}
	done   chan struct{}
}

// syncFrom is how many tokens a bucket takes here before it is reconciled
// with the shared one (see syncedBuckets).
const syncFrom = 2

// syncShards is how many shards the buckets are split into: one hash tag,
// so one script call per sync, each.
const syncShards = 16

type syncShard struct {
	mu    sync.Mutex
	m     map[string]*syncBucket // by the caller's id ("u:<user>" / "ip:<addr>")
	dirty []string               // the buckets that took tokens since the last sync
}

// syncBucket is one client's bucket as this replica knows it.
type syncBucket struct {
	tokens float64
	at     time.Time
	taken  int // tokens taken here since the last sync; sent from syncFrom
}

func newSyncedBuckets(ru *rule, rdb redis.Scripter, prefix string, interval time.Duration, log *zap.Logger) *syncedBuckets {
	s := &syncedBuckets{
		ru: ru, rdb: rdb, script: lua.Script("ratelimit_sync.lua"), prefix: prefix + ru.name + ":",
		interval: interval, log: log, stop: make(chan struct{}), done: make(chan struct{}),
	}
	for i := range s.shards {
		s.shards[i].m = map[string]*syncBucket{}
	}
	go s.loop()
	return s
}

// shard picks who's shard; the same in every replica, so they share keys.
func shard(who string) int {
	// FNV-1a (hash/fnv's New32a), without its allocation.
	h := uint32(2166136261)
	for i := 0; i < len(who); i++ {
		h ^= uint32(who[i])
		h *= 16777619
	}
	return int(h % syncShards)
}

// take takes one token from who's bucket: allowed, whole tokens left, and
// when refused the milliseconds until a token is back.
func (s *syncedBuckets) take(who string, now time.Time) (bool, int, int64) {
	sh := &s.shards[shard(who)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	capacity := float64(s.ru.limit.Burst)
	b, ok := sh.m[who]
	if !ok {
		b = &syncBucket{tokens: capacity, at: now}
		sh.m[who] = b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(capacity, b.tokens+d.Seconds()*s.ru.perSec)
		b.at = now
	}
	if b.tokens < 1 {
		return false, 0, int64((1 - b.tokens) * 1000 / s.ru.perSec)
	}
	b.tokens--
	b.taken++
	if b.taken == syncFrom {
		sh.dirty = append(sh.dirty, who)
	}
	return true, int(b.tokens), 0
}

func (s *syncedBuckets) loop() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			s.sync() // hand what was taken here to the other replicas
			return
		case <-t.C:
			s.sync()
		}
	}
}

// close stops the background sync after a last one.
func (s *syncedBuckets) close() {
	close(s.stop)
	<-s.done
}

// sync reconciles the buckets that took tokens since the last sync, and
// about every refill-to-full time forgets the buckets that are full again.
func (s *syncedBuckets) sync() {
	full := time.Duration(float64(s.ru.limit.Burst) / s.ru.perSec * float64(time.Second))
	sweep := time.Since(s.swept) > full
	if sweep {
		s.swept = time.Now()
	}
	for i := range s.shards {
		sh := &s.shards[i]
		now := time.Now()
		sh.mu.Lock()
		var who []string
		var taken []int
		for _, k := range sh.dirty {
			if b := sh.m[k]; b != nil && b.taken >= syncFrom {
				who = append(who, k)
				taken = append(taken, b.taken)
				b.taken = 0
			}
		}
		sh.dirty = sh.dirty[:0]
		if sweep {
			for k, b := range sh.m {
				if b.taken < syncFrom && now.Sub(b.at) > full {
					delete(sh.m, k) // full again: as if never seen (a single token taken is let go)
				}
			}
		}
		sh.mu.Unlock()
		if len(who) == 0 {
			continue
		}
		left, err := s.debit(i, who, taken)
		sh.mu.Lock()
		for j, k := range who {
			b := sh.m[k]
			if b == nil {
				continue
			}
			if err != nil {
				// Owed: sent with the next sync.
				if b.taken < syncFrom {
					sh.dirty = append(sh.dirty, k)
				}
				b.taken += taken[j]
				continue
			}
			b.tokens = min(left[j]-float64(b.taken), float64(s.ru.limit.Burst))
			b.at = time.Now()
		}
		sh.mu.Unlock()
		if err != nil {
			s.ru.failed.Inc()
			if !errors.Is(err, breaker.ErrOpen) && s.logged.allow() {
				s.log.Error("rate limit store unreachable, the limit is decided by each replica alone",
					zap.String("limit", s.ru.name), zap.Error(err))
			}
			return
		}
	}
}

// debit runs ratelimit_sync.lua for one shard's buckets.
func (s *syncedBuckets) debit(i int, who []string, taken []int) ([]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	keys := make([]string, len(who))
	args := make([]any, 2, 2+len(who))
	args[0], args[1] = s.ru.args[0], s.ru.args[1]
	tag := "{s" + strconv.Itoa(i) + "}"
	for j, k := range who {
		keys[j] = s.prefix + tag + k
		args = append(args, taken[j])
	}
	res, err := s.script.Run(ctx, s.rdb, keys, args...).StringSlice()
	if err != nil {
		return nil, err
	}
	if len(res) != len(who) {
		return nil, errors.New("ratelimit_sync.lua answered " + strconv.Itoa(len(res)) + " buckets for " + strconv.Itoa(len(who)))
	}
	out := make([]float64, len(res))
	for j, r := range res {
		if out[j], err = strconv.ParseFloat(r, 64); err != nil {
			return nil, err
		}
	}
	return out, nil
}
