package edge

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/maphash"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/lua"
	"github.com/bookingrush/rush/services/platform/breaker"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/logging"
	"github.com/bookingrush/rush/services/platform/redisx"
)

// RateLimitConfig is the edge's rate limiting (docs/architecture.md, "Edge security"): one token bucket
// per client and limit, shared by every edge replica through Redis.
type RateLimitConfig struct {
	// Enabled turns rate limiting on (RUSH_RATE_LIMIT_ENABLED).
	Enabled bool `yaml:"enabled"`
	// Prefix starts every bucket key in Redis.
	Prefix string `yaml:"prefix"`
	// OnRedisError is what happens when Redis does not answer: "deny"
	// refuses the request with 503 SERVICE_UNAVAILABLE; "local" falls back
	// to a bucket in this replica's memory (each replica then allows the
	// full rate). Either way it is logged and counted, never silent.
	OnRedisError string `yaml:"on_redis_error"`
	// Login, Register, Password (forgot, reset, change; deleting the account),
	// Reserve and Webhook (the payment provider's) limit their routes;
	// General every other /api/v1 call.
	Login    Limit `yaml:"login"`
	Register Limit `yaml:"register"`
	Password Limit `yaml:"password"`
	Reserve  Limit `yaml:"reserve"`
	Webhook  Limit `yaml:"webhook"`
	General  Limit `yaml:"general"`
	// Sync is how often the reserve, webhook and general limits (every route but
	// signing in, signing up and password resets), decided in each replica's
	// memory (no round trip on the hot paths: the reserve, the queue join),
	// are reconciled with the shared buckets in Redis; 0 takes their tokens
	// from Redis on every request, as the credential routes' limits do.
	Sync time.Duration `yaml:"sync"`
}

// Limit is one token bucket: Burst tokens at most, refilled at Rate tokens a
// minute; a request takes one.
type Limit struct {
	Rate  int `yaml:"rate"`
	Burst int `yaml:"burst"`
}

// RegisterFlags registers rate-limit.* flags.
func (c *RateLimitConfig) RegisterFlags(f *flag.FlagSet) {
	f.BoolVar(&c.Enabled, "rate-limit.enabled", true, "rate limit the public API (token buckets in Redis)")
	f.StringVar(&c.Prefix, "rate-limit.prefix", "rl:", "prefix of the rate limit keys in Redis")
	f.StringVar(&c.OnRedisError, "rate-limit.on-redis-error", "deny", "when Redis is unreachable: deny (503) or local (per-replica in-memory buckets)")
	f.DurationVar(&c.Sync, "rate-limit.sync", 100*time.Millisecond, "the reserve, webhook and general limits are decided in each replica's memory and reconciled with the shared buckets in Redis this often (0: a Redis call per request); the login, register and password limits always take their tokens from Redis")
	limits := []struct {
		name        string
		l           *Limit
		rate, burst int
		what        string
	}{
		{"login", &c.Login, 5, 5, "POST /api/v1/auth/login"},
		{"register", &c.Register, 3, 3, "POST /api/v1/auth/register"},
		{"password", &c.Password, 5, 5, "POST /api/v1/auth/forgot-password, /auth/reset-password, /auth/change-password and /auth/delete-account"},
		{"reserve", &c.Reserve, 20, 20, "POST /api/v1/bookings/reserve"},
		// A sale's payments succeed by the thousand a minute, and Stripe
		// sends their webhooks from a dozen addresses: under the general
		// limit most would wait for Stripe's retries while their holds
		// expire. Each is signed and applied once, so a high limit risks
		// nothing but a bad signature's cheap refusal.
		{"webhook", &c.Webhook, 12000, 2000, "POST /api/v1/webhooks/stripe (per sending address)"},
		{"general", &c.General, 100, 100, "every other /api/v1 call"},
	}
	for _, l := range limits {
		f.IntVar(&l.l.Rate, "rate-limit."+l.name+".rate", l.rate, "requests per minute per client, sustained, for "+l.what)
		f.IntVar(&l.l.Burst, "rate-limit."+l.name+".burst", l.burst, "bucket capacity (requests at once) for "+l.what)
	}
}

// Validate checks the limits.
func (c *RateLimitConfig) Validate() error {
	var problems []error
	if c.Sync < 0 {
		problems = append(problems, fmt.Errorf("rate-limit.sync: %v is negative", c.Sync))
	}
	if c.OnRedisError != "deny" && c.OnRedisError != "local" {
		problems = append(problems, fmt.Errorf("rate-limit.on-redis-error: %q is not deny or local", c.OnRedisError))
	}
	for name, l := range map[string]Limit{"login": c.Login, "register": c.Register, "password": c.Password, "reserve": c.Reserve, "webhook": c.Webhook, "general": c.General} {
		if l.Rate < 1 || l.Burst < 1 {
			problems = append(problems, fmt.Errorf("rate-limit.%s: rate and burst must be at least 1 (rate %d, burst %d)", name, l.Rate, l.Burst))
		}
	}
	return errors.Join(problems...)
}

