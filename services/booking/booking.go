// Package booking is the booking engine: atomic reservations in Redis,
// expiring holds, confirmation and cancellation, and the path from Redis to
// everything else (stream -> relay -> Kafka -> persister -> Postgres).
//
// Layers: handlers (server.go) translate; rules live in service.go; Redis
// decisions are the Lua scripts of lua/ run by engine.go; SQL in store.go;
// the background workers are sweeper.go, relay.go and persister.go.
package booking

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/gate/v1/gatev1connect"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/server"
)

// Config is the booking component's configuration.
type Config struct {
	// Addr is where the BookingService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
	// HoldTTL is how long a reservation holds seats before they come back.
	HoldTTL time.Duration `yaml:"hold_ttl"`
	// IdempotencyTTL is how long an Idempotency-Key replays its booking.
	IdempotencyTTL time.Duration `yaml:"idempotency_ttl"`
	// KeyPrefix prefixes every Redis key of the engine.
	KeyPrefix string `yaml:"key_prefix"`
	// RedisTimeout bounds one engine call (a reserve is one script).
	RedisTimeout time.Duration `yaml:"redis_timeout"`
	// SweepInterval is how often due holds are released; a hold comes back
	// at most this long (plus one sweep) after its deadline.
	SweepInterval time.Duration `yaml:"sweep_interval"`
	// RelayBatch is the most stream entries relayed to Kafka at once.
	RelayBatch int `yaml:"relay_batch"`
	// RelayScan is how often the relay looks for entries in every loaded
	// event's stream; between scans it reads only the streams the scripts
	// announced (relay.go).
	RelayScan time.Duration `yaml:"relay_scan"`
	// RelayGather is how long the relay lets a busy event's stream gather
	// entries between two reads (relay.go).
	RelayGather time.Duration `yaml:"relay_gather"`
	// DrainTimeout bounds the wait for relay and persister before a rebuild.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// ReserveBatch is the most concurrent reserves of one event that one
	// reserve.lua call decides (1: each alone).
	ReserveBatch int `yaml:"reserve_batch"`
	// WaitlistOfferTTL is how long a waitlist offer (a hold created for the
	// next buyer in line) waits for its payment before it passes on.
	WaitlistOfferTTL time.Duration `yaml:"waitlist_offer_ttl"`
	// WaitlistRetention is how long the record of a waitlist place that
	// ended (waitlist_entries' rows with ended_at) is kept before it is
	// deleted; 0 keeps them forever.
	WaitlistRetention time.Duration `yaml:"waitlist_retention"`
}

// RegisterFlags registers booking.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "booking.addr", server.DefaultAddr("booking"), "listen address of the BookingService")
	f.DurationVar(&c.HoldTTL, "booking.hold-ttl", 10*time.Minute, "how long a reservation holds seats unpaid")
	f.DurationVar(&c.IdempotencyTTL, "booking.idempotency-ttl", 24*time.Hour, "how long an Idempotency-Key replays its booking")
	f.StringVar(&c.KeyPrefix, "booking.key-prefix", "bk:", "prefix of the booking engine's Redis keys")
	f.DurationVar(&c.RedisTimeout, "booking.redis-timeout", 2*time.Second, "time allowed for one booking-engine call to Redis")
	f.DurationVar(&c.SweepInterval, "booking.sweep-interval", 500*time.Millisecond, "how often due holds are released")
	f.IntVar(&c.RelayBatch, "booking.relay-batch", 500, "most stream entries relayed to Kafka in one batch")
	f.DurationVar(&c.RelayScan, "booking.relay-scan", time.Second, "how often the relay looks for entries in every loaded event's stream (between scans it reads the streams the scripts announce; the scan catches an announcement lost while the relay reconnected)")
	f.DurationVar(&c.RelayGather, "booking.relay-gather", 20*time.Millisecond, "how long the relay lets a busy event's stream gather entries between two reads (each read costs a stream read, a Kafka produce, an acknowledgement and a persister transaction however many entries it carries; an entry in a quiet stream is read at once, on its notice)")
	f.DurationVar(&c.DrainTimeout, "booking.drain-timeout", 30*time.Second, "longest wait for relay and persister before an inventory rebuild")
	f.IntVar(&c.ReserveBatch, "booking.reserve-batch", 64, "most concurrent reserves of one event decided by one Redis script call (1: each alone; batches form only under load)")
	f.DurationVar(&c.WaitlistOfferTTL, "booking.waitlist-offer-ttl", 30*time.Minute, "how long a waitlist offer (a hold created for the next buyer in line) waits for payment before it passes on")
	f.DurationVar(&c.WaitlistRetention, "booking.waitlist-retention", 30*24*time.Hour, "how long the record of a waitlist place that ended (left, offered, closed, its account deleted) is kept in Postgres before it is deleted, checked hourly (0: kept forever; else at least 1h)")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.HoldTTL < time.Second {
		errs = append(errs, fmt.Errorf("booking.hold-ttl: %v is shorter than a second", c.HoldTTL))
	}
	if c.WaitlistOfferTTL < time.Second {
		errs = append(errs, fmt.Errorf("booking.waitlist-offer-ttl: %v is shorter than a second", c.WaitlistOfferTTL))
	}
	if c.WaitlistRetention < 0 || (c.WaitlistRetention > 0 && c.WaitlistRetention < time.Hour) {
		// An ended record must outlive the join it ends, whose record may
		// arrive after it (waitlist_records.go).
		errs = append(errs, fmt.Errorf("booking.waitlist-retention: %v must be 0 (kept forever) or at least 1h", c.WaitlistRetention))
	}
	if c.IdempotencyTTL < c.HoldTTL {
		errs = append(errs, errors.New("booking.idempotency-ttl: must be at least booking.hold-ttl"))
	}
	if c.SweepInterval <= 0 || c.SweepInterval > time.Second {
		errs = append(errs, fmt.Errorf("booking.sweep-interval: %v must be in (0, 1s] so holds return within 2s", c.SweepInterval))
	}
	if c.RelayBatch < 1 || c.RelayScan <= 0 || c.RelayGather <= 0 || c.RedisTimeout <= 0 || c.DrainTimeout <= 0 || c.ReserveBatch < 1 {
		errs = append(errs, errors.New("booking.relay-batch, booking.relay-scan, booking.relay-gather, booking.redis-timeout, booking.drain-timeout and booking.reserve-batch must be positive"))
	}
	if c.KeyPrefix == "" {
		errs = append(errs, errors.New("booking.key-prefix: must not be empty"))
	}
	errs = append(errs, server.ValidateAddr("booking.addr", c.Addr))
	return errors.Join(errs...)
}

