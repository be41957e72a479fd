package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/postgres"
	"github.com/bookingrush/rush/services/platform/showtime"
)

// Event statuses as stored in events.status.
const (
	statusDraft     = "draft"
	statusPublished = "published"
	statusCancelled = "cancelled"
)

// currency is the currency of every zone price: seat_zones has no currency
// column and payments default to USD.
const currency = "USD"

// Store is the catalog's SQL against the schema in schema/migrations. It
// knows tables, not rules: who may change what is decided in Service.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns the store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// querier is what a pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const eventColumns = `e.id, e.slug, e.title, e.description, e.venue, coalesce(e.image_url, ''), coalesce(c.slug, ''),
       e.organizer_id, e.status, e.sale_start_at, e.sale_end_at, e.max_per_user, e.queue_enabled,
       e.created_at, e.updated_at, e.published_at, e.time_zone, e.cancelled_at, coalesce(e.cancel_reason, ''),
       (SELECT min(sh.show_date) FROM shows sh WHERE sh.event_id = e.id),
       (SELECT max(sh.show_date) FROM shows sh WHERE sh.event_id = e.id),
       (SELECT count(*)::int FROM shows sh WHERE sh.event_id = e.id),
       coalesce((SELECT min(z.price)::text FROM seat_zones z JOIN shows sh ON sh.id = z.show_id WHERE sh.event_id = e.id), '')`

const eventFrom = ` FROM events e LEFT JOIN categories c ON c.id = e.category_id`

func scanEvent(row pgx.Row) (*catalogv1.Event, error) {
	var (
		ev                             catalogv1.Event
		status                         string
		saleStart, saleEnd, published  *time.Time
		cancelled, firstShow, lastShow *time.Time
		created, updated               time.Time
	)
	err := row.Scan(&ev.Id, &ev.Slug, &ev.Title, &ev.Description, &ev.Venue, &ev.ImageUrl, &ev.Category,
		&ev.OrganizerId, &status, &saleStart, &saleEnd, &ev.MaxPerUser, &ev.QueueEnabled,
		&created, &updated, &published, &ev.TimeZone, &cancelled, &ev.CancelReason,
		&firstShow, &lastShow, &ev.ShowCount, &ev.PriceFrom)
	if err != nil {
		return nil, err
	}
	ev.Status = eventStatus(status)
	ev.SaleStartAt, ev.SaleEndAt, ev.PublishedAt, ev.CancelledAt = ts(saleStart), ts(saleEnd), ts(published), ts(cancelled)
	ev.FirstShowAt, ev.LastShowAt = ts(firstShow), ts(lastShow)
	ev.CreatedAt, ev.UpdatedAt = timestamppb.New(created), timestamppb.New(updated)
	return &ev, nil
}

func eventStatus(s string) catalogv1.EventStatus {
	switch s {
	case statusDraft:
		return catalogv1.EventStatus_EVENT_STATUS_DRAFT
	case statusPublished:
		return catalogv1.EventStatus_EVENT_STATUS_PUBLISHED
	case statusCancelled:
		return catalogv1.EventStatus_EVENT_STATUS_CANCELLED
	}
	return catalogv1.EventStatus_EVENT_STATUS_UNSPECIFIED
}

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

// notFound is the one answer for a missing, deleted or invisible event, so
// the answers do not tell them apart.
var errEventNotFound = errs.New(errs.NotFound, "event not found")

// Event returns the live (not deleted) event whose slug or id is key.
func (s *Store) Event(ctx context.Context, key string) (*catalogv1.Event, error) {
	return eventBy(ctx, s.pool, key, "")
}

// eventBy reads one live event by id when key is a UUID, else by slug; lock
// is appended to the query ("FOR UPDATE OF e" inside a transaction). A UUID
// is never read as a slug: no slug looks like one (CreateEvent and the
// events_slug_not_an_id constraint), so one event cannot stand for another.
func eventBy(ctx context.Context, q querier, key, lock string) (*catalogv1.Event, error) {
	where := ` WHERE e.slug = $1 AND e.deleted_at IS NULL`
	if isUUID(key) {
		where = ` WHERE e.id = $1::uuid AND e.deleted_at IS NULL`
	}
	ev, err := scanEvent(q.QueryRow(ctx, `SELECT `+eventColumns+eventFrom+where+` `+lock, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errEventNotFound
	}
	return ev, dbErr(err)
}

// eventFilter selects events for a listing.
type eventFilter struct {
	status      string
	organizerID string // only this organizer's events when set
	category    string
	query       string // title contains it, ignoring case, when set
	upcoming    bool   // only events with a show ahead
	limit       int
	offset      int
}

// nextShow is the start of an event's next show, NULL when none is ahead.
const nextShow = `(SELECT min(sh.show_date) FROM shows sh WHERE sh.event_id = e.id AND sh.show_date > now())`

// ListEvents returns one page of live events matching f, the soonest next
// show first (then those with none ahead, soonest sale first), and how many
// match over all pages.
func (s *Store) ListEvents(ctx context.Context, f eventFilter) ([]*catalogv1.Event, int32, error) {
	where := []string{"e.deleted_at IS NULL", "e.status = $1"}
	args := []any{f.status}
	if f.upcoming {
		where = append(where, nextShow+" IS NOT NULL")
	}
	if f.organizerID != "" {
		args = append(args, f.organizerID)
		where = append(where, fmt.Sprintf("e.organizer_id = $%d::uuid", len(args)))
	}
	if f.category != "" {
		args = append(args, f.category)
		where = append(where, fmt.Sprintf("c.slug = $%d", len(args)))
	}
	if f.query != "" {
		args = append(args, f.query)
		where = append(where, fmt.Sprintf("strpos(lower(e.title), lower($%d)) > 0", len(args)))
	}
	cond := " WHERE " + strings.Join(where, " AND ")
	var total int32
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+eventFrom+cond, args...).Scan(&total); err != nil {
		return nil, 0, dbErr(err)
	}
	args = append(args, f.limit, f.offset)
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+eventFrom+cond+
		fmt.Sprintf(` ORDER BY `+nextShow+` ASC NULLS LAST, e.sale_start_at ASC NULLS LAST, e.created_at, e.id LIMIT $%d OFFSET $%d`, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, dbErr(err)
	}
	defer rows.Close()
	var out []*catalogv1.Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, 0, dbErr(err)
		}
		out = append(out, ev)
	}
	return out, total, dbErr(rows.Err())
}

// newEvent is what CreateEvent stores.
type newEvent struct {
	organizerID, tenantID               string
	title, description, venue, imageURL string
	categoryID                          *string
	saleStartAt, saleEndAt              time.Time
	maxPerUser                          int32
	queueEnabled                        bool
	timeZone                            string
	slug                                string
	slugFixed                           bool // the caller chose the slug: a taken one is a conflict, not a retry
}

// InsertEvent stores a draft event under e.slug; when the slug is taken and
// was derived (not chosen), it retries with a short random suffix.
func (s *Store) InsertEvent(ctx context.Context, e newEvent) (*catalogv1.Event, error) {
	slug := e.slug
	for attempt := 0; ; attempt++ {
		var id string
		err := s.pool.QueryRow(ctx, `