// rule is one limit, with what the hot path needs precomputed.
type rule struct {
	name     string
	limit    Limit
	perSec   float64
	args     []any      // ARGV of ratelimit.lua
	header   []string   // X-RateLimit-Limit
	left     [][]string // X-RateLimit-Remaining for 0..min(Burst, 1024), shared
	rejected prometheus.Counter
	failed   prometheus.Counter
}

// limiter takes tokens from the buckets.
type limiter struct {
	rdb      *redisx.Hot
	script   *redis.Script
	prefix   string
	login    *rule
	register *rule
	password *rule
	reserve  *rule
	webhook  *rule
	general  *rule
	local    *localBuckets // nil: deny when Redis fails
	// synced decide the reserve and general limits in memory
	// (rate-limit.sync); empty: in Redis on every request.
	synced map[*rule]*syncedBuckets
	log    *zap.Logger
	logged logSampler
}

func newLimiter(cfg RateLimitConfig, rdb *redis.Client, reg prometheus.Registerer, log *zap.Logger) (*limiter, error) {
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rush_edge_rate_limited_total", Help: "Requests refused with 429 RATE_LIMITED, by limit.",
	}, []string{"limit"})
	failed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rush_edge_rate_limit_store_errors_total", Help: "Rate limit checks Redis did not answer, by limit (denied with 503, or decided locally).",
	}, []string{"limit"})
	for _, c := range []prometheus.Collector{rejected, failed} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("edge: rate limit metrics: %w", err)
		}
	}
	mk := func(name string, l Limit) *rule {
		perSec := float64(l.Rate) / 60
		return &rule{
			name: name, limit: l, perSec: perSec,
			args:     []any{l.Burst, strconv.FormatFloat(perSec, 'g', -1, 64), 1},
			header:   []string{strconv.Itoa(l.Rate)},
			left:     remainingValues(l.Burst),
			rejected: rejected.WithLabelValues(name),
			failed:   failed.WithLabelValues(name),
		}
	}
	l := &limiter{
		rdb: redisx.NewHot(rdb), script: lua.Script("ratelimit.lua"), prefix: cfg.Prefix,
		login: mk("login", cfg.Login), register: mk("register", cfg.Register), password: mk("password", cfg.Password),
		reserve: mk("reserve", cfg.Reserve), webhook: mk("webhook", cfg.Webhook), general: mk("general", cfg.General),
		log: log,
	}
	if cfg.OnRedisError == "local" {
		l.local = newLocalBuckets()
	}
	if cfg.Sync > 0 {
		// Not the credential routes': their small buckets (5 guesses a
		// minute) stay exact however many replicas there are.
		l.synced = map[*rule]*syncedBuckets{}
		for _, ru := range []*rule{l.reserve, l.webhook, l.general} {
			l.synced[ru] = newSyncedBuckets(ru, rdb, cfg.Prefix, cfg.Sync, log)
		}
	}
	return l, nil
}

// close stops the background syncs, after a last one each.
func (l *limiter) close() {
	for _, s := range l.synced {
		s.close()
	}
}

// pick chooses the limit of a request, and whether its route is one a
// client calls as nobody (signing in or up, refreshing, signing out,
// resetting a password, a provider's webhook): those count per client
// address whatever token is attached, or any valid token (a freshly
// registered account) would buy a new bucket of sign-ups and password
// guesses.
func (l *limiter) pick(method, path string) (ru *rule, anonymous bool) {
	anonymous = anonymousRoutes[method+" "+path]
	if method == http.MethodPost {
		switch path {
		case "/api/v1/auth/login":
			return l.login, anonymous
		case "/api/v1/auth/register":
			return l.register, anonymous
		case "/api/v1/auth/forgot-password", "/api/v1/auth/reset-password", "/api/v1/auth/change-password", "/api/v1/auth/delete-account":
			return l.password, anonymous
		case reservePath:
			return l.reserve, anonymous
		case webhookPath:
			return l.webhook, anonymous
		}
	}
	return l.general, anonymous
}

// anonymousRoutes are the routes a client calls as nobody (signing in or
// up, refreshing, signing out, resetting a password, a provider's webhook):
// the limiter counts them per address, and the OpenAPI document asks no
// token of them (nor of the public catalog reads, cache.go).
var anonymousRoutes = map[string]bool{
	"POST /api/v1/auth/login":           true,
	"POST /api/v1/auth/register":        true,
	"POST /api/v1/auth/forgot-password": true,
	"POST /api/v1/auth/reset-password":  true,
	"POST /api/v1/auth/refresh":         true,
	"POST /api/v1/auth/logout":          true,
	"POST " + webhookPath:               true,
}

// webhookPath is the payment provider's webhook.
const webhookPath = "/api/v1/webhooks/stripe"

