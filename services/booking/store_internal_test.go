package booking

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/pgtest"
)

// TestZoneLookupsAtASaleOpeningShareOneQuery: the reserves that miss a zone
// at once wait for one query, not one each (each of which took a new
// Postgres connection at a sale's opening); an unknown zone is NOT_FOUND.
func TestZoneLookupsAtASaleOpeningShareOneQuery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.Migrated(t)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	event, show, zone := uuid.NewString(), uuid.NewString(), uuid.NewString()
	s := NewStore(pool)
	if _, err := s.SaveEvent(ctx, event, EventSettings{Status: "published", MaxPerUser: 10},
		[]ZoneDef{{ID: zone, ShowID: show, Total: 100, PriceCents: 1000}}); err != nil {
		t.Fatal(err)
	}
	before := pool.Stat().AcquireCount()
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			ref, err := s.zoneOf(ctx, zone)
			if err != nil || ref != (zoneRef{EventID: event, ShowID: show}) {
				t.Errorf("zoneOf = %+v, %v", ref, err)
			}
		})
	}
	wg.Wait()
	if n := pool.Stat().AcquireCount() - before; n < 1 || n > 2 {
		// One, or two when a caller arrived after the first query ended
		// and before its answer was cached.
		t.Errorf("64 concurrent lookups of one zone took %d connections, want 1", n)
	}
	if _, err := s.zoneOf(ctx, uuid.NewString()); !errs.Is(err, errs.NotFound) {
		t.Errorf("unknown zone: %v, want NOT_FOUND", err)
	}
}

// TestSaveEventDropsZonesTheSnapshotLost: a zone the catalog no longer sends
// (a draft's zone deleted after a publish failed once booking had kept the
// snapshot) is answered as lost, and goes, so that a later publish does not
// sell it.
func TestSaveEventDropsZonesTheSnapshotLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.Migrated(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	event, show, kept, deleted := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	s := NewStore(pool)
	st := EventSettings{Status: "published", MaxPerUser: 10}
	if gone, err := s.SaveEvent(ctx, event, st, []ZoneDef{{ID: kept, ShowID: show, Total: 10, PriceCents: 1000}, {ID: deleted, ShowID: show, Total: 5, PriceCents: 500}}); err != nil || len(gone) != 0 {
		t.Fatalf("first save: %v %v", gone, err)
	}
	lost, err := s.SaveEvent(ctx, event, st, []ZoneDef{{ID: kept, ShowID: show, Total: 10, PriceCents: 1000}})
	if err != nil || len(lost) != 1 || lost[0] != deleted {
		t.Fatalf("second save: lost %v, %v; want [%s]", lost, err, deleted)
	}
	if err := s.dropZones(ctx, event, lost, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.zoneOf(ctx, deleted); !errs.Is(err, errs.NotFound) {
		t.Errorf("the deleted zone: %v, want NOT_FOUND", err)
	}
	if _, err := s.zoneOf(ctx, kept); err != nil {
		t.Errorf("the kept zone: %v", err)
	}
}
