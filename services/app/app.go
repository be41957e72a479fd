// Package app assembles the rush binary: the table of components (targets),
// the dependencies each one uses, and the fx application that runs the
// selected ones in one process, as Grafana Mimir and Loki do.
package app

import (
	"context"
	"net/http"
	"net/http/pprof"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/edge"
	"github.com/bookingrush/rush/schema"
	"github.com/bookingrush/rush/services/analytics"
	"github.com/bookingrush/rush/services/auth"
	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/catalog"
	"github.com/bookingrush/rush/services/gate"
	"github.com/bookingrush/rush/services/notify"
	"github.com/bookingrush/rush/services/payment"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/health"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/logging"
	"github.com/bookingrush/rush/services/platform/mail"
	"github.com/bookingrush/rush/services/platform/postgres"
	"github.com/bookingrush/rush/services/platform/redisx"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/platform/telemetry"
	"github.com/bookingrush/rush/services/platform/ticket"
	"github.com/bookingrush/rush/services/queue"
	"github.com/bookingrush/rush/services/saga"
)

// dependency is an external system a component needs reachable to be ready.
type dependency string

const (
	usesPostgres dependency = "postgres"
	usesRedis    dependency = "redis"
	usesKafka    dependency = "kafka"
)

// component is one -target: its fx module and what it depends on.
type component struct {
	name   string
	uses   []dependency
	module func(*Config) fx.Option
}

// components lists every target in start order; the edge comes last so the
// services it calls are listening before it accepts traffic.
var components = []component{
	{"auth", []dependency{usesPostgres, usesRedis, usesKafka}, func(c *Config) fx.Option { return auth.Module(c.Auth, c.Admin) }},
	{"catalog", []dependency{usesPostgres, usesRedis, usesKafka}, func(c *Config) fx.Option { return catalog.Module(c.Catalog) }},
	{"booking", []dependency{usesPostgres, usesRedis, usesKafka}, func(c *Config) fx.Option { return booking.Module(c.Booking) }},
	{"relay", []dependency{usesRedis, usesKafka}, func(c *Config) fx.Option { return booking.RelayModule(c.Booking) }},
	{"persister", []dependency{usesPostgres, usesKafka}, func(c *Config) fx.Option { return booking.PersisterModule(c.Booking) }},
	{"payment", []dependency{usesPostgres, usesKafka}, func(c *Config) fx.Option { return payment.Module(c.Payment, c.Stripe) }},
	{"saga", []dependency{usesPostgres, usesKafka}, func(c *Config) fx.Option { return saga.Module(c.Saga) }},
	{"notify", []dependency{usesPostgres, usesKafka}, func(c *Config) fx.Option { return notify.Module(c.Notify, c.SMTP) }},
	{"analytics", []dependency{usesPostgres, usesKafka}, func(c *Config) fx.Option { return analytics.Module(c.Analytics) }},
	{"gate", []dependency{usesPostgres, usesKafka}, func(c *Config) fx.Option { return gate.Module(c.Gate) }},
	{"queue", []dependency{usesPostgres, usesRedis}, func(c *Config) fx.Option { return queue.Module(c.Queue, c.Booking.KeyPrefix) }},
	{"admitter", []dependency{usesPostgres, usesRedis}, func(c *Config) fx.Option { return queue.AdmitterModule(c.Queue, c.Booking.KeyPrefix) }},
	{"edge", []dependency{usesRedis}, func(c *Config) fx.Option { return edge.Module(c.Edge, c.RateLimit) }},
}

// Targets lists the component names -target accepts (besides "all").
func Targets() []string {
	names := make([]string, len(components))
	for i, c := range components {
		names[i] = c.name
	}
	return names
}

func byName(name string) (component, bool) {
	i := slices.IndexFunc(components, func(c component) bool { return c.name == name })
	if i < 0 {
		return component{}, false
	}
	return components[i], true
}

// StopTimeout bounds a process's stop after SIGTERM: the Kafka consumers
// leave their groups (all at once, so their partitions move on), servers
// drain (server.shutdown-timeout, which must be shorter), relays stop. The
// Helm chart's terminationGracePeriodSeconds must exceed its preStop sleep
// plus this.
const StopTimeout = 30 * time.Second