INSERT INTO events (organizer_id, tenant_id, category_id, title, slug, description, venue, image_url,
                    sale_start_at, sale_end_at, max_per_user, queue_enabled, time_zone)
VALUES ($1, coalesce(nullif($2, '')::uuid, '00000000-0000-0000-0000-000000000001'), $3, $4, $5, $6, $7, nullif($8, ''),
        $9, $10, $11, $12, $13)
ON CONFLICT (slug) DO NOTHING
RETURNING id`,
			e.organizerID, e.tenantID, e.categoryID, e.title, slug, e.description, e.venue, e.imageURL,
			e.saleStartAt, e.saleEndAt, e.maxPerUser, e.queueEnabled, e.timeZone).Scan(&id)
		switch {
		case err == nil:
			return eventBy(ctx, s.pool, id, "")
		case !errors.Is(err, pgx.ErrNoRows):
			return nil, dbErr(err)
		case e.slugFixed:
			return nil, errs.New(errs.Conflict, "slug is taken", "field", "slug", "slug", slug)
		case attempt >= 5:
			return nil, fmt.Errorf("no free slug for %q after %d attempts", e.slug, attempt+1)
		}
		slug = withSuffix(e.slug)
	}
}

// eventTx runs fn in a transaction holding the row lock of the live event
// with this id, so the checks fn makes (status, owner) still hold when it
// writes: publish and zone creation cannot interleave.
func (s *Store) eventTx(ctx context.Context, eventID string, fn func(tx pgx.Tx, ev *catalogv1.Event) error) error {
	// dbErr again: beginning and committing talk to Postgres too.
	return dbErr(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ev, err := eventBy(ctx, tx, eventID, "FOR UPDATE OF e")
		if err != nil {
			return err
		}
		return fn(tx, ev)
	}))
}

// showEventID returns the event a show belongs to (an immutable fact).
func (s *Store) showEventID(ctx context.Context, showID string) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT event_id FROM shows WHERE id = $1`, showID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errs.New(errs.NotFound, "show not found")
	}
	return id, dbErr(err)
}

