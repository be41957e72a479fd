package main

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/bookingrush/rush/services/platform/postgres"
)

// openDB opens a database/sql handle (what the atlas library speaks) on the
// configured database and checks it answers.
func openDB(ctx context.Context, cfg postgres.Config) (*sql.DB, error) {
	pc, err := pgx.ParseConfig(cfg.URL.Reveal())
	if err != nil {
		return nil, err
	}
	pc.ConnectTimeout = cfg.ConnectTimeout
	db := stdlib.OpenDB(*pc)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, postgres.PingError(err, pc)
	}
	return db, nil
}
