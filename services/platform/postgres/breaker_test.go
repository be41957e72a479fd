package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/breaker"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/faulttest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/postgres"
)

func TestBreakerFailsFastAndRecovers(t *testing.T) {
	t.Parallel()
	dsn, _ := pgtest.NewSchema(t)
	proxy, through := faulttest.PostgresProxy(t, dsn)
	lc := fxtest.NewLifecycle(t)
	pool, err := postgres.NewPool(lc, postgres.Config{
		URL: config.URL(through), MaxConns: 4, ConnectTimeout: time.Second,
		Breaker: breaker.Config{Failures: 3, ProbeInterval: 100 * time.Millisecond},
	}, zap.NewNop(), noop.NewTracerProvider(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	lc.RequireStart()
	t.Cleanup(lc.RequireStop)
	ctx := context.Background()
	query := func() error {
		var n int
		return pool.QueryRow(ctx, `SELECT 1`).Scan(&n)
	}
	calls := map[string]func() error{
		"query": query,
		"tx": func() error {
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { _, err := tx.Exec(ctx, `SELECT 1`); return err })
		},
		"batch": func() error {
			return pool.SendBatch(ctx, &pgx.Batch{QueuedQueries: []*pgx.QueuedQuery{{SQL: `SELECT 1`}}}).Close()
		},
	}
	for name, call := range calls {
		if err := call(); err != nil {
			t.Fatalf("%s before the cut: %v", name, err)
		}
	}
	// An answer that is an error keeps the breaker closed.
	for range 5 {
		if _, err := pool.Exec(ctx, `SELECT no_such_column`); err == nil || postgres.Unreachable(err) {
			t.Fatalf("a bad query: %v", err)
		}
	}

	proxy.Cut()
	opened := false
	for range 20 {
		err := query()
		if err == nil {
			t.Fatal("a query succeeded through a cut proxy")
		}
		if !postgres.Unreachable(err) {
			t.Fatalf("cut: %v is not Unreachable", err)
		}
		if errors.Is(err, breaker.ErrOpen) {
			opened = true
			break
		}
	}
	if !opened {
		t.Fatal("the breaker did not open")
	}
	for name, call := range calls {
		began := time.Now()
		if err := call(); !errors.Is(err, breaker.ErrOpen) {
			t.Errorf("%s while open: %v", name, err)
		}
		// Fast is "no dial": far below the 1 s connect timeout, with room
		// for -race on a machine busy with the other packages (5 ms failed
		// once at 8.5 ms there).
		if d := time.Since(began); d > 100*time.Millisecond {
			t.Errorf("%s while open took %v", name, d)
		}
	}

	proxy.Restore()
	deadline := time.Now().Add(10 * time.Second)
	for query() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery: %v", query())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for name, call := range calls {
		if err := call(); err != nil {
			t.Errorf("%s after recovery: %v", name, err)
		}
	}
}
