// Package pgtest gives each test a fresh PostgreSQL schema: tests talk to the
// real server, run in parallel, and leave nothing behind.
//
// The server is $RUSH_POSTGRES_URL, or DefaultURL. When it is unreachable the
// test fails (never skips) with a one-line hint on how to start it.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookingrush/rush/schema"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"go.uber.org/zap"
)

// DefaultURL is the local development server (trust auth).
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// EnvURL names the environment variable that overrides DefaultURL.
const EnvURL = "RUSH_POSTGRES_URL"

// StartHint tells how to start the local server.
const StartHint = "start PostgreSQL with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (or set " + EnvURL + ")"

// URL returns the server the tests use.
func URL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// NewSchema creates a schema with a random name ("t_" + 16 hex digits) and
// returns a DSN whose connections use it as their only search_path, plus the
// schema name. The schema is dropped (CASCADE) when the test ends.
func NewSchema(t testing.TB) (dsn string, schemaName string) {
	t.Helper()
	base := URL()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("pgtest: random schema name: %v", err)
	}
	schemaName = "t_" + hex.EncodeToString(b[:])
	admin := open(t, base)
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		t.Fatalf("pgtest: PostgreSQL unreachable at %s: %v; %s", redact(base), firstLine(err), StartHint)
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schemaName); err != nil {
		t.Fatalf("pgtest: create schema %s: %v", schemaName, err)
	}
	t.Cleanup(func() {
		db := open(t, base)
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schemaName+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schemaName, err)
		}
	})
	return WithSearchPath(base, schemaName), schemaName
}

// Migrated is NewSchema with every migration of package schema applied; it
// returns the DSN.
//
// The first call of a test binary migrates its schema with schema.Migrate,
// as the binary does. Later calls make the same schema in about a seventh of
// the time under -race (atlas's parsing of every file dominated the suite's
// set-up): they run the migration files as one script in one
// transaction, and record the revisions the first call's Migrate wrote, so a
// later Migrate or Status on the schema finds it up to date as it would.
// Package schema's own tests check Migrate itself.
func Migrated(t testing.TB) (dsn string) {
	t.Helper()
	dsn, _ = NewSchema(t)
	db := open(t, dsn)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first := false
	template.once.Do(func() {
		first = true
		template.script, template.revisions, template.err = migrateTemplate(ctx, db)
	})
	switch {
	case template.err != nil:
		t.Fatalf("pgtest: migrate: %v", template.err)
	case !first:
		if err := replay(ctx, db, template.script, template.revisions); err != nil {
			t.Fatalf("pgtest: migrate (replaying the migrations as one script): %v", err)
		}
	}
	return dsn
}

// template is what the first Migrated call of a test binary learnt: the
// migration files as one script, and the revisions schema.Migrate recorded
// (a JSON array of the revision table's rows).
var template struct {
	once      sync.Once
	script    string
	revisions []byte
	err       error
}

// migrateTemplate migrates db's schema with schema.Migrate and answers the
// migrations as one script and the revisions Migrate recorded.
func migrateTemplate(ctx context.Context, db *sql.DB) (script string, revisions []byte, err error) {
	if _, err := schema.Migrate(ctx, db, zap.NewNop()); err != nil {
		return "", nil, err
	}
	dir, err := schema.Dir()
	if err != nil {
		return "", nil, err
	}
	files, err := dir.Files()
	if err != nil {
		return "", nil, err
	}
	var b strings.Builder
	for _, f := range files {
		b.Write(f.Bytes())
		b.WriteString("\n;\n")
	}
	err = db.QueryRowContext(ctx, `SELECT json_agg(r ORDER BY version) FROM `+schema.RevisionTable+` r`).Scan(&revisions)
	return b.String(), revisions, err
}

// replay brings db's fresh schema to what migrateTemplate's Migrate made of
// its own, in one transaction: the script, the revision table, its rows.
func replay(ctx context.Context, db *sql.DB, script string, revisions []byte) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	// No arguments: pgx sends it with the simple protocol, every statement of the script at once.
	if _, err := tx.ExecContext(ctx, script); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, schema.CreateRevisionTable); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+schema.RevisionTable+` SELECT * FROM json_populate_recordset(NULL::`+schema.RevisionTable+`, $1)`,
		string(revisions)); err != nil {
		return err
	}
	return tx.Commit()
}

// Open opens a *sql.DB (pgx driver) on dsn and closes it when the test ends.
// Register it after NewSchema/Migrated, so it closes before the schema drops.
func Open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db := open(t, dsn)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Strings runs q, whose rows are one text each, and answers them in order;
// any error fails the test.
func Strings(t testing.TB, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("pgtest: %s: %v", q, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("pgtest: %s: %v", q, err)
	}
	return out
}

// WithSearchPath returns dsn (URL or key=value form) with search_path set to
// schemaName; pgx sends unknown parameters to the server as run-time settings.
func WithSearchPath(dsn, schemaName string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schemaName)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " search_path=" + schemaName
}

func open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("pgtest: bad PostgreSQL DSN %s: %v", redact(dsn), err)
	}
	return db
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	return passwordKV.ReplaceAllString(dsn, "password=xxxxx")
}

var passwordKV = regexp.MustCompile(`password=\S+`)

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// Writers runs write from n goroutines at once, rounds times in each (as n
// consumers of a topic's partitions would), and fails the test with the
// first error: for transactions that must not deadlock each other.
func Writers(t testing.TB, n, rounds int, write func() error) {
	t.Helper()
	errc := make(chan error, n)
	for range n {
		go func() {
			for range rounds {
				if err := write(); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range n {
		if err := <-errc; err != nil {
			t.Fatalf("a concurrent write failed: %v", err)
		}
	}
}
