package gate

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/postgres"
)

// Store is the gate's Postgres side: its own gate_* tables only.
type Store struct{ db *pgxpool.Pool }

// NewStore returns a store on db.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

func dbUnavailable(err error) error { return postgres.ConnectionError("the gate database", err) }

// inTx runs fn in a transaction: fn's errors as it made them (domain errors
// stay what they are), a failing begin or commit as dbUnavailable's.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	var failed error
	err := pgx.BeginTxFunc(ctx, s.db, pgx.TxOptions{}, func(tx pgx.Tx) error {
		failed = fn(tx)
		return failed
	})
	if err != nil && failed != nil {
		return failed
	}
	return dbUnavailable(err)
}

// Key is one of an event's signing keys.
type Key struct {
	ID        uint16
	Public    ed25519.PublicKey
	Private   ed25519.PrivateKey // only for the active key
	Active    bool
	CreatedAt time.Time
}

// ActiveKey answers the event's signing key, creating key 1 when the event
// has none (its first ticket).
func (s *Store) ActiveKey(ctx context.Context, eventID string) (Key, error) {
	for range 2 {
		var k Key
		var id int
		var seed []byte
		err := s.db.QueryRow(ctx, `SELECT key_id, private_key, created_at FROM gate_signing_keys
			WHERE event_id = $1 AND published ORDER BY key_id DESC LIMIT 1`, eventID).Scan(&id, &seed, &k.CreatedAt)
		if err == nil {
			k.ID, k.Private, k.Active = uint16(id), ed25519.NewKeyFromSeed(seed), true
			k.Public = k.Private.Public().(ed25519.PublicKey)
			return k, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return Key{}, dbUnavailable(err)
		}
		if err := s.addKey(ctx, s.db, eventID, 1); err != nil {
			return Key{}, err
		}
	}
	return Key{}, errors.New("gate: signing key vanished")
}

// addKey inserts key id of the event (nothing when it exists: two replicas
// making the first key agree on it).
func (s *Store) addKey(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, eventID string, id int) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	var n int
	err = db.QueryRow(ctx, `WITH ins AS (INSERT INTO gate_signing_keys (event_id, key_id, public_key, private_key)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM ins`,
		eventID, id, []byte(pub), priv.Seed()).Scan(&n)
	return dbUnavailable(err)
}

// MaxKeyID is the last key id of an event: a code carries its key's id in
// 16 bits (eticket.Ticket.KeyID).
const MaxKeyID = 1<<16 - 1

// errKeysExhausted refuses the rotation of an event that has had every key id.
var errKeysExhausted = errs.New(errs.Conflict, fmt.Sprintf("the event has had %d signing keys, as many as a code can name: it cannot rotate again", MaxKeyID),
	"reason", "key_ids_exhausted")

