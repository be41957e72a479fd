package catalog

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/bookingrush/rush/services/platform/breaker"
)

// Cache is the Redis read cache of the catalog, invalidated by versions.
//
// Key scheme (P is catalog.cache-prefix, default "catalog:"):
//
//	P ev:{<event id>}:v                      version of one event (INCR on every change of it, its shows or zones)
//	P ev:{<event id>}:<v>:event              the event (any status: visibility is applied per caller after the read)
//	P ev:{<event id>}:<v>:shows              its shows, with the Postgres seat counters
//	P ev:{<event id>}:<v>:zones:<show id>    the zones of one show, with the Postgres seat counters
//	P ev:{<event id>}:<v>:tomb               marker: no such live event (deleted), so reads of a
//	                                         deleted event's slug do not reach Postgres every time
//	P slug:<slug>                            the event id of a slug (immutable: slugs never change or get reused)
//	P show:<show id>                         the event id of a show (immutable)
//	P events:v                               version of every event listing (INCR on any event change)
//	P events:<v>:<query>                     one page of a public listing
//	P categories:v, P categories:<v>         the category list
//
// A reader reads the version first and the value under it second; a writer
// commits to Postgres, then increments the version. A reader that loaded
// from Postgres before the commit stores under the old version, which no
// reader asks for any more: unlike deleting keys, this cannot leave a stale
// value behind. Old versions simply expire (catalog.cache-ttl); version keys
// live far longer than any value, so a version can never go back to a number
// whose value is still cached.
//
// Live seat counts are never cached here: they are overlaid on every read
// from the booking engine (see Inventory).
//
// Redis failures are logged and read as a miss (the answer comes from
// Postgres); a failed invalidation leaves a value stale for at most the TTL.
// That is a documented, bounded degradation of a cache, not a fail-open of
// any check: visibility and ownership are always decided on the data.
type Cache struct {
	rdb    *redis.Client
	prefix string
	ttl    time.Duration
	log    *zap.Logger
}

// NewCache returns the cache of cfg.
func NewCache(rdb *redis.Client, cfg Config, log *zap.Logger) *Cache {
	return &Cache{rdb: rdb, prefix: cfg.CachePrefix, ttl: cfg.CacheTTL, log: log.With(zap.String("component", "catalog.cache"))}
}

// versionTTL is how long a version key outlives its last change.
func (c *Cache) versionTTL() time.Duration { return max(24*time.Hour, 100*c.ttl) }

func (c *Cache) eventNS(eventID string) string { return c.prefix + "ev:{" + eventID + "}:" }

// eventVersion returns the key prefix of the current version of an event's
// values; ok is false when Redis does not answer (then the cache is skipped).
func (c *Cache) eventVersion(ctx context.Context, eventID string) (string, bool) {
	v, ok := c.version(ctx, c.eventNS(eventID)+"v")
	return c.eventNS(eventID) + v + ":", ok
}

func (c *Cache) listVersion(ctx context.Context) (string, bool) {
	v, ok := c.version(ctx, c.prefix+"events:v")
	return c.prefix + "events:" + v + ":", ok
}

func (c *Cache) categoriesKey(ctx context.Context) (string, bool) {
	v, ok := c.version(ctx, c.prefix+"categories:v")
	return c.prefix + "categories:" + v, ok
}

func (c *Cache) version(ctx context.Context, key string) (string, bool) {
	v, err := c.rdb.Get(ctx, key).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "0", true
	case err != nil:
		c.warn("read version", key, err)
		return "", false
	}
	return v, true
}

// get reads key into m; false on a miss or any Redis failure.
func (c *Cache) get(ctx context.Context, key string, m proto.Message) bool {
	b, err := c.rdb.Get(ctx, key).Bytes()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			c.warn("get", key, err)
		}
		return false
	}
	if err := proto.Unmarshal(b, m); err != nil {
		c.warn("decode", key, err)
		return false
	}
	return true
}

// set stores m under key for the TTL.
func (c *Cache) set(ctx context.Context, key string, m proto.Message) {
	b, err := proto.Marshal(m)
	if err == nil {
		err = c.rdb.Set(ctx, key, b, c.ttl).Err()
	}
	if err != nil {
		c.warn("set", key, err)
	}
}

// lookup returns the immutable mapping under key ("" when unknown).
func (c *Cache) lookup(ctx context.Context, key string) string {
	v, err := c.rdb.Get(ctx, key).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		c.warn("get", key, err)
	}
	return v
}

// remember stores an immutable mapping; it may live as long as a version.
func (c *Cache) remember(ctx context.Context, key, value string) {
	if err := c.rdb.Set(ctx, key, value, c.versionTTL()).Err(); err != nil {
		c.warn("set", key, err)
	}
}

// ForgetShow drops a deleted show's mapping to its event, so that its zones
// read NOT_FOUND instead of an empty list. Call it after the deletion
// committed.
func (c *Cache) ForgetShow(ctx context.Context, showID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := c.rdb.Del(ctx, c.showKey(showID)).Err(); err != nil {
		c.warn("del", c.showKey(showID), err)
	}
}

func (c *Cache) slugKey(slug string) string   { return c.prefix + "slug:" + slug }
func (c *Cache) showKey(showID string) string { return c.prefix + "show:" + showID }

// InvalidateEvent retires every cached value of an event (event, shows,
// zones) and every listing. Call it after the change committed.
func (c *Cache) InvalidateEvent(ctx context.Context, eventID string) {
	c.bump(ctx, c.eventNS(eventID)+"v", c.prefix+"events:v")
}

// InvalidateCategories retires the category list.
func (c *Cache) InvalidateCategories(ctx context.Context) {
	c.bump(ctx, c.prefix+"categories:v")
}

func (c *Cache) bump(ctx context.Context, keys ...string) {
	// Detached from the caller: a client hanging up right after the commit
	// must not skip the invalidation.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Incr(ctx, k)
			p.Expire(ctx, k, c.versionTTL())
		}
		return nil
	})
	if err != nil {
		c.log.Error("cache invalidation failed: values stay stale until they expire",
			zap.Strings("keys", keys), zap.Duration("ttl", c.ttl), zap.Error(err))
	}
}

func (c *Cache) warn(op, key string, err error) {
	// An open breaker logged the outage once; every read it refuses need not.
	if errors.Is(err, context.Canceled) || errors.Is(err, breaker.ErrOpen) {
		return
	}
	c.log.Warn("cache "+op+" failed; reading Postgres", zap.String("key", key), zap.Error(err))
}

// listQueryKey is the part of a listing key that names the query. The
// search text is quoted: it may hold the separator.
func listQueryKey(status, category, query string, page, perPage int32) string {
	return status + ":" + category + ":" + strconv.Itoa(int(page)) + ":" + strconv.Itoa(int(perPage)) + ":" + strconv.Quote(query)
}
