package pgtest

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bookingrush/rush/schema"
)

// A schema Migrated made (by schema.Migrate for a binary's first one, by its
// replayed script for every later one) is the schema schema.Migrate makes:
// the same tables, columns, constraints, indexes, functions, triggers, rows
// and revisions, and Migrate finds it up to date.
func TestMigratedIsWhatMigrateMakes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	Migrated(t) // the binary's first, when no other test ran before
	replayed := Migrated(t)

	wantDSN, want := NewSchema(t)
	wantDB := Open(t, wantDSN)
	if _, err := schema.Migrate(ctx, wantDB, zap.NewNop()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	db := Open(t, replayed)
	var got string
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if g, w := describe(t, db, got), describe(t, wantDB, want); g != w {
		t.Errorf("the replayed schema differs from what Migrate makes:\n--- replayed\n%s\n--- migrated\n%s", g, w)
	}
	applied, err := schema.Migrate(ctx, db, zap.NewNop())
	if err != nil || len(applied) != 0 {
		t.Errorf("Migrate on the replayed schema applied %v, %v; want nothing, nil", applied, err)
	}
	if _, pending, err := schema.Status(ctx, db); err != nil || len(pending) != 0 {
		t.Errorf("Status of the replayed schema: pending %v, %v; want none", pending, err)
	}
}

// describe lists what a schema holds, its own name written as "S".
func describe(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	queries := []string{
		`SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
			FROM information_schema.columns WHERE table_schema = $1`,
		`SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
			FROM pg_constraint WHERE connamespace = $1::regnamespace`,
		`SELECT indexdef FROM pg_indexes WHERE schemaname = $1`,
		`SELECT p.proname || ' ' || pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.pronamespace = $1::regnamespace`,
		`SELECT tgrelid::regclass::text || ' ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
			AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = $1::regnamespace)`,
		`SELECT c.relname || ' ' || c.relkind::text FROM pg_class c WHERE c.relnamespace = $1::regnamespace`,
		// The rows each table holds (migrations insert some: the default
		// tenant, the categories), less their random ids and times (the revisions' too).
		`SELECT c.relname || ' ' || (xpath('/row/r/text()', query_to_xml(format(
				$$SELECT md5(coalesce(string_agg(r::text, ',' ORDER BY r::text), '')) AS r
				  FROM (SELECT to_jsonb(t) - 'id' - 'created_at' - 'updated_at' - 'executed_at' - 'execution_time' AS r FROM %I.%I t) x$$, $1, c.relname),
				false, true, '')))[1]::text
			FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r'`,
		`SELECT version || ' ' || description || ' ' || type || ' ' || applied || ' ' || total || ' ' || coalesce(error, '') || ' ' || hash || ' ' ||
			coalesce(partial_hashes::text, '') || ' ' || operator_version FROM ` + name + `.` + schema.RevisionTable,
	}
	var out []string
	for _, q := range queries {
		for _, l := range Strings(t, db, strings.ReplaceAll(q, "$1", "'"+name+"'")) {
			out = append(out, strings.ReplaceAll(l, name, "S"))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
