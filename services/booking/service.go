package booking

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/bookingrush/rush/services/platform/audit"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/bookingref"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/ticket"
)

// Service holds the booking rules; the handlers only translate.
type Service struct {
	eng     *Engine
	store   *Store
	cluster *kafka.Cluster
	tickets *ticket.Signer
	cfg     Config
	log     *zap.Logger
	metrics *metrics
	// payments answers whether a booking was paid, and decides and makes
	// the refund of a confirmed booking its buyer cancels.
	payments Payments
	// gate answers whether a confirmed booking's tickets were used at the
	// door: its buyer can no longer cancel it.
	gate Gate

	rebuilds singleflight.Group
}

// NewService returns the booking service; tickets checks queue passes.
func NewService(eng *Engine, store *Store, payments Payments, gate Gate, cluster *kafka.Cluster, tickets *ticket.Signer, cfg Config, log *zap.Logger, reg prometheus.Registerer) (*Service, error) {
	m, err := newMetrics(reg, eng)
	if err != nil {
		return nil, err
	}
	return &Service{eng: eng, store: store, payments: payments, gate: gate, cluster: cluster, tickets: tickets, cfg: cfg, log: log, metrics: m}, nil
}

// ReserveRequest is a validated reserve call.
type ReserveRequest struct {
	ShowID, ZoneID            string
	Quantity                  int
	IdempotencyKey, QueuePass string
}

// Reserve holds seats for the caller: one Redis round trip decides.
func (s *Service) Reserve(ctx context.Context, p *authn.Principal, req ReserveRequest) (h Hold, replay bool, err error) {
	defer func() { s.metrics.observe(err) }()
	return s.reserve(ctx, p, req)
}

func (s *Service) reserve(ctx context.Context, p *authn.Principal, req ReserveRequest) (Hold, bool, error) {
	if req.IdempotencyKey == "" {
		return Hold{}, false, errs.New(errs.Validation, "an Idempotency-Key header (or idempotency_key field) is required",
			"fields", []any{map[string]any{"field": "idempotency_key", "message": "required"}})
	}
	ref, err := s.zoneOfShow(ctx, req.ShowID, req.ZoneID)
	if err != nil {
		return Hold{}, false, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Hold{}, false, err
	}
	// A client that goes away mid-call must not cut the decision in half:
	// the script runs whole or not at all, and what it did reaches Postgres
	// through the stream either way. So the Redis part ignores the caller's
	// cancellation and has its own deadline.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RedisTimeout)
	defer cancel()
	h, replay, err := s.eng.Reserve(rctx, ReserveInput{
		BookingID: id.String(), UserID: p.UserID, EventID: ref.EventID, ShowID: req.ShowID, ZoneID: req.ZoneID,
		Quantity: req.Quantity, IdempotencyKey: req.IdempotencyKey, QueuePass: s.pass(req.QueuePass, p.UserID, ref.EventID),
	})
	if errors.Is(err, errNotLoaded) {
		return Hold{}, false, s.zoneNotLoaded(ctx, ref.EventID, req.ZoneID)
	}
	if err != nil {
		return Hold{}, false, err
	}
	if replay {
		h, err := s.booking(rctx, h.ID, ref.EventID)
		return h, true, err
	}
	return h, false, nil
}

// pass turns the caller's queue ticket into what reserve.lua checks, with
// no round trip: "<epoch>:<sequence>" when the mesh signed it for this user
// and this event; "!<reason>" when not, which the script refuses only when
// the event has a queue (a stale header on an event without one does no
// harm); "" without a ticket. A ticket of the pre-queue names its join
// number, not its place: the admitted status carries the drawn one.
func (s *Service) pass(raw, user, event string) string {
	if raw == "" {
		return ""
	}
	t, err := s.tickets.Verify(raw)
	switch {
	case err != nil:
		return "!invalid"
	case !strings.EqualFold(t.Event, event):
		return "!other_event"
	case !strings.EqualFold(t.User, user):
		return "!other_user"
	case t.Pre:
		return "!not_drawn"
	}
	return strconv.FormatUint(t.Epoch, 10) + ":" + strconv.FormatUint(uint64(t.Number), 10)
}

