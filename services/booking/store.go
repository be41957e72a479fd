package booking

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/groupcommit"
	"github.com/bookingrush/rush/services/platform/postgres"
)

// Store is the booking service's Postgres side, its own tables only: the
// catalog's snapshot of each event (booking_events, booking_zones: the zone
// directory, sale settings, totals, prices and the zone counters), and the
// bookings the persister writes.
type Store struct {
	db *pgxpool.Pool

	mu    sync.RWMutex
	zones map[string]zoneRef // zone id -> its show and event; immutable once created
	// lookups shares one query among the reserves that miss zones at once.
	lookups singleflight.Group
	// joins writes the waitlist joins of an event that arrive together in
	// one transaction (recordJoined).
	joins *groupcommit.Batcher[string, *joinRecord]
}

// NewStore returns a store on db.
func NewStore(db *pgxpool.Pool) *Store {
	s := &Store{db: db, zones: map[string]zoneRef{}}
	s.joins = newJoinRecorder(s)
	return s
}

type zoneRef struct{ EventID, ShowID string }

// zoneOf resolves a zone to its show and event; cached in process, since a
// zone never moves. The reserves that miss a zone at once (a sale's opening:
// every buyer's first reserve) share one query: one each made them wait for
// as many new Postgres connections, up to the pool's size, and the first
// answers of a sale for a quarter to three quarters of a second
// (bench/RESULTS.md, 2026-12-05).
func (s *Store) zoneOf(ctx context.Context, zoneID string) (zoneRef, error) {
	s.mu.RLock()
	ref, ok := s.zones[zoneID]
	s.mu.RUnlock()
	if ok {
		return ref, nil
	}
	// The query is every waiting caller's: it does not stop when the
	// first one gives up.
	shared := context.WithoutCancel(ctx)
	ch := s.lookups.DoChan(zoneID, func() (any, error) {
		qctx, cancel := context.WithTimeout(shared, zoneLookupTimeout)
		defer cancel()
		var ref zoneRef
		err := s.db.QueryRow(qctx,
			`SELECT event_id::text, show_id::text FROM booking_zones WHERE zone_id = $1`,
			zoneID).Scan(&ref.EventID, &ref.ShowID)
		if errors.Is(err, pgx.ErrNoRows) {
			return zoneRef{}, errs.New(errs.NotFound, "zone not found")
		}
		if err != nil {
			return zoneRef{}, dbUnavailable(err)
		}
		s.mu.Lock()
		s.zones[zoneID] = ref
		s.mu.Unlock()
		return ref, nil
	})
	select {
	case r := <-ch:
		return r.Val.(zoneRef), r.Err
	case <-ctx.Done():
		return zoneRef{}, dbUnavailable(ctx.Err())
	}
}

// zoneLookupTimeout bounds the shared query of zoneOf.
const zoneLookupTimeout = 5 * time.Second

// ShowZones lists a show's zone ids and its event.
func (s *Store) ShowZones(ctx context.Context, showID string) (eventID string, zones []string, err error) {
	rows, err := s.db.Query(ctx,
		`SELECT event_id::text, zone_id::text FROM booking_zones WHERE show_id = $1 ORDER BY zone_id`, showID)
	if err != nil {
		return "", nil, dbUnavailable(err)
	}
	defer rows.Close()
	for rows.Next() {
		var z string
		if err := rows.Scan(&eventID, &z); err != nil {
			return "", nil, dbUnavailable(err)
		}
		zones = append(zones, z)
	}
	return eventID, zones, dbUnavailable(rows.Err())
}

// eventZones lists an event's zones as [zone, show] pairs, by zone id.
func (s *Store) eventZones(ctx context.Context, eventID string) ([][2]string, error) {
	rows, err := s.db.Query(ctx, `SELECT zone_id::text, show_id::text FROM booking_zones WHERE event_id = $1 ORDER BY zone_id`, eventID)
	if err != nil {
		return nil, dbUnavailable(err)
	}
	pairs, err := pgx.CollectRows(rows, scanPair)
	return pairs, dbUnavailable(err)
}

// EventSettings are the sale settings the reserve script checks.
type EventSettings struct {
	Status             string
	SaleStart, SaleEnd time.Time
	MaxPerUser         int
	Queue              bool
}

// ZoneDef is a zone as the catalog defines it (LoadInventory's snapshot).
type ZoneDef struct {
	ID, ShowID string
	Total      int
	PriceCents int64
	// ShowDate is when the zone's show starts, from which its seats are
	// off sale; zero when the catalog did not say (an older release).
	ShowDate time.Time
}

