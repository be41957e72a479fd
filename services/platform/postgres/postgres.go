// Package postgres provides the pgx connection pool every component shares.
package postgres

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/breaker"
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
	// Breaker fails every query fast while Postgres is unreachable (see
	// NewPool).
	Breaker breaker.Config `yaml:"breaker"`
}

// RegisterFlags registers postgres.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	config.URLVar(f, &c.URL, "postgres.url", DefaultURL, "PostgreSQL URL (a search_path=... parameter selects a schema)")
	f.IntVar(&c.MaxConns, "postgres.max-conns", 16, "pool size per process")
	f.DurationVar(&c.ConnectTimeout, "postgres.connect-timeout", 5*time.Second, "time allowed to connect")
	f.BoolVar(&c.MigrateOnStart, "postgres.migrate-on-start", true, "apply schema migrations when the process starts (dev default; the Helm chart runs a Job instead)")
	c.Breaker.RegisterFlags(f, "postgres.breaker", "Postgres")
}

// Validate checks that the URL parses.
func (c *Config) Validate() error {
	if _, err := pgxpool.ParseConfig(c.URL.Reveal()); err != nil {
		return fmt.Errorf("postgres.url: %w", err)
	}
	if c.MaxConns < 1 {
		return fmt.Errorf("postgres.max-conns: %d must be at least 1", c.MaxConns)
	}
	return c.Breaker.Validate("postgres.breaker")
}

// hint is the one line a newcomer needs when the server at pc does not
// answer: the command that starts the local server, or, for another host,
// which address was tried.
func hint(pc *pgx.ConnConfig) string {
	if local(pc.Host) {
		return "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (or set RUSH_POSTGRES_URL)"
	}
	return fmt.Sprintf("is the server at %s:%d up and reachable from here? (RUSH_POSTGRES_URL)", pc.Host, pc.Port)
}

// local says whether host is this machine (a Unix socket's directory, too).
func local(host string) bool {
	return host == "" || host == "localhost" || strings.HasPrefix(host, "/") || net.ParseIP(host).IsLoopback()
}

// NewPool opens the pool lazily; Ping (used by readiness) reports
// reachability. When tracing is on, queries and batches run under a
// recording span get child spans (SQL text without parameters).
//
// Every query, batch and copy goes through the pool's circuit breaker
// (package breaker, metrics labelled dependency="postgres"): after
// postgres.breaker.failures consecutive calls could not reach Postgres (see
// Unreachable: a refused or broken connection, a timeout; never an error
// Postgres answered), acquiring a connection fails at once with an error
// matching breaker.ErrOpen (StoreError and ConnectionError make it 503
// SERVICE_UNAVAILABLE, dependency postgres) until a Ping, sent every
// postgres.breaker.probe-interval, is answered.
func NewPool(lc fx.Lifecycle, cfg Config, log *zap.Logger, tp trace.TracerProvider, reg *prometheus.Registry) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL.Reveal())
	if err != nil {
		return nil, fmt.Errorf("postgres.url: %w", err)
	}
	pc.MaxConns = int32(cfg.MaxConns)
	pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	var (
		pool    *pgxpool.Pool
		tracers []pgx.QueryTracer
	)
	b, err := breaker.New("postgres", cfg.Breaker, outcome, func(ctx context.Context) error { return pool.Ping(ctx) }, log, reg)
	if err != nil {
		return nil, err
	}
	if b != nil {
		// A new connection is dialled in BeforeConnect's place, an idle one
		// handed out after PrepareConn: an open breaker refuses both.
		pc.BeforeConnect = func(ctx context.Context, _ *pgx.ConnConfig) error {
			if !b.Allow(ctx) {
				return b.Err()
			}
			return nil
		}
		pc.PrepareConn = func(ctx context.Context, _ *pgx.Conn) (bool, error) {
			if !b.Allow(ctx) {
				return true, b.Err() // the connection goes back to the pool
			}
			return true, nil
		}
		tracers = append(tracers, breakerTracer{b})
	}
	if telemetry.Enabled(tp) {
		// Metrics come from Prometheus, not from an OpenTelemetry meter.
		tracers = append(tracers, otelpgx.NewTracer(otelpgx.WithTracerProvider(telemetry.ChildOnly(tp)),
			otelpgx.WithMeterProvider(metricnoop.NewMeterProvider()), otelpgx.WithDisableAcquireTracer()))
	}
	switch len(tracers) {
	case 0:
	case 1:
		pc.ConnConfig.Tracer = tracers[0]
	default:
		pc.ConnConfig.Tracer = multitracer.New(tracers...)
	}
	pool, err = pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(func() {
		b.Close()
		pool.Close()
	}))
	log.Debug("postgres pool", zap.String("host", pc.ConnConfig.Host), zap.String("database", pc.ConnConfig.Database))
	return pool, nil
}

// Ping checks the database answers, with a one-line hint when it does not.
func Ping(ctx context.Context, pool *pgxpool.Pool) error {
	if err := pool.Ping(ctx); err != nil {
		return PingError(err, pool.Config().ConnConfig)
	}
	return nil
}

// PingError wraps a failure to reach the database of pc with the hint: the
// command that starts the server, or the one that creates a missing
// database, for the server and database configured.
func PingError(err error, pc *pgx.ConnConfig) error {
	if MissingDatabase(err) {
		return fmt.Errorf("postgres: the database does not exist (%w); %s (or set RUSH_POSTGRES_URL; with postgres.migrate-on-start, the default, rush creates it itself)", err, createHint(pc))
	}
	return fmt.Errorf("postgres unreachable (%w); %s", err, hint(pc))
}

// Module provides *pgxpool.Pool.
var Module = fx.Module("postgres", fx.Provide(NewPool))
