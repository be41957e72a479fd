// Package redisx provides the go-redis client every component shares.
package redisx

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/telemetry"
)

// DefaultURL is the local development server.
const DefaultURL = "redis://127.0.0.1:6379/0"

// Config locates Redis.
type Config struct {
	URL          config.URL    `yaml:"url"`
	PoolSize     int           `yaml:"pool_size"`
	DialTimeout  time.Duration `yaml:"dial_timeout"`
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
}

// RegisterFlags registers redis.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	config.URLVar(f, &c.URL, "redis.url", DefaultURL, "Redis URL; the /N path selects the database")
	f.IntVar(&c.PoolSize, "redis.pool-size", 64, "connections per process")
	f.DurationVar(&c.DialTimeout, "redis.dial-timeout", 2*time.Second, "time allowed to connect")
	f.DurationVar(&c.ReadTimeout, "redis.read-timeout", time.Second, "time allowed for one reply")
	f.DurationVar(&c.WriteTimeout, "redis.write-timeout", time.Second, "time allowed for one write")
}

// Validate checks that the URL parses.
func (c *Config) Validate() error {
	if _, err := redis.ParseURL(c.URL.Reveal()); err != nil {
		return fmt.Errorf("redis.url: %w", err)
	}
	if c.PoolSize < 1 {
		return fmt.Errorf("redis.pool-size: %d must be at least 1", c.PoolSize)
	}
	return nil
}

// Hint is the one line a newcomer needs when the local server is down.
const Hint = `start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no (or set RUSH_REDIS_URL)`

// NewClient builds the client; it connects on first use. When tracing is on,
// every command run under a recording span gets a child span named after it
// ("evalsha"); commands of background loops start no traces, and without
// tracing no hook is installed at all.
func NewClient(lc fx.Lifecycle, cfg Config, tp trace.TracerProvider) (*redis.Client, error) {
	opt, err := redis.ParseURL(cfg.URL.Reveal())
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", err)
	}
	opt.PoolSize = cfg.PoolSize
	opt.DialTimeout = cfg.DialTimeout
	opt.ReadTimeout = cfg.ReadTimeout
	opt.WriteTimeout = cfg.WriteTimeout
	c := redis.NewClient(opt)
	if telemetry.Enabled(tp) {
		// No db.statement: script arguments carry user ids and
		// idempotency keys, and building the string costs on every command.
		err := redisotel.InstrumentTracing(c, redisotel.WithTracerProvider(telemetry.ChildOnly(tp)),
			redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false))
		if err != nil {
			return nil, fmt.Errorf("redis tracing: %w", err)
		}
	}
	lc.Append(fx.StopHook(c.Close))
	return c, nil
}

// Ping checks Redis answers, with a one-line hint when it does not.
func Ping(ctx context.Context, c *redis.Client) error {
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis unreachable (%v); %s", err, Hint)
	}
	return nil
}

// Module provides *redis.Client.
var Module = fx.Module("redis", fx.Provide(NewClient))

// Hot runs the commands of a hot path through c's shared auto-pipeliner
// (go-redis' blocking face): concurrent commands share one write and one
// read on a connection of c's pipeline pool instead of a round trip each,
// which saves Redis and the caller most of the syscalls under load
// (bench/RESULTS.md). A command of a traced request runs on c itself, so
// that its span is the request's child (the pipeliner's batches belong to
// no request).
type Hot struct {
	c  *redis.Client
	ap *redis.AutoPipeliner
}

// NewHot returns c's hot path; the pipeliner is closed with c.
func NewHot(c *redis.Client) *Hot {
	ap, err := c.AutoPipeline()
	if err != nil {
		// Only an invalid configuration fails, and the defaults are valid.
		panic(fmt.Sprintf("redisx: auto-pipeliner: %v", err))
	}
	return &Hot{c: c, ap: ap}
}

// For returns what runs a command made under ctx.
func (h *Hot) For(ctx context.Context) redis.Scripter {
	if trace.SpanFromContext(ctx).IsRecording() {
		return h.c
	}
	return h.ap
}