// allow takes a token for r, keyed by the verified user when there is one
// and the route is not anonymous, else by client address (clientKey); when
// none is left it answers 429 (or 503 when Redis is down and the policy is
// deny) and returns false.
func (l *limiter) allow(w http.ResponseWriter, r *http.Request, userID string, clientIP func(*http.Request) string) bool {
	ru, anonymous := l.pick(r.Method, r.URL.Path)
	var who string
	if userID != "" && !anonymous {
		who = "u:" + userID
	} else {
		who = "ip:" + clientKey(clientIP(r))
	}
	var ok bool
	var remaining int
	var retryMs int64
	var err error
	if s := l.synced[ru]; s != nil {
		ok, remaining, retryMs = s.take(who, time.Now())
	} else {
		ok, remaining, retryMs, err = l.take(r.Context(), ru, l.prefix+ru.name+":"+who)
	}
	h := w.Header()
	if err != nil {
		ru.failed.Inc()
		// An open breaker (redisx) logged the outage once already.
		if !errors.Is(err, breaker.ErrOpen) && l.logged.allow() {
			policy := "denying requests with 503"
			if l.local != nil {
				policy = "falling back to per-replica in-memory buckets"
			}
			logging.Ctx(r.Context(), l.log).Error("rate limit store unreachable, "+policy, zap.String("limit", ru.name), zap.Error(err))
		}
		if l.local == nil {
			h["Retry-After"] = hdrRetry1
			writeError(w, http.StatusServiceUnavailable, errs.ServiceUnavailable, "rate limiting is unavailable; retry shortly", detailRedis)
			return false
		}
		ok, remaining, retryMs = l.local.take(l.prefix+ru.name+":"+who, ru, time.Now())
	}
	h["X-Ratelimit-Limit"] = ru.header
	h["X-Ratelimit-Remaining"] = ru.remaining(remaining)
	if ok {
		return true
	}
	ru.rejected.Inc()
	secs := max((retryMs+999)/1000, 1)
	h["Retry-After"] = []string{strconv.FormatInt(secs, 10)}
	writeError(w, http.StatusTooManyRequests, errs.RateLimited,
		"too many requests; retry in "+strconv.FormatInt(secs, 10)+"s",
		[]byte(`{"limit":"`+ru.name+`","retry_after":`+strconv.FormatInt(secs, 10)+`}`))
	return false
}

// remainingValues are the header values of 0..min(burst, 1024) tokens left,
// made once: a request's answer shares them (nothing writes to them).
func remainingValues(burst int) [][]string {
	vs := make([][]string, min(max(burst, 0), 1024)+1)
	for i := range vs {
		vs[i] = []string{strconv.Itoa(i)}
	}
	return vs
}

// remaining is the X-RateLimit-Remaining value of n tokens left.
func (ru *rule) remaining(n int) []string {
	if n >= 0 && n < len(ru.left) {
		return ru.left[n]
	}
	return []string{strconv.Itoa(n)}
}

// clientKey is the rate-limit identity of a client address: the address
// itself for IPv4, and its /64 for IPv6, the block one subscriber or host
// usually gets (rotating addresses inside it would otherwise buy 2^64
// buckets). Anything that does not parse is its own key.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// detailRedis is the details of a 503 caused by Redis.
var detailRedis = []byte(`{"dependency":"redis"}`)

// take runs ratelimit.lua: one Redis round trip (EVALSHA). While Redis is
// down, the client's circuit breaker (redisx) fails the call at once, so no
// request waits on a dead Redis.
func (l *limiter) take(ctx context.Context, ru *rule, key string) (ok bool, remaining int, retryMs int64, err error) {
	res, err := l.script.Run(ctx, l.rdb.For(ctx), []string{key}, ru.args...).Int64Slice()
	if err != nil {
		return false, 0, 0, err
	}
	if len(res) != 3 {
		return false, 0, 0, fmt.Errorf("ratelimit.lua answered %v", res)
	}
	return res[0] == 1, int(res[1]), res[2], nil
}

// localBuckets are the per-replica fallback when Redis is down and the
// policy is "local": the same buckets, in this process's memory.
type localBuckets struct {
	seed   maphash.Seed
	shards [16]localShard
}

type localShard struct {
	mu sync.Mutex
	m  map[string]*localBucket
}

type localBucket struct {
	tokens float64
	at     time.Time
}

// localMaxPerShard bounds the fallback's memory; a full shard forgets its
// buckets (each client then starts full again, as after an expiry).
const localMaxPerShard = 1 << 14

func newLocalBuckets() *localBuckets {
	lb := &localBuckets{seed: maphash.MakeSeed()}
	for i := range lb.shards {
		lb.shards[i].m = map[string]*localBucket{}
	}
	return lb
}

func (lb *localBuckets) take(key string, ru *rule, now time.Time) (bool, int, int64) {
	s := &lb.shards[maphash.String(lb.seed, key)%uint64(len(lb.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	capacity := float64(ru.limit.Burst)
	b, ok := s.m[key]
	if !ok {
		if len(s.m) >= localMaxPerShard {
			clear(s.m)
		}
		b = &localBucket{tokens: capacity, at: now}
		s.m[key] = b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(capacity, b.tokens+d.Seconds()*ru.perSec)
		b.at = now
	}
	if b.tokens < 1 {
		return false, int(b.tokens), int64((1 - b.tokens) * 1000 / ru.perSec)
	}
	b.tokens--
	return true, int(b.tokens), 0
}
