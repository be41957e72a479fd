package gate

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/eticket"
)

// Catalog is what the gate asks the catalog: an event's organizer (who may
// rotate its keys, register devices, read its counts), its shows' dates
// (a ticket is valid until a day after its show starts, and at least until
// it ends), and the event of a door's show that has no ticket here (a scan
// naming a show of none of the device's events is refused).
type Catalog interface {
	GetEvent(context.Context, *connect.Request[catalogv1.GetEventRequest]) (*connect.Response[catalogv1.GetEventResponse], error)
	ListShows(context.Context, *connect.Request[catalogv1.ListShowsRequest]) (*connect.Response[catalogv1.ListShowsResponse], error)
	GetShow(context.Context, *connect.Request[catalogv1.GetShowRequest]) (*connect.Response[catalogv1.GetShowResponse], error)
}

// Service holds the gate's rules; the handlers only translate.
type Service struct {
	store   *Store
	catalog Catalog
	keys    *authn.Keys
	cfg     Config
	log     *zap.Logger
	metrics *metrics

	shows      sync.Map // show id -> until when its tickets admit (time.Time); a show's dates are fixed once it sells
	showEvents sync.Map // show id -> its event's id (string); a show never changes event
	// publicEvents holds the ids of events with keys the catalog said are
	// not drafts (Keys).
	publicEvents sync.Map
}

// NewService returns the gate service, its metrics registered with reg.
func NewService(store *Store, catalog Catalog, keys *authn.Keys, cfg Config, log *zap.Logger, reg prometheus.Registerer) (*Service, error) {
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Service{store: store, catalog: catalog, keys: keys, cfg: cfg, log: log.Named("gate"), metrics: m}, nil
}

// ticketSpace is the UUIDv5 namespace of ticket ids: a ticket's id is the
// UUIDv5 of "<booking id>/<seat>", the same however often it is issued.
var ticketSpace = uuid.MustParse("8d3c6f0e-2b1a-4e57-9a0d-6c4b2f7e1a93")

// TicketID is the id of seat (1-based) of a booking's tickets.
func TicketID(bookingID string, seat int) string {
	return uuid.NewSHA1(ticketSpace, []byte(bookingID+"/"+strconv.Itoa(seat))).String()
}

