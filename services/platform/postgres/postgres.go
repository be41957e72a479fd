// Package postgres provides the pgx connection pool every component shares.
package postgres

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/telemetry"
)

// DefaultURL is the local development database (trust auth, database test).
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Config locates the database.
type Config struct {
	URL            config.URL    `yaml:"url"`
	MaxConns       int           `yaml:"max_conns"`
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	MigrateOnStart bool          `yaml:"migrate_on_start"`
}

// RegisterFlags registers postgres.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	config.URLVar(f, &c.URL, "postgres.url", DefaultURL, "PostgreSQL URL (a search_path=... parameter selects a schema)")
	f.IntVar(&c.MaxConns, "postgres.max-conns", 16, "pool size per process")
	f.DurationVar(&c.ConnectTimeout, "postgres.connect-timeout", 5*time.Second, "time allowed to connect")
	f.BoolVar(&c.MigrateOnStart, "postgres.migrate-on-start", true, "apply schema migrations when the process starts (dev default; the Helm chart runs a Job instead)")
}

// Validate checks that the URL parses.
func (c *Config) Validate() error {
	if _, err := pgxpool.ParseConfig(c.URL.Reveal()); err != nil {
		return fmt.Errorf("postgres.url: %w", err)
	}
	if c.MaxConns < 1 {
		return fmt.Errorf("postgres.max-conns: %d must be at least 1", c.MaxConns)
	}
	return nil
}

// Hint is the one line a newcomer needs when the local server is down.
const Hint = "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (or set RUSH_POSTGRES_URL)"

// NewPool opens the pool lazily; Ping (used by readiness) reports
// reachability. When tracing is on, queries and batches run under a
// recording span get child spans (SQL text without parameters); without
// tracing no tracer is installed at all.
func NewPool(lc fx.Lifecycle, cfg Config, log *zap.Logger, tp trace.TracerProvider) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL.Reveal())
	if err != nil {
		return nil, fmt.Errorf("postgres.url: %w", err)
	}
	pc.MaxConns = int32(cfg.MaxConns)
	pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	if telemetry.Enabled(tp) {
		// Metrics come from Prometheus, not from an OpenTelemetry meter.
		pc.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(telemetry.ChildOnly(tp)),
			otelpgx.WithMeterProvider(metricnoop.NewMeterProvider()), otelpgx.WithDisableAcquireTracer())
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(pool.Close))
	log.Debug("postgres pool", zap.String("host", pc.ConnConfig.Host), zap.String("database", pc.ConnConfig.Database))
	return pool, nil
}

// Ping checks the database answers, with a one-line hint when it does not.
func Ping(ctx context.Context, pool *pgxpool.Pool) error {
	if err := pool.Ping(ctx); err != nil {
		return PingError(err)
	}
	return nil
}

// PingError wraps a connection failure with the hint.
func PingError(err error) error {
	return fmt.Errorf("postgres unreachable (%v); %s", err, Hint)
}

// Module provides *pgxpool.Pool.
var Module = fx.Module("postgres", fx.Provide(NewPool))