// Rotate adds the event's next key (it signs from now on); dropPrevious
// withdraws every earlier one. An event whose last key is MaxKeyID is
// refused (CONFLICT, reason key_ids_exhausted), and nothing changes.
func (s *Store) Rotate(ctx context.Context, eventID string, dropPrevious bool) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var next int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(max(key_id), 0) + 1 FROM gate_signing_keys WHERE event_id = $1`, eventID).Scan(&next); err != nil {
			return dbUnavailable(err)
		}
		if next > MaxKeyID {
			return errKeysExhausted
		}
		if err := s.addKey(ctx, tx, eventID, next); err != nil {
			return err
		}
		if dropPrevious {
			if _, err := tx.Exec(ctx, `UPDATE gate_signing_keys SET published = false WHERE event_id = $1 AND key_id < $2`, eventID, next); err != nil {
				return dbUnavailable(err)
			}
		}
		return nil
	})
}

// PublishedKeys answers the event's published keys, newest first.
func (s *Store) PublishedKeys(ctx context.Context, eventID string) ([]Key, error) {
	rows, err := s.db.Query(ctx, `SELECT key_id, public_key, created_at FROM gate_signing_keys
		WHERE event_id = $1 AND published ORDER BY key_id DESC`, eventID)
	if err != nil {
		return nil, dbUnavailable(err)
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		var k Key
		var id int
		var pub []byte
		if err := rows.Scan(&id, &pub, &k.CreatedAt); err != nil {
			return nil, dbUnavailable(err)
		}
		k.ID, k.Public, k.Active = uint16(id), pub, len(out) == 0
		out = append(out, k)
	}
	return out, dbUnavailable(rows.Err())
}

// Ticket is one seat's ticket as the gate keeps it.
type Ticket struct {
	ID, BookingID, UserID, EventID, ShowID, ZoneID string
	Seat                                           int
	Status                                         string
	ValidUntil, IssuedAt                           time.Time
	RevokedAt, CheckedInAt                         time.Time
	Version                                        int64
}

// Ticket statuses.
const (
	StatusValid   = "valid"
	StatusRevoked = "revoked"
)

// Upsert writes the tickets of one booking change: a ticket changes only
// when the booking's version is newer than the one it has, so a redelivered
// or stale event changes nothing.
func (s *Store) Upsert(ctx context.Context, ts []Ticket) error {
	if len(ts) == 0 {
		return nil
	}
	n := len(ts)
	ids, bookings, users, events, shows, zones, statuses := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	seats, versions := make([]int32, n), make([]int64, n)
	until, revoked := make([]time.Time, n), make([]*time.Time, n)
	for i, t := range ts {
		ids[i], bookings[i], users[i], events[i], shows[i], zones[i], statuses[i] = t.ID, t.BookingID, t.UserID, t.EventID, t.ShowID, t.ZoneID, t.Status
		seats[i], versions[i], until[i] = int32(t.Seat), t.Version, t.ValidUntil
		if !t.RevokedAt.IsZero() {
			r := t.RevokedAt
			revoked[i] = &r
		}
	}
	_, err := s.db.Exec(ctx, `INSERT INTO gate_tickets (id, booking_id, user_id, event_id, show_id, zone_id, status, seat, booking_version, valid_until, revoked_at)
		SELECT * FROM unnest($1::text[]::uuid[], $2::text[]::uuid[], $3::text[]::uuid[], $4::text[]::uuid[], $5::text[]::uuid[], $6::text[]::uuid[], $7::text[], $8::int[], $9::bigint[], $10::timestamptz[], $11::timestamptz[])
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, booking_version = excluded.booking_version, revoked_at = excluded.revoked_at
		WHERE gate_tickets.booking_version < excluded.booking_version`,
		ids, bookings, users, events, shows, zones, statuses, seats, versions, until, revoked)
	return dbUnavailable(err)
}

const ticketColumns = `t.id::text, t.booking_id::text, t.user_id::text, t.event_id::text, t.show_id::text, t.zone_id::text,
	t.seat, t.status, t.valid_until, t.issued_at, t.revoked_at, c.scanned_at, t.booking_version`

func scanTicket(r pgx.Row) (Ticket, error) {
	var t Ticket
	var rev, in *time.Time
	err := r.Scan(&t.ID, &t.BookingID, &t.UserID, &t.EventID, &t.ShowID, &t.ZoneID, &t.Seat, &t.Status, &t.ValidUntil, &t.IssuedAt, &rev, &in, &t.Version)
	if rev != nil {
		t.RevokedAt = *rev
	}
	if in != nil {
		t.CheckedInAt = *in
	}
	return t, err
}

// BookingTickets answers a booking's tickets, by seat.
func (s *Store) BookingTickets(ctx context.Context, bookingID string) ([]Ticket, error) {
	rows, err := s.db.Query(ctx, `SELECT `+ticketColumns+` FROM gate_tickets t LEFT JOIN gate_checkins c ON c.ticket_id = t.id
		WHERE t.booking_id = $1 ORDER BY t.seat`, bookingID)
	if err != nil {
		return nil, dbUnavailable(err)
	}
	defer rows.Close()
	var out []Ticket
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, dbUnavailable(err)
		}
		out = append(out, t)
	}
	return out, dbUnavailable(rows.Err())
}

// TicketByID answers one ticket; ok is false when there is none.
func (s *Store) TicketByID(ctx context.Context, id string) (Ticket, bool, error) {
	t, err := scanTicket(s.db.QueryRow(ctx, `SELECT `+ticketColumns+` FROM gate_tickets t LEFT JOIN gate_checkins c ON c.ticket_id = t.id
		WHERE t.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Ticket{}, false, nil
	}
	return t, err == nil, dbUnavailable(err)
}

// ShowEvent answers the event of a show the gate has tickets of; ok is
// false when it has none.
func (s *Store) ShowEvent(ctx context.Context, showID string) (string, bool, error) {
	var ev string
	err := s.db.QueryRow(ctx, `SELECT event_id::text FROM gate_tickets WHERE show_id = $1 LIMIT 1`, showID).Scan(&ev)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return ev, err == nil, dbUnavailable(err)
}

// Revoked is one entry of a show's revocation list.
type Revoked struct {
	TicketID  string
	RevokedAt time.Time
}