// Unpublish records that the catalog took a published event back to
// draft (a publish that failed): booking's copy no longer says it sells.
// A cancelled event stays cancelled; an unknown one is nothing to do.
func (s *Store) Unpublish(ctx context.Context, eventID string) error {
	_, err := s.db.Exec(ctx, `UPDATE booking_events SET status = 'draft', updated_at = now()
		WHERE event_id = $1 AND status = 'published'`, eventID)
	return dbUnavailable(err)
}

// SaveEvent keeps the catalog's snapshot of an event: its sale settings,
// and its zones (a new zone starts with every seat available; a zone nobody
// reserved from yet takes the catalog's latest price and total, while the
// counters of a zone on sale stay the persister's: once the event is on
// sale, the catalog only adds zones). A show's start is kept whatever was
// sold (a zone kept from a catalog that did not send it gets it then), and
// never forgotten by a snapshot without it.
//
// It answers the event's zones that the snapshot no longer has and that
// its records show nothing reserved from: a draft's zone (or show) the
// organizer deleted after a publish that failed once booking had kept the
// snapshot, or a zone the catalog took back. The caller drops them, from a
// loaded inventory first (dropZones). A zone the catalog deleted from the
// event on sale (booking_dropped_zones) is never written back: the snapshot
// may have been read before the deletion.
func (s *Store) SaveEvent(ctx context.Context, eventID string, st EventSettings, zones []ZoneDef) (lost []string, err error) {
	var b pgx.Batch
	b.Queue(`INSERT INTO booking_events (event_id, status, sale_start_at, sale_end_at, max_per_user, queue_enabled)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (event_id) DO UPDATE SET status = CASE WHEN booking_events.status = 'cancelled' THEN 'cancelled' ELSE excluded.status END,
			sale_start_at = excluded.sale_start_at,
			sale_end_at = excluded.sale_end_at, max_per_user = excluded.max_per_user,
			queue_enabled = excluded.queue_enabled, updated_at = now()`,
		eventID, st.Status, nullTime(st.SaleStart), nullTime(st.SaleEnd), st.MaxPerUser, st.Queue)
	starts := map[string]time.Time{}
	for _, z := range zones {
		b.Queue(`INSERT INTO booking_zones (zone_id, event_id, show_id, price, total_seats, available_seats, show_date)
			SELECT $1::uuid, $2::uuid, $3::uuid, $4::numeric / 100, $5::integer, $5::integer, $6::timestamptz
			WHERE NOT EXISTS (SELECT 1 FROM booking_dropped_zones d WHERE d.zone_id = $1::uuid)
			ON CONFLICT (zone_id) DO UPDATE SET price = excluded.price, total_seats = excluded.total_seats,
				available_seats = excluded.total_seats
			WHERE booking_zones.inventory_version = 0 AND booking_zones.event_id = excluded.event_id`,
			z.ID, eventID, z.ShowID, z.PriceCents, z.Total, nullTime(z.ShowDate))
		if !z.ShowDate.IsZero() {
			starts[z.ShowID] = z.ShowDate
		}
	}
	for show, at := range starts {
		b.Queue(`UPDATE booking_zones SET show_date = $3
			WHERE event_id = $1 AND show_id = $2 AND show_date IS DISTINCT FROM $3`, eventID, show, at)
	}
	ids := make([]string, len(zones))
	for i, z := range zones {
		ids[i] = z.ID
	}
	b.Queue(`SELECT z.zone_id::text FROM booking_zones z WHERE z.event_id = $1 AND z.zone_id::text <> ALL($2::text[])
			AND z.inventory_version = 0 AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.zone_id = z.zone_id)`, eventID, ids).
		Query(func(rows pgx.Rows) error {
			lost, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &b).Close() })
	if isDataError(err) {
		return nil, errs.New(errs.Validation, "the event's snapshot was refused: "+err.Error())
	}
	return lost, dbUnavailable(err)
}

// nullTime is a timestamp column's value; the zero time is NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ZoneSnapshot is a zone as Postgres knows it, counters recomputed from the
// bookings (the source of truth after a loss).
type ZoneSnapshot struct {
	ID, ShowID       string
	Total            int
	Held, Sold       int
	PriceCents       int64
	InventoryVersion int64
	// ShowDate is when the zone's show starts; zero when unknown.
	ShowDate time.Time
}

