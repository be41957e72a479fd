package schema_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"ariga.io/atlas/sql/migrate"
	"github.com/bookingrush/rush/schema"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap/zaptest"
)

var allTables = []string{
	"tenants", "users", "refresh_tokens", "password_reset_tokens", "categories", "events", "shows",
	"seat_zones", "bookings", "payments", "payment_webhook_events", "outbox", "processed_events",
	"dead_letters", "sagas", "saga_steps", "notifications", "audit_logs", "audit_logs_default",
	"analytics_event_daily", "analytics_event_hourly", schema.RevisionTable,
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// embeddedVersions lists the versions of the embedded migrations.
func embeddedVersions(t *testing.T) []string {
	t.Helper()
	dir, err := schema.Dir()
	if err != nil {
		t.Fatal(err)
	}
	files, err := dir.Files()
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, f := range files {
		vs = append(vs, f.Version())
	}
	if len(vs) == 0 {
		t.Fatal("no embedded migrations")
	}
	return vs
}

func TestMigrateFreshSchemaThenNoop(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	dsn, name := pgtest.NewSchema(t)
	db := pgtest.Open(t, dsn)
	want := embeddedVersions(t)

	applied, pending, err := schema.Status(ctx, db)
	if err != nil || len(applied) != 0 || !slices.Equal(pending, want) {
		t.Fatalf("Status before: applied=%v pending=%v err=%v; want pending %v", applied, pending, err, want)
	}

	// public may hold a dev database's tables (make run migrates it), so
	// compare its table count before and after rather than expect none.
	publicTables := func() (n int) {
		if err := db.QueryRowContext(ctx,
			`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	publicBefore := publicTables()

	got, err := schema.Migrate(ctx, db, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Migrate applied %v, want %v", got, want)
	}

	for _, table := range allTables {
		var n int
		if err := db.QueryRowContext(ctx,
			`SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, name, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("table %s missing from schema %s", table, name)
		}
	}
	// Nothing leaked into public.
	if after := publicTables(); after != publicBefore {
		t.Errorf("public had %d tables before the migration and %d after", publicBefore, after)
	}

	var slug string
	if err := db.QueryRowContext(ctx, `SELECT slug FROM tenants WHERE id = $1`, schema.DefaultTenantID).Scan(&slug); err != nil || slug != "default" {
		t.Errorf("default tenant: slug=%q err=%v", slug, err)
	}

	again, err := schema.Migrate(ctx, db, zaptest.NewLogger(t))
	if err != nil || len(again) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing applied", again, err)
	}
	applied, pending, err = schema.Status(ctx, db)
	if err != nil || !slices.Equal(applied, want) || len(pending) != 0 {
		t.Fatalf("Status after: applied=%v pending=%v err=%v", applied, pending, err)
	}
}

func TestMigrateConcurrentReplicas(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	dsn, _ := pgtest.NewSchema(t)
	const replicas = 4
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied []string
		errs    []error
	)
	for range replicas {
		db := pgtest.Open(t, dsn) // a pool per replica, as separate processes would have
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := schema.Migrate(ctx, db, nil)
			mu.Lock()
			defer mu.Unlock()
			applied = append(applied, got...)
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent Migrate failed: %v", errors.Join(errs...))
	}
	slices.Sort(applied)
	if want := embeddedVersions(t); !slices.Equal(applied, want) {
		t.Fatalf("versions applied across replicas = %v, want each of %v exactly once", applied, want)
	}
	db := pgtest.Open(t, dsn)
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+schema.RevisionTable).Scan(&n); err != nil || n != len(embeddedVersions(t)) {
		t.Fatalf("revisions = %d (%v)", n, err)
	}
}

func TestMigrateRefusesForeignSchema(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	dsn, _ := pgtest.NewSchema(t)
	db := pgtest.Open(t, dsn)
	if _, err := db.ExecContext(ctx, `CREATE TABLE legacy (id int)`); err != nil {
		t.Fatal(err)
	}
	_, err := schema.Migrate(ctx, db, nil)
	var nc *migrate.NotCleanError
	if !errors.As(err, &nc) || !strings.Contains(err.Error(), "legacy") {
		t.Fatalf("Migrate on a schema with foreign tables = %v, want a NotCleanError naming the table", err)
	}
}