// RevokedTickets answers a show's revoked tickets.
func (s *Store) RevokedTickets(ctx context.Context, showID string) ([]Revoked, error) {
	rows, err := s.db.Query(ctx, `SELECT id::text, COALESCE(revoked_at, issued_at) FROM gate_tickets
		WHERE show_id = $1 AND status = 'revoked' ORDER BY revoked_at, id`, showID)
	if err != nil {
		return nil, dbUnavailable(err)
	}
	defer rows.Close()
	var out []Revoked
	for rows.Next() {
		var r Revoked
		if err := rows.Scan(&r.TicketID, &r.RevokedAt); err != nil {
			return nil, dbUnavailable(err)
		}
		out = append(out, r)
	}
	return out, dbUnavailable(rows.Err())
}

// Stats are a show's counts.
type Stats struct {
	Sold, CheckedIn, Revoked int
	// Reused is the valid tickets more than one scan may have let in: the
	// distinct scans (device and time: a sync sent again is one) answered
	// valid, or synced from offline answered already used, number two or
	// more. RevokedOffline is the revoked tickets an offline door scanned.
	// A synced scan its door says it refused counts in neither.
	Reused, RevokedOffline int
}

// ShowStats counts a show's tickets.
func (s *Store) ShowStats(ctx context.Context, showID string) (Stats, error) {
	var st Stats
	err := s.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE t.status = 'valid'),
			count(c.ticket_id) FILTER (WHERE t.status = 'valid'), count(*) FILTER (WHERE t.status = 'revoked'),
			count(*) FILTER (WHERE t.status = 'valid' AND c.ticket_id IS NOT NULL AND
				(SELECT count(DISTINCT (s.device_id, s.scanned_at)) FROM gate_scans s WHERE s.ticket_id = t.id
					AND s.door IS DISTINCT FROM 'refused' AND (s.outcome = 'valid' OR s.offline AND s.outcome = 'already_used')) > 1),
			count(*) FILTER (WHERE t.status = 'revoked' AND EXISTS (SELECT 1 FROM gate_scans s
				WHERE s.ticket_id = t.id AND s.offline AND s.outcome = 'revoked' AND s.door IS DISTINCT FROM 'refused'))
		FROM gate_tickets t LEFT JOIN gate_checkins c ON c.ticket_id = t.id WHERE t.show_id = $1`, showID).
		Scan(&st.Sold, &st.CheckedIn, &st.Revoked, &st.Reused, &st.RevokedOffline)
	return st, dbUnavailable(err)
}

// BookingCheckIns counts a booking's tickets that were checked in, and
// answers the first check-in (zero when none).
func (s *Store) BookingCheckIns(ctx context.Context, bookingID string) (n int, first time.Time, err error) {
	var at *time.Time
	err = s.db.QueryRow(ctx, `SELECT count(c.ticket_id), min(c.scanned_at)
		FROM gate_tickets t JOIN gate_checkins c ON c.ticket_id = t.id WHERE t.booking_id = $1`, bookingID).Scan(&n, &at)
	if at != nil {
		first = *at
	}
	return n, first, dbUnavailable(err)
}

// Device is a registered check-in device.
type Device struct {
	ID, OrganizerID, Name string
	EventIDs              []string
	CreatedAt, ExpiresAt  time.Time
	// RevokedAt is when its credential was revoked; zero while it works.
	RevokedAt time.Time
	// LastSeenAt is when the gate last recorded a scan of it (zero: none
	// yet), and Scans how many it recorded; Devices reads them, nothing else.
	LastSeenAt time.Time
	Scans      int
}

// deviceColumns are a Device's, as scanDevice reads them.
const deviceColumns = `id::text, organizer_id::text, name, event_ids::text[], created_at, expires_at, revoked_at`

// scanDevice reads deviceColumns, then the row's further columns into more.
func scanDevice(row pgx.Row, more ...any) (Device, error) {
	var d Device
	var revoked *time.Time
	err := row.Scan(append([]any{&d.ID, &d.OrganizerID, &d.Name, &d.EventIDs, &d.CreatedAt, &d.ExpiresAt, &revoked}, more...)...)
	if revoked != nil {
		d.RevokedAt = *revoked
	}
	return d, err
}

// OwnerRole is the role auth last told the gate a user has
// (SetDeviceOwnerRole), and when.
type OwnerRole struct {
	Role      string
	ChangedAt time.Time
}

// inOwnerLock runs fn in a transaction that holds the lock of userID's
// devices: a registration by the user and a change of the user's role
// happen one after the other, so no device is registered on the old role
// after the change revoked the others.
func (s *Store) inOwnerLock(ctx context.Context, userID string, fn func(pgx.Tx) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('gate_device_owner:' || $1::text, 0))`, userID); err != nil {
			return dbUnavailable(err)
		}
		return fn(tx)
	})
}