// DropZones takes zones the catalog deleted off an event's inventory, all
// or none, when nothing was ever reserved from any of them: booking's
// records are asked first (they keep what was reserved while Redis lost the
// event's keys, when the script below finds no zone at all), then Redis in
// one atomic step with that check (no reserve slips in between), then
// booking's records drop them for good (booking_dropped_zones), so a load
// whose snapshot was read before the deletion does not bring them back. A
// zone reserved from answers CONFLICT and nothing changes.
func (s *Service) DropZones(ctx context.Context, eventID string, zones []string) error {
	return s.dropZones(ctx, eventID, zones, true)
}

// dropZones is DropZones; deleted is false for zones only missing from a
// snapshot (a draft's: a later snapshot that has them loads them again).
func (s *Service) dropZones(ctx context.Context, eventID string, zones []string, deleted bool) error {
	booked, err := s.store.zoneBooked(ctx, eventID, zones)
	if err != nil {
		return err
	}
	if booked != "" {
		return errReserved(booked)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RedisTimeout)
	defer cancel()
	reserved, err := s.eng.DropZones(rctx, eventID, zones, deleted)
	if err != nil {
		return err
	}
	if reserved != "" {
		return errReserved(reserved)
	}
	return s.store.dropZones(ctx, eventID, zones, deleted)
}

// errReserved refuses to drop a zone seats of which were reserved.
func errReserved(zone string) error {
	return errs.New(errs.Conflict, "seats of this zone were reserved, so it stays on sale", "reason", "reserved", "zone_id", zone)
}

// zoneNotLoaded is notLoaded for a call about one zone: a zone gone from a
// loaded event (dropped from the catalog's snapshot while this process
// still knew its event) is NOT_FOUND, as it is everywhere else; the rebuild
// would find the event loaded and do nothing. (The event's keys are
// written in one script, and a rebuild's fence deletes the event's meta
// first: a loaded event without the zone's key never lacks it for a
// moment only.)
func (s *Service) zoneNotLoaded(ctx context.Context, eventID, zoneID string) error {
	gone, err := s.eng.zoneGone(ctx, eventID, zoneID)
	if err != nil {
		return err
	}
	if gone {
		return errs.New(errs.NotFound, "zone not found in this show")
	}
	return s.notLoaded(ctx, eventID)
}

// notLoaded explains a missing inventory: an event that is not on sale, or
// one whose keys Redis lost, which is then rebuilt (fenced: reserve answers
// "retry" until the rebuild is done).
func (s *Service) notLoaded(ctx context.Context, eventID string) error {
	return s.missing(ctx, eventID, false)
}

// bookingNotLoaded is notLoaded for a change of a booking that exists (a
// confirmation, a release): a cancelled event's inventory is rebuilt too,
// and so is a draft's (a publish that failed after it sold put the event
// back; rebuilt with the draft status, it sells nothing either). Such an
// event sells nothing, so no reserve rebuilds it, but its bookings
// still change for money: a payment that succeeds after the cancellation
// is refunded (the saga's confirmation fails, and its refund releases the
// booking first), and so is every paid booking, each released before its
// money goes back. Without the event's records in Redis every such release
// answered SALE_NOT_OPEN for as long as Redis lacked the event (it lost
// its data after the cancellation): the refunds stayed decided and never
// made. The rebuild is the one LoadInventory makes of a cancelled event
// (fenced, from Postgres; its live holds released at once).
func (s *Service) bookingNotLoaded(ctx context.Context, eventID string) error {
	return s.missing(ctx, eventID, true)
}

// missing rebuilds the inventory of a published event (and, for a booking's
// change, of a cancelled or draft one) in the background, once at a time,
// and answers errRebuilding meanwhile; any other event is not on sale.
func (s *Service) missing(ctx context.Context, eventID string, forBooking bool) error {
	st, err := s.store.EventStatus(ctx, eventID)
	if err != nil {
		return err
	}
	if st != "published" && (!forBooking || (st != "cancelled" && st != "draft")) {
		return errs.New(errs.SaleNotOpen, "the event is not on sale", "status", st)
	}
	go func() {
		_, err, _ := s.rebuilds.Do(eventID, func() (any, error) {
			return s.rebuild(context.Background(), eventID)
		})
		if err != nil {
			s.log.Error("inventory rebuild failed; the next call that needs it retries it", zap.String("event", eventID), zap.Error(err))
		}
	}()
	return errRebuilding
}