// TestMigrateNamesAMissingSchema: a search_path naming no schema that
// exists (a typo in postgres.url) gets the error that says so, not a scan
// error of current_schema()'s NULL.
func TestMigrateNamesAMissingSchema(t *testing.T) {
	t.Parallel()
	dsn, name := pgtest.NewSchema(t)
	db := pgtest.Open(t, pgtest.WithSearchPath(dsn, name+"_missing"))
	if _, err := schema.Migrate(ctxT(t), db, nil); err == nil || !strings.Contains(err.Error(), "no schema of the search_path exists") {
		t.Fatalf("Migrate with a search_path naming no schema = %v, want the error that says so", err)
	}
}

// fixture holds one row of each parent table, for constraint tests.
type fixture struct {
	tenant, user, event, show, zone, booking, payment string
}

func seed(t *testing.T, ctx context.Context, db *sql.DB) fixture {
	t.Helper()
	f := fixture{tenant: schema.DefaultTenantID}
	q := func(dst *string, query string, args ...any) {
		t.Helper()
		if err := db.QueryRowContext(ctx, query, args...).Scan(dst); err != nil {
			t.Fatalf("seed %q: %v", query, err)
		}
	}
	q(&f.user, `INSERT INTO users (email, password_hash, full_name, role) VALUES ('Org@Example.com', 'x', 'Org', 'organizer') RETURNING id`)
	q(&f.event, `INSERT INTO events (organizer_id, title, slug, status, sale_start_at, sale_end_at)
		VALUES ($1, 'Rush', 'rush-2026', 'published', now(), now() + interval '1 day') RETURNING id`, f.user)
	q(&f.show, `INSERT INTO shows (event_id, show_date) VALUES ($1, now() + interval '30 days') RETURNING id`, f.event)
	q(&f.zone, `INSERT INTO seat_zones (show_id, name, price, total_seats, available_seats) VALUES ($1, 'A', 49.90, 100, 100) RETURNING id`, f.show)
	q(&f.booking, `INSERT INTO bookings (reservation_id, user_id, event_id, show_id, zone_id, quantity, unit_price, total_amount, expires_at)
		VALUES ('idem-1', $1, $2, $3, $4, 2, 49.90, 99.80, now() + interval '10 minutes') RETURNING id`, f.user, f.event, f.show, f.zone)
	q(&f.payment, `INSERT INTO payments (booking_id, user_id, amount, status, provider_payment_id)
		VALUES ($1, $2, 99.80, 'succeeded', 'sim_1') RETURNING id`, f.booking, f.user)
	return f
}

