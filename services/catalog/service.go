package catalog

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	commonv1 "github.com/bookingrush/rush/gen/bookingrush/common/v1"
	"github.com/bookingrush/rush/services/platform/audit"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/platform/showtime"
)

// defaultMaxPerUser applies when CreateEvent leaves max_per_user at 0.
const defaultMaxPerUser = 4

// maxShowAheadYears bounds how far ahead a show may start: a date decades
// away is a typo ("2107" for "2027"), and a ticket code's validity ends in
// 2106 (eticket: 32-bit seconds), after which its tickets would admit no one.
const maxShowAheadYears = 10 // the message of CreateShow says it

// Service holds the catalog's rules.
//
// Who may do what:
//   - create an event: role organizer or admin (a user is FORBIDDEN);
//   - change, delete, publish, cancel an event and add its shows and zones:
//     its organizer or an admin. Another organizer gets FORBIDDEN when the
//     event is public (published or cancelled: it exists for everyone, so
//     saying so leaks nothing) and NOT_FOUND when it is someone else's
//     draft (a draft is invisible to them, and the answer must not reveal it);
//   - read: published and cancelled events for everyone, drafts for their
//     organizer and admins; deleted events for no one.
//
// Life cycle: draft -> published -> cancelled. Shows and zones change only
// while the event is a draft (the booking engine loads its stock from them
// at publish); a draft is deleted (soft), a published event is cancelled.
type Service struct {
	store *Store
	cache *Cache
	inv   *Inventory
	log   *zap.Logger
	now   func() time.Time
}

// NewService wires the rules to their store, cache and booking client.
func NewService(store *Store, cache *Cache, inv *Inventory, log *zap.Logger) *Service {
	return &Service{store: store, cache: cache, inv: inv, log: log.With(zap.String("component", "catalog")), now: time.Now}
}