// zoneEventID returns the event a zone belongs to (an immutable fact).
func (s *Store) zoneEventID(ctx context.Context, zoneID string) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT sh.event_id FROM seat_zones z JOIN shows sh ON sh.id = z.show_id WHERE z.id = $1`, zoneID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errs.New(errs.NotFound, "zone not found")
	}
	return id, dbErr(err)
}

// eventPatch is an UpdateEvent: nil fields stay.
type eventPatch struct {
	title, description, venue, imageURL *string
	timeZone                            *string
	categoryID                          **string // set to a nil *string to remove the category
	saleStartAt, saleEndAt              *time.Time
	maxPerUser                          *int32
	queueEnabled                        *bool
}

// updateEvent applies p to the event (inside eventTx).
func updateEvent(ctx context.Context, tx pgx.Tx, id string, p eventPatch) error {
	var (
		sets []string
		args = []any{id}
	)
	set := func(col string, v any) {
		args = append(args, v)
		sets = append(sets, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	if p.title != nil {
		set("title", *p.title)
	}
	if p.description != nil {
		set("description", *p.description)
	}
	if p.venue != nil {
		set("venue", *p.venue)
	}
	if p.imageURL != nil {
		args = append(args, *p.imageURL)
		sets = append(sets, fmt.Sprintf("image_url = nullif($%d, '')", len(args)))
	}
	if p.categoryID != nil {
		set("category_id", *p.categoryID)
	}
	if p.saleStartAt != nil {
		set("sale_start_at", *p.saleStartAt)
	}
	if p.saleEndAt != nil {
		set("sale_end_at", *p.saleEndAt)
	}
	if p.maxPerUser != nil {
		set("max_per_user", *p.maxPerUser)
	}
	if p.queueEnabled != nil {
		set("queue_enabled", *p.queueEnabled)
	}
	if p.timeZone != nil {
		set("time_zone", *p.timeZone)
	}
	if len(sets) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE events SET `+strings.Join(sets, ", ")+` WHERE id = $1`, args...)
	return dbErr(err)
}

// setStatus moves an event to status, stamping the time columns that go
// with it (inside eventTx).
func setStatus(ctx context.Context, tx pgx.Tx, id, status, reason string) error {
	var err error
	switch status {
	case statusPublished:
		_, err = tx.Exec(ctx, `UPDATE events SET status = 'published', published_at = now() WHERE id = $1`, id)
	case statusDraft:
		_, err = tx.Exec(ctx, `UPDATE events SET status = 'draft', published_at = NULL WHERE id = $1`, id)
	case statusCancelled:
		if _, err = tx.Exec(ctx, `UPDATE events SET status = 'cancelled', cancelled_at = now(), cancel_reason = nullif($2, '') WHERE id = $1`, id, reason); err == nil {
			_, err = tx.Exec(ctx, `UPDATE shows SET status = 'cancelled' WHERE event_id = $1 AND status = 'active'`, id)
		}
	default:
		err = fmt.Errorf("unknown event status %q", status)
	}
	return dbErr(err)
}

// CancelSettled records that a cancelled event's sales stopped and its
// refunds were made.
func (s *Store) CancelSettled(ctx context.Context, eventID string) error {
	_, err := s.pool.Exec(ctx, `UPDATE events SET cancel_settled_at = now() WHERE id = $1 AND cancel_settled_at IS NULL`, eventID)
	return dbErr(err)
}

// unsettledCancel is a cancelled event whose cancellation did not finish.
type unsettledCancel struct{ id, reason string }

