// Package queue is the virtual waiting room in front of a flash sale:
// per-event lines in Redis, rate-based admission and queue passes.
//
// A buyer joins an event's line once (before the sale opens, a pre-queue
// whose order is drawn at random at the opening); the admitter (its own
// target, any number of replicas) lets buyers in at the event's rate and
// writes each one's pass where the booking engine's reserve script looks for
// it (lua.PassKey), valid queue.pass-ttl. The pass is an opaque random token
// bound to user and event by its key: useless for another user, and no JWT.
//
// Layers: handlers (server.go) translate; rules live in service.go; Redis
// decisions are the queue_*.lua scripts of lua/ run by lines.go; the
// organizer's switch and rate are the events row (settings.go); the
// admission loop is admitter.go.
package queue

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/queue/v1/queuev1connect"
	"github.com/bookingrush/rush/services/platform/server"
)

// Config is the queue component's configuration (the queue and admitter
// targets share it).
type Config struct {
	// Addr is where the QueueService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
	// KeyPrefix prefixes the queue's own Redis keys; the passes live under
	// the booking engine's prefix, where the reserve script reads them.
	KeyPrefix string `yaml:"key_prefix"`
	// PassTTL is how long an admitted buyer's pass works.
	PassTTL time.Duration `yaml:"pass_ttl"`
	// Tick is how often the admitter takes an admission step.
	Tick time.Duration `yaml:"tick"`
	// WatchInterval is how often a WatchQueueStatus stream looks for news.
	WatchInterval time.Duration `yaml:"watch_interval"`
	// SettingsTTL is how long an event's admission rate read from Postgres
	// is reused.
	SettingsTTL time.Duration `yaml:"settings_ttl"`
	// RedisTimeout bounds one admission step.
	RedisTimeout time.Duration `yaml:"redis_timeout"`
}

// RegisterFlags registers queue.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "queue.addr", server.DefaultAddr("queue"), "listen address of the QueueService")
	f.StringVar(&c.KeyPrefix, "queue.key-prefix", "q:", "prefix of the queue's Redis keys (passes use booking.key-prefix)")
	f.DurationVar(&c.PassTTL, "queue.pass-ttl", 5*time.Minute, "how long an admitted buyer's queue pass works")
	f.DurationVar(&c.Tick, "queue.tick", 100*time.Millisecond, "how often the admitter takes an admission step")
	f.DurationVar(&c.WatchInterval, "queue.watch-interval", 500*time.Millisecond, "how often a status stream looks for news")
	f.DurationVar(&c.SettingsTTL, "queue.settings-ttl", 2*time.Second, "how long an event's admission rate read from Postgres is reused")
	f.DurationVar(&c.RedisTimeout, "queue.redis-timeout", 2*time.Second, "time allowed for one admission step")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.KeyPrefix == "" {
		errs = append(errs, errors.New("queue.key-prefix: must not be empty"))
	}
	if c.PassTTL < time.Second {
		errs = append(errs, fmt.Errorf("queue.pass-ttl: %v is shorter than a second", c.PassTTL))
	}
	if c.Tick <= 0 || c.Tick > time.Second {
		errs = append(errs, fmt.Errorf("queue.tick: %v must be in (0, 1s] for a steady admission rate", c.Tick))
	}
	if c.WatchInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("queue.watch-interval: %v is shorter than 10ms", c.WatchInterval))
	}
	if c.SettingsTTL <= 0 || c.RedisTimeout <= 0 {
		errs = append(errs, errors.New("queue.settings-ttl and queue.redis-timeout must be positive"))
	}
	errs = append(errs, server.ValidateAddr("queue.addr", c.Addr))
	return errors.Join(errs...)
}

// shared provides what both queue targets need, privately to the target's
// module: both may run in one process.
func shared(cfg Config, bookingPrefix string) fx.Option {
	return fx.Options(
		fx.Supply(fx.Private, cfg),
		fx.Provide(fx.Private,
			func(rdb *redis.Client) *Lines { return NewLines(rdb, cfg.KeyPrefix, bookingPrefix, cfg.PassTTL) },
			func(db *pgxpool.Pool) *Settings { return NewSettings(db, cfg.SettingsTTL) },
		),
	)
}

// Module serves the QueueService on cfg.Addr; bookingPrefix is the booking
// engine's key prefix (booking.key-prefix), under which passes live.
func Module(cfg Config, bookingPrefix string) fx.Option {
	return fx.Module("queue",
		shared(cfg, bookingPrefix),
		fx.Provide(fx.Private,
			func(l *Lines, s *Settings, mesh *server.Mesh, log *zap.Logger) *Service {
				booking := server.Dial(mesh, "queue", "booking", bookingv1connect.NewBookingServiceClient)
				return NewService(l, s, booking, cfg.WatchInterval, log.Named("queue"))
			},
			NewServer,
		),
		server.Serve("queue", cfg.Addr, queuev1connect.QueueServiceName, queuev1connect.NewQueueServiceHandler),
	)
}

// AdmitterModule runs the admitter (the "admitter" target).
func AdmitterModule(cfg Config, bookingPrefix string) fx.Option {
	return fx.Module("admitter",
		shared(cfg, bookingPrefix),
		fx.Invoke(func(lc fx.Lifecycle, l *Lines, s *Settings, reg *prometheus.Registry, log *zap.Logger) error {
			a, err := NewAdmitter(l, s, cfg.Tick, cfg.RedisTimeout, reg, log)
			if err != nil {
				return err
			}
			lc.Append(fx.Hook{OnStart: a.Start, OnStop: a.Stop})
			return nil
		}),
	)
}
