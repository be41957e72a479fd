// Package schema owns the PostgreSQL schema of Booking Rush: versioned SQL
// migrations in atlas format (migrations/*.sql plus the atlas.sum integrity
// file), embedded in the binary and applied with the ariga.io/atlas library.
//
// Migrations are never schema-qualified: they apply to the first schema of the
// connection's search_path, and so does the revision table
// (atlas_schema_revisions). Each migration file runs in its own transaction.
package schema

//go:generate go run ./internal/sumgen

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"go.uber.org/zap"
)

// DefaultTenantID is the id of the tenant row every migration run creates
// (slug "default"); rows without an explicit tenant belong to it.
const DefaultTenantID = "00000000-0000-0000-0000-000000000001"

// RevisionTable is the table, in the current schema, that records which
// migrations were applied (same columns as the atlas CLI's table).
const RevisionTable = "atlas_schema_revisions"

// LockTimeout bounds how long Migrate waits for another process that is
// migrating the same schema.
const LockTimeout = 2 * time.Minute

//go:embed migrations/*.sql migrations/atlas.sum
var migrationsFS embed.FS

// Dir returns the embedded migration directory (the .sql files and atlas.sum).
func Dir() (migrate.Dir, error) {
	return DirFS(migrationsFS, "migrations")
}

// DirFS loads the migration directory root of fsys into memory. It is how a
// copy of the migrations (e.g. an edited one in a test) becomes a migrate.Dir.
func DirFS(fsys fs.FS, root string) (migrate.Dir, error) {
	entries, err := fs.ReadDir(fsys, root)
	if err != nil {
		return nil, fmt.Errorf("schema: read migration directory: %w", err)
	}
	dir := &migrate.MemDir{}
	for _, e := range entries {
		if e.IsDir() || (path.Ext(e.Name()) != ".sql" && e.Name() != migrate.HashFileName) {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(root, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("schema: read migration %s: %w", e.Name(), err)
		}
		if err := dir.WriteFile(e.Name(), b); err != nil {
			return nil, err
		}
	}
	return dir, nil
}

// ErrIntegrity is wrapped by every error about a migration directory that does
// not match its atlas.sum, or about applied migrations that were edited since.
var ErrIntegrity = errors.New("schema: migration integrity check failed")

// Validate checks dir against its atlas.sum and names the offending file.
func Validate(dir migrate.Dir) error {
	err := migrate.Validate(dir)
	var cerr *migrate.ChecksumError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &cerr):
		return fmt.Errorf("%w: %s was %s since atlas.sum was computed (line %d of atlas.sum); "+
			"if the change is intended and the migration was never applied anywhere, "+
			"recompute the sum with `go generate ./schema`", ErrIntegrity, cerr.File, cerr.Reason, cerr.Line)
	case errors.Is(err, migrate.ErrChecksumNotFound):
		return fmt.Errorf("%w: atlas.sum is missing; run `go generate ./schema`", ErrIntegrity)
	case errors.Is(err, migrate.ErrChecksumFormat), errors.Is(err, migrate.ErrChecksumMismatch):
		return fmt.Errorf("%w: atlas.sum is malformed or was edited by hand (%w); run `go generate ./schema`", ErrIntegrity, err)
	default:
		return fmt.Errorf("schema: validate migration directory: %w", err)
	}
}

// Migrate applies all pending embedded migrations to the database reached by
// db (in the first schema of its search_path) and returns the versions it
// applied, in order. It is safe to call concurrently from several replicas
// (a session advisory lock per schema serialises them) and a no-op when
// everything is applied. A nil log discards logs.
func Migrate(ctx context.Context, db *sql.DB, log *zap.Logger) ([]string, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	return MigrateDir(ctx, db, dir, log)
}