// Snapshot is what a load writes into Redis.
type Snapshot struct {
	Settings EventSettings
	Zones    []ZoneSnapshot
	// Holds are the live bookings: holds and purchases (a purchase gets its
	// Redis record back so that a refund can release it later).
	Holds     []Hold
	UserSeats map[string]int
	// Keys are idempotency records of recent reservations (so a retry after
	// a rebuild replays instead of reserving twice).
	Keys []Hold
	// Waiting are the zones' waitlists (the entries still waiting, by zone
	// and join sequence) and WaitlistSeq the event's last join sequence
	// (ended entries' too); load.lua reads them only when it writes the
	// whole inventory (a refresh never touches a line). OfferTTL is the
	// life of a waitlist offer (the caller's setting).
	Waiting     []WaitingEntry
	WaitlistSeq int64
	OfferTTL    time.Duration
}

// WaitingEntry is a buyer's place on a zone's waitlist as booking's
// records keep it (waitlist_entries).
type WaitingEntry struct {
	ZoneID, UserID string
	// Seq is the join's sequence in the event: the line's order.
	Seq      int64
	Quantity int
}

// claimFirstLoad reports whether the event's inventory may be written
// into Redis plainly (its first load: nothing of it ever changed in Redis)
// and records that a load began (booking_events.loaded_at, kept on
// failure: the next load is then fenced, which costs a drain, never a
// seat). Every later load of an event Redis does not have is a rebuild.
// Bookings in Postgres also say so (events loaded before loaded_at existed).
func (s *Store) claimFirstLoad(ctx context.Context, eventID string) (bool, error) {
	var first bool
	err := s.db.QueryRow(ctx, `WITH claimed AS (
			UPDATE booking_events SET loaded_at = now() WHERE event_id = $1 AND loaded_at IS NULL RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM claimed) AND NOT EXISTS (SELECT 1 FROM bookings WHERE event_id = $1)`, eventID).Scan(&first)
	return first, dbUnavailable(err)
}

// Snapshot reads the event's settings, zones, live holds, per-user seat
// counts and waitlists in one repeatable-read transaction.
func (s *Store) Snapshot(ctx context.Context, eventID string, keysSince time.Time) (Snapshot, error) {
	var snap Snapshot
	err := pgx.BeginTxFunc(ctx, s.db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var start, end *time.Time
		err := tx.QueryRow(ctx, `SELECT status, sale_start_at, sale_end_at, max_per_user, queue_enabled
			FROM booking_events WHERE event_id = $1`, eventID).
			Scan(&snap.Settings.Status, &start, &end, &snap.Settings.MaxPerUser, &snap.Settings.Queue)
		if errors.Is(err, pgx.ErrNoRows) {
			return errs.New(errs.NotFound, "event not found")
		}
		if err != nil {
			return err
		}
		if start != nil {
			snap.Settings.SaleStart = *start
		}
		if end != nil {
			snap.Settings.SaleEnd = *end
		}
		rows, err := tx.Query(ctx, `SELECT z.zone_id::text, z.show_id::text, z.total_seats, (z.price * 100)::bigint, z.inventory_version,
				z.show_date,
				COALESCE(sum(b.quantity) FILTER (WHERE b.status = 'reserved'), 0),
				COALESCE(sum(b.quantity) FILTER (WHERE b.status = 'confirmed'), 0)
			FROM booking_zones z LEFT JOIN bookings b ON b.zone_id = z.zone_id
			WHERE z.event_id = $1
			GROUP BY z.zone_id ORDER BY z.zone_id`, eventID)
		if err != nil {
			return err
		}
		snap.Zones, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ZoneSnapshot, error) {
			var z ZoneSnapshot
			var starts *time.Time
			err := r.Scan(&z.ID, &z.ShowID, &z.Total, &z.PriceCents, &z.InventoryVersion, &starts, &z.Held, &z.Sold)
			if starts != nil {
				z.ShowDate = *starts
			}
			return z, err
		})
		if err != nil {
			return err
		}
		if snap.Waiting, snap.WaitlistSeq, err = waiting(ctx, tx, eventID); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT `+bookingColumns+`
			FROM bookings WHERE event_id = $1 AND (status IN ('reserved', 'confirmed') OR created_at >= $2)`, eventID, keysSince)
		if err != nil {
			return err
		}
		defer rows.Close()
		snap.UserSeats = map[string]int{}
		for rows.Next() {
			h, err := scanBooking(rows)
			if err != nil {
				return err
			}
			if h.Status == StatusReserved || h.Status == StatusConfirmed {
				snap.Holds = append(snap.Holds, h)
				snap.UserSeats[h.UserID] += h.Quantity
			}
			if !h.CreatedAt.Before(keysSince) {
				snap.Keys = append(snap.Keys, h)
			}
		}
		return rows.Err()
	})
	if err != nil {
		var de *errs.Error
		if errors.As(err, &de) {
			return Snapshot{}, err
		}
		return Snapshot{}, dbUnavailable(err)
	}
	return snap, nil
}

// dbUnavailable wraps a database failure as SERVICE_UNAVAILABLE.
func dbUnavailable(err error) error { return postgres.ConnectionError("the booking database", err) }

const bookingColumns = `id::text, user_id::text, event_id::text, show_id::text, zone_id::text, quantity,
	(unit_price * 100)::bigint, status, expires_at, confirmed_at, cancelled_at, created_at, reservation_id, version,
	COALESCE(cancel_cause, '')`

func scanBooking(r pgx.Row) (Hold, error) {
	var h Hold
	var exp, conf, canc *time.Time
	err := r.Scan(&h.ID, &h.UserID, &h.EventID, &h.ShowID, &h.ZoneID, &h.Quantity, &h.UnitCents, &h.Status,
		&exp, &conf, &canc, &h.CreatedAt, &h.IdempotencyKey, &h.Version, &h.Cause)
	for _, p := range []struct {
		src *time.Time
		dst *time.Time
	}{{exp, &h.ExpiresAt}, {conf, &h.ConfirmedAt}, {canc, &h.CancelledAt}} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
	h.WaitlistOffer = h.IdempotencyKey == offerKey(h.ID)
	return h, err
}

// offerKey is the idempotency key (reservation_id) of a waitlist offer,
// which lib.lua's offer_waitlist writes: no buyer can choose it, since the
// booking id is made in the same step.
func offerKey(bookingID string) string { return "waitlist-" + bookingID }

// Booking reads one persisted booking; ok is false when the persister has
// not written it (yet).
func (s *Store) Booking(ctx context.Context, id string) (Hold, bool, error) {
	h, err := scanBooking(s.db.QueryRow(ctx, `SELECT `+bookingColumns+` FROM bookings WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Hold{}, false, nil
	}
	if err != nil {
		return Hold{}, false, dbUnavailable(err)
	}
	return h, true, nil
}