// rebuild writes an event's inventory into Redis from Postgres, under a
// lock so one process does it (the others wait for it: their callers'
// answers must not say loaded before it is). The first load of an event is
// written plainly; every later one (Redis lost it) is fenced, after the
// stream relay and the persister drained, so Postgres has every change
// that ever happened in Redis.
func (s *Service) rebuild(ctx context.Context, eventID string) (LoadResult, error) {
	owner := uuid.NewString()
	ttl := s.cfg.DrainTimeout + 10*time.Second
	ctx, cancel := context.WithTimeout(ctx, ttl)
	defer cancel()
	// Waiting for another process ends a second before the caller's
	// deadline, so that the caller hears why (retry), not a timeout.
	deadline, _ := ctx.Deadline()
	giveUp := deadline.Add(-time.Second)
	for {
		ok, err := s.eng.lockRebuild(ctx, eventID, owner, ttl)
		if err != nil {
			return LoadResult{}, err
		}
		if ok {
			break
		}
		// Another process loads it: done once its inventory is there (or
		// its lock lapsed, and this one takes over).
		if loaded, err := s.eng.Loaded(ctx, eventID); err != nil || loaded {
			return LoadResult{Loaded: loaded}, err
		}
		if time.Now().After(giveUp) {
			return LoadResult{}, errRebuilding
		}
		select {
		case <-ctx.Done():
			return LoadResult{}, errRebuilding
		case <-time.After(50 * time.Millisecond):
		}
	}
	defer s.eng.unlockRebuild(context.WithoutCancel(ctx), eventID, owner)
	if loaded, err := s.eng.Loaded(ctx, eventID); err != nil || loaded {
		return LoadResult{Loaded: loaded}, err // someone else loaded it meanwhile
	}
	first, err := s.store.claimFirstLoad(ctx, eventID)
	if err != nil {
		return LoadResult{}, err
	}
	if first {
		return s.loadFromPostgres(ctx, eventID, false)
	}
	s.log.Warn("rebuilding inventory from Postgres", zap.String("event", eventID))
	if err := s.eng.Fence(ctx, eventID); err != nil {
		return LoadResult{}, err
	}
	if err := s.waitDrained(ctx, eventID); err != nil {
		return LoadResult{}, err
	}
	// A change of the lost Redis still on its way (a relay batch that was
	// being sent to Kafka) is not in the snapshot: from here on the
	// persister leaves such changes out.
	now, err := s.eng.rdb.Time(ctx).Result()
	if err != nil {
		return LoadResult{}, unavailable(err)
	}
	if err := s.store.Fence(ctx, eventID, now); err != nil {
		return LoadResult{}, err
	}
	// Redis had the event: a draft's too is written back (a publish that
	// failed after it sold), with its status, so it sells nothing.
	res, err := s.loadFromPostgres(ctx, eventID, true)
	if err == nil {
		s.log.Warn("inventory rebuilt", zap.String("event", eventID), zap.Int("zones", res.Zones), zap.Int("holds", res.Holds))
	}
	return res, err
}