func newEngine(cfg Config, rdb *redis.Client) *Engine {
	return NewEngine(rdb, cfg.KeyPrefix, cfg.HoldTTL, cfg.IdempotencyTTL, cfg.ReserveBatch)
}

// ensureTopic creates booking.events when the process starts.
func ensureTopic(lc fx.Lifecycle, cluster *kafka.Cluster) {
	lc.Append(fx.StartHook(func(ctx context.Context) error {
		return cluster.EnsureTopics(ctx, kafka.TopicSpec{Name: TopicBookingEvents})
	}))
}

// shared provides what every booking target needs, privately to the
// target's module: several booking targets may run in one process.
func shared(cfg Config) fx.Option {
	return fx.Options(
		fx.Supply(cfg, fx.Private),
		fx.Provide(fx.Private, newEngine, NewStore),
		fx.Invoke(ensureTopic),
	)
}

// Module serves the BookingService on cfg.Addr and sweeps due holds.
func Module(cfg Config) fx.Option {
	return fx.Module("booking",
		shared(cfg),
		fx.Provide(fx.Private, NewService, NewServer),
		// Whether a booking was paid, and the refunds of confirmed bookings,
		// are the payment service's.
		fx.Provide(fx.Private, func(mesh *server.Mesh) Payments {
			return NewPayments(server.Dial(mesh, "booking", "payment", paymentv1connect.NewPaymentServiceClient))
		}),
		// Whether a confirmed booking's tickets were used at the door is
		// the gate service's.
		fx.Provide(fx.Private, func(mesh *server.Mesh) Gate {
			return NewGate(server.Dial(mesh, "booking", "gate", gatev1connect.NewGateServiceClient))
		}),
		fx.Invoke(func(lc fx.Lifecycle, eng *Engine, svc *Service, log *zap.Logger) {
			sw := NewSweeper(eng, cfg.SweepInterval, log)
			lc.Append(fx.Hook{OnStart: sw.Start, OnStop: sw.Stop})
			// Holds of an event whose keys Redis lost come back although
			// no call of that event starts its rebuild.
			lw := newLostWatcher(svc, time.Second, cfg.WaitlistRetention, log)
			lc.Append(fx.Hook{OnStart: lw.Start, OnStop: lw.Stop})
			lc.Append(fx.StartHook(func(ctx context.Context) { warnWithoutAOF(ctx, eng.rdb, log) }))
		}),
		server.Serve("booking", cfg.Addr, bookingv1connect.BookingServiceName, bookingv1connect.NewBookingServiceHandler),
	)
}

// warnWithoutAOF says, once at start, when Redis does not keep an
// append-only file: a crash would then lose every hold since the last
// snapshot, not at most a second of them (README.md, "Money"). A Redis that
// hides CONFIG (managed services) gets no warning.
func warnWithoutAOF(ctx context.Context, rdb *redis.Client, log *zap.Logger) {
	v, err := rdb.ConfigGet(ctx, "appendonly").Result()
	if err == nil && v["appendonly"] == "no" {
		log.Warn("Redis runs without an append-only file: a Redis crash loses every unpaid hold since its last snapshot; production needs appendonly yes, appendfsync everysec (deploy/k8s/rush/README.md, \"Redis persistence\")")
	}
}

// RelayModule runs the stream relay (the "relay" target).
func RelayModule(cfg Config) fx.Option {
	return fx.Module("relay",
		shared(cfg),
		fx.Invoke(func(lc fx.Lifecycle, eng *Engine, p *kafka.Producer, reg prometheus.Registerer, tp trace.TracerProvider, log *zap.Logger) error {
			r := NewRelay(eng, p, TopicBookingEvents, cfg.RelayBatch, cfg.RelayScan, cfg.RelayGather, tp, log)
			lc.Append(fx.Hook{OnStart: r.Start, OnStop: r.Stop})
			return kafka.RegisterRelayBacklog(reg, "booking-stream", eng.RelayBacklog)
		}),
	)
}

// PersisterModule runs the persister (the "persister" target).
func PersisterModule(cfg Config) fx.Option {
	return fx.Module("persister",
		shared(cfg),
		fx.Invoke(func(lc fx.Lifecycle, c *kafka.Cluster, db *pgxpool.Pool, reg prometheus.Registerer, log *zap.Logger) error {
			p, err := NewPersister(db, reg, log)
			if err != nil {
				return err
			}
			r := c.NewBatchRunner(PersisterGroup, PersisterTopics, p.Handle, kafka.BatchOptions{})
			lc.Append(fx.Hook{OnStart: r.Start, OnStop: r.Stop})
			return nil
		}),
	)
}