// BookingByReference answers the id of the persisted booking whose
// reference encodes bits (bookingref.Parse), through the index on
// booking_reference_bits(id); ok is false when none has it.
func (s *Store) BookingByReference(ctx context.Context, bits int64) (id string, ok bool, err error) {
	err = s.db.QueryRow(ctx, `SELECT id::text FROM bookings WHERE booking_reference_bits(id) = $1`, bits).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, dbUnavailable(err)
	}
	return id, true, nil
}

// Record writes bookings as Redis has them now (a row only moves forward
// by version), in one statement.
func (s *Store) Record(ctx context.Context, holds ...Hold) error {
	rows := make([]*bookingv1.Booking, len(holds))
	versions := make([]int64, len(holds))
	for i, h := range holds {
		rows[i], versions[i] = toProto(h), h.Version
	}
	var b pgx.Batch
	queueBookings(&b, rows, versions, nil)
	return dbUnavailable(s.db.SendBatch(ctx, &b).Close())
}

// Fence records that the event's inventory is being rebuilt from Postgres
// as of at (Redis's clock): the persister leaves out the changes stamped at
// or before it from then on (upsertBookingFenced). It takes the event's
// fence lock, so the persister's transactions under way finish first (what
// they write is in the snapshot read after this) and the next ones see it.
func (s *Store) Fence(ctx context.Context, eventID string, at time.Time) error {
	return dbUnavailable(pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('booking-fence:' || $1, 0))`, eventID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE booking_events SET fenced_at = $2 WHERE event_id = $1`, eventID, at)
		return err
	}))
}

// ListFilter selects a user's bookings.
type ListFilter struct {
	UserID        string
	Status        string // "" for all
	LiveHoldsOnly bool   // reserved and not past the deadline
	Page, PerPage int
}