// validUntil answers until when a ticket of a show admits: gate.valid-after-
// start after the show starts, and at least until it ends (a festival of
// several days), from the catalog (cached).
func (s *Service) validUntil(ctx context.Context, eventID, showID string) (time.Time, error) {
	if t, ok := s.shows.Load(showID); ok {
		return t.(time.Time), nil
	}
	res, err := s.catalog.ListShows(authn.AsSystem(ctx), connect.NewRequest(&catalogv1.ListShowsRequest{Slug: eventID}))
	if err != nil {
		return time.Time{}, errs.FromConnect(err)
	}
	for _, sh := range res.Msg.GetShows() {
		s.showEvents.Store(sh.GetId(), sh.GetEventId())
		until := sh.GetShowDate().AsTime().Add(s.cfg.ValidAfterStart)
		if sh.GetEndsAt() != nil {
			until = later(until, sh.GetEndsAt().AsTime())
		}
		s.shows.Store(sh.GetId(), until)
	}
	if t, ok := s.shows.Load(showID); ok {
		return t.(time.Time), nil
	}
	return time.Time{}, errs.New(errs.NotFound, "show "+showID+" not found in its event")
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// BookingChange is what the gate reads of a booking.events message.
type BookingChange struct {
	BookingID, UserID, EventID, ShowID, ZoneID string
	Quantity                                   int
	Status                                     string // confirmed, refunded, cancelled...
	Confirmed                                  bool   // it was a purchase (confirmed at some point)
	Version                                    int64
	At                                         time.Time
}

// Apply issues the tickets of a confirmed booking and revokes those of a
// purchase that was cancelled or refunded; other changes (holds) are none
// of the gate's business.
func (s *Service) Apply(ctx context.Context, c BookingChange) error {
	var status string
	var until, revoked time.Time
	switch {
	case c.Status == StatusConfirmed:
		valid, err := s.validUntil(ctx, c.EventID, c.ShowID)
		if err != nil {
			return err
		}
		status, until = StatusValid, valid
		// The event's key exists before its first code is read.
		if _, err := s.store.ActiveKey(ctx, c.EventID); err != nil {
			return err
		}
	case c.Confirmed && (c.Status == "refunded" || c.Status == "cancelled"):
		status, until, revoked = StatusRevoked, c.At, c.At
	default:
		return nil
	}
	ts := make([]Ticket, c.Quantity)
	for i := range ts {
		ts[i] = Ticket{ID: TicketID(c.BookingID, i+1), BookingID: c.BookingID, UserID: c.UserID, EventID: c.EventID,
			ShowID: c.ShowID, ZoneID: c.ZoneID, Seat: i + 1, Status: status, ValidUntil: until, RevokedAt: revoked, Version: c.Version}
	}
	return s.store.Upsert(ctx, ts)
}

// StatusConfirmed is the booking status that issues tickets.
const StatusConfirmed = "confirmed"

// IssuedTicket is a ticket with its code.
type IssuedTicket struct {
	Ticket
	Code string
	QR   []byte
}

// BookingTickets answers the tickets of one of the caller's bookings (none
// for another user's, nor for a booking not confirmed yet): each valid one
// with a code signed by the event's active key and its QR code. A revoked
// ticket (its purchase was cancelled or refunded) comes with neither: a
// code would look scannable to its holder, and every door refuses it.
func (s *Service) BookingTickets(ctx context.Context, p *authn.Principal, bookingID string, qr bool) ([]IssuedTicket, error) {
	ts, err := s.store.BookingTickets(ctx, bookingID)
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 || (ts[0].UserID != p.UserID && p.Role != authn.RoleAdmin && p.Role != authn.RoleService) {
		return nil, nil
	}
	out := make([]IssuedTicket, len(ts))
	var key *Key // read once, for the first valid ticket
	for i, t := range ts {
		out[i] = IssuedTicket{Ticket: t}
		if t.Status != StatusValid {
			continue
		}
		if key == nil {
			k, err := s.store.ActiveKey(ctx, t.EventID)
			if err != nil {
				return nil, err
			}
			key = &k
		}
		out[i].Code = s.sign(t, *key)
		if qr {
			if out[i].QR, err = eticket.QR(out[i].Code, s.cfg.QRSize); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// sign writes t's code with key.
func (s *Service) sign(t Ticket, key Key) string {
	return eticket.Sign(eticket.Ticket{KeyID: key.ID, ID: uuid.MustParse(t.ID), EventID: uuid.MustParse(t.EventID),
		ShowID: uuid.MustParse(t.ShowID), ZoneID: uuid.MustParse(t.ZoneID),
		NotBefore: t.IssuedAt.Add(-s.cfg.ClockSkew).Truncate(time.Second), NotAfter: t.ValidUntil}, key.Private)
}

// Keys answers the event's published public keys, to anyone (p is nil
// for an anonymous caller) once the event is public. A draft's keys (its
// organizer may make them before the sale opens) are its runners' alone:
// its organizer, an admin, the mesh's own services and its check-in
// devices. Anyone else reads none, as of an event that does not exist,
// so the keys do not tell that the draft exists (the catalog answers its
// draft NOT_FOUND to them). Whether an event is a draft is asked of the
// catalog once per event that has keys and remembered once it is public
// (no event goes back to draft after it sold); the catalog failing is
// SERVICE_UNAVAILABLE, not the keys of what may be a draft. A device the
// gate revoked (or whose credential expired) reads no keys at all
// (UNAUTHORIZED), as on every other route of the gate: its credential
// still names its events, which it no longer runs.
func (s *Service) Keys(ctx context.Context, p *authn.Principal, eventID string) ([]Key, error) {
	if p != nil && p.Role == authn.RoleDevice {
		if _, err := s.device(ctx, p); err != nil {
			return nil, err
		}
	}
	ks, err := s.store.PublishedKeys(ctx, eventID)
	if err != nil || len(ks) == 0 {
		return ks, err
	}
	if _, public := s.publicEvents.Load(eventID); public {
		return ks, nil
	}
	r, err := s.event(ctx, eventID)
	switch {
	case errs.Is(err, errs.NotFound):
		return nil, nil // deleted: only a draft is
	case err != nil:
		return nil, err
	case !r.draft:
		s.publicEvents.Store(eventID, true)
		return ks, nil
	case runs(p, eventID, r):
		return ks, nil
	}
	return nil, nil
}

// runs reports whether p runs the event eventID, run as r says: its
// organizer, an admin, the mesh's own services, or a check-in device of it.
func runs(p *authn.Principal, eventID string, r runner) bool {
	switch {
	case p == nil:
		return false
	case p.Role == authn.RoleAdmin, p.Role == authn.RoleService:
		return true
	case p.Role == authn.RoleDevice:
		return slices.ContainsFunc(p.Events, func(ev string) bool { return strings.EqualFold(ev, eventID) })
	}
	return p.Role == authn.RoleOrganizer && p.UserID == r.organizer
}

// Rotate gives the event a new active key (its organizer or an admin).
func (s *Service) Rotate(ctx context.Context, p *authn.Principal, eventID string, dropPrevious bool) ([]Key, error) {
	if err := s.organizes(ctx, p, eventID); err != nil {
		return nil, err
	}
	if err := s.store.Rotate(ctx, eventID, dropPrevious); err != nil {
		return nil, err
	}
	s.log.Info("ticket key rotated", zap.String("event", eventID), zap.Bool("drop_previous", dropPrevious), zap.String("by", p.UserID))
	return s.store.PublishedKeys(ctx, eventID)
}

// organizes refuses a caller who is neither the event's organizer nor an
// admin: FORBIDDEN, or NOT_FOUND for someone else's draft, which they may
// not know exists (as the catalog answers). An unknown event is NOT_FOUND,
// for an admin too.
func (s *Service) organizes(ctx context.Context, p *authn.Principal, eventID string) error {
	if p.Role == authn.RoleService {
		return nil
	}
	ev, err := s.event(ctx, eventID)
	if err != nil || p.Role == authn.RoleAdmin || ev.organizer == p.UserID {
		return err
	}
	return ev.refuse(eventID)
}

// showAccess resolves a show's event (showEvent: whether or not it sold;
// an unknown show is NOT_FOUND) and checks that the caller may read it: a
// device of the event, its organizer or an admin.
func (s *Service) showAccess(ctx context.Context, p *authn.Principal, showID string) error {
	ev, err := s.showEvent(ctx, showID)
	if err != nil {
		return err
	}
	if ev == "" {
		return errShowNotFound
	}
	switch p.Role {
	case authn.RoleDevice:
		d, err := s.device(ctx, p)
		if err != nil {
			return err
		}
		if slices.Contains(d.EventIDs, ev) {
			return nil
		}
		r, err := s.event(ctx, ev)
		switch {
		case err != nil:
			return err
		case r.draft:
			return errShowNotFound
		}
		return errs.New(errs.Forbidden, "this device does not check in this show's event")
	case authn.RoleAdmin, authn.RoleService:
		return nil // the show exists (showEvent)
	}
	if err := s.organizes(ctx, p, ev); err != nil {
		if errs.Is(err, errs.NotFound) {
			return errShowNotFound // another's draft, whose id stays unsaid
		}
		return err
	}
	return nil
}

// errShowNotFound answers for a show that does not exist, or whose event
// is a draft the caller does not run.
var errShowNotFound = errs.New(errs.NotFound, "show not found")

// Revoked answers a show's revocation list.
func (s *Service) Revoked(ctx context.Context, p *authn.Principal, showID string) ([]Revoked, error) {
	if err := s.showAccess(ctx, p, showID); err != nil {
		return nil, err
	}
	return s.store.RevokedTickets(ctx, showID)
}

// Stats answers a show's counts.
func (s *Service) Stats(ctx context.Context, p *authn.Principal, showID string) (Stats, error) {
	if err := s.showAccess(ctx, p, showID); err != nil {
		return Stats{}, err
	}
	return s.store.ShowStats(ctx, showID)
}

// runner is who runs an event, as the gate needs to know it.
type runner struct {
	organizer string
	// draft: the event is not public, so only its organizer and admins may
	// learn that it exists.
	draft bool
}

// refuse is the answer to someone who does not run the event: FORBIDDEN,
// or NOT_FOUND for a draft.
func (r runner) refuse(eventID string) error {
	if r.draft {
		return errs.New(errs.NotFound, "event not found", "event_id", eventID)
	}
	return errs.New(errs.Forbidden, "only the event's organizer or an admin may do this", "event_id", eventID)
}

// event answers who runs an event (NOT_FOUND when there is no such event),
// from the catalog.
func (s *Service) event(ctx context.Context, eventID string) (runner, error) {
	res, err := s.catalog.GetEvent(authn.AsSystem(ctx), connect.NewRequest(&catalogv1.GetEventRequest{Slug: eventID}))
	if err != nil {
		return runner{}, errs.FromConnect(err)
	}
	ev := res.Msg.GetEvent()
	return runner{organizer: ev.GetOrganizerId(), draft: ev.GetStatus() == catalogv1.EventStatus_EVENT_STATUS_DRAFT}, nil
}

// mayRun refuses a user of role who may not run every one of events, run
// by runners (same order): an admin runs any event, an organizer their
// own, nobody else any. Another's event is FORBIDDEN, or NOT_FOUND when it
// is a draft (checked first, so a draft among public events stays hidden).
func mayRun(role, userID string, events []string, runners []runner) error {
	switch role {
	case authn.RoleAdmin:
		return nil
	case authn.RoleOrganizer:
		var refused error
		for i, ev := range events {
			switch r := runners[i]; {
			case r.organizer == userID:
			case r.draft:
				return r.refuse(ev)
			case refused == nil:
				refused = r.refuse(ev)
			}
		}
		return refused
	}
	return errs.New(errs.Forbidden, "your role may not register check-in devices (it needs organizer or admin)", "role", role)
}

// roleMemory is how long a role auth told the gate (SetDeviceOwnerRole)
// counts over the role of the user's token: an access token issued before
// the change may carry the old role until it expires.
func (s *Service) roleMemory() time.Duration { return s.keys.AccessTTL() + time.Minute }

// CreateDevice registers a check-in device for events the caller may run
// (the organizer of each, or an admin) and answers its credential. The
// caller is a user: a device or the mesh's own services register none
// (FORBIDDEN). A role auth told the gate within roleMemory
// (SetDeviceOwnerRole) counts over the token's, which may still carry the
// role the user had before; the role is read under the lock of the user's
// devices, so no registration slips past a change.
func (s *Service) CreateDevice(ctx context.Context, p *authn.Principal, name string, events []string, days int) (Device, string, error) {
	if p.Role == authn.RoleDevice {
		return Device{}, "", errs.New(errs.Forbidden, "a device cannot register devices")
	}
	if _, err := uuid.Parse(p.UserID); err != nil || p.Role == authn.RoleService {
		return Device{}, "", errs.New(errs.Forbidden, "a check-in device is registered by a user who runs its events (an organizer or an admin), not by a service")
	}
	runners := make([]runner, len(events))
	for i, ev := range events {
		r, err := s.event(ctx, ev)
		if err != nil {
			return Device{}, "", err
		}
		runners[i] = r
	}
	if err := mayRun(p.Role, p.UserID, events, runners); err != nil {
		return Device{}, "", err
	}
	if days == 0 {
		days = 30
	}
	now := time.Now()
	d, err := s.store.CreateDevice(ctx, Device{ID: uuid.NewString(), OrganizerID: p.UserID, Name: name, EventIDs: events,
		ExpiresAt: now.Add(time.Duration(days) * 24 * time.Hour).Truncate(time.Second)},
		func(o OwnerRole, told bool) error {
			if !told || o.Role == p.Role || o.ChangedAt.Before(now.Add(-s.roleMemory())) {
				return nil
			}
			return mayRun(o.Role, p.UserID, events, runners)
		})
	if err != nil {
		return Device{}, "", err
	}
	cred, err := s.keys.IssueDevice(d.ID, p.UserID, events, now, d.ExpiresAt)
	return d, cred, err
}

// Devices answers a page of the devices the caller may see that f selects:
// an admin (or the mesh's own services) any device, an organizer the ones
// they registered (another owner in f selects none of them).
func (s *Service) Devices(ctx context.Context, p *authn.Principal, f DeviceFilter, page, perPage int) ([]Device, int, error) {
	switch p.Role {
	case authn.RoleDevice:
		return nil, 0, errs.New(errs.Forbidden, "a device has no devices")
	case authn.RoleAdmin, authn.RoleService:
	default:
		if f.OwnerID != "" && !strings.EqualFold(f.OwnerID, p.UserID) {
			return nil, 0, nil
		}
		f.OwnerID = p.UserID
	}
	return s.store.Devices(ctx, f, page, perPage)
}

// RevokeDevice ends a device's credential (the user who registered it, an
// admin, or the mesh's own services; to anyone else it does not exist).
func (s *Service) RevokeDevice(ctx context.Context, p *authn.Principal, id string) error {
	d, ok, err := s.store.DeviceByID(ctx, id)
	if err != nil {
		return err
	}
	if !ok || (d.OrganizerID != p.UserID && p.Role != authn.RoleAdmin && p.Role != authn.RoleService) {
		return errs.New(errs.NotFound, "device not found")
	}
	return s.store.RevokeDevice(ctx, id)
}

// SetDeviceOwnerRole records a user's role after a change (auth calls it
// in the change's transaction) and revokes the user's working devices the
// role may not run: every one for a user, those with an event the user
// does not organize for an organizer (an event the catalog no longer has
// counts as not theirs), none for an admin. It answers how many it revoked.
// The catalog failing changes nothing (SERVICE_UNAVAILABLE naming it).
func (s *Service) SetDeviceOwnerRole(ctx context.Context, userID, role string) (int, error) {
	n, err := s.store.SetOwnerRole(ctx, userID, role, func(live []Device) ([]string, error) {
		var out []string
		switch role {
		case authn.RoleAdmin:
		case authn.RoleOrganizer:
			theirs := map[string]bool{}
			for _, d := range live {
				for _, ev := range d.EventIDs {
					own, seen := theirs[ev]
					if !seen {
						r, err := s.event(ctx, ev)
						if err != nil && !errs.Is(err, errs.NotFound) {
							return nil, errs.Unavailable("the catalog could not say who runs the user's devices' events; nothing was changed, retry",
								err, "dependency", "catalog")
						}
						own = err == nil && r.organizer == userID
						theirs[ev] = own
					}
					if !own {
						out = append(out, d.ID)
						break
					}
				}
			}
		default:
			for _, d := range live {
				out = append(out, d.ID)
			}
		}
		return out, nil
	})
	if err != nil {
		return 0, err
	}
	s.log.Info("device owner's role changed", zap.String("user", userID), zap.String("role", role), zap.Int("devices_revoked", n))
	return n, nil
}

// device answers the calling device, refusing one that was revoked or
// expired.
func (s *Service) device(ctx context.Context, p *authn.Principal) (Device, error) {
	id, ok := strings.CutPrefix(p.UserID, authn.DevicePrefix)
	if !ok || p.Role != authn.RoleDevice {
		return Device{}, errs.New(errs.Forbidden, "only a check-in device may do this")
	}
	d, found, err := s.store.DeviceByID(ctx, id)
	if err != nil {
		return Device{}, err
	}
	if !found || !d.RevokedAt.IsZero() || !time.Now().Before(d.ExpiresAt) {
		return Device{}, errs.New(errs.Unauthorized, "this device's credential was revoked or has expired")
	}
	return d, nil
}

// Check-in outcomes.
const (
	OutcomeValid       = "valid"
	OutcomeAlreadyUsed = "already_used"
	OutcomeRevoked     = "revoked"
	OutcomeWrongEvent  = "wrong_event"
	OutcomeInvalid     = "invalid"
	OutcomeWrongShow   = "wrong_show"
)

// ScanIn is one scan a device sends.
type ScanIn struct {
	Code, Gate string
	// ShowID is the show the door admits to: a ticket of another show is
	// wrong_show and not checked in; a show of none of the device's events
	// refuses the call (CheckIn). Empty (a client from before the field)
	// admits any show of the device's events, as check-in did before: a
	// festival's Saturday ticket then admits on Monday, and counts as used
	// on Saturday.
	ShowID string
	// ScannedAt is when the device scanned, by its clock (zero: not said).
	// An offline scan is made then (or now, when that is in the future);
	// an online one is made now, and its ScannedAt only names it.
	ScannedAt time.Time
	// Offline is a scan synced after the fact (SyncCheckIns).
	Offline bool
	// Door is what the offline door did with the holder, as the device
	// says: DoorAdmitted, DoorRefused, or "" (not said: it may have let
	// them in). A refused scan is judged and recorded but checks nothing in.
	Door string
}

// What an offline door did with a synced scan's holder (gate_scans.door).
const (
	DoorAdmitted = "admitted"
	DoorRefused  = "refused"
)

// Verdict is the answer to one scan.
type Verdict struct {
	Outcome                  string
	TicketID, ShowID, ZoneID string
	First                    *FirstScan
	Reason                   string
}

// CheckIn judges scans of the calling device, in order, and records each.
// A live scan whose door names a show of none of the device's events (a
// mistyped show id) refuses the call, a VALIDATION_ERROR on show_id, and
// records nothing: at such a door every ticket would be the wrong show's.
// A synced scan is a fact already (the device let someone in or not while
// offline): it is judged and recorded as it came, such a door's ticket
// WRONG_SHOW, so one bad scan never holds back a batch's admissions.
func (s *Service) CheckIn(ctx context.Context, p *authn.Principal, scans []ScanIn) ([]Verdict, error) {
	d, err := s.device(ctx, p)
	if err != nil {
		return nil, err
	}
	for _, sc := range scans {
		if sc.ShowID == "" || sc.Offline {
			continue
		}
		if err := s.doorShow(ctx, d, sc.ShowID, "show_id"); err != nil {
			return nil, err
		}
	}
	// A batch is judged earliest scan first (scans made at the same time in
	// its order), and answered in its order: a ticket's earliest scan is
	// its check-in and every other one names it, as if the scans had come
	// one by one. In the batch's order, a later scan listed first was
	// answered valid, then the earlier one took its check-in, valid too.
	now := time.Now()
	at, ids, order := make([]time.Time, len(scans)), make([]string, len(scans)), make([]int, len(scans))
	copies := map[string]int{}
	for i, sc := range scans {
		at[i], ids[i], order[i] = sc.ScannedAt, uuid.NewString(), i
		if at[i].IsZero() || at[i].After(now) || !sc.Offline {
			at[i] = now // a scan from the future counts as made now, an online one when the gate hears it
		}
		// A scan the device timed is named by what it sent, online too: the
		// offline copy of an online scan whose answer the door stopped
		// waiting for is then the same scan, recorded once.
		if !sc.ScannedAt.IsZero() {
			k := scanKey(d.ID, sc)
			ids[i] = uuid.NewSHA1(scanSpace, []byte(k+"/"+strconv.Itoa(copies[k]))).String()
			copies[k]++
		}
	}
	slices.SortStableFunc(order, func(i, j int) int { return at[i].Compare(at[j]) })
	out := make([]Verdict, len(scans))
	keys := map[string]eticket.Keys{} // each event's published keys, read once per batch
	for _, i := range order {
		if out[i], err = s.checkIn(ctx, d, keys, scans[i], at[i], ids[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scanSpace is the UUIDv5 namespace of the ids of scans the device timed.
var scanSpace = uuid.MustParse("5f0b7c2e-91d4-4a8e-b3c6-2e7d1a9f4b10")

// scanKey names a scan the device timed (a synced one, or an online one
// that says scanned_at) by what the device sent: the device, the code, the
// door, the show and the device's own time (not the gate's: a scan from the
// future counts as made when it arrives, another time when it is sent
// again). Its id adds its place among identical copies in its batch (a scan
// queued twice: the copy answers already_used, the device's own first
// scan), so a batch sent again (its answer lost), an online call sent again,
// or the synced copy of an online scan gets the same id: the same answer
// (the check-in is the scan with that id), and nothing recorded twice.
func scanKey(deviceID string, sc ScanIn) string {
	return strings.Join([]string{deviceID, strings.TrimSpace(sc.Code), sc.Gate, strings.ToLower(sc.ShowID),
		sc.ScannedAt.UTC().Format(time.RFC3339Nano)}, "\x00")
}

// doorShow refuses a door's show (request field field) that is not a show
// of one of the device's events, whether it is another organizer's show or
// none at all.
func (s *Service) doorShow(ctx context.Context, d Device, showID, field string) error {
	ev, err := s.showEvent(ctx, strings.ToLower(showID))
	if err != nil {
		return err
	}
	if ev == "" || !slices.Contains(d.EventIDs, ev) {
		return errs.Invalid(field, "show_id.device_event", "must be a show of an event this device checks in")
	}
	return nil
}

// showEvent answers a show's event ("" when there is no such show): from
// memory, else from the gate's own tickets (a door whose show sold works
// while the catalog is down), else from the catalog.
func (s *Service) showEvent(ctx context.Context, showID string) (string, error) {
	if ev, ok := s.showEvents.Load(showID); ok {
		return ev.(string), nil
	}
	ev, ok, err := s.store.ShowEvent(ctx, showID)
	if err != nil {
		return "", err
	}
	if !ok {
		res, err := s.catalog.GetShow(authn.AsSystem(ctx), connect.NewRequest(&catalogv1.GetShowRequest{ShowId: showID}))
		if err != nil {
			if e := errs.FromConnect(err); e.Code != errs.NotFound {
				return "", e
			}
			return "", nil // no such show (not remembered)
		}
		ev = res.Msg.GetShow().GetEventId()
	}
	s.showEvents.Store(showID, ev)
	return ev, nil
}

// checkIn judges and records one scan, made at at, whose id is scanID;
// keys holds the events' published keys read so far in its batch.
func (s *Service) checkIn(ctx context.Context, d Device, keys map[string]eticket.Keys, sc ScanIn, at time.Time, scanID string) (Verdict, error) {
	rec := ScanRecord{ScanID: scanID, DeviceID: d.ID, Gate: sc.Gate, ScannedAt: at, Offline: sc.Offline}
	if sc.Offline {
		rec.Door = sc.Door
	}
	v, err := s.judge(ctx, d, keys, sc, at, &rec)
	if err != nil {
		return Verdict{}, err
	}
	recorded, err := s.store.LogScan(ctx, rec, v.Outcome)
	if recorded {
		s.metrics.scanned(rec, v.Outcome)
		if rec.Offline && !sc.ScannedAt.IsZero() {
			s.metrics.syncDelay.Observe(max(0, time.Since(at).Seconds()))
		}
	}
	return v, err
}

// judge decides one scan at time at, at the door of sc.ShowID when it names
// one, and, for a valid ticket, records its check-in.
func (s *Service) judge(ctx context.Context, d Device, keys map[string]eticket.Keys, sc ScanIn, at time.Time, rec *ScanRecord) (Verdict, error) {
	code := sc.Code
	t, err := eticket.Parse(code)
	if err != nil {
		return Verdict{Outcome: OutcomeInvalid, Reason: "not a ticket code"}, nil
	}
	// The signature is checked first, with the keys of the event the code
	// claims: a forged code is invalid and names nothing (what it says is
	// not ours), whatever event it claims; answered wrong_event, it sent
	// staff to look for another venue.
	pub, ok := keys[t.EventID.String()]
	if !ok {
		published, err := s.store.PublishedKeys(ctx, t.EventID.String())
		if err != nil {
			return Verdict{}, err
		}
		pub = eticket.Keys{}
		for _, k := range published {
			pub[k.ID] = k.Public
		}
		keys[t.EventID.String()] = pub
	}
	_, verr := eticket.Verify(code, pub, at)
	invalid := Verdict{Outcome: OutcomeInvalid}
	if verr != nil {
		invalid.Reason = strings.TrimPrefix(verr.Error(), "eticket: ")
	}
	if verr != nil && !errors.Is(verr, eticket.ErrExpired) && !errors.Is(verr, eticket.ErrNotYetValid) {
		return invalid, nil
	}
	v := Verdict{TicketID: t.ID.String(), ShowID: t.ShowID.String(), ZoneID: t.ZoneID.String()}
	if !slices.Contains(d.EventIDs, t.EventID.String()) {
		v.Outcome = OutcomeWrongEvent
		return v, nil
	}
	if verr != nil { // our code, of this door's event, outside its validity
		v.Outcome, v.Reason = invalid.Outcome, invalid.Reason
		return v, nil
	}
	rec.TicketID = v.TicketID // the code is ours: the log names its ticket
	// The show is judged from the signed code before anything is checked
	// in, as an offline gate judges it (cmd/ticketverify): checking in
	// another show's ticket would admit its holder today, refuse them on
	// their day, and leave their show's booking refundable after use.
	if sc.ShowID != "" && !strings.EqualFold(v.ShowID, sc.ShowID) {
		v.Outcome, v.Reason = OutcomeWrongShow, "a ticket of show "+v.ShowID+", not of this door's show "+sc.ShowID
		return v, nil
	}
	row, ok, err := s.store.TicketByID(ctx, v.TicketID)
	if err != nil {
		return Verdict{}, err
	}
	switch {
	case !ok:
		rec.TicketID = ""
		v.Outcome, v.Reason = OutcomeInvalid, "unknown ticket"
		return v, nil
	case row.Status == StatusRevoked:
		v.Outcome, v.Reason = OutcomeRevoked, "the booking was cancelled or refunded"
		return v, nil
	}
	rec.ShowID = row.ShowID
	if rec.Door == DoorRefused {
		// The door turned its holder away: nobody came in, so nothing is
		// checked in (nor does an earlier refusal take a check-in). The
		// answer says what the gate knows of the ticket.
		first, used, err := s.store.CheckedIn(ctx, v.TicketID)
		if err != nil {
			return Verdict{}, err
		}
		if !used {
			v.Outcome, v.Reason = OutcomeValid, "refused by its door: not checked in"
			return v, nil
		}
		v.Outcome, v.First = OutcomeAlreadyUsed, &first
		return v, nil
	}
	first, err := s.store.CheckIn(ctx, *rec)
	if err != nil {
		return Verdict{}, err
	}
	v.First = &first
	v.Outcome = OutcomeAlreadyUsed
	if first.ScanID == rec.ScanID {
		v.Outcome = OutcomeValid
	}
	return v, nil
}