// ownerRole reads userID's recorded role; ok is false when auth never told one.
func ownerRole(ctx context.Context, tx pgx.Tx, userID string) (OwnerRole, bool, error) {
	var o OwnerRole
	err := tx.QueryRow(ctx, `SELECT role, changed_at FROM gate_device_owners WHERE user_id = $1`, userID).Scan(&o.Role, &o.ChangedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return OwnerRole{}, false, nil
	}
	return o, err == nil, dbUnavailable(err)
}

// CreateDevice records a device, under the lock of its owner's devices:
// allowed answers whether the owner may register it, given the role auth
// last told the gate (ok false: none).
func (s *Store) CreateDevice(ctx context.Context, d Device, allowed func(o OwnerRole, ok bool) error) (Device, error) {
	err := s.inOwnerLock(ctx, d.OrganizerID, func(tx pgx.Tx) error {
		o, ok, err := ownerRole(ctx, tx, d.OrganizerID)
		if err != nil {
			return err
		}
		if err := allowed(o, ok); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO gate_devices (id, organizer_id, name, event_ids, expires_at)
			VALUES ($1, $2, $3, $4::text[]::uuid[], $5) RETURNING created_at`, d.ID, d.OrganizerID, d.Name, d.EventIDs, d.ExpiresAt).Scan(&d.CreatedAt)
		return dbUnavailable(err)
	})
	return d, err
}

// SetOwnerRole records userID's role and, under the lock of the user's
// devices, revokes the working ones (neither revoked nor expired) that
// revoke picks from them; it answers how many it revoked. revoke may ask
// the catalog: the lock holds a registration by the user meanwhile.
func (s *Store) SetOwnerRole(ctx context.Context, userID, role string, revoke func([]Device) ([]string, error)) (int, error) {
	var n int
	err := s.inOwnerLock(ctx, userID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO gate_device_owners (user_id, role) VALUES ($1, $2)
			ON CONFLICT (user_id) DO UPDATE SET role = excluded.role, changed_at = now()`, userID, role); err != nil {
			return dbUnavailable(err)
		}
		rows, err := tx.Query(ctx, `SELECT `+deviceColumns+` FROM gate_devices
			WHERE organizer_id = $1 AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at, id`, userID)
		if err != nil {
			return dbUnavailable(err)
		}
		live, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Device, error) { return scanDevice(r) })
		if err != nil {
			return dbUnavailable(err)
		}
		if len(live) == 0 {
			return nil
		}
		ids, err := revoke(live)
		if err != nil || len(ids) == 0 {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE gate_devices SET revoked_at = now() WHERE id = ANY($1::text[]::uuid[]) AND revoked_at IS NULL`, ids)
		n = int(tag.RowsAffected())
		return dbUnavailable(err)
	})
	return n, err
}

// DeviceByID answers a device; ok is false when there is none.
func (s *Store) DeviceByID(ctx context.Context, id string) (Device, bool, error) {
	d, err := scanDevice(s.db.QueryRow(ctx, `SELECT `+deviceColumns+` FROM gate_devices WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Device{}, false, nil
	}
	return d, err == nil, dbUnavailable(err)
}

// DeviceFilter selects devices: those OwnerID registered, those that check
// EventID in; an empty field selects any.
type DeviceFilter struct{ OwnerID, EventID string }

// deviceWhere is the condition of a DeviceFilter on $1 (owner) and $2
// (event).
const deviceWhere = `($1::text = '' OR organizer_id = NULLIF($1::text, '')::uuid) AND ($2::text = '' OR event_ids @> ARRAY[NULLIF($2::text, '')::uuid])`

