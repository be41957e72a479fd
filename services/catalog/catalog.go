// Package catalog owns events, shows, seat zones and categories: organizer-owned, draft to published to cancelled, with a Redis-cached read path.
//
// Layers: the handlers (handler.go) only translate; the rules (who may do
// what, the life cycle, publish and its inventory load) live in service.go;
// SQL in store.go; the read cache in cache.go; the calls to the booking
// engine in inventory.go.
package catalog

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/gen/bookingrush/catalog/v1/catalogv1connect"
	"github.com/bookingrush/rush/services/platform/background"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/platform/topic"
)

// Config is the catalog component's configuration.
type Config struct {
	// Addr is where the CatalogService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
	// CachePrefix starts every Redis key of the read cache, so several
	// deployments (or tests) can share one Redis.
	CachePrefix string `yaml:"cache_prefix"`
	// CacheTTL bounds how long a cached read lives; invalidation on change
	// is what keeps it fresh, the TTL only bounds what a lost invalidation
	// (Redis unreachable at write time) can leave stale.
	CacheTTL time.Duration `yaml:"cache_ttl"`
	// AvailabilityTimeout is how long a zone or show listing waits for the
	// booking engine's live counts before it answers the Postgres counters.
	AvailabilityTimeout time.Duration `yaml:"availability_timeout"`
	// InventoryTimeout is how long publish and cancel wait for the booking
	// engine to (re)load an event's inventory.
	InventoryTimeout time.Duration `yaml:"inventory_timeout"`
	// CancelRetry is how often the catalog finishes the cancellations that
	// did not (sales stopped in the booking engine, paid bookings
	// refunded), once they are that old.
	CancelRetry time.Duration `yaml:"cancel_retry"`
}

// RegisterFlags registers catalog.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "catalog.addr", server.DefaultAddr("catalog"), "listen address of the CatalogService")
	f.StringVar(&c.CachePrefix, "catalog.cache-prefix", "catalog:", "prefix of the catalog's Redis cache keys")
	f.DurationVar(&c.CacheTTL, "catalog.cache-ttl", 30*time.Second, "lifetime of a cached catalog read (changes invalidate at once)")
	f.DurationVar(&c.AvailabilityTimeout, "catalog.availability-timeout", 500*time.Millisecond, "wait for live seat counts before answering the Postgres counters")
	f.DurationVar(&c.InventoryTimeout, "catalog.inventory-timeout", 10*time.Second, "wait for the booking engine to load an event's inventory on publish and cancel")
	f.DurationVar(&c.CancelRetry, "catalog.cancel-retry", 30*time.Second, "how often a cancellation that did not finish (sales stopped, paid bookings refunded) is retried, once it is that old")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if err := server.ValidateAddr("catalog.addr", c.Addr); err != nil {
		errs = append(errs, err)
	}
	if c.CachePrefix == "" {
		errs = append(errs, errors.New("catalog.cache-prefix: must not be empty (the cache shares Redis with the booking engine)"))
	}
	if c.CacheTTL < time.Second || c.CacheTTL > time.Hour {
		errs = append(errs, fmt.Errorf("catalog.cache-ttl: %v is outside [1s, 1h]", c.CacheTTL))
	}
	if c.AvailabilityTimeout <= 0 || c.InventoryTimeout <= 0 || c.CancelRetry <= 0 {
		errs = append(errs, errors.New("catalog.availability-timeout, catalog.inventory-timeout and catalog.cancel-retry must be positive"))
	}
	return errors.Join(errs...)
}

// Module serves the CatalogService on cfg.Addr and keeps the zone counters
// from booking.events (counters.go).
func Module(cfg Config) fx.Option {
	return fx.Module("catalog",
		fx.Supply(cfg),
		fx.Provide(fx.Private, NewStore, NewCache, NewInventory, NewService),
		fx.Provide(NewServer),
		fx.Invoke(func(lc fx.Lifecycle, c *kafka.Cluster, db *pgxpool.Pool, log *zap.Logger) {
			lc.Append(fx.StartHook(func(ctx context.Context) error {
				return c.EnsureTopics(ctx, kafka.TopicSpec{Name: topic.BookingEvents})
			}))
			h := &counters{db: db, log: log.Named("catalog-counters")}
			r := c.NewBatchRunner(CountersGroup, CountersTopics, h.handle, kafka.BatchOptions{})
			lc.Append(fx.Hook{OnStart: r.Start, OnStop: r.Stop})
		}),
		fx.Invoke(func(lc fx.Lifecycle, svc *Service) {
			t := background.New(func(ctx context.Context) { finishCancellations(ctx, svc, cfg.CancelRetry) })
			lc.Append(fx.Hook{OnStart: t.Start, OnStop: t.Stop})
		}),
		server.Serve("catalog", cfg.Addr, catalogv1connect.CatalogServiceName, catalogv1connect.NewCatalogServiceHandler,
			// Callable without a token:
			catalogv1connect.CatalogServiceListEventsProcedure,
			catalogv1connect.CatalogServiceGetEventProcedure,
			catalogv1connect.CatalogServiceListShowsProcedure,
			catalogv1connect.CatalogServiceListZonesProcedure,
			catalogv1connect.CatalogServiceListCategoriesProcedure,
		),
	)
}

// finishCancellations settles, every retry, the cancellations that did not
// finish and are at least retry old (Service.FinishCancellations).
func finishCancellations(ctx context.Context, svc *Service, retry time.Duration) {
	t := time.NewTicker(retry)
	defer t.Stop()
	for background.Wait(ctx, t, nil) {
		if _, err := svc.FinishCancellations(ctx, retry); err != nil {
			svc.log.Warn("unfinished cancellations not read; retried later", zap.Error(err))
		}
	}
}
