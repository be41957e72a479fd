package bookingref_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/platform/bookingref"
	"github.com/bookingrush/rush/services/platform/pgtest"
)

// TestOfMatchesPostgres: the Go reference and the booking_reference
// function behind bookings.reference are the same, and references of ids
// made in the same millisecond differ (they come from the random bits).
func TestOfMatchesPostgres(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, pgtest.Migrated(t))
	seen := map[string]bool{}
	for range 200 {
		id := uuid.Must(uuid.NewV7()).String()
		var want string
		if err := db.QueryRowContext(context.Background(), `SELECT booking_reference($1)`, id).Scan(&want); err != nil {
			t.Fatal(err)
		}
		got := bookingref.Of(id)
		if got != want || len(got) != 17 {
			t.Fatalf("Of(%s) = %q, Postgres %q", id, got, want)
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
}