func TestConstraintsRejectBadStates(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	db := pgtest.Open(t, pgtest.Migrated(t))
	f := seed(t, ctx, db)

	mustExec := func(query string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	mustExec(`INSERT INTO sagas (payment_id, booking_id, deadline_at) VALUES ($1, $2, now() + interval '1 minute')`, f.payment, f.booking)
	mustExec(`INSERT INTO processed_events (consumer, event_id) VALUES ('persister', 'b1:2')`)
	mustExec(`INSERT INTO payment_webhook_events (provider, provider_event_id, event_type) VALUES ('stripe', 'evt_1', 'payment_intent.succeeded')`)

	const (
		check  = "23514"
		unique = "23505"
		fk     = "23503"
	)
	cases := []struct {
		name, code, query string
		args              []any
	}{
		{"zone available above total", check, `UPDATE seat_zones SET available_seats = total_seats + 1 WHERE id = $1`, []any{f.zone}},
		{"zone available below zero", check, `UPDATE seat_zones SET available_seats = -1 WHERE id = $1`, []any{f.zone}},
		{"zone counters not adding up", check, `UPDATE seat_zones SET available_seats = available_seats - 1 WHERE id = $1`, []any{f.zone}},
		{"zone held negative", check, `UPDATE seat_zones SET held_seats = -1, available_seats = available_seats + 1 WHERE id = $1`, []any{f.zone}},
		{"zone price zero", check, `UPDATE seat_zones SET price = 0 WHERE id = $1`, []any{f.zone}},
		{"zone name duplicate in show", unique, `INSERT INTO seat_zones (show_id, name, price, total_seats, available_seats) VALUES ($1, 'A', 10, 1, 1)`, []any{f.show}},
		{"show available above total", check, `UPDATE shows SET available_seats = total_seats + 1 WHERE id = $1`, []any{f.show}},
		{"show available below zero", check, `UPDATE shows SET available_seats = -1 WHERE id = $1`, []any{f.show}},
		{"booking quantity zero", check, `UPDATE bookings SET quantity = 0, total_amount = 0 WHERE id = $1`, []any{f.booking}},
		{"booking unknown status", check, `UPDATE bookings SET status = 'pending' WHERE id = $1`, []any{f.booking}},
		{"booking amount not price times quantity", check, `UPDATE bookings SET total_amount = 1.00 WHERE id = $1`, []any{f.booking}},
		{"booking confirmed without confirmed_at", check, `UPDATE bookings SET status = 'confirmed' WHERE id = $1`, []any{f.booking}},
		{"booking zone of an unknown event", fk, `INSERT INTO booking_zones (zone_id, event_id, show_id, price, total_seats, available_seats)
			VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 1, 1, 1)`, nil},
		{"payment negative refund", check, `UPDATE payments SET refunded_amount = -1 WHERE id = $1`, []any{f.payment}},
		{"payment refund above amount", check, `UPDATE payments SET status = 'refunded', refunded_amount = amount + 1 WHERE id = $1`, []any{f.payment}},
		{"payment refunded but not in full", check, `UPDATE payments SET status = 'refunded', refunded_amount = 1 WHERE id = $1`, []any{f.payment}},
		{"payment unknown status", check, `UPDATE payments SET status = 'success' WHERE id = $1`, []any{f.payment}},
		{"payment amount zero", check, `UPDATE payments SET amount = 0 WHERE id = $1`, []any{f.payment}},
		{"payment provider id reused", unique, `INSERT INTO payments (booking_id, user_id, amount, provider_payment_id) VALUES ($1, $2, 1, 'sim_1')`, []any{f.booking, f.user}},
		{"event sale ends before it starts", check, `UPDATE events SET sale_end_at = sale_start_at - interval '1 second' WHERE id = $1`, []any{f.event}},
		{"event published without window", check, `UPDATE events SET sale_start_at = NULL WHERE id = $1`, []any{f.event}},
		{"event max_per_user above 10", check, `UPDATE events SET max_per_user = 11 WHERE id = $1`, []any{f.event}},
		{"event max_per_user zero", check, `UPDATE events SET max_per_user = 0 WHERE id = $1`, []any{f.event}},
		{"queue admit rate zero", check, `INSERT INTO queue_settings (event_id, admit_per_second) VALUES ($1, 0)`, []any{f.event}},
		{"booking zone counters not adding up", check, `WITH e AS (INSERT INTO booking_events (event_id, status, max_per_user) VALUES ($1, 'published', 4) RETURNING event_id)
			INSERT INTO booking_zones (zone_id, event_id, show_id, price, total_seats, available_seats, held_seats)
			SELECT gen_random_uuid(), event_id, gen_random_uuid(), 1, 10, 10, 1 FROM e`, []any{f.event}},
		{"event unknown status", check, `UPDATE events SET status = 'live' WHERE id = $1`, []any{f.event}},
		{"user email differs only in case", unique, `INSERT INTO users (email, password_hash) VALUES ('org@EXAMPLE.com', 'x')`, nil},
		{"user unknown role", check, `INSERT INTO users (email, password_hash, role) VALUES ('r@example.com', 'x', 'root')`, nil},
		{"second saga for a payment", unique, `INSERT INTO sagas (payment_id, booking_id, deadline_at) VALUES ($1, $2, now())`, []any{f.payment, f.booking}},
		{"saga unknown status", check, `UPDATE sagas SET status = 'done' WHERE payment_id = $1`, []any{f.payment}},
		{"processed event twice", unique, `INSERT INTO processed_events (consumer, event_id) VALUES ('persister', 'b1:2')`, nil},
		{"webhook event twice", unique, `INSERT INTO payment_webhook_events (provider, provider_event_id, event_type) VALUES ('stripe', 'evt_1', 'x')`, nil},
		{"notification negative attempts", check, `INSERT INTO notifications (kind, recipient, idempotency_key, attempts) VALUES ('k', 'a@b.c', 'n1', -1)`, nil},
		{"notification sent without sent_at", check, `INSERT INTO notifications (kind, recipient, idempotency_key, status) VALUES ('k', 'a@b.c', 'n2', 'sent')`, nil},
		{"analytics negative counter", check, `INSERT INTO analytics_event_daily (event_id, day, seats_sold) VALUES ($1, current_date, -1)`, []any{f.event}},
		{"analytics hour not on the hour", check, `INSERT INTO analytics_event_hourly (event_id, hour) VALUES ($1, '2026-11-25 10:30:00+00')`, []any{f.event}},
		{"refresh token replaced but not revoked", check, `INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, replaced_by)
			VALUES (gen_random_uuid(), $1, gen_random_uuid(), 'h', now() + interval '1 day', gen_random_uuid())`, []any{f.user}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := db.ExecContext(ctx, c.query, c.args...)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != c.code {
				t.Fatalf("got %v, want SQLSTATE %s", err, c.code)
			}
		})
	}
}