// Devices answers a page of the devices f selects, newest first, and how
// many there are in all.
func (s *Store) Devices(ctx context.Context, f DeviceFilter, page, perPage int) ([]Device, int, error) {
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM gate_devices WHERE `+deviceWhere, f.OwnerID, f.EventID).Scan(&total); err != nil {
		return nil, 0, dbUnavailable(err)
	}
	// The page first, then its devices' scans (by gate_scans_device_idx):
	// only the page's devices are counted.
	rows, err := s.db.Query(ctx, `SELECT `+deviceColumns+`, u.last, u.n FROM
		(SELECT * FROM gate_devices WHERE `+deviceWhere+` ORDER BY created_at DESC, id LIMIT $3 OFFSET $4) gate_devices
		LEFT JOIN LATERAL (SELECT max(recorded_at) AS last, count(*) AS n FROM gate_scans s WHERE s.device_id = gate_devices.id) u ON true
		ORDER BY created_at DESC, id`, f.OwnerID, f.EventID, perPage, (page-1)*perPage)
	if err != nil {
		return nil, 0, dbUnavailable(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Device, error) {
		var last *time.Time
		var n int
		d, err := scanDevice(r, &last, &n)
		if last != nil {
			d.LastSeenAt = *last
		}
		d.Scans = n
		return d, err
	})
	return out, total, dbUnavailable(err)
}

// RevokeDevice ends a device's credential.
func (s *Store) RevokeDevice(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `UPDATE gate_devices SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1`, id)
	return dbUnavailable(err)
}

// ScanRecord is one scan to record.
type ScanRecord struct {
	ScanID, TicketID, ShowID, DeviceID, Gate string
	ScannedAt                                time.Time
	// Offline is a scan synced after the fact: it takes the check-in from
	// a later scan. An online scan never does (the first one recorded was
	// answered valid; the next is already used, whatever the clocks say).
	Offline bool
	// Door is what an offline door did with the holder ("" online, or not
	// said): a scan its door refused counts in no show's reused or
	// revoked_offline.
	Door string
}

// FirstScan is the scan that checked a ticket in.
type FirstScan struct {
	ScanID, Gate, DeviceID string
	ScannedAt              time.Time
}

// CheckIn records a scan of a valid ticket: the first recorded is its
// check-in, except that an offline scan made earlier replaces it. It
// answers the check-in after the scan; the scan won when its ScanID is.
func (s *Store) CheckIn(ctx context.Context, r ScanRecord) (FirstScan, error) {
	for {
		f, err := s.checkIn(ctx, r)
		// No row: a concurrent scan's check-in committed after this
		// statement's snapshot (so neither inserted nor visible): again.
		if !errors.Is(err, pgx.ErrNoRows) || ctx.Err() != nil {
			return f, dbUnavailable(err)
		}
	}
}

func (s *Store) checkIn(ctx context.Context, r ScanRecord) (FirstScan, error) {
	var f FirstScan
	err := s.db.QueryRow(ctx, `WITH up AS (
			INSERT INTO gate_checkins (ticket_id, scan_id, show_id, scanned_at, gate, device_id) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (ticket_id) DO UPDATE SET scan_id = excluded.scan_id, scanned_at = excluded.scanned_at, gate = excluded.gate,
				device_id = excluded.device_id, recorded_at = now()
			WHERE $7 AND excluded.scanned_at < gate_checkins.scanned_at
			RETURNING scan_id::text, gate, device_id::text, scanned_at)
		SELECT * FROM up UNION ALL
		SELECT scan_id::text, gate, device_id::text, scanned_at FROM gate_checkins WHERE ticket_id = $1 AND NOT EXISTS (SELECT 1 FROM up)`,
		r.TicketID, r.ScanID, r.ShowID, r.ScannedAt, r.Gate, r.DeviceID, r.Offline).Scan(&f.ScanID, &f.Gate, &f.DeviceID, &f.ScannedAt)
	return f, err
}

// CheckedIn answers a ticket's check-in, if it has one, and records nothing.
func (s *Store) CheckedIn(ctx context.Context, ticketID string) (FirstScan, bool, error) {
	var f FirstScan
	err := s.db.QueryRow(ctx, `SELECT scan_id::text, gate, device_id::text, scanned_at FROM gate_checkins WHERE ticket_id = $1`,
		ticketID).Scan(&f.ScanID, &f.Gate, &f.DeviceID, &f.ScannedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return FirstScan{}, false, nil
	}
	return f, err == nil, dbUnavailable(err)
}

// LogScan records a scan and its verdict in the gates' audit trail, once:
// a scan recorded before (a synced batch sent again) is not recorded again
// (recorded false).
func (s *Store) LogScan(ctx context.Context, r ScanRecord, outcome string) (recorded bool, err error) {
	var ticket *string
	if r.TicketID != "" {
		ticket = &r.TicketID
	}
	var door *string
	if r.Door != "" {
		door = &r.Door
	}
	tag, err := s.db.Exec(ctx, `INSERT INTO gate_scans (scan_id, ticket_id, device_id, gate, scanned_at, outcome, offline, door)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (scan_id) DO NOTHING`,
		r.ScanID, ticket, r.DeviceID, r.Gate, r.ScannedAt, outcome, r.Offline, door)
	return err == nil && tag.RowsAffected() == 1, dbUnavailable(err)
}