// MigrateDir is Migrate for an arbitrary migration directory.
func MigrateDir(ctx context.Context, db *sql.DB, dir migrate.Dir, log *zap.Logger) (applied []string, err error) {
	if log == nil {
		log = zap.NewNop()
	}
	if err := Validate(dir); err != nil {
		return nil, err
	}
	// One connection carries the lock and every migration transaction, so a
	// pool limited to a single connection cannot deadlock against itself.
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("schema: connect: %w", err)
	}
	healthy := true
	defer func() {
		if !healthy {
			// The session may still hold the advisory lock: never return it to the pool.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}()
	// current_schema() is NULL when no schema of the search_path exists.
	var cur sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT current_schema()").Scan(&cur); err != nil {
		return nil, fmt.Errorf("schema: read current schema: %w", err)
	}
	current := cur.String
	if current == "" {
		return nil, errors.New("schema: no schema of the search_path exists; create it first")
	}
	log = log.With(zap.String("schema", current))
	drv, err := postgres.Open(conn)
	if err != nil {
		return nil, fmt.Errorf("schema: open atlas driver: %w", err)
	}
	unlock, err := drv.Lock(ctx, "rush/schema:"+current, LockTimeout)
	if err != nil {
		return nil, fmt.Errorf("schema: lock schema %q for migration: %w", current, err)
	}
	defer func() {
		if uerr := unlock(); uerr != nil {
			healthy = false
			log.Warn("releasing the migration lock failed; dropping the connection", zap.Error(uerr))
		}
	}()
	if _, err := conn.ExecContext(ctx, CreateRevisionTable); err != nil {
		return nil, fmt.Errorf("schema: create %s: %w", RevisionTable, err)
	}
	if err := checkApplied(ctx, conn, current, dir); err != nil {
		return nil, err
	}
	for {
		version, done, err := applyNext(ctx, conn, current, dir, log)
		if err != nil {
			return applied, err
		}
		if done {
			break
		}
		applied = append(applied, version)
	}
	if len(applied) == 0 {
		log.Debug("schema is up to date")
	} else {
		log.Info("schema migrated", zap.Strings("applied", applied))
	}
	return applied, nil
}

// applyNext applies the first pending migration file in its own transaction
// with an atlas Executor bound to that transaction. done reports that
// nothing was pending.
func applyNext(ctx context.Context, conn *sql.Conn, current string, dir migrate.Dir, log *zap.Logger) (version string, done bool, err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return "", false, fmt.Errorf("schema: begin: %w", err)
	}
	defer func() {
		if err != nil || done {
			_ = tx.Rollback()
		}
	}()
	ex, err := newExecutor(tx, current, dir, log)
	if err != nil {
		return "", false, err
	}
	pending, err := ex.Pending(ctx)
	if errors.Is(err, migrate.ErrNoPendingFiles) {
		return "", true, nil
	}
	if err != nil {
		return "", false, explain(err)
	}
	f := pending[0]
	if lf, ok := f.(*migrate.LocalFile); ok && slices.Contains(lf.Directive("txmode"), "none") {
		return "", false, fmt.Errorf("schema: %s: atlas:txmode none is not supported; every migration runs in a transaction", f.Name())
	}
	start := time.Now()
	if err := ex.Execute(ctx, f); err != nil {
		return "", false, fmt.Errorf("schema: apply %s (rolled back): %w", f.Name(), err)
	}
	if err := tx.Commit(); err != nil {
		return "", false, fmt.Errorf("schema: commit %s: %w", f.Name(), err)
	}
	log.Info("applied migration", zap.String("file", f.Name()), zap.Duration("took", time.Since(start)))
	return f.Version(), false, nil
}

func newExecutor(q querier, current string, dir migrate.Dir, log *zap.Logger) (*migrate.Executor, error) {
	drv, err := postgres.Open(q)
	if err != nil {
		return nil, fmt.Errorf("schema: open atlas driver: %w", err)
	}
	return migrate.NewExecutor(
		&schemaDriver{Driver: drv, q: q, schema: current},
		dir,
		&revisions{q: q, schema: current},
		migrate.WithLogger(atlasLogger{log}),
	)
}

// Status reports the versions applied to the current schema and the versions
// still pending. It takes no lock and changes nothing.
func Status(ctx context.Context, db *sql.DB) (applied, pending []string, err error) {
	dir, err := Dir()
	if err != nil {
		return nil, nil, err
	}
	return StatusDir(ctx, db, dir)
}

