package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"
)

// missingDatabase is Postgres' invalid_catalog_name: the URL's database
// does not exist on a server that answered.
const missingDatabase = "3D000"

// MissingDatabase reports whether err says the database does not exist.
func MissingDatabase(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == missingDatabase
}

// EnsureDatabase creates the database of cfg.URL when the server answers
// that it does not exist, connecting to the server's "postgres" database
// with the same credentials: on a fresh machine `make run` (which migrates
// on start) needs no createdb first. Any other failure is returned as is,
// for Ping to explain.
func EnsureDatabase(ctx context.Context, cfg Config, log *zap.Logger) error {
	pc, err := pgx.ParseConfig(cfg.URL.Reveal())
	if err != nil {
		return fmt.Errorf("postgres.url: %w", err)
	}
	pc.ConnectTimeout = cfg.ConnectTimeout
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err == nil {
		return conn.Close(ctx)
	}
	if !MissingDatabase(err) {
		return nil // unreachable or refused: Ping says so, with its hint
	}
	name := pc.Database
	admin := pc.Copy()
	admin.Database = "postgres"
	conn, err = pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("postgres: database %q does not exist and cannot be created (%w); %s", name, err, createHint(pc))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P04" { // duplicate_database: another process won
		return nil
	}
	if err != nil {
		return fmt.Errorf("postgres: create database %q: %w; %s", name, err, createHint(pc))
	}
	log.Info("created the database, which did not exist", zap.String("database", name), zap.String("host", pc.Host))
	return nil
}

// createHint is the one command that creates cfg's database.
func createHint(pc *pgx.ConnConfig) string {
	return fmt.Sprintf("create it with: createdb -h %s -p %d -U %s %s", pc.Host, pc.Port, pc.User, pc.Database)
}