func TestShowCountersFollowZones(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	db := pgtest.Open(t, pgtest.Migrated(t))
	f := seed(t, ctx, db)
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	exec(`INSERT INTO seat_zones (show_id, name, price, total_seats, available_seats) VALUES ($1, 'B', 10, 50, 50)`, f.show)
	exec(`UPDATE seat_zones SET available_seats = available_seats - 7, held_seats = held_seats + 7 WHERE id = $1`, f.zone)
	exec(`DELETE FROM seat_zones WHERE show_id = $1 AND name = 'B'`, f.show)
	var total, avail int
	if err := db.QueryRowContext(ctx, `SELECT total_seats, available_seats FROM shows WHERE id = $1`, f.show).Scan(&total, &avail); err != nil {
		t.Fatal(err)
	}
	if total != 100 || avail != 93 {
		t.Fatalf("show counters = %d/%d, want 100/93 (the sum of its zones)", total, avail)
	}
}

func TestAuditLogPartitions(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	dsn := pgtest.Migrated(t)
	db := pgtest.Open(t, dsn)

	partitions := func() []string {
		t.Helper()
		return pgtest.Strings(t, db, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			 WHERE i.inhparent = 'audit_logs'::regclass ORDER BY 1`)
	}
	month := func(m int) time.Time {
		now := time.Now().UTC()
		return time.Date(now.Year(), now.Month()+time.Month(m), 1, 0, 0, 0, 0, time.UTC)
	}
	part := func(m int) string { return "audit_logs_" + month(m).Format("2006_01") }

	before := partitions()
	for _, want := range []string{"audit_logs_default", part(0), part(1), part(3)} {
		if !slices.Contains(before, want) {
			t.Fatalf("partitions %v lack %s", before, want)
		}
	}
	var created int
	if err := db.QueryRowContext(ctx, `SELECT ensure_audit_log_partitions(3)`).Scan(&created); err != nil || created != 0 {
		t.Fatalf("second ensure_audit_log_partitions(3) = %d, %v; want 0", created, err)
	}
	if after := partitions(); !slices.Equal(after, before) {
		t.Fatalf("partitions changed from %v to %v", before, after)
	}

	where := func(at time.Time) string {
		t.Helper()
		var rel string
		if err := db.QueryRowContext(ctx,
			`INSERT INTO audit_logs (action, entity_type, created_at, ip_address) VALUES ('test', 'event', $1, '10.0.0.1')
			 RETURNING tableoid::regclass::text`, at).Scan(&rel); err != nil {
			t.Fatal(err)
		}
		return rel
	}
	if got := where(time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)); got != "audit_logs_default" {
		t.Errorf("an old row landed in %s, want audit_logs_default", got)
	}
	if got := where(time.Now()); got != part(0) {
		t.Errorf("a current row landed in %s, want %s", got, part(0))
	}
	// A row written before its month had a partition moves there when it is created.
	if got := where(month(5).Add(time.Hour)); got != "audit_logs_default" {
		t.Fatalf("a row 5 months ahead landed in %s, want audit_logs_default", got)
	}
	if err := db.QueryRowContext(ctx, `SELECT ensure_audit_log_partitions(5)`).Scan(&created); err != nil || created != 2 {
		t.Fatalf("ensure_audit_log_partitions(5) = %d, %v; want 2 (months 4 and 5)", created, err)
	}
	var rel string
	if err := db.QueryRowContext(ctx, `SELECT tableoid::regclass::text FROM audit_logs WHERE created_at = $1`, month(5).Add(time.Hour)).Scan(&rel); err != nil || rel != part(5) {
		t.Fatalf("moved row is in %q (%v), want %s", rel, err, part(5))
	}
}

// migrationsCopy returns the on-disk migrations as an editable in-memory FS.
func migrationsCopy(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	src := os.DirFS("migrations")
	names, err := fs.Glob(src, "*")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b, err := fs.ReadFile(src, n)
		if err != nil {
			t.Fatal(err)
		}
		m["migrations/"+n] = &fstest.MapFile{Data: b}
	}
	return m
}

func dirOf(t *testing.T, m fstest.MapFS) migrate.Dir {
	t.Helper()
	dir, err := schema.DirFS(m, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// resum recomputes atlas.sum of m, as `go generate ./schema` would.
func resum(t *testing.T, m fstest.MapFS) {
	t.Helper()
	dir := dirOf(t, m)
	sum, err := dir.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	b, err := sum.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	m["migrations/atlas.sum"] = &fstest.MapFile{Data: b}
}

func TestEmbeddedMatchesDisk(t *testing.T) {
	t.Parallel()
	embedded, err := schema.Dir()
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(embedded); err != nil {
		t.Fatal(err)
	}
	a, _ := embedded.Checksum()
	b, _ := dirOf(t, migrationsCopy(t)).Checksum()
	if a.Sum() != b.Sum() {
		t.Fatal("embedded migrations differ from migrations/ on disk")
	}
}

func TestTamperedMigrationFails(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	dsn, _ := pgtest.NewSchema(t)
	db := pgtest.Open(t, dsn)

	const victim = "migrations/20261125000002_messaging.sql"
	m := migrationsCopy(t)
	m[victim] = &fstest.MapFile{Data: append(slices.Clone(m[victim].Data), "\nDROP TABLE outbox;\n"...)}
	_, err := schema.MigrateDir(ctx, db, dirOf(t, m), nil)
	if !errors.Is(err, schema.ErrIntegrity) || !strings.Contains(err.Error(), "20261125000002_messaging.sql was edited") {
		t.Fatalf("Migrate with an edited file = %v, want ErrIntegrity naming the file", err)
	}
	t.Logf("refused as expected: %v", err)

	m = migrationsCopy(t)
	delete(m, "migrations/20261125000001_core.sql")
	if _, err := schema.MigrateDir(ctx, db, dirOf(t, m), nil); !errors.Is(err, schema.ErrIntegrity) || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("Migrate with a removed file = %v, want ErrIntegrity", err)
	}

	m = migrationsCopy(t)
	delete(m, "migrations/atlas.sum")
	if _, err := schema.MigrateDir(ctx, db, dirOf(t, m), nil); !errors.Is(err, schema.ErrIntegrity) {
		t.Fatalf("Migrate without atlas.sum = %v, want ErrIntegrity", err)
	}

	// Nothing was applied by the refused runs.
	if _, pending, err := schema.Status(ctx, db); err != nil || len(pending) != len(embeddedVersions(t)) {
		t.Fatalf("after refused runs: pending=%v err=%v", pending, err)
	}
}

func TestEditedAfterApplyFails(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	db := pgtest.Open(t, pgtest.Migrated(t))
	const victim = "migrations/20261125000003_audit_analytics.sql"
	m := migrationsCopy(t)
	m[victim] = &fstest.MapFile{Data: append(slices.Clone(m[victim].Data), "\n-- quietly edited\n"...)}
	resum(t, m) // the sum is consistent again, but the database remembers
	_, err := schema.MigrateDir(ctx, db, dirOf(t, m), nil)
	if !errors.Is(err, schema.ErrIntegrity) || !strings.Contains(err.Error(), "edited after it was applied") {
		t.Fatalf("Migrate with an applied file edited = %v, want ErrIntegrity", err)
	}
	t.Logf("refused as expected: %v", err)
}

func TestFailedMigrationRollsBack(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	db := pgtest.Open(t, pgtest.Migrated(t))
	const next = "migrations/20991231000000_broken.sql"
	m := migrationsCopy(t)
	m[next] = &fstest.MapFile{Data: []byte("CREATE TABLE half_done (id int);\nINSERT INTO no_such_table VALUES (1);\n")}
	resum(t, m)
	applied, err := schema.MigrateDir(ctx, db, dirOf(t, m), nil)
	var se *migrate.StmtExecError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "20991231000000_broken.sql") || len(applied) != 0 {
		t.Fatalf("MigrateDir = %v, %v; want a statement error naming the file", applied, err)
	}
	t.Logf("failed as expected: %v", err)
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('half_done') IS NOT NULL`).Scan(&exists); err != nil || exists {
		t.Fatalf("half_done exists=%v (%v): the failed file was not rolled back", exists, err)
	}
	if _, pending, err := schema.StatusDir(ctx, db, dirOf(t, m)); err != nil || !slices.Equal(pending, []string{"20991231000000"}) {
		t.Fatalf("pending = %v (%v), want the broken file only", pending, err)
	}

	m[next] = &fstest.MapFile{Data: []byte("CREATE TABLE half_done (id int);\n")}
	resum(t, m)
	if applied, err := schema.MigrateDir(ctx, db, dirOf(t, m), nil); err != nil || !slices.Equal(applied, []string{"20991231000000"}) {
		t.Fatalf("fixed MigrateDir = %v, %v", applied, err)
	}
}
