package bookingref_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/platform/bookingref"
	"github.com/bookingrush/rush/services/platform/pgtest"
)

// TestOfMatchesPostgres: the Go reference and Postgres's booking_reference
// are the same, booking_reference_parse reads one back into the bits
// booking_reference_bits takes from the id, and so does the Go Parse (any
// case, with or without dashes; what Postgres refuses, Parse refuses), and references of ids
// made in the same millisecond differ (they come from the random bits).
func TestOfMatchesPostgres(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, pgtest.Migrated(t))
	seen := map[string]bool{}
	for range 200 {
		id := uuid.Must(uuid.NewV7()).String()
		var want string
		var same bool
		if err := db.QueryRowContext(context.Background(), `SELECT booking_reference($1),
			booking_reference_parse(booking_reference($1)) = booking_reference_bits($1)
			AND booking_reference_parse(lower(replace(booking_reference($1), '-', ''))) = booking_reference_bits($1)`, id).Scan(&want, &same); err != nil {
			t.Fatal(err)
		}
		if !same {
			t.Fatalf("booking_reference_parse(%q) is not the bits of %s", want, id)
		}
		got := bookingref.Of(id)
		if got != want || len(got) != 17 {
			t.Fatalf("Of(%s) = %q, Postgres %q", id, got, want)
		}
		var bits int64
		if err := db.QueryRowContext(context.Background(), `SELECT booking_reference_bits($1)`, id).Scan(&bits); err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{got, strings.ToLower(got), strings.ReplaceAll(got, "-", ""), strings.ToLower(strings.ReplaceAll(got, "-", ""))} {
			if b, ok := bookingref.Parse(ref); !ok || b != bits {
				t.Fatalf("Parse(%q) = %d, %v; Postgres's bits of %s are %d", ref, b, ok, id, bits)
			}
		}
		if seen[got] {
			t.Fatalf("reference %s given twice", got)
		}
		seen[got] = true
	}
	if got := bookingref.Of("not-a-uuid"); got != "" {
		t.Fatalf("Of(not-a-uuid) = %q", got)
	}
	if got := bookingref.Of("00000000-0000-7000-8000-000000000000"); got != "BR-0000-0000-0000" {
		t.Fatalf("zero bits: %q", got)
	}
	for _, ref := range []string{"", "BR-", "XX-0000-0000-0000", "BR-0000-0000-000U", "BR-0000-0000-00000"} {
		var bits *int64
		if err := db.QueryRowContext(context.Background(), `SELECT booking_reference_parse($1)`, ref).Scan(&bits); err != nil {
			t.Fatal(err)
		}
		if bits != nil {
			t.Fatalf("booking_reference_parse(%q) = %d, want NULL", ref, *bits)
		}
		if b, ok := bookingref.Parse(ref); ok {
			t.Fatalf("Parse(%q) = %d, want not a reference", ref, b)
		}
	}
}

// TestReferenceIsUniqueInPostgres: two bookings whose references would be
// the same cannot both be stored, and a booking is found by its reference
// through the index.
func TestReferenceIsUniqueInPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Open(t, pgtest.Migrated(t))
	insert := func(id string) error {
		_, err := db.ExecContext(ctx, `INSERT INTO bookings (id, reservation_id, user_id, event_id, show_id, zone_id,
			quantity, unit_price, total_amount, status, version, expires_at)
			VALUES ($1::uuid, $1::text, gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(),
			1, 10, 10, 'reserved', 1, now() + interval '10 minutes')`, id)
		return err
	}
	// Same 60 random bits (the last 15 hex digits), different ids.
	first, clash := "0190a1b2-c3d4-7e5f-8a12-3456789abcde", "0190a1b2-c3d4-7e5f-9a12-3456789abcde"
	if bookingref.Of(first) != bookingref.Of(clash) {
		t.Fatal("the two ids must share their reference")
	}
	if err := insert(first); err != nil {
		t.Fatal(err)
	}
	var pgErr *pgconn.PgError
	if err := insert(clash); !errors.As(err, &pgErr) || pgErr.Code != "23505" || pgErr.ConstraintName != "bookings_reference_key" {
		t.Fatalf("a second booking with reference %s: %v, want a unique violation of bookings_reference_key", bookingref.Of(first), err)
	}
	var found string
	if err := db.QueryRowContext(ctx, `SELECT id::text FROM bookings
		WHERE booking_reference_bits(id) = booking_reference_parse($1)`, bookingref.Of(first)).Scan(&found); err != nil || found != first {
		t.Fatalf("booking by reference %s: %q, %v", bookingref.Of(first), found, err)
	}
	var plan strings.Builder
	rows, err := db.QueryContext(ctx, `EXPLAIN SELECT id FROM bookings
		WHERE booking_reference_bits(id) = booking_reference_parse('`+bookingref.Of(first)+`')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if !strings.Contains(plan.String(), "bookings_reference_key") {
		t.Fatalf("a lookup by reference does not use the index:\n%s", plan.String())
	}
}