// New builds the fx application for cfg's targets. extra options are appended
// (tests use fx.Populate to reach the server registry).
func New(cfg *Config, extra ...fx.Option) *fx.App {
	names, err := resolve(cfg.Target)
	if err != nil {
		return fx.New(fx.Error(err))
	}
	opts := []fx.Option{
		fx.StartTimeout(60 * time.Second),
		fx.StopTimeout(StopTimeout),
		fx.Supply(cfg.Log, cfg.Telemetry, cfg.Server, cfg.Peers, cfg.JWT, cfg.Postgres, cfg.Redis, cfg.Kafka),
		fx.Provide(authn.NewKeys, ticket.NewSigner),
		logging.Module, telemetry.Module, health.Module, server.Module,
		postgres.Module, redisx.Module, kafka.Module,
		// Before the components: every server verifies tokens with it, and
		// its first read of the feed happens before they listen.
		authn.RevocationsModule,
	}
	uses := map[dependency]bool{}
	for _, n := range names {
		c, _ := byName(n)
		for _, d := range c.uses {
			uses[d] = true
		}
	}
	if uses[usesPostgres] {
		opts = append(opts, fx.Provide(health.AsCheck(func(p *pgxpool.Pool) health.Check {
			return health.Check{Name: "postgres", Fn: func(ctx context.Context) error { return postgres.Ping(ctx, p) }}
		})))
		if cfg.Postgres.MigrateOnStart {
			// A module of its own: fx runs the invokes of child modules (the
			// components) before the root's, and the migration hook must be
			// appended, and so run, before any component's OnStart.
			opts = append(opts, fx.Module("migrate", fx.Invoke(migrateOnStart)))
		}
	}
	if uses[usesRedis] {
		opts = append(opts, fx.Provide(health.AsCheck(func(r *redis.Client) health.Check {
			return health.Check{Name: "redis", Fn: func(ctx context.Context) error { return redisx.Ping(ctx, r) }}
		})))
	}
	if uses[usesKafka] {
		opts = append(opts, fx.Provide(health.AsCheck(func(k *kafka.Cluster) health.Check {
			return health.Check{Name: "kafka", Fn: k.Ping}
		})))
		if len(names) < len(components) && len(cfg.Kafka.Brokers) == 0 {
			opts = append(opts, fx.Invoke(func(log *zap.Logger) { warnPrivateKafka(log, names) }))
		}
	}
	if cfg.SMTP.DevMailbox {
		opts = append(opts, fx.Provide(mail.NewMailbox))
	}
	opts = append(opts, fx.Invoke(func(lc fx.Lifecycle, d server.Deps, reg *prometheus.Registry, dev devMailbox) {
		server.Listen(lc, d, "metrics", cfg.Metrics.Addr, opsHandler(cfg.Metrics, d.Health, reg, dev.Mailbox))
	}))
	for _, n := range names {
		c, _ := byName(n)
		opts = append(opts, c.module(cfg))
	}
	if uses[usesKafka] {
		// A root invoke runs after the components' (child modules'), so
		// this hook runs before theirs on stop: every consumer leaves its
		// group at once instead of one after another.
		opts = append(opts, fx.Invoke(func(lc fx.Lifecycle, k *kafka.Cluster) {
			lc.Append(fx.Hook{OnStop: k.StopConsumers})
		}))
	}
	opts = append(opts, fx.Invoke(func(log *zap.Logger) { log.Info("rush starting", zap.Strings("components", names)) }))
	return fx.New(append(opts, extra...)...)
}

// warnPrivateKafka says that a process running only some components has
// its own in-process broker: what it publishes reaches only its own
// consumers, and it hears nothing the others publish (unless they use this
// broker's fixed kafka.embedded-addr as their kafka.brokers). Fine for one
// process in development and tests; a deployment split over several
// processes needs kafka.brokers (the Helm chart refuses an empty list).
func warnPrivateKafka(log *zap.Logger, names []string) {
	log.Warn("kafka.brokers is empty: this process runs only some components, on an in-process Kafka broker of its own; "+
		"other processes neither receive what it publishes nor send it theirs; development only, set RUSH_KAFKA_BROKERS", zap.Strings("components", names))
}

// migrateOnStart creates the database when it is missing (a fresh machine)
// and applies pending migrations, before any component starts.
func migrateOnStart(lc fx.Lifecycle, cfg postgres.Config, pool *pgxpool.Pool, log *zap.Logger) {
	lc.Append(fx.StartHook(func(ctx context.Context) error {
		if err := postgres.EnsureDatabase(ctx, cfg, log); err != nil {
			return err
		}
		if err := postgres.Ping(ctx, pool); err != nil {
			return err
		}
		db := stdlib.OpenDBFromPool(pool)
		defer db.Close()
		_, err := schema.Migrate(ctx, db, log)
		return err
	}))
}

// devMailbox is the dev mailbox, provided only with smtp.dev-mailbox.
type devMailbox struct {
	fx.In
	Mailbox *mail.Mailbox `optional:"true"`
}

// opsHandler serves the operations endpoints of one process, and the dev
// mailbox when there is one.
func opsHandler(cfg MetricsConfig, checker *health.Checker, reg *prometheus.Registry, mailbox *mail.Mailbox) http.Handler {
	mux := http.NewServeMux()
	if mailbox != nil {
		mux.Handle(mail.MailboxPath+"/", mailbox.Handler())
		mux.Handle(mail.MailboxPath, mailbox.Handler())
	}
	mux.Handle("GET /metrics", telemetry.MetricsHandler(reg))
	mux.Handle("GET /healthz", checker.LivenessHandler())
	mux.Handle("GET /readyz", checker.ReadinessHandler())
	if cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}
