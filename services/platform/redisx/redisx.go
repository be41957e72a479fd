// Package redisx provides the go-redis client every component shares.
package redisx

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/breaker"
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
	// Breaker fails every command fast while Redis is unreachable (see
	// NewClient).
	Breaker breaker.Config `yaml:"breaker"`
}

// RegisterFlags registers redis.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	config.URLVar(f, &c.URL, "redis.url", DefaultURL, "Redis URL; the /N path selects the database")
	f.IntVar(&c.PoolSize, "redis.pool-size", 64, "connections per process")
	f.DurationVar(&c.DialTimeout, "redis.dial-timeout", 2*time.Second, "time allowed to connect")
	f.DurationVar(&c.ReadTimeout, "redis.read-timeout", time.Second, "time allowed for one reply")
	f.DurationVar(&c.WriteTimeout, "redis.write-timeout", time.Second, "time allowed for one write")
	c.Breaker.RegisterFlags(f, "redis.breaker", "Redis")
}

// Validate checks that the URL parses.
func (c *Config) Validate() error {
	if _, err := redis.ParseURL(c.URL.Reveal()); err != nil {
		return fmt.Errorf("redis.url: %w", err)
	}
	if c.PoolSize < 1 {
		return fmt.Errorf("redis.pool-size: %d must be at least 1", c.PoolSize)
	}
	return c.Breaker.Validate("redis.breaker")
}

// hint is the one line a newcomer needs when the server at addr does not
// answer: the command that starts a local one on its port, or, for another
// host, which address was tried.
func hint(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && (host == "localhost" || net.ParseIP(host).IsLoopback()) {
		if host == "localhost" {
			host = "127.0.0.1" // redis-server binds addresses, not names
		}
		return fmt.Sprintf(`start it with: redis-server --daemonize yes --bind %s --port %s --save "" --appendonly no (or set RUSH_REDIS_URL)`, host, port)
	}
	return fmt.Sprintf("is the server at %s up and reachable from here? (RUSH_REDIS_URL)", addr)
}

// NewClient builds the client; it connects on first use. When tracing is on,
// every command run under a recording span gets a child span named after it
// ("evalsha"); commands of background loops start no traces, and without
// tracing no tracing hook is installed at all.
//
// Every command goes through the client's circuit breaker (package breaker,
// metrics labelled dependency="redis"): after redis.breaker.failures
// consecutive commands could not reach Redis (refused or broken connections,
// timeouts, a pool with no free connection; not an error reply such as
// NOSCRIPT, nor a missing key), every command fails at once with an error
// matching breaker.ErrOpen until a PING, sent every
// redis.breaker.probe-interval, is answered. Closed, it costs each command
// two atomic loads, so the reserve's script call pays nothing measurable.
func NewClient(lc fx.Lifecycle, cfg Config, tp trace.TracerProvider, log *zap.Logger, reg *prometheus.Registry) (*redis.Client, error) {
	opt, err := redis.ParseURL(cfg.URL.Reveal())
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", err)
	}
	opt.PoolSize = cfg.PoolSize
	opt.DialTimeout = cfg.DialTimeout
	opt.ReadTimeout = cfg.ReadTimeout
	opt.WriteTimeout = cfg.WriteTimeout
	// One attempt per dial: a command already retries (MaxRetries, with
	// backoff), and the library's default of 5 dial attempts 100 ms apart
	// per try made every command to a dead Redis wait about 3 s.
	opt.DialerRetries = 1
	c := redis.NewClient(opt)
	b, err := breaker.New("redis", cfg.Breaker, outcome, func(ctx context.Context) error { return c.Ping(ctx).Err() }, log, reg)
	if err != nil {
		return nil, err
	}
	if b != nil {
		// The first hook is the outermost: a refused command opens no span.
		c.AddHook(breakerHook{b})
		lc.Append(fx.StopHook(b.Close))
	}
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

// breakerHook puts the breaker around every command and pipeline.
type breakerHook struct{ b *breaker.Breaker }

// DialHook counts failed dials too, so a refused Redis opens the breaker
// within the first command (its retries dial again). It refuses no dial:
// the pool redials in the background after failures, and only commands need
// gating. A dial that succeeds proves little (a frozen server's kernel still
// accepts), so only the commands' answers reset the count.
func (h breakerHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			h.b.Record(err)
		}
		return c, err
	}
}

func (h breakerHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !h.b.Allow(ctx) {
			err := h.b.Err()
			cmd.SetErr(err)
			return err
		}
		err := next(ctx, cmd)
		h.b.Record(err)
		return err
	}
}

func (h breakerHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !h.b.Allow(ctx) {
			err := h.b.Err()
			for _, cmd := range cmds {
				cmd.SetErr(err)
			}
			return err
		}
		err := next(ctx, cmds)
		h.b.Record(err)
		return err
	}
}

// outcome tells the breaker what a command's error says about Redis. Error
// replies mean Redis answered, except those of a server that cannot serve
// (loading its data, busy with a stuck script, without a master).
func outcome(err error) breaker.Outcome {
	if err == nil {
		return breaker.Success
	}
	if errors.Is(err, breaker.ErrOpen) || errors.Is(err, context.Canceled) || errors.Is(err, redis.ErrClosed) {
		return breaker.Ignore
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		for _, p := range []string{"LOADING ", "BUSY ", "MASTERDOWN ", "CLUSTERDOWN "} {
			if strings.HasPrefix(err.Error(), p) {
				return breaker.Failure
			}
		}
		return breaker.Success
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return breaker.Failure
	}
	return breaker.Ignore
}

// Ping checks Redis answers, with a one-line hint when it does not.
func Ping(ctx context.Context, c *redis.Client) error {
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis unreachable (%w); %s", err, hint(c.Options().Addr))
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
