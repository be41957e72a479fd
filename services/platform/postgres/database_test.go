package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/postgres"
)

// TestEnsureDatabaseCreatesAMissingOne: a fresh server without the URL's
// database gets it created (make run on a fresh machine), and a second call
// changes nothing.
func TestEnsureDatabaseCreatesAMissingOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	name := fmt.Sprintf("rush_ensure_%d", time.Now().UnixNano())
	var cfg postgres.Config
	cfg.URL = config.URL("postgres://postgres@127.0.0.1:5432/" + name + "?sslmode=disable")
	cfg.ConnectTimeout = 5 * time.Second
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
		if err == nil {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = conn.Close(ctx)
		}
	})
	_, err := pgx.Connect(ctx, cfg.URL.Reveal())
	if !postgres.MissingDatabase(err) {
		t.Fatalf("before: want a missing database, got %v", err)
	}
	pc, perr := pgx.ParseConfig(cfg.URL.Reveal())
	if perr != nil {
		t.Fatal(perr)
	}
	if msg, want := postgres.PingError(err, pc).Error(), "createdb -h 127.0.0.1 -p 5432 -U postgres "+name; !strings.Contains(msg, want) {
		t.Errorf("the hint for a missing database does not say how to create this one (%s): %s", want, msg)
	}
	for range 2 {
		if err := postgres.EnsureDatabase(ctx, cfg, zap.NewNop()); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, cfg.URL.Reveal())
	if err != nil {
		t.Fatalf("after: %v", err)
	}
	_ = conn.Close(ctx)
}