// unsettledCancels lists (at most 100, oldest first) the cancelled events
// whose cancellation did not finish, cancelled at least after ago.
func (s *Store) unsettledCancels(ctx context.Context, after time.Duration) ([]unsettledCancel, error) {
	rows, err := s.pool.Query(ctx, `SELECT id::text, COALESCE(cancel_reason, '') FROM events
		WHERE status = 'cancelled' AND cancel_settled_at IS NULL AND cancelled_at < now() - make_interval(secs => $1)
		ORDER BY cancelled_at LIMIT 100`, after.Seconds())
	if err != nil {
		return nil, dbErr(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (unsettledCancel, error) {
		var u unsettledCancel
		return u, r.Scan(&u.id, &u.reason)
	})
	return out, dbErr(err)
}

// softDelete marks an event deleted (inside eventTx).
func softDelete(ctx context.Context, tx pgx.Tx, id string) error {
	_, err := tx.Exec(ctx, `UPDATE events SET deleted_at = now() WHERE id = $1`, id)
	return dbErr(err)
}

// publishGaps lists what an event lacks to go on sale at now: a sale
// window, a show that has not started when the sale opens (the booking
// engine sells no seat of a started show), a zone in every show.
func publishGaps(ctx context.Context, q querier, ev *catalogv1.Event, now time.Time) ([]string, error) {
	var gaps []string
	if ev.GetSaleStartAt() == nil || ev.GetSaleEndAt() == nil {
		gaps = append(gaps, "sale_start_at and sale_end_at must be set")
	}
	opens := now
	if st := ev.GetSaleStartAt(); st != nil && st.AsTime().After(now) {
		opens = st.AsTime()
	}
	var shows, empty, ahead int
	err := q.QueryRow(ctx, `
SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM seat_zones z WHERE z.show_id = s.id)),
       count(*) FILTER (WHERE s.show_date > $2)
  FROM shows s WHERE s.event_id = $1`, ev.GetId(), opens).Scan(&shows, &empty, &ahead)
	if err != nil {
		return nil, dbErr(err)
	}
	switch {
	case shows == 0:
		gaps = append(gaps, "the event needs at least one show")
	case ahead == 0 && opens.After(now):
		gaps = append(gaps, "every show starts before the sale opens: add a show whose show_date is after sale_start_at, or open the sale earlier")
	case ahead == 0:
		gaps = append(gaps, "every show has started: add a show whose show_date is in the future")
	}
	switch {
	case empty == 1:
		gaps = append(gaps, "1 show has no seat zone")
	case empty > 1:
		gaps = append(gaps, fmt.Sprintf("%d shows have no seat zone", empty))
	}
	return gaps, nil
}

const showColumns = `id, event_id, show_date, total_seats, available_seats, status, created_at, ends_at`

func scanShow(row pgx.Row) (*catalogv1.Show, error) {
	var (
		sh            catalogv1.Show
		date, created time.Time
		ends          *time.Time
		status        string
	)
	if err := row.Scan(&sh.Id, &sh.EventId, &date, &sh.TotalSeats, &sh.AvailableSeats, &status, &created, &ends); err != nil {
		return nil, err
	}
	sh.ShowDate, sh.CreatedAt = timestamppb.New(date), timestamppb.New(created)
	if ends != nil {
		sh.EndsAt = timestamppb.New(*ends)
	}
	sh.Status = catalogv1.ShowStatus_SHOW_STATUS_ACTIVE
	if status == "cancelled" {
		sh.Status = catalogv1.ShowStatus_SHOW_STATUS_CANCELLED
	}
	return &sh, nil
}

// insertShow adds a show to an event (inside eventTx); ends is nil when the
// organizer did not say when it ends.
func insertShow(ctx context.Context, tx pgx.Tx, eventID string, date time.Time, ends *time.Time) (*catalogv1.Show, error) {
	sh, err := scanShow(tx.QueryRow(ctx, `INSERT INTO shows (event_id, show_date, ends_at) VALUES ($1, $2, $3) RETURNING `+showColumns, eventID, date, ends))
	return sh, dbErr(err)
}

// noShowAt refuses a second show of an event at the instant of one it has
// (inside eventTx, which holds the event's row: two clicks on "Add show" or
// a copied form do not both pass): 409 CONFLICT, details.reason
// "show_exists", the time written in the event's zone.
func noShowAt(ctx context.Context, tx pgx.Tx, ev *catalogv1.Event, at time.Time) error {
	var id string
	err := tx.QueryRow(ctx, `SELECT id::text FROM shows WHERE event_id = $1 AND show_date = $2 LIMIT 1`, ev.GetId(), at).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return dbErr(err)
	}
	return errs.New(errs.Conflict, "the event already has a show at "+showtime.Format(at, ev.GetTimeZone()),
		"reason", "show_exists", "field", "show_date", "show_id", id)
}