// waitDrained waits until the event's stream is empty (relayed to Kafka)
// and the persister has consumed what booking.events held then: the
// topic's ends read once the stream was empty, per partition. Records
// produced after that are not of this event (it is fenced: nothing of it
// is relayed any more) and are not waited for, so another event's busy
// sale, which keeps the persister a few records behind at every instant,
// does not hold the rebuild up until DrainTimeout.
func (s *Service) waitDrained(ctx context.Context, eventID string) error {
	deadline := time.Now().Add(s.cfg.DrainTimeout)
	var ends map[int32]int64 // the topic's ends once the stream was empty
	for {
		backlog, err := s.eng.StreamBacklog(ctx, eventID)
		if err != nil {
			return err
		}
		behind := int64(0)
		if backlog == 0 {
			parts, err := s.cluster.Lag(ctx, PersisterGroup, TopicBookingEvents)
			if err != nil {
				return errs.New(errs.ServiceUnavailable, "cannot tell whether the persister drained: "+err.Error())
			}
			if ends == nil {
				ends = make(map[int32]int64, len(parts))
				for _, p := range parts {
					ends[p.Partition] = p.HighWater
				}
			}
			for _, p := range parts {
				// HighWater-Lag is where the group stands (its committed
				// offset, or the log's start before its first commit).
				behind += max(ends[p.Partition]-(p.HighWater-p.Lag), 0)
			}
		}
		if backlog == 0 && behind == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return errs.New(errs.ServiceUnavailable, "relay or persister did not drain in time", "stream_backlog", backlog, "persister_lag", behind)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// loadFromPostgres writes the event's inventory from booking's own tables
// (or, when Redis has or had it, refreshes or rebuilds it: a draft or
// cancelled status then closes its sales at once). A draft's first load is
// refused.
func (s *Service) loadFromPostgres(ctx context.Context, eventID string, loadedBefore bool) (LoadResult, error) {
	snap, err := s.store.Snapshot(ctx, eventID, time.Now().Add(-s.cfg.IdempotencyTTL))
	if err != nil {
		return LoadResult{}, err
	}
	if !loadedBefore && snap.Settings.Status == "draft" {
		return LoadResult{}, errDraft
	}
	snap.OfferTTL = s.cfg.WaitlistOfferTTL
	res, err := s.eng.Load(ctx, eventID, snap)
	if len(res.Dropped) > 0 {
		// The lines written back offered the seats beside them at once,
		// and dropped entries the per-user limit no longer allows: they
		// end in Postgres too. Else the next rebuild puts them back in
		// line (and drops them again, recording it then).
		if rerr := s.store.recordEnded(ctx, res.Dropped); rerr != nil {
			s.log.Warn("ending the records of waitlist places a load dropped failed", zap.String("event", eventID), zap.Error(rerr))
		}
	}
	if err != nil || snap.Settings.Status != "cancelled" {
		return res, err
	}
	// A cancelled event sells nothing: from the load above on, no reserve
	// or confirmation of it succeeds (the scripts read its status), and
	// its live holds give their seats back now (their buyers are mailed
	// from booking.events). Loading again repeats it harmlessly.
	n, err := s.eng.CancelLive(ctx, eventID, 200)
	if n > 0 {
		s.log.Info("holds of a cancelled event released", zap.String("event", eventID), zap.Int("holds", n))
	}
	// The waitlists stay until the catalog has told their buyers
	// (ListWaitlisted, then CloseWaitlists). Meanwhile they offer nothing
	// (offer_waitlist reads the status), take nobody, and a place asked
	// for answers NOT_FOUND.
	return res, err
}

// errDraft refuses to load the inventory of an event that is not on sale.
var errDraft = errs.New(errs.Conflict, "a draft event has no inventory to load; publish it first")

// LoadInventory keeps the catalog's snapshot of an event (its sale
// settings and zones) and loads the event's inventory from it (first
// publish), refreshes its sale settings (later calls), or rebuilds it after
// a loss.
func (s *Service) LoadInventory(ctx context.Context, eventID string, st EventSettings, zones []ZoneDef) (LoadResult, error) {
	loaded, err := s.eng.Loaded(ctx, eventID)
	if err != nil {
		return LoadResult{}, err
	}
	if !loaded && st.Status == "draft" {
		// Booking's copy may say published (a publish that failed after
		// it was kept): it must not, or the next reserve would rebuild a
		// draft's inventory from it and sell.
		if err := s.store.Unpublish(ctx, eventID); err != nil {
			return LoadResult{}, err
		}
		return LoadResult{}, errDraft
	}
	lost, err := s.store.SaveEvent(ctx, eventID, st, zones)
	if err != nil {
		return LoadResult{}, err
	}
	// Before the refresh, each alone (the records may trail a hold: a zone
	// Redis says was reserved from stays in both). An event on sale loses
	// zones only by DropZones, which the catalog calls before its deletion
	// commits: a snapshot without a zone there may just be older than the
	// zone (loads arrive in no set order).
	if loaded && st.Status == "published" {
		lost = nil
	}
	for _, z := range lost {
		if err := s.dropZones(ctx, eventID, []string{z}, false); err != nil && !errs.Is(err, errs.Conflict) {
			return LoadResult{}, err
		}
	}
	if !loaded {
		// The first load, or (Redis lost the event) the fenced rebuild.
		res, err, _ := s.rebuilds.Do(eventID, func() (any, error) { return s.rebuild(ctx, eventID) })
		if err != nil {
			return LoadResult{}, err
		}
		return res.(LoadResult), nil
	}
	return s.loadFromPostgres(ctx, eventID, true)
}

// resolve finds a booking and its event: the Redis record when there is one
// (the live truth), else the persisted row.
func (s *Service) resolve(ctx context.Context, bookingID string) (Hold, string, error) {
	row, found, err := s.store.Booking(ctx, bookingID)
	if err != nil {
		return Hold{}, "", err
	}
	eventID := row.EventID
	if !found {
		ev, ok, err := s.eng.EventOf(ctx, bookingID)
		if err != nil {
			return Hold{}, "", err
		}
		if !ok {
			return Hold{}, "", errs.New(errs.NotFound, "booking not found")
		}
		eventID = ev
	}
	h, ok, err := s.eng.Hold(ctx, eventID, bookingID)
	if err != nil {
		return Hold{}, "", err
	}
	if !ok {
		if !found {
			return Hold{}, "", errs.New(errs.NotFound, "booking not found")
		}
		h = row
	}
	return h, eventID, nil
}

// booking reads a booking of a known event without an ownership check: the
// Redis record when there is one (the live truth), else the persisted row.
func (s *Service) booking(ctx context.Context, bookingID, eventID string) (Hold, error) {
	h, ok, err := s.eng.Hold(ctx, eventID, bookingID)
	if err != nil || ok {
		return h, err
	}
	row, found, err := s.store.Booking(ctx, bookingID)
	if err != nil {
		return Hold{}, err
	}
	if !found {
		return Hold{}, errs.New(errs.NotFound, "booking not found")
	}
	return row, nil
}

// owned resolves a booking the caller may see: their own, or any for admins
// and the system. Another user's booking is NOT_FOUND, never FORBIDDEN, so
// ids of others' bookings reveal nothing.
func (s *Service) owned(ctx context.Context, p *authn.Principal, bookingID string) (Hold, string, error) {
	h, ev, err := s.resolve(ctx, bookingID)
	if err != nil {
		return Hold{}, "", err
	}
	if h.UserID != p.UserID && p.Role != authn.RoleAdmin && p.Role != authn.RoleService {
		return Hold{}, "", errs.New(errs.NotFound, "booking not found")
	}
	return h, ev, nil
}

// Get answers one booking of the caller.
func (s *Service) Get(ctx context.Context, p *authn.Principal, bookingID string) (Hold, error) {
	h, _, err := s.owned(ctx, p, bookingID)
	return h, err
}

// Find answers anyone's booking by its reference, for an admin (support):
// the persisted row names it, and the booking reads as Get answers it (the
// live record in Redis when there is one).
func (s *Service) Find(ctx context.Context, p *authn.Principal, reference string) (Hold, error) {
	if p.Role != authn.RoleAdmin && p.Role != authn.RoleService {
		return Hold{}, errs.New(errs.Forbidden, "only an admin finds anyone's booking by its reference")
	}
	bits, ok := bookingref.Parse(reference)
	if !ok {
		return Hold{}, errs.Invalid("reference", "reference.booking",
			"must be a booking reference: BR and 12 letters or digits, such as BR-7KQD-M2XH-9TFA (any case, dashes optional)")
	}
	id, found, err := s.store.BookingByReference(ctx, bits)
	if err != nil {
		return Hold{}, err
	}
	if !found {
		return Hold{}, errs.New(errs.NotFound, "no booking has that reference")
	}
	h, _, err := s.owned(ctx, p, id)
	return h, err
}

// Confirm turns a paid hold into a purchase. The system (the saga) confirms
// directly; a buyer may confirm their own hold once a payment succeeded.
func (s *Service) Confirm(ctx context.Context, p *authn.Principal, bookingID string) (Hold, error) {
	h, ev, err := s.owned(ctx, p, bookingID)
	if err != nil {
		return Hold{}, err
	}
	if p.Role != authn.RoleService && h.Status == StatusReserved {
		paid, err := s.payments.Paid(ctx, bookingID)
		if err != nil {
			return Hold{}, err
		}
		if !paid {
			return Hold{}, errs.New(errs.PaymentFailed, "the booking has no succeeded payment; pay first")
		}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RedisTimeout)
	defer cancel()
	if err := s.eng.Confirm(rctx, ev, bookingID, ""); err != nil {
		if errors.Is(err, errNotLoaded) {
			return Hold{}, s.bookingNotLoaded(ctx, ev)
		}
		return Hold{}, err
	}
	return s.durable(rctx, bookingID, ev)
}

// durable reads a booking the system just confirmed or released from Redis
// and records it in Postgres before answering, so the change is final only
// once it is durable: an inventory rebuilt after Redis lost data starts from
// Postgres, and must never bring a paid booking back as a hold, nor a
// refunded one back as sold. (Everything else reaches Postgres through the
// stream, the relay and the persister; a failure here answers UNAVAILABLE,
// and the caller's retry finds the change made and records it again.)
func (s *Service) durable(ctx context.Context, bookingID, eventID string) (Hold, error) {
	h, err := s.booking(ctx, bookingID, eventID)
	if err != nil {
		return Hold{}, err
	}
	if err := s.store.Record(ctx, h); err != nil {
		return Hold{}, err
	}
	return h, nil
}

// CancelOptions are what the system says when it ends a booking; a buyer's
// cancel ignores them.
type CancelOptions struct {
	// Cause is why (CauseSystem when empty).
	Cause string
	// ConfirmedAs is what a confirmed booking becomes: StatusRefunded (when
	// empty) or StatusCancelled (the refund policy returned nothing).
	ConfirmedAs string
}

// Cancel releases the caller's hold at once. A buyer's paid confirmed
// booking is cancelled through a refund (refund). A confirmed booking
// without a payment (confirmed by the system alone) is not cancelled by its
// buyer. The system (the payment service refunding a booking) releases a
// confirmed booking as opts say, and it is recorded in Postgres before the
// answer: the money goes back only after that.
func (s *Service) Cancel(ctx context.Context, p *authn.Principal, bookingID string, opts CancelOptions) (Hold, error) {
	h, ev, err := s.owned(ctx, p, bookingID)
	if err != nil {
		return Hold{}, err
	}
	system := p.Role == authn.RoleService
	cause, confirmedAs := CauseBuyer, ""
	if system {
		cause, confirmedAs = CauseSystem, StatusRefunded
		if opts.Cause != "" {
			cause = opts.Cause
		}
		if opts.ConfirmedAs == StatusCancelled {
			confirmedAs = StatusCancelled
		}
	}
	if h.Status == StatusConfirmed && !system {
		if err := s.notUsed(ctx, bookingID, ev); err != nil {
			return Hold{}, err
		}
		paid, err := s.payments.Paid(ctx, bookingID)
		if err != nil {
			return Hold{}, err
		}
		if paid {
			out, err := s.refund(ctx, h, ev)
			if err == nil {
				s.recordCancel(ctx, h, out)
			}
			return out, err
		}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RedisTimeout)
	defer cancel()
	if err := s.eng.Release(rctx, ev, bookingID, "", confirmedAs, cause); err != nil {
		if errors.Is(err, errNotLoaded) {
			return Hold{}, s.bookingNotLoaded(ctx, ev)
		}
		return Hold{}, err
	}
	var out Hold
	if system {
		// The system releases before money goes back: durable first.
		out, err = s.durable(rctx, bookingID, ev)
	} else {
		out, err = s.booking(rctx, bookingID, ev)
	}
	if err == nil {
		s.recordCancel(rctx, h, out)
	}
	return out, err
}

// notUsed refuses the buyer's cancellation of a booking whose tickets were
// used at the door: its seats are taken by someone inside the venue, and
// must not be sold again. (A check-in racing the cancellation, in the
// moment between this answer and the tickets' revocation, is let in: the
// door saw a valid ticket.) A cancelled event's booking is refunded in full
// whether used or not, by the catalog's settling of the cancellation or by
// its buyer's cancel (as the refund quote says).
func (s *Service) notUsed(ctx context.Context, bookingID, eventID string) error {
	n, err := s.gate.CheckedIn(ctx, bookingID)
	if err != nil {
		return err
	}
	if n > 0 {
		if st, err := s.store.EventStatus(ctx, eventID); err != nil || st == "cancelled" {
			return err
		}
		return errs.New(errs.Conflict, "a ticket of this booking was checked in at the door: it can no longer be cancelled",
			"reason", ReasonCheckedIn, "checked_in", n)
	}
	return nil
}

// ReasonCheckedIn is the CONFLICT reason of a cancellation refused because
// a ticket of the booking was used at the door.
const ReasonCheckedIn = "checked_in"

// recordCancel writes the audit entry of a cancellation that changed the
// booking (a repeated cancel does not). The booking lives in Redis, so there
// is no transaction to join: the entry follows the change, and a failed
// write is logged (the seats are released either way).
func (s *Service) recordCancel(ctx context.Context, before, after Hold) {
	if before.Status == after.Status {
		return
	}
	err := audit.Record(ctx, s.store.db, audit.Entry{Action: "booking.cancel", EntityType: "booking", EntityID: before.ID,
		Old: map[string]any{"status": before.Status}, New: map[string]any{"status": after.Status}})
	if err != nil {
		s.log.Error("audit entry not recorded", zap.String("action", "booking.cancel"), zap.String("booking_id", before.ID), zap.Error(err))
	}
}

// refund cancels a paid confirmed booking for its buyer (whose ownership
// was checked) in three steps, each call going one way: the payment service
// decides the share per the policy; the seats, which are ours, are released
// (as refunded, or cancelled when nothing comes back) and recorded in
// Postgres; then the payment service gives the money back. So a refunded
// payment never leaves a confirmed booking behind. An interruption after
// the decision is finished by the payment service's reconciler; a retry of
// the cancel resumes where this one stopped (the decision stands).
func (s *Service) refund(ctx context.Context, h Hold, ev string) (Hold, error) {
	pct, err := s.payments.DecideRefund(ctx, h.ID, h.ShowID, "")
	if err != nil {
		return Hold{}, err
	}
	as := StatusRefunded
	if pct == 0 {
		as = StatusCancelled
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RedisTimeout)
	defer cancel()
	if err := s.eng.Release(rctx, ev, h.ID, "", as, CauseBuyer); err != nil {
		if errors.Is(err, errNotLoaded) {
			return Hold{}, s.bookingNotLoaded(ctx, ev)
		}
		return Hold{}, err
	}
	out, err := s.durable(rctx, h.ID, ev)
	if err != nil {
		return Hold{}, err
	}
	if err := s.payments.FinishRefund(context.WithoutCancel(ctx), h.ID); err != nil {
		e := errs.FromConnect(err)
		return Hold{}, errs.New(e.Code, "the booking is cancelled and its refund decided, but the money did not go back yet ("+e.Message+"); it finishes by itself, or retry")
	}
	return out, nil
}

// List pages the caller's bookings (as persisted: a hold made a moment ago
// may take a few milliseconds to appear).
func (s *Service) List(ctx context.Context, p *authn.Principal, f ListFilter) ([]Hold, int, error) {
	f.UserID = p.UserID
	if f.Page < 1 {
		f.Page = 1
	}
	if f.PerPage < 1 {
		f.PerPage = 20
	}
	return s.store.Bookings(ctx, f)
}

// Availability answers the live counters of a show's loaded zones.
func (s *Service) Availability(ctx context.Context, showID string) (map[string]Counters, []string, error) {
	eventID, zones, err := s.store.ShowZones(ctx, showID)
	if err != nil {
		return nil, nil, err
	}
	if len(zones) == 0 {
		return nil, nil, errs.New(errs.NotFound, "show not found or without zones")
	}
	out := make(map[string]Counters, len(zones))
	for _, z := range zones {
		c, ok, err := s.eng.Zone(ctx, eventID, z)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			out[z] = c
		}
	}
	return out, zones, nil
}