// Bookings pages a user's bookings, newest first, with the total count.
func (s *Store) Bookings(ctx context.Context, f ListFilter) ([]Hold, int, error) {
	where := `user_id = $1 AND ($2 = '' OR status = $2)`
	if f.LiveHoldsOnly {
		where += ` AND status = 'reserved' AND expires_at > now()`
	}
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM bookings WHERE `+where, f.UserID, f.Status).Scan(&total); err != nil {
		return nil, 0, dbUnavailable(err)
	}
	rows, err := s.db.Query(ctx, `SELECT `+bookingColumns+` FROM bookings WHERE `+where+
		` ORDER BY created_at DESC, id LIMIT $3 OFFSET $4`, f.UserID, f.Status, f.PerPage, (f.Page-1)*f.PerPage)
	if err != nil {
		return nil, 0, dbUnavailable(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Hold, error) { return scanBooking(r) })
	if err != nil {
		return nil, 0, dbUnavailable(err)
	}
	return out, total, nil
}

// zonesOnSale lists the zones of the events on sale, or whose sale ended
// within a day, by event.
func (s *Store) zonesOnSale(ctx context.Context) (map[string][]string, error) {
	rows, err := s.db.Query(ctx, `SELECT z.event_id::text, z.zone_id::text FROM booking_zones z JOIN booking_events e USING (event_id)
		WHERE e.status = 'published' AND (e.sale_end_at IS NULL OR e.sale_end_at > now() - interval '1 day')`)
	if err != nil {
		return nil, dbUnavailable(err)
	}
	pairs, err := pgx.CollectRows(rows, scanPair)
	if err != nil {
		return nil, dbUnavailable(err)
	}
	out := map[string][]string{}
	for _, p := range pairs {
		out[p[0]] = append(out[p[0]], p[1])
	}
	return out, nil
}

// zoneBooked answers a zone of zones that a booking names ("" when none):
// seats of it were reserved, whatever Redis holds now. (The zones are
// compared as uuids, so bookings_zone_idx answers it, not a scan of the
// event's bookings.)
func (s *Store) zoneBooked(ctx context.Context, eventID string, zones []string) (string, error) {
	var zone string
	err := s.db.QueryRow(ctx, `SELECT zone_id::text FROM bookings WHERE zone_id = ANY($2::text[]::uuid[]) AND event_id = $1 LIMIT 1`,
		eventID, zones).Scan(&zone)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return zone, dbUnavailable(err)
}

// dropZones deletes zones of an event that no booking names (the engine
// dropped them from Redis first); deleted records them as the catalog's
// deletions (booking_dropped_zones), which SaveEvent never writes back. The
// event's row is locked first, as SaveEvent's upsert locks it: a snapshot
// being saved meanwhile either lands before (and its zone row is deleted
// here) or after (and finds the record).
func (s *Store) dropZones(ctx context.Context, eventID string, zones []string, deleted bool) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM booking_events WHERE event_id = $1 FOR UPDATE`, eventID); err != nil {
			return err
		}
		if deleted {
			if _, err := tx.Exec(ctx, `INSERT INTO booking_dropped_zones (zone_id, event_id)
				SELECT z::uuid, $1::uuid FROM unnest($2::text[]) z
				WHERE NOT EXISTS (SELECT 1 FROM bookings b WHERE b.zone_id = z::uuid)
				ON CONFLICT (zone_id) DO NOTHING`, eventID, zones); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM booking_zones z WHERE z.event_id = $1 AND z.zone_id::text = ANY($2::text[])
			AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.zone_id = z.zone_id)`, eventID, zones)
		return err
	})
	return dbUnavailable(err)
}

// scanPair reads a row of two text columns.
func scanPair(r pgx.CollectableRow) (p [2]string, err error) {
	err = r.Scan(&p[0], &p[1])
	return p, err
}

// seatsBought sums the seats of a user's confirmed bookings, by event.
func (s *Store) seatsBought(ctx context.Context, userID string) (map[string]int, error) {
	rows, err := s.db.Query(ctx, `SELECT event_id::text, sum(quantity)::text FROM bookings WHERE user_id = $1 AND status = 'confirmed' GROUP BY event_id`, userID)
	if err != nil {
		return nil, dbUnavailable(err)
	}
	pairs, err := pgx.CollectRows(rows, scanPair)
	if err != nil {
		return nil, dbUnavailable(err)
	}
	out := map[string]int{}
	for _, p := range pairs {
		out[p[0]] = atoi(p[1])
	}
	return out, nil
}

// EventStatus is the event's life-cycle status ("" when it does not exist).
func (s *Store) EventStatus(ctx context.Context, eventID string) (string, error) {
	var st string
	err := s.db.QueryRow(ctx, `SELECT status FROM booking_events WHERE event_id = $1`, eventID).Scan(&st)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return st, dbUnavailable(err)
}
