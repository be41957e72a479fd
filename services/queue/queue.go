// Package queue is the virtual waiting room in front of a flash sale, built
// so that a waiting buyer costs (nearly) nothing: no per-buyer Redis work
// while they wait, whatever the crowd.
//
// Tickets. JoinQueue gives the buyer a signed queue ticket
// (services/platform/ticket: event, user, number, issue time, the line's
// epoch; HMAC with a key derived from the mesh's JWT secret) in one O(1)
// script (queue_join.lua: one counter, one hash field): one identity, one
// place, and joining again answers the same ticket. Buyers who join before
// the sale opens get their join number; at the opening the admitter draws
// a random key once, and the ticket's sequence is a keyed pseudo-random
// permutation of the join numbers (ticket.Draw) that every component
// computes itself. Later joins are first come, first served: their number
// is their sequence.
//
// One cursor per event. The admitter (its own target, any number of
// replicas) runs queue_tick.lua every queue.tick for each event with
// tickets waiting: it moves the event's cursor ("admitted up to") at the
// admission rate (a token bucket on Redis time, so replicas do not add up),
// never past the cap of active shoppers (admitted, pass live and unused)
// and not at all while the event is sold out (no zone has a seat on sale:
// every zone's available is 0 in the booking engine's counters, or its show
// started); each move is recorded with the end of
// its shopping window (queue.pass-ttl). A buyer's place is the ticket's
// sequence less the cursor; nothing is written per buyer on admission.
//
// The sale's end. Nothing moves once the sale is over (or the event is not
// published), and the line says it ended, from the booking engine's sale
// settings as they are now. The line itself stays: the admitters park an
// ended event with tickets waiting and read its sale settings each tick;
// when the organizer extends the sale or moves its window later (the
// catalog has the booking engine reload them), the same line moves again,
// its buyers in their places. A cancelled event, or a line whose keys
// expired (an hour after the sale's end), is let go.
//
// The pass. Once the cursor passed it, the ticket is the queue pass. The
// booking service checks its signature, event and user in Go and hands
// reserve.lua "<epoch>:<sequence>"; the script checks it against the gate
// (cursor, floor) and the admission steps (its window), and marks it used
// with its buyer ("<sequence>:<user>", a ZADD NX): one hold per pass, in
// the same single round trip. The buyer is in the mark because a sequence
// may have two holders: a Redis that crashes and loses its last second of
// writes (AOF, appendfsync everysec) keeps the line but forgets the joins
// of that second, and hands their numbers out again; both holders are
// admitted together and each buys once with their own pass. A line
// started by a release before this mark (its gate has no "bound") marks
// passes by sequence alone until it ends (docs/architecture.md, upgrades).
//
// Fan-out. The Hub of each queue replica reads each watched event's line
// (the gate and the sale settings: one pipelined round trip) once per tick,
// whatever the number of watchers, and streams each change to the mesh's
// components (WatchLine: one stream per edge replica and event); the edge
// multiplexes it to all its server-sent-event clients. GetLine answers the
// public state from the same read, which the edge marks cacheable.
//
// Layers: handlers (server.go) translate; rules live in service.go; Redis
// is lines.go (the queue_*.lua scripts of lua/), the fan-out hub.go, the
// knobs are the queue's own queue_settings and the switch the catalog's
// (settings.go), the
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

	"github.com/bookingrush/rush/gen/bookingrush/catalog/v1/catalogv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/queue/v1/queuev1connect"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/platform/ticket"
)

// Config is the queue component's configuration (the queue and admitter
// targets share it).
type Config struct {
	// Addr is where the QueueService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
	// KeyPrefix prefixes the queue's own Redis keys; the gate, which the
	// reserve script reads, lives under the booking engine's prefix.
	KeyPrefix string `yaml:"key_prefix"`
	// PassTTL is the shopping window of an admitted buyer's pass.
	PassTTL time.Duration `yaml:"pass_ttl"`
	// Tick is how often the admitter takes an admission step, and how often
	// a queue replica reads the line of an event someone watches.
	Tick time.Duration `yaml:"tick"`
	// SettingsTTL is how long an event's knobs read from Postgres are
	// reused.
	SettingsTTL time.Duration `yaml:"settings_ttl"`
	// RedisTimeout bounds one admission step.
	RedisTimeout time.Duration `yaml:"redis_timeout"`
}

// RegisterFlags registers queue.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "queue.addr", server.DefaultAddr("queue"), "listen address of the QueueService")
	f.StringVar(&c.KeyPrefix, "queue.key-prefix", "q:", "prefix of the queue's Redis keys (the gate reserve reads uses booking.key-prefix)")
	f.DurationVar(&c.PassTTL, "queue.pass-ttl", 10*time.Minute, "shopping window of an admitted buyer's queue pass")
	f.DurationVar(&c.Tick, "queue.tick", 200*time.Millisecond, "how often the admitter takes an admission step, and a queue replica reads a watched line")
	f.DurationVar(&c.SettingsTTL, "queue.settings-ttl", 2*time.Second, "how long an event's admission rate and cap read from Postgres are reused")
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
	if c.Tick < 10*time.Millisecond || c.Tick > time.Second {
		// The sold-out notice must reach every watcher within a second.
		errs = append(errs, fmt.Errorf("queue.tick: %v must be in [10ms, 1s]", c.Tick))
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
			func(mesh *server.Mesh) Catalog {
				return server.Dial(mesh, "queue", "catalog", catalogv1connect.NewCatalogServiceClient)
			},
			func(db *pgxpool.Pool, catalog Catalog) *Settings { return NewSettings(db, catalog, cfg.SettingsTTL) },
		),
	)
}

// Module serves the QueueService on cfg.Addr; bookingPrefix is the booking
// engine's key prefix (booking.key-prefix), under which the gate lives.
func Module(cfg Config, bookingPrefix string) fx.Option {
	return fx.Module("queue",
		shared(cfg, bookingPrefix),
		fx.Provide(fx.Private,
			func(l *Lines, s *Settings, tickets *ticket.Signer, catalog Catalog, log *zap.Logger) *Service {
				svc := NewService(l, s, nil, tickets, catalog, log.Named("queue"))
				svc.hub = NewHub(svc.readLine, cfg.Tick, log.Named("queue"))
				return svc
			},
			NewServer,
		),
		server.Serve("queue", cfg.Addr, queuev1connect.QueueServiceName, queuev1connect.NewQueueServiceHandler,
			queuev1connect.QueueServiceGetLineProcedure),
		// Appended after the server's hook, so it runs before it on stop: the
		// streams end, and the server's drain does not wait for them.
		fx.Invoke(func(lc fx.Lifecycle, s *Service) { lc.Append(fx.StopHook(s.hub.Stop)) }),
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