// requireOrganizer returns the caller if it may own events: organizers and
// admins, as a person (the system's service token owns nothing).
func requireOrganizer(ctx context.Context) (*authn.Principal, error) {
	p, err := authn.Require(ctx, authn.RoleOrganizer, authn.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if p.Role == authn.RoleService {
		return nil, errs.New(errs.Forbidden, "events are owned by an organizer, not by a service")
	}
	return p, nil
}

// owns reports whether p may change ev.
func owns(p *authn.Principal, ev *catalogv1.Event) bool {
	return p != nil && (p.Role == authn.RoleAdmin || (p.Role == authn.RoleOrganizer && p.UserID == ev.GetOrganizerId()))
}

// canSee reports whether p may read ev.
func canSee(p *authn.Principal, ev *catalogv1.Event) bool {
	return ev.GetStatus() != catalogv1.EventStatus_EVENT_STATUS_DRAFT || owns(p, ev) || (p != nil && p.Role == authn.RoleService)
}

// authorize answers why p may not change ev, nil when it may.
func authorize(p *authn.Principal, ev *catalogv1.Event) error {
	switch {
	case owns(p, ev):
		return nil
	case !canSee(p, ev):
		return errEventNotFound
	}
	return errs.New(errs.Forbidden, "only the event's organizer or an admin may change it")
}

// errClosed refuses to change the shows and zones of an event that sells
// nothing more.
var errClosed = errs.New(errs.Conflict, "a cancelled event's shows and zones do not change")

func isDraft(ev *catalogv1.Event) bool {
	return ev.GetStatus() == catalogv1.EventStatus_EVENT_STATUS_DRAFT
}

// timeZone checks an event's time zone name; "" is UTC.
func timeZone(name string) (string, error) {
	loc, err := showtime.Zone(name)
	if err != nil {
		return "", errs.Invalid("time_zone", "time_zone.iana", "is not a time zone of the tz database (an IANA name such as Europe/Paris)")
	}
	return loc.String(), nil
}

// CreateEvent creates a draft event owned by the caller.
func (s *Service) CreateEvent(ctx context.Context, req *catalogv1.CreateEventRequest) (*catalogv1.Event, error) {
	p, err := requireOrganizer(ctx)
	if err != nil {
		return nil, err
	}
	if err := notBlank("title", req.GetTitle()); err != nil {
		return nil, err
	}
	start, end := req.GetSaleStartAt().AsTime(), req.GetSaleEndAt().AsTime()
	if !end.After(s.now()) {
		return nil, errs.Invalid("sale_end_at", "sale_end_at.future", "must be in the future")
	}
	e := newEvent{
		organizerID: p.UserID, tenantID: p.TenantID,
		title: req.GetTitle(), description: req.GetDescription(), venue: req.GetVenue(), imageURL: req.GetImageUrl(),
		saleStartAt: start, saleEndAt: end,
		maxPerUser: req.GetMaxPerUser(), queueEnabled: req.GetQueueEnabled(),
		slug: req.GetSlug(), slugFixed: req.GetSlug() != "",
	}
	if e.timeZone, err = timeZone(req.GetTimeZone()); err != nil {
		return nil, err
	}
	if e.maxPerUser == 0 {
		e.maxPerUser = defaultMaxPerUser
	}
	switch {
	case !e.slugFixed:
		e.slug = slugify(req.GetTitle(), "event")
		if isUUID(e.slug) {
			e.slug = withSuffix(e.slug) // a title that is an id
		}
	case isUUID(e.slug):
		// An event's id is its other URL name (eventBy).
		return nil, errs.Invalid("slug", "slug.not_an_id", "must not have the shape of an event id (a UUID)")
	}
	if req.GetCategory() != "" {
		id, err := s.store.categoryID(ctx, req.GetCategory(), "category")
		if err != nil {
			return nil, err
		}
		e.categoryID = &id
	}
	ev, err := s.store.InsertEvent(ctx, e)
	if err != nil {
		return nil, err
	}
	s.cache.InvalidateEvent(ctx, ev.GetId())
	// InsertEvent retries slugs outside a transaction, so the entry follows
	// the insert (a failed write is logged: the draft exists either way).
	s.record(ctx, s.store.pool, audit.Entry{Action: "event.create", EntityType: "event", EntityID: ev.GetId(), New: ev})
	return ev, nil
}

// record writes an audit entry that follows a change already committed:
// the change stands, so a failed write is logged, not returned.
func (s *Service) record(ctx context.Context, q audit.Execer, e audit.Entry) {
	if err := audit.Record(ctx, q, e); err != nil {
		s.log.Error("audit entry not recorded", zap.String("action", e.Action), zap.String("entity_id", e.EntityID), zap.Error(err))
	}
}

// saleFields are the event fields the booking engine enforces from its
// loaded copy, so changing them on a published event reloads the inventory.
type saleFields struct {
	start, end   *time.Time
	maxPerUser   int32
	queueEnabled bool
}

func saleOf(ev *catalogv1.Event) saleFields {
	f := saleFields{maxPerUser: ev.GetMaxPerUser(), queueEnabled: ev.GetQueueEnabled()}
	if ev.SaleStartAt != nil {
		t := ev.GetSaleStartAt().AsTime()
		f.start = &t
	}
	if ev.SaleEndAt != nil {
		t := ev.GetSaleEndAt().AsTime()
		f.end = &t
	}
	return f
}

func (f saleFields) equal(g saleFields) bool {
	return sameTime(f.start, g.start) && sameTime(f.end, g.end) && f.maxPerUser == g.maxPerUser && f.queueEnabled == g.queueEnabled
}

// sameTime says whether two optional instants are both unset or equal.
func sameTime(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }

// UpdateEvent changes the fields that are set. A cancelled event does not
// change. When a published event's sale rules change (window, per-user
// limit, queue), the booking engine reloads them; if it cannot, the sale
// rules are put back and the answer is SERVICE_UNAVAILABLE.
func (s *Service) UpdateEvent(ctx context.Context, req *catalogv1.UpdateEventRequest) (*catalogv1.Event, error) {
	p, err := requireOrganizer(ctx)
	if err != nil {
		return nil, err
	}
	if req.Title != nil {
		if err := notBlank("title", req.GetTitle()); err != nil {
			return nil, err
		}
	}
	patch := eventPatch{
		title: req.Title, description: req.Description, venue: req.Venue, imageURL: req.ImageUrl,
		maxPerUser: req.MaxPerUser, queueEnabled: req.QueueEnabled,
	}
	if req.TimeZone != nil {
		tz, err := timeZone(req.GetTimeZone())
		if err != nil {
			return nil, err
		}
		patch.timeZone = &tz
	}
	if req.SaleStartAt != nil {
		t := req.GetSaleStartAt().AsTime()
		patch.saleStartAt = &t
	}
	if req.SaleEndAt != nil {
		t := req.GetSaleEndAt().AsTime()
		if !t.After(s.now()) {
			return nil, errs.Invalid("sale_end_at", "sale_end_at.future", "must be in the future")
		}
		patch.saleEndAt = &t
	}
	if req.Category != nil {
		var id *string
		if req.GetCategory() != "" {
			cid, err := s.store.categoryID(ctx, req.GetCategory(), "category")
			if err != nil {
				return nil, err
			}
			id = &cid
		}
		patch.categoryID = &id
	}
	var before, after *catalogv1.Event
	err = s.store.eventTx(ctx, req.GetEventId(), func(tx pgx.Tx, ev *catalogv1.Event) error {
		if err := authorize(p, ev); err != nil {
			return err
		}
		if ev.GetStatus() == catalogv1.EventStatus_EVENT_STATUS_CANCELLED {
			return errs.New(errs.Conflict, "a cancelled event cannot change")
		}
		start, end := patch.saleStartAt, patch.saleEndAt
		if start == nil && ev.SaleStartAt != nil {
			t := ev.GetSaleStartAt().AsTime()
			start = &t
		}
		if end == nil && ev.SaleEndAt != nil {
			t := ev.GetSaleEndAt().AsTime()
			end = &t
		}
		if start != nil && end != nil && !end.After(*start) {
			return errs.Invalid("sale_end_at", "sale_window.order", "must be after sale_start_at")
		}
		if ev.GetStatus() == catalogv1.EventStatus_EVENT_STATUS_PUBLISHED && patch.saleStartAt != nil && patch.saleStartAt.After(s.now()) {
			// As at publish: a sale that opens once every show started
			// could sell nothing.
			var ahead bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM shows WHERE event_id = $1 AND show_date > $2)`, ev.GetId(), *patch.saleStartAt).Scan(&ahead); err != nil {
				return dbErr(err)
			}
			if !ahead {
				return errs.New(errs.Conflict, "every show starts before the sale would open: move sale_start_at before a show's show_date",
					"reason", "shows_started")
			}
		}
		if err := updateEvent(ctx, tx, ev.GetId(), patch); err != nil {
			return err
		}
		before = ev
		if after, err = eventBy(ctx, tx, ev.GetId(), ""); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "event.update", EntityType: "event", EntityID: ev.GetId(), Old: before, New: after})
	})
	if err != nil {
		return nil, err
	}
	s.cache.InvalidateEvent(ctx, after.GetId())
	if after.GetStatus() != catalogv1.EventStatus_EVENT_STATUS_PUBLISHED || saleOf(before).equal(saleOf(after)) {
		return after, nil
	}
	if err := s.inv.Load(ctx, after.GetId()); err != nil {
		s.restoreSale(ctx, before, after)
		return nil, err
	}
	return after, nil
}

// SetQueueEnabled switches the event's waiting room for the queue service
// (the system only: the queue decided that its caller may). A cancelled
// event does not change. When the switch of a published event changes, the
// booking engine reloads the sale settings; if it cannot, the switch is put
// back and the answer is SERVICE_UNAVAILABLE (nothing changed).
func (s *Service) SetQueueEnabled(ctx context.Context, eventID string, enabled bool) (*catalogv1.Event, error) {
	if err := authn.RequireService(ctx, "the waiting room is switched with the queue's settings"); err != nil {
		return nil, err
	}
	var before, after *catalogv1.Event
	err := s.store.eventTx(ctx, eventID, func(tx pgx.Tx, ev *catalogv1.Event) error {
		if ev.GetStatus() == catalogv1.EventStatus_EVENT_STATUS_CANCELLED {
			return errs.New(errs.Conflict, "a cancelled event does not change")
		}
		before, after = ev, ev
		if ev.GetQueueEnabled() == enabled {
			return nil
		}
		if err := updateEvent(ctx, tx, ev.GetId(), eventPatch{queueEnabled: &enabled}); err != nil {
			return err
		}
		var err error
		after, err = eventBy(ctx, tx, ev.GetId(), "")
		return err
	})
	if err != nil {
		return nil, err
	}
	if before.GetQueueEnabled() == after.GetQueueEnabled() {
		return after, nil
	}
	s.cache.InvalidateEvent(ctx, eventID)
	if after.GetStatus() != catalogv1.EventStatus_EVENT_STATUS_PUBLISHED {
		return after, nil
	}
	if err := s.inv.Load(ctx, after.GetId()); err != nil {
		s.restoreSale(ctx, before, after)
		return nil, err
	}
	return after, nil
}

// restoreSale puts back the sale rules of a published event whose new ones
// (after) the booking engine could not load, so Postgres keeps describing
// what the engine enforces: each rule this change set and that still holds
// its value goes back to before's (a rule someone changed since stays
// theirs). The engine is then asked to load the event again, best effort:
// the failed load may have happened all the same (an answer that came too
// late), and would otherwise enforce what Postgres no longer says.
func (s *Service) restoreSale(ctx context.Context, before, after *catalogv1.Event) {
	ctx = context.WithoutCancel(ctx)
	was, ours := saleOf(before), saleOf(after)
	err := s.store.eventTx(ctx, before.GetId(), func(tx pgx.Tx, cur *catalogv1.Event) error {
		now := saleOf(cur)
		var back eventPatch
		if !sameTime(was.start, ours.start) && sameTime(now.start, ours.start) && was.start != nil {
			back.saleStartAt = was.start
		}
		if !sameTime(was.end, ours.end) && sameTime(now.end, ours.end) && was.end != nil {
			back.saleEndAt = was.end
		}
		if was.maxPerUser != ours.maxPerUser && now.maxPerUser == ours.maxPerUser {
			back.maxPerUser = &was.maxPerUser
		}
		if was.queueEnabled != ours.queueEnabled && now.queueEnabled == ours.queueEnabled {
			back.queueEnabled = &was.queueEnabled
		}
		if err := updateEvent(ctx, tx, before.GetId(), back); err != nil {
			return err
		}
		restored, err := eventBy(ctx, tx, before.GetId(), "")
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "event.update_reverted", EntityType: "event", EntityID: before.GetId(), Old: cur, New: restored})
	})
	if err != nil {
		s.log.Error("could not restore the sale rules after a failed inventory reload", zap.String("event_id", before.GetId()), zap.Error(err))
	}
	s.cache.InvalidateEvent(ctx, before.GetId())
	if err := s.inv.Load(ctx, before.GetId()); err != nil {
		s.log.Warn("sale rules restored; the booking engine could not be told yet (its next load tells it)", zap.String("event_id", before.GetId()), zap.Error(err))
	}
}

// DeleteEvent soft-deletes a draft; a published event is cancelled instead.
func (s *Service) DeleteEvent(ctx context.Context, eventID string) error {
	p, err := requireOrganizer(ctx)
	if err != nil {
		return err
	}
	err = s.store.eventTx(ctx, eventID, func(tx pgx.Tx, ev *catalogv1.Event) error {
		if err := authorize(p, ev); err != nil {
			return err
		}
		if !isDraft(ev) {
			return errs.New(errs.Conflict, "only a draft can be deleted; cancel a published event instead", "status", server.EnumWord(ev.GetStatus()))
		}
		// A draft takes no money, but one a failed publish took back may
		// have sold in the moment it was on sale: such money goes back
		// before the event goes (none to refund is one quick call).
		if total, failed, err := s.inv.RefundEvent(ctx, ev.GetId(), "the event was withdrawn before it went on sale"); err != nil || failed > 0 {
			if err == nil {
				err = errs.New(errs.ServiceUnavailable, "the draft had paid bookings and some refunds failed; nothing was deleted, retry", "refunds", total, "failed", failed)
			}
			return err
		}
		if err := softDelete(ctx, tx, ev.GetId()); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "event.delete", EntityType: "event", EntityID: ev.GetId(), Old: ev, New: map[string]any{"deleted": true}})
	})
	if err != nil {
		return err
	}
	s.cache.InvalidateEvent(ctx, eventID)
	return nil
}

// removeTx runs fn in a transaction on an event the caller may change (its
// organizer or an admin), to delete zones (a show's with it): zones of a
// draft; of an event on sale, those nobody reserved from, which the booking
// engine takes off the sale (all or none) before the deletion commits. what
// names the show or zone addressed through the event, answered NOT_FOUND
// when the caller may not see the event. fn answers the ids of the zones it
// deleted. The event's cached reads are invalidated after a commit.
func (s *Service) removeTx(ctx context.Context, eventID, what string, fn func(tx pgx.Tx) (zones []string, err error)) error {
	return s.changeTx(ctx, eventID, what, isOpen, errClosed, func(tx pgx.Tx, ev *catalogv1.Event) error {
		zones, err := fn(tx)
		if err != nil || isDraft(ev) || len(zones) == 0 {
			return err
		}
		return s.inv.Drop(ctx, eventID, zones)
	})
}

// isOpen tells an event that still takes changes to its shows and zones: a
// draft, or an event on sale.
func isOpen(ev *catalogv1.Event) bool {
	return isDraft(ev) || ev.GetStatus() == catalogv1.EventStatus_EVENT_STATUS_PUBLISHED
}

// addTx is removeTx's counterpart for what adds shows and zones: to a
// draft, or to an event on sale (extra dates, released seats), whose
// inventory booking then loads before the answer. When the load fails,
// undo removes what fn added and returns the zones among it, and the answer
// is booking's SERVICE_UNAVAILABLE: nothing is shown that is not sold.
//
// A failed load may have loaded all the same (booking answered after the
// catalog stopped waiting), so the zones are taken off the sale in the same
// transaction as the undo, before it commits, by the step that refuses when
// anybody reserved from them (Inventory.Drop): then they stay, on sale and
// listed, and the answer is the success it was. When booking cannot be
// reached for that either, the undo commits alone: had booking loaded the
// zones, they stay in its inventory of the event on sale (a later snapshot
// without them does not drop them: it may just be older), but sell to
// nobody (a zone's id is a UUID only the catalog's listings give out, and
// they no longer do).
func (s *Service) addTx(ctx context.Context, eventID, what string, fn func(tx pgx.Tx, ev *catalogv1.Event) error, undo func(tx pgx.Tx) (zones []string, err error)) error {
	var published bool
	open := func(ev *catalogv1.Event) bool {
		published = !isDraft(ev)
		return isOpen(ev)
	}
	if err := s.changeTx(ctx, eventID, what, open, errClosed, fn); err != nil || !published {
		return err
	}
	err := s.inv.Load(ctx, eventID)
	if err == nil {
		return nil
	}
	uctx := context.WithoutCancel(ctx)
	uerr := s.store.eventTx(uctx, eventID, func(tx pgx.Tx, _ *catalogv1.Event) error {
		zones, err := undo(tx)
		if err != nil || len(zones) == 0 {
			return err
		}
		derr := s.inv.Drop(uctx, eventID, zones)
		if errs.Is(derr, errs.Conflict) {
			return errLoaded
		}
		return nil // Drop logged its failure
	})
	s.cache.InvalidateEvent(uctx, eventID)
	switch {
	case errors.Is(uerr, errLoaded):
		s.log.Info("the booking engine's load of a new zone failed late, and buyers reserved from it: it stays", zap.String("event_id", eventID))
		return nil
	case uerr != nil:
		s.log.Error("the booking engine did not load a new show or zone, and it could not be taken back",
			zap.String("event_id", eventID), zap.Error(uerr))
	}
	return err
}

// errLoaded rolls back the undo of a zone booking loaded after all.
var errLoaded = errors.New("the booking engine sells the zone: somebody reserved from it")

// changeTx runs fn in a transaction on an event the caller may change and
// that allowed accepts (refused with refusal otherwise).
func (s *Service) changeTx(ctx context.Context, eventID, what string, allowed func(*catalogv1.Event) bool, refusal error, fn func(tx pgx.Tx, ev *catalogv1.Event) error) error {
	p, err := requireOrganizer(ctx)
	if err != nil {
		return err
	}
	err = s.store.eventTx(ctx, eventID, func(tx pgx.Tx, ev *catalogv1.Event) error {
		if err := authorize(p, ev); err != nil {
			if what != "" && errors.Is(err, errEventNotFound) {
				return errs.New(errs.NotFound, what+" not found")
			}
			return err
		}
		if !allowed(ev) {
			return refusal
		}
		return fn(tx, ev)
	})
	if err != nil {
		return err
	}
	s.cache.InvalidateEvent(ctx, eventID)
	return nil
}

// CreateShow adds a show to a draft event, or to an event on sale (an extra
// date: its zones go on sale as they are added).
func (s *Service) CreateShow(ctx context.Context, req *catalogv1.CreateShowRequest) (*catalogv1.Show, error) {
	if req.GetShowDate().AsTime().After(s.now().AddDate(maxShowAheadYears, 0, 0)) {
		return nil, errs.Invalid("show_date", "show_date.max", "must be at most 10 years ahead")
	}
	var show *catalogv1.Show
	err := s.addTx(ctx, req.GetEventId(), "", func(tx pgx.Tx, ev *catalogv1.Event) (err error) {
		var ends *time.Time
		if req.GetEndsAt() != nil {
			t := req.GetEndsAt().AsTime()
			ends = &t
		}
		if err = noShowAt(ctx, tx, ev, req.GetShowDate().AsTime()); err != nil {
			return err
		}
		if show, err = insertShow(ctx, tx, ev.GetId(), req.GetShowDate().AsTime(), ends); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "show.create", EntityType: "show", EntityID: show.GetId(), New: show})
	}, func(tx pgx.Tx) ([]string, error) {
		if _, err := deleteShow(ctx, tx, show.GetId()); err != nil {
			return nil, err
		}
		// A new show has no zones: nothing of it can be on sale.
		return nil, audit.Record(ctx, tx, audit.Entry{Action: "show.create_undone", EntityType: "show", EntityID: show.GetId(), Old: show})
	})
	if err != nil {
		return nil, err
	}
	return show, nil
}

// DeleteShow deletes a show, with its zones: of a draft, or of an event on
// sale when nobody reserved from any of its zones.
func (s *Service) DeleteShow(ctx context.Context, showID string) error {
	eventID, err := s.store.showEventID(ctx, showID)
	if err != nil {
		return err
	}
	err = s.removeTx(ctx, eventID, "show", func(tx pgx.Tx) ([]string, error) {
		zones, err := zonesOfShow(ctx, tx, showID)
		if err != nil {
			return nil, err
		}
		old, err := deleteShow(ctx, tx, showID)
		if err != nil {
			return nil, err
		}
		return zones, audit.Record(ctx, tx, audit.Entry{Action: "show.delete", EntityType: "show", EntityID: showID, Old: old})
	})
	if err == nil {
		s.cache.ForgetShow(ctx, showID)
	}
	return err
}

// CreateZone adds a zone to a show of a draft event, or of an event on sale
// (released seats), where it goes on sale at once.
func (s *Service) CreateZone(ctx context.Context, req *catalogv1.CreateZoneRequest) (*catalogv1.Zone, error) {
	eventID, err := s.store.showEventID(ctx, req.GetShowId())
	if err != nil {
		return nil, err
	}
	var zone *catalogv1.Zone
	err = s.addTx(ctx, eventID, "show", func(tx pgx.Tx, _ *catalogv1.Event) (err error) {
		if err = notBlank("name", req.GetName()); err != nil {
			return err
		}
		if zone, err = insertZone(ctx, tx, req.GetShowId(), req.GetName(), req.GetPrice(), req.GetTotalSeats()); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "zone.create", EntityType: "zone", EntityID: zone.GetId(), New: zone})
	}, func(tx pgx.Tx) ([]string, error) {
		if _, err := deleteZone(ctx, tx, zone.GetId()); err != nil {
			return nil, err
		}
		return []string{zone.GetId()}, audit.Record(ctx, tx, audit.Entry{Action: "zone.create_undone", EntityType: "zone", EntityID: zone.GetId(), Old: zone})
	})
	if err != nil {
		return nil, err
	}
	return zone, nil
}

// DeleteZone deletes a zone: of a draft, or of an event on sale when nobody
// reserved from it.
func (s *Service) DeleteZone(ctx context.Context, zoneID string) error {
	eventID, err := s.store.zoneEventID(ctx, zoneID)
	if err != nil {
		return err
	}
	return s.removeTx(ctx, eventID, "zone", func(tx pgx.Tx) ([]string, error) {
		old, err := deleteZone(ctx, tx, zoneID)
		if err != nil {
			return nil, err
		}
		return []string{zoneID}, audit.Record(ctx, tx, audit.Entry{Action: "zone.delete", EntityType: "zone", EntityID: zoneID, Old: old})
	})
}

// PublishEvent puts a draft on sale. The status is committed first (the
// booking engine reads it from Postgres when it loads), then the inventory
// is loaded; if that fails the event goes back to draft and the answer is
// SERVICE_UNAVAILABLE, so a retry starts from a clean state.
func (s *Service) PublishEvent(ctx context.Context, eventID string) (*catalogv1.Event, error) {
	p, err := requireOrganizer(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.eventTx(ctx, eventID, func(tx pgx.Tx, ev *catalogv1.Event) error {
		if err := authorize(p, ev); err != nil {
			return err
		}
		if !isDraft(ev) {
			return errs.New(errs.Conflict, "only a draft can be published", "status", server.EnumWord(ev.GetStatus()))
		}
		gaps, err := publishGaps(ctx, tx, ev, s.now())
		if err != nil {
			return err
		}
		if ev.SaleEndAt != nil && !ev.GetSaleEndAt().AsTime().After(s.now()) {
			gaps = append(gaps, "the sale window is over: move sale_end_at into the future")
		}
		if len(gaps) > 0 {
			missing := make([]any, len(gaps))
			for i, g := range gaps {
				missing[i] = g
			}
			return errs.New(errs.Conflict, "the event is not ready to publish", "missing", missing)
		}
		if err := setStatus(ctx, tx, ev.GetId(), statusPublished, ""); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "event.publish", EntityType: "event", EntityID: ev.GetId(),
			Old: map[string]any{"status": statusDraft}, New: map[string]any{"status": statusPublished}})
	})
	if err != nil {
		return nil, err
	}
	s.cache.InvalidateEvent(ctx, eventID)
	if err := s.inv.Load(ctx, eventID); err != nil {
		s.unpublish(ctx, eventID)
		return nil, err
	}
	return s.store.Event(ctx, eventID)
}

// unpublish returns an event whose inventory did not load to draft. It then
// asks the booking engine once more to load it, best effort: had the failed
// load in fact happened (a timeout after the work), the engine now reads the
// draft status and does not sell.
func (s *Service) unpublish(ctx context.Context, eventID string) {
	ctx = context.WithoutCancel(ctx)
	err := s.store.eventTx(ctx, eventID, func(tx pgx.Tx, ev *catalogv1.Event) error {
		if ev.GetStatus() != catalogv1.EventStatus_EVENT_STATUS_PUBLISHED {
			return nil
		}
		if err := setStatus(ctx, tx, eventID, statusDraft, ""); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "event.publish_reverted", EntityType: "event", EntityID: eventID,
			Old: map[string]any{"status": statusPublished}, New: map[string]any{"status": statusDraft}})
	})
	if err != nil {
		s.log.Error("publish failed and the event could not go back to draft", zap.String("event_id", eventID), zap.Error(err))
		return
	}
	s.cache.InvalidateEvent(ctx, eventID)
	if err := s.inv.Load(ctx, eventID); err != nil {
		s.log.Warn("publish failed; the booking engine could not be told the event is a draft again", zap.String("event_id", eventID))
	}
}

// CancelEvent calls off a published event and closes it for money at once
// and for good: the booking engine reloads the event and sees the cancelled
// status, so from then on it neither reserves nor confirms anything of it
// (a payment that still succeeds is refunded by the saga), and it releases
// the event's live holds (their buyers are mailed); then every paid booking
// is refunded in full. The cancellation stands even when a step fails: the
// answer is then SERVICE_UNAVAILABLE, and calling CancelEvent again repeats
// the reload and finishes the refunds that failed (each happens once).
func (s *Service) CancelEvent(ctx context.Context, req *catalogv1.CancelEventRequest) (*catalogv1.Event, error) {
	p, err := requireOrganizer(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.eventTx(ctx, req.GetEventId(), func(tx pgx.Tx, ev *catalogv1.Event) error {
		if err := authorize(p, ev); err != nil {
			return err
		}
		switch ev.GetStatus() {
		case catalogv1.EventStatus_EVENT_STATUS_DRAFT:
			return errs.New(errs.Conflict, "a draft is deleted, not cancelled")
		case catalogv1.EventStatus_EVENT_STATUS_CANCELLED:
			return nil // a retry: reload below
		}
		if err := setStatus(ctx, tx, ev.GetId(), statusCancelled, req.GetReason()); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "event.cancel", EntityType: "event", EntityID: ev.GetId(),
			Old: map[string]any{"status": statusPublished}, New: map[string]any{"status": statusCancelled, "cancel_reason": req.GetReason()}})
	})
	if err != nil {
		return nil, err
	}
	s.cache.InvalidateEvent(ctx, req.GetEventId())
	if err := s.settleCancel(ctx, req.GetEventId(), req.GetReason()); err != nil {
		return nil, err
	}
	return s.store.Event(ctx, req.GetEventId())
}

// settleCancel stops a cancelled event's sales in the booking engine, has
// the payment service refund every paid booking in full, tells the buyers
// waiting on its waitlists and closes them, and records that all was done. What it could not finish, the organizer's next cancel or
// FinishCancellations does: both steps are idempotent.
func (s *Service) settleCancel(ctx context.Context, eventID, reason string) error {
	if err := s.inv.Load(ctx, eventID); err != nil {
		return errs.New(errs.ServiceUnavailable, "the event is cancelled but the booking engine has not stopped its sales yet; it is retried by itself, or cancel again", "event_id", eventID)
	}
	total, failed, err := s.inv.RefundEvent(ctx, eventID, reason)
	if err != nil {
		return errs.Unavailable("the event is cancelled but its refunds could not start; they are retried by themselves, or cancel again", err)
	}
	if failed > 0 {
		return errs.New(errs.ServiceUnavailable, "the event is cancelled but some refunds failed; they are retried by themselves, or cancel again",
			"event_id", eventID, "refunds_failed", failed, "refunds_total", total)
	}
	if err := s.inv.TellWaitlisted(ctx, eventID, reason); err != nil {
		s.log.Warn("waiting buyers of a cancelled event not all told yet", zap.String("event_id", eventID), zap.Error(err))
		return errs.Unavailable("the event is cancelled and refunded but the buyers on its waitlists are not all told yet; they are told by themselves, or cancel again", err)
	}
	return s.store.CancelSettled(ctx, eventID)
}

// FinishCancellations settles the cancelled events whose cancellation did
// not finish (the booking engine or the payment service failed, or the
// process stopped, after the status committed) and that nobody cancelled
// again for at least after; it answers how many it settled.
func (s *Service) FinishCancellations(ctx context.Context, after time.Duration) (int, error) {
	due, err := s.store.unsettledCancels(ctx, after)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, ev := range due {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := s.settleCancel(ctx, ev.id, ev.reason)
		cancel()
		if err != nil {
			s.log.Warn("cancelled event not settled yet; retried later", zap.String("event", ev.id), zap.Error(err))
			continue
		}
		s.log.Info("cancelled event settled by the catalog's retry", zap.String("event", ev.id))
		done++
	}
	return done, nil
}

// event reads a live event by slug or id through the cache; ns is the key
// prefix of the event's current cache version ("" when the cache is off).
func (s *Service) event(ctx context.Context, key string) (ev *catalogv1.Event, ns string, err error) {
	if isUUID(key) {
		return s.eventByID(ctx, key)
	}
	id := s.cache.lookup(ctx, s.cache.slugKey(key))
	if id == "" {
		// First sight of this slug: resolve it once, remember the
		// (immutable) mapping, and let the next read cache the event.
		ev, err := s.store.Event(ctx, key)
		if err != nil {
			return nil, "", err
		}
		s.cache.remember(ctx, s.cache.slugKey(key), ev.GetId())
		return ev, "", nil
	}
	return s.eventByID(ctx, id)
}

func (s *Service) eventByID(ctx context.Context, id string) (*catalogv1.Event, string, error) {
	ns, ok := s.cache.eventVersion(ctx, id)
	if !ok {
		ev, err := s.store.Event(ctx, id)
		return ev, "", err
	}
	ev := new(catalogv1.Event)
	if s.cache.get(ctx, ns+"event", ev) {
		if ev.GetId() == "" { // tombstone
			return nil, "", errEventNotFound
		}
		return ev, ns, nil
	}
	ev, err := s.store.Event(ctx, id)
	switch {
	case errors.Is(err, errEventNotFound):
		s.cache.set(ctx, ns+"event", &catalogv1.Event{})
		return nil, "", err
	case err != nil:
		return nil, "", err
	}
	s.cache.set(ctx, ns+"event", ev)
	return ev, ns, nil
}

// visibleEvent is event with the caller's visibility applied.
func (s *Service) visibleEvent(ctx context.Context, key string) (*catalogv1.Event, string, error) {
	ev, ns, err := s.event(ctx, key)
	if err != nil {
		return nil, "", err
	}
	if !canSee(authn.FromContext(ctx), ev) {
		return nil, "", errEventNotFound
	}
	return ev, ns, nil
}

// GetEvent returns an event the caller may see, by slug or id.
func (s *Service) GetEvent(ctx context.Context, slug string) (*catalogv1.Event, error) {
	ev, _, err := s.visibleEvent(ctx, slug)
	return ev, err
}

// ListShows returns an event's shows. The static part is cached; the seat
// counts of a published event's shows are the booking engine's live ones
// when it answers, else the Postgres counters.
func (s *Service) ListShows(ctx context.Context, slug string) (*catalogv1.ListShowsResponse, error) {
	ev, ns, err := s.visibleEvent(ctx, slug)
	if err != nil {
		return nil, err
	}
	res := new(catalogv1.ListShowsResponse)
	if ns == "" || !s.cache.get(ctx, ns+"shows", res) {
		shows, err := s.store.Shows(ctx, ev.GetId())
		if err != nil {
			return nil, err
		}
		res = &catalogv1.ListShowsResponse{Shows: shows, Meta: single(len(shows))}
		if ns != "" {
			s.cache.set(ctx, ns+"shows", res)
		}
	}
	if ev.GetStatus() == catalogv1.EventStatus_EVENT_STATUS_PUBLISHED {
		var wg sync.WaitGroup
		for _, sh := range res.GetShows() {
			wg.Go(func() {
				live, err := s.inv.Availability(ctx, sh.GetId())
				if err != nil || len(live) == 0 {
					return
				}
				// Zones are frozen once published, so the loaded zones are
				// all of the show's zones.
				var avail int32
				for _, z := range live {
					avail += z.GetAvailable()
				}
				sh.AvailableSeats = avail
			})
		}
		wg.Wait()
	}
	for _, sh := range res.GetShows() {
		if sh.GetStatus() == catalogv1.ShowStatus_SHOW_STATUS_ACTIVE && sh.GetTotalSeats() > 0 && sh.GetAvailableSeats() == 0 {
			sh.Status = catalogv1.ShowStatus_SHOW_STATUS_SOLD_OUT
		}
	}
	return res, nil
}

// ListZones returns a show's zones, cheapest first, with live seat counts
// overlaid as in ListShows.
func (s *Service) ListZones(ctx context.Context, showID string) (*catalogv1.ListZonesResponse, error) {
	eventID := s.cache.lookup(ctx, s.cache.showKey(showID))
	if eventID == "" {
		id, err := s.store.showEventID(ctx, showID)
		if err != nil {
			return nil, err
		}
		s.cache.remember(ctx, s.cache.showKey(showID), id)
		eventID = id
	}
	ev, ns, err := s.eventByID(ctx, eventID)
	if err != nil || !canSee(authn.FromContext(ctx), ev) {
		if err == nil || errors.Is(err, errEventNotFound) {
			return nil, errs.New(errs.NotFound, "show not found")
		}
		return nil, err
	}
	res := new(catalogv1.ListZonesResponse)
	if ns == "" || !s.cache.get(ctx, ns+"zones:"+showID, res) {
		zones, err := s.store.Zones(ctx, showID)
		if err != nil {
			return nil, err
		}
		res = &catalogv1.ListZonesResponse{Zones: zones, Meta: single(len(zones))}
		if ns != "" {
			s.cache.set(ctx, ns+"zones:"+showID, res)
		}
	}
	if ev.GetStatus() == catalogv1.EventStatus_EVENT_STATUS_PUBLISHED && len(res.GetZones()) > 0 {
		if live, err := s.inv.Availability(ctx, showID); err == nil {
			// The split of the rest into held and sold is the organizer's
			// business (the sales dashboard), not the public's.
			mine := owns(authn.FromContext(ctx), ev)
			for _, z := range res.GetZones() {
				if a, ok := live[z.GetId()]; ok {
					z.AvailableSeats = a.GetAvailable()
					if mine {
						z.HeldSeats, z.SoldSeats = a.GetHeld(), a.GetSold()
					}
				}
			}
		}
	}
	return res, nil
}

// ListEvents pages through events. No status means published. Drafts are
// listed to their organizer (their own) and to admins (all); anyone else
// asking for drafts gets an empty page. Mine keeps the caller's own events
// (none for an anonymous caller); Query keeps titles containing it. The
// published events of a listing that is not Mine are those with a show
// ahead: an event whose last show started sells nothing more, and leaves
// the buyers' listings (its page stays). Public pages (not Mine, not
// drafts) are cached (catalog.cache-ttl: an event may stay listed that long
// after its last show started).
func (s *Service) ListEvents(ctx context.Context, req *catalogv1.ListEventsRequest) (*catalogv1.ListEventsResponse, error) {
	page, perPage := max(req.GetPage(), 1), req.GetPerPage()
	if perPage == 0 {
		perPage = 20
	}
	f := eventFilter{status: statusPublished, category: req.GetCategory(), query: req.GetQuery(), limit: int(perPage), offset: int((page - 1) * perPage)}
	empty := false
	if req.GetMine() {
		if p := authn.FromContext(ctx); p != nil && p.UserID != "" {
			f.organizerID = p.UserID
		} else {
			empty = true
		}
	}
	switch req.GetStatus() {
	case catalogv1.EventStatus_EVENT_STATUS_CANCELLED:
		f.status = statusCancelled
	case catalogv1.EventStatus_EVENT_STATUS_DRAFT:
		f.status = statusDraft
		switch p := authn.FromContext(ctx); {
		case p != nil && (p.Role == authn.RoleAdmin || p.Role == authn.RoleService):
		case p != nil && p.Role == authn.RoleOrganizer:
			f.organizerID = p.UserID
		default:
			empty = true
		}
	}
	f.upcoming = f.status == statusPublished && !req.GetMine()
	meta := &commonv1.PageMeta{Page: page, PerPage: perPage}
	if empty {
		return &catalogv1.ListEventsResponse{Meta: meta}, nil
	}
	key, cacheable := "", f.status != statusDraft && f.organizerID == ""
	if cacheable {
		ns, ok := s.cache.listVersion(ctx)
		key, cacheable = ns+listQueryKey(f.status, f.category, f.query, page, perPage), ok
	}
	res := new(catalogv1.ListEventsResponse)
	if cacheable && s.cache.get(ctx, key, res) {
		return res, nil
	}
	events, total, err := s.store.ListEvents(ctx, f)
	if err != nil {
		return nil, err
	}
	meta.Total = total
	res = &catalogv1.ListEventsResponse{Events: events, Meta: meta}
	if cacheable {
		s.cache.set(ctx, key, res)
	}
	return res, nil
}

// ListCategories returns every category, cached.
func (s *Service) ListCategories(ctx context.Context) (*catalogv1.ListCategoriesResponse, error) {
	key, ok := s.cache.categoriesKey(ctx)
	res := new(catalogv1.ListCategoriesResponse)
	if ok && s.cache.get(ctx, key, res) {
		return res, nil
	}
	cats, err := s.store.Categories(ctx)
	if err != nil {
		return nil, err
	}
	res = &catalogv1.ListCategoriesResponse{Categories: cats, Meta: single(len(cats))}
	if ok {
		s.cache.set(ctx, key, res)
	}
	return res, nil
}

// CreateCategory adds a category. Admin only.
func (s *Service) CreateCategory(ctx context.Context, req *catalogv1.CreateCategoryRequest) (*catalogv1.Category, error) {
	if _, err := authn.Require(ctx, authn.RoleAdmin); err != nil {
		return nil, err
	}
	slug := req.GetSlug()
	if slug == "" {
		slug = slugify(req.GetName(), "")
		if slug == "" {
			return nil, errs.Invalid("slug", "slug.derivable", "is needed: the name has no letter or digit to derive one from")
		}
		if len(slug) > 100 {
			slug = strings.TrimRight(slug[:100], "-")
		}
	}
	c, err := s.store.InsertCategory(ctx, req.GetName(), slug)
	if err != nil {
		return nil, err
	}
	s.cache.InvalidateCategories(ctx)
	s.record(ctx, s.store.pool, audit.Entry{Action: "category.create", EntityType: "category", EntityID: c.GetId(), New: c})
	return c, nil
}

// single is the meta of an unpaged list.
func single(n int) *commonv1.PageMeta {
	return &commonv1.PageMeta{Page: 1, PerPage: int32(n), Total: int32(n)}
}

// notBlank refuses a name of only whitespace (the contract asks for one
// character at least, which a space is; the table's check then refused it
// naming only its constraint): VALIDATION_ERROR on the field, rule
// <field>.not_blank, as auth says of a blank full name.
func notBlank(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return errs.Invalid(field, field+".not_blank", "must not be blank")
	}
	return nil
}