// StatusDir is Status for an arbitrary migration directory.
func StatusDir(ctx context.Context, db *sql.DB, dir migrate.Dir) (applied, pending []string, err error) {
	if err := Validate(dir); err != nil {
		return nil, nil, err
	}
	var current string
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&current); err != nil {
		return nil, nil, fmt.Errorf("schema: read current schema: %w", err)
	}
	rrw := &revisions{q: db, schema: current}
	revs, err := rrw.ReadRevisions(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range revs {
		if r.Applied == r.Total && r.Error == "" {
			applied = append(applied, r.Version)
		}
	}
	ex, err := newExecutor(db, current, dir, zap.NewNop())
	if err != nil {
		return nil, nil, err
	}
	files, err := ex.Pending(ctx)
	if err != nil && !errors.Is(err, migrate.ErrNoPendingFiles) {
		return nil, nil, explain(err)
	}
	for _, f := range files {
		pending = append(pending, f.Version())
	}
	return applied, pending, nil
}

// checkApplied fails when a migration that is recorded as applied no longer
// matches its file (an edit after the fact, re-summed), or is gone.
func checkApplied(ctx context.Context, q querier, current string, dir migrate.Dir) error {
	revs, err := (&revisions{q: q, schema: current}).ReadRevisions(ctx)
	if err != nil {
		return err
	}
	sum, err := dir.Checksum()
	if err != nil {
		return fmt.Errorf("schema: compute checksums: %w", err)
	}
	for _, r := range revs {
		if r.Type == migrate.RevisionTypeBaseline || r.Hash == "" {
			continue
		}
		name := r.Version + "_" + r.Description + ".sql"
		h, err := sum.SumByName(name)
		if err != nil {
			return fmt.Errorf("%w: migration %s is applied to schema %q but its file is missing", ErrIntegrity, name, current)
		}
		if h != r.Hash {
			return fmt.Errorf("%w: migration %s (or one before it) was edited after it was applied to schema %q; "+
				"never edit an applied migration, add a new one", ErrIntegrity, name, current)
		}
	}
	return nil
}

// explain turns atlas errors about the directory into ErrIntegrity errors.
func explain(err error) error {
	var cerr *migrate.ChecksumError
	if errors.As(err, &cerr) || errors.Is(err, migrate.ErrChecksumMismatch) || errors.Is(err, migrate.ErrChecksumNotFound) {
		return fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	return fmt.Errorf("schema: %w", err)
}

// querier is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// schemaDriver narrows atlas's clean check to the current schema. The stock
// driver, opened on a *sql.DB, inspects every schema of the database, so any
// other schema (other services', other tests') makes it "not clean".
type schemaDriver struct {
	migrate.Driver
	q      querier
	schema string
}

// ScanStmts keeps atlas's PostgreSQL statement scanner (dollar quotes, BEGIN
// ATOMIC): the executor only uses it when the driver implements it.
func (d *schemaDriver) ScanStmts(input string) ([]*migrate.Stmt, error) {
	return d.Driver.(migrate.StmtScanner).ScanStmts(input)
}

// CheckClean implements migrate.CleanChecker for the current schema only: a
// schema that has tables but no revisions was not made by these migrations,
// and is refused rather than partially overwritten.
func (d *schemaDriver) CheckClean(ctx context.Context, rev *migrate.TableIdent) error {
	rows, err := d.q.QueryContext(ctx,
		`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name <> $2 ORDER BY 1`,
		d.schema, rev.Name)
	if err != nil {
		return fmt.Errorf("schema: check that %q is clean: %w", d.schema, err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return err
		}
		tables = append(tables, t)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(tables) > 0 {
		return &migrate.NotCleanError{Reason: fmt.Sprintf(
			"schema %q has tables (%s) but no migration history in %s", d.schema, strings.Join(tables, ", "), RevisionTable)}
	}
	return nil
}

type atlasLogger struct{ log *zap.Logger }

// Log implements migrate.Logger.
func (l atlasLogger) Log(e migrate.LogEntry) {
	switch e := e.(type) {
	case migrate.LogFile:
		if e.Skip > 0 {
			l.log.Info("resuming migration", zap.String("file", e.File.Name()), zap.Int("skip_statements", e.Skip))
		} else {
			l.log.Debug("applying migration", zap.String("file", e.File.Name()))
		}
	case migrate.LogStmt:
		l.log.Debug("migration statement", zap.String("sql", e.SQL))
	case migrate.LogError:
		l.log.Error("migration failed", zap.String("sql", e.SQL), zap.Error(e.Error))
	}
}