// zonesOfShow lists a show's zone ids (inside eventTx).
func zonesOfShow(ctx context.Context, tx pgx.Tx, showID string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT id::text FROM seat_zones WHERE show_id = $1`, showID)
	if err != nil {
		return nil, dbErr(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, dbErr(err)
}

// deleteShow deletes a show and its zones (inside eventTx, which holds the
// event's row: nothing is added to the show meanwhile) and returns it as
// it was.
func deleteShow(ctx context.Context, tx pgx.Tx, showID string) (*catalogv1.Show, error) {
	sh, err := scanShow(tx.QueryRow(ctx, `DELETE FROM shows WHERE id = $1 RETURNING `+showColumns, showID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.New(errs.NotFound, "show not found")
	}
	return sh, dbErr(err)
}

// Show returns one show with its zones' names and its event's status, venue
// and time zone (of a deleted event too: a refund of one of its bookings
// still needs the show's date).
func (s *Store) Show(ctx context.Context, showID string) (*catalogv1.GetShowResponse, error) {
	sh, err := scanShow(s.pool.QueryRow(ctx, `SELECT `+showColumns+` FROM shows WHERE id = $1`, showID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.New(errs.NotFound, "show not found")
	}
	if err != nil {
		return nil, dbErr(err)
	}
	var status string
	out := &catalogv1.GetShowResponse{Show: sh}
	if err := s.pool.QueryRow(ctx, `SELECT status, title, COALESCE(cancel_reason, ''), time_zone, venue,
		(SELECT COALESCE(jsonb_object_agg(id::text, name), '{}') FROM seat_zones WHERE show_id = $2)
		FROM events WHERE id = $1`, sh.GetEventId(), showID).
		Scan(&status, &out.EventTitle, &out.CancelReason, &out.EventTimeZone, &out.EventVenue, &out.ZoneNames); err != nil {
		return nil, dbErr(err)
	}
	out.EventStatus = eventStatus(status)
	return out, nil
}

// Shows returns an event's shows by date, with the Postgres seat counters.
func (s *Store) Shows(ctx context.Context, eventID string) ([]*catalogv1.Show, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+showColumns+` FROM shows WHERE event_id = $1 ORDER BY show_date, id`, eventID)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*catalogv1.Show
	for rows.Next() {
		sh, err := scanShow(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, sh)
	}
	return out, dbErr(rows.Err())
}

const zoneColumns = `id, show_id, name, price::text, total_seats, available_seats, created_at`

func scanZone(row pgx.Row) (*catalogv1.Zone, error) {
	var (
		z       catalogv1.Zone
		created time.Time
	)
	if err := row.Scan(&z.Id, &z.ShowId, &z.Name, &z.Price, &z.TotalSeats, &z.AvailableSeats, &created); err != nil {
		return nil, err
	}
	z.Currency, z.CreatedAt = currency, timestamppb.New(created)
	return &z, nil
}

// insertZone adds a zone to a show (inside eventTx); every seat starts
// available.
func insertZone(ctx context.Context, tx pgx.Tx, showID, name, price string, seats int32) (*catalogv1.Zone, error) {
	z, err := scanZone(tx.QueryRow(ctx, `
INSERT INTO seat_zones (show_id, name, price, total_seats, available_seats) VALUES ($1, $2, $3::numeric, $4, $4)
RETURNING `+zoneColumns, showID, name, price, seats))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.ConstraintName == "seat_zones_show_name_key" {
		return nil, errs.New(errs.Conflict, "the show already has a zone with this name", "field", "name")
	}
	return z, dbErr(err)
}

// deleteZone deletes a zone (inside eventTx) and returns it as it was.
func deleteZone(ctx context.Context, tx pgx.Tx, zoneID string) (*catalogv1.Zone, error) {
	// The zone's show first, then the zone: the delete's roll-up moves the
	// show's counters, and a counters batch (counters.go) locks shows, then
	// zones. Taking the zone first deadlocked with a batch holding the show
	// and waiting for the zone (Postgres aborted the delete: a 503).
	if _, err := tx.Exec(ctx, `SELECT 1 FROM shows WHERE id = (SELECT show_id FROM seat_zones WHERE id = $1) FOR UPDATE`, zoneID); err != nil {
		return nil, dbErr(err)
	}
	z, err := scanZone(tx.QueryRow(ctx, `DELETE FROM seat_zones WHERE id = $1 RETURNING `+zoneColumns, zoneID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.New(errs.NotFound, "zone not found")
	}
	return z, dbErr(err)
}

// Zones returns a show's zones, cheapest first, with the Postgres seat
// counters (kept in sync by the booking persister).
func (s *Store) Zones(ctx context.Context, showID string) ([]*catalogv1.Zone, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+zoneColumns+` FROM seat_zones WHERE show_id = $1 ORDER BY price, name, id`, showID)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*catalogv1.Zone
	for rows.Next() {
		z, err := scanZone(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, z)
	}
	return out, dbErr(rows.Err())
}

func scanCategory(row pgx.Row) (*catalogv1.Category, error) {
	var (
		c       catalogv1.Category
		created time.Time
	)
	if err := row.Scan(&c.Id, &c.Name, &c.Slug, &created); err != nil {
		return nil, err
	}
	c.CreatedAt = timestamppb.New(created)
	return &c, nil
}

// Categories returns every category by name.
func (s *Store) Categories(ctx context.Context) ([]*catalogv1.Category, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, slug, created_at FROM categories ORDER BY name, slug`)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*catalogv1.Category
	for rows.Next() {
		c, err := scanCategory(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, c)
	}
	return out, dbErr(rows.Err())
}

// InsertCategory adds a category; a taken slug is a conflict.
func (s *Store) InsertCategory(ctx context.Context, name, slug string) (*catalogv1.Category, error) {
	c, err := scanCategory(s.pool.QueryRow(ctx, `
INSERT INTO categories (name, slug) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING
RETURNING id, name, slug, created_at`, name, slug))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.New(errs.Conflict, "a category with this slug exists", "field", "slug", "slug", slug)
	}
	return c, dbErr(err)
}

// categoryID resolves a category slug; an unknown one is a validation
// error on field.
func (s *Store) categoryID(ctx context.Context, slug, field string) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT id FROM categories WHERE slug = $1`, slug).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errs.Invalid(field, "category.known", "must be a category of GET /categories", "category", slug)
	}
	return id, dbErr(err)
}

// dbErr turns the constraint violations that bad input can cause into
// VALIDATION_ERROR (or CONFLICT) naming the constraint, and a database that
// cannot be reached into SERVICE_UNAVAILABLE (dependency postgres); domain
// errors pass through and any other error Postgres answered stays internal.
func dbErr(err error) error {
	var de *errs.Error
	if err == nil || errors.As(err, &de) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23514", "23502", "23503", "22001", "22003", "22007", "22008", "22P02":
			return errs.New(errs.Validation, "the change breaks a rule of the catalog", "constraint", pe.ConstraintName)
		case "23505":
			return errs.New(errs.Conflict, "already exists", "constraint", pe.ConstraintName)
		}
	}
	return postgres.ConnectionError("the catalog database", err)
}

// inventory reads the snapshot of an event that the booking service sells
// from (BookingService.LoadInventory): its sale settings and every zone of
// its shows, in one repeatable-read transaction.
func (s *Store) inventory(ctx context.Context, eventID string) (*bookingv1.LoadInventoryRequest, error) {
	req := &bookingv1.LoadInventoryRequest{EventId: eventID, Sale: &bookingv1.EventSale{}}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var start, end *time.Time
		sale := req.Sale
		err := tx.QueryRow(ctx, `SELECT status, sale_start_at, sale_end_at, max_per_user, queue_enabled
			FROM events WHERE id = $1 AND deleted_at IS NULL`, eventID).
			Scan(&sale.Status, &start, &end, &sale.MaxPerUser, &sale.QueueEnabled)
		if errors.Is(err, pgx.ErrNoRows) {
			return errEventNotFound
		}
		if err != nil {
			return err
		}
		sale.SaleStartAt, sale.SaleEndAt = ts(start), ts(end)
		rows, err := tx.Query(ctx, `SELECT z.id::text, z.show_id::text, (z.price * 100)::bigint, z.total_seats, sh.show_date
			FROM seat_zones z JOIN shows sh ON sh.id = z.show_id WHERE sh.event_id = $1 ORDER BY z.id`, eventID)
		if err != nil {
			return err
		}
		req.Zones, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*bookingv1.InventoryZone, error) {
			z := new(bookingv1.InventoryZone)
			var starts time.Time
			err := r.Scan(&z.ZoneId, &z.ShowId, &z.PriceCents, &z.TotalSeats, &starts)
			z.ShowDate = timestamppb.New(starts)
			return z, err
		})
		return err
	})
	if err != nil {
		return nil, dbErr(err)
	}
	return req, nil
}
