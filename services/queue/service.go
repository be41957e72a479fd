package queue

import (
	"context"
	"errors"
	"strings"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/ticket"
)

// Service holds the queue's rules: who may join and watch, what a place
// looks like on the wire, how a watch ends and who changes the settings.
type Service struct {
	lines    *Lines
	settings *Settings
	hub      *Hub
	tickets  *ticket.Signer
	catalog  Catalog
	log      *zap.Logger
}

// NewService returns the queue service.
func NewService(lines *Lines, settings *Settings, hub *Hub, tickets *ticket.Signer, catalog Catalog, log *zap.Logger) *Service {
	return &Service{lines: lines, settings: settings, hub: hub, tickets: tickets, catalog: catalog, log: log}
}

// Statuses, short.
const (
	waiting  = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING
	admitted = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_ADMITTED
	expired  = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_EXPIRED
	used     = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_USED
)

// Join puts the caller in the event's line (once) and returns the place and
// the ticket. A caller whose pass was used, or whose window ended, goes to
// the end of the line with a new ticket. A caller who waited when the sale
// ended keeps the place once the organizer extended it.
func (s *Service) Join(ctx context.Context, ev string) (*queuev1.QueueStatus, error) {
	p, err := buyer(ctx)
	if err != nil {
		return nil, err
	}
	e, _, err := s.lines.entry(ctx, ev, p.UserID, modeJoin, "")
	if err != nil {
		return s.noLine(ctx, ev, err)
	}
	st, err := s.place(ctx, e.ticket(ev, p.UserID), true)
	if err != nil || (st.GetStatus() != expired && st.GetStatus() != used) {
		return st, err
	}
	if e, _, err = s.lines.entry(ctx, ev, p.UserID, modeRenew, e.raw); err != nil {
		return s.noLine(ctx, ev, err)
	}
	return s.place(ctx, e.ticket(ev, p.UserID), true)
}

// buyer is the caller, a person: a place in line is a buyer's (the
// system's service identity cannot hold a ticket).
func buyer(ctx context.Context) (*authn.Principal, error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	if p.Role == authn.RoleService {
		return nil, errs.New(errs.Forbidden, "a place in line is a buyer's, not a service's")
	}
	return p, nil
}

// Status returns the place of raw (a ticket), or of the caller's ticket
// when raw is empty; NOT_FOUND when the caller never joined.
func (s *Service) Status(ctx context.Context, ev, raw string) (*queuev1.QueueStatus, error) {
	t, err := s.resolve(ctx, ev, raw)
	if err != nil {
		return s.noLine(ctx, ev, err)
	}
	// Without a ticket, resolve looked the caller's up with the join
	// script, which answers only while the event is on sale.
	return s.place(ctx, t, raw == "")
}

// resolve returns the ticket a status or watch is about: raw, which must be
// a ticket of this mesh for ev and (unless the caller is the system, as the
// edge's stream is) of the caller; else the caller's own, looked up.
func (s *Service) resolve(ctx context.Context, ev, raw string) (ticket.Ticket, error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return ticket.Ticket{}, err
	}
	if raw == "" {
		if p.Role == authn.RoleService {
			return ticket.Ticket{}, errs.New(errs.Validation, "a service names the ticket",
				"fields", []any{map[string]any{"field": "ticket", "message": "required for a service"}})
		}
		e, found, err := s.lines.entry(ctx, ev, p.UserID, modeLook, "")
		switch {
		case err != nil:
			return ticket.Ticket{}, err
		case !found:
			return ticket.Ticket{}, errs.New(errs.NotFound, "you are not in this event's queue; join it first")
		}
		return e.ticket(ev, p.UserID), nil
	}
	t, err := s.tickets.Verify(raw)
	if err != nil || !strings.EqualFold(t.Event, ev) {
		return ticket.Ticket{}, errs.New(errs.Validation, "not a queue ticket of this event",
			"fields", []any{map[string]any{"field": "ticket", "message": "not a queue ticket of this event"}})
	}
	if p.Role != authn.RoleService && !strings.EqualFold(t.User, p.UserID) {
		return ticket.Ticket{}, errs.New(errs.Forbidden, "this ticket belongs to another buyer")
	}
	return t, nil
}

// place is where t stands: from the line's state (at most a tick old),
// and, once the cursor passed the ticket, from its pass in Redis. onSale
// says the caller's script just found the event on sale with its queue on
// (a join, or a look of the caller's own ticket).
func (s *Service) place(ctx context.Context, t ticket.Ticket, onSale bool) (*queuev1.QueueStatus, error) {
	l, err := s.hub.Snapshot(ctx, t.Event)
	if err != nil {
		return nil, err
	}
	pl := ticket.Where(t, l, ticket.DrawOf(l), time.Now())
	if pl.Void || ((pl.Ended || pl.NoQueue) && onSale) {
		// A state read before the line (re)started, before the sale was
		// extended, or before the queue was switched on (the script found
		// it on: it answers a ticket only then), is stale: not void, not
		// over, not without a queue. (A join must not take it for a lapsed
		// place and send the buyer to the end, nor for "no queue" and let
		// the buyer in without a pass.)
		s.hub.Fresh(t.Event)
		if l, err = s.hub.Snapshot(ctx, t.Event); err != nil {
			return nil, err
		}
		pl = ticket.Where(t, l, ticket.DrawOf(l), time.Now())
	}
	if pl.Unplaced {
		if t, pl, err = s.reenter(ctx, t); err != nil {
			return nil, err
		}
	}
	return s.status(ctx, t, pl)
}

// reenter places a ticket the line's state does not count (Place.Unplaced).
// A state read now, after the buyer showed the ticket and so after its
// join, that still does not count it says Redis lost the join: a crash that
// lost its last second of writes (AOF, appendfsync everysec) sent the
// counter back and forgot the entry, and the cursor would never reach it
// (or the opening's draw did not cover it). The ticket is then entered
// again (queue_join.lua, claim): at its own number when it is still
// placeable, else, a pre-queue ticket past the draw, at the end of the
// line; t becomes the ticket of the place. One script call, only for
// such a ticket; a ticket issued after the state was read costs one read
// of the line, shared with every caller of that tick.
func (s *Service) reenter(ctx context.Context, t ticket.Ticket) (ticket.Ticket, ticket.Place, error) {
	s.hub.Fresh(t.Event)
	l, err := s.hub.Snapshot(ctx, t.Event)
	if err != nil {
		return t, ticket.Place{}, err
	}
	pl := ticket.Where(t, l, ticket.DrawOf(l), time.Now())
	if !pl.Unplaced {
		return t, pl, nil
	}
	e, found, err := s.lines.entry(ctx, t.Event, t.User, modeClaim, entryOf(t))
	if err != nil {
		_, err = s.noLine(ctx, t.Event, err)
		return t, pl, err
	}
	if !found { // the line was reset meanwhile: the next state says so
		return t, pl, nil
	}
	before := t
	t = e.ticket(t.Event, t.User)
	s.log.Info("a queue ticket whose join Redis lost was entered again",
		zap.String("event_id", t.Event), zap.Uint32("number", before.Number), zap.Bool("pre", before.Pre),
		zap.Uint32("now_number", t.Number), zap.Bool("now_pre", t.Pre))
	s.hub.Fresh(t.Event)
	if l, err = s.hub.Snapshot(ctx, t.Event); err != nil {
		return t, ticket.Place{}, err
	}
	return t, ticket.Where(t, l, ticket.DrawOf(l), time.Now()), nil
}

// status is the answer for t at pl.
func (s *Service) status(ctx context.Context, t ticket.Ticket, pl ticket.Place) (*queuev1.QueueStatus, error) {
	raw, err := s.tickets.Sign(t)
	if err != nil {
		return nil, err
	}
	st := &queuev1.QueueStatus{EventId: t.Event, Status: pl.Status, Position: pl.Position, Total: pl.Total, Ticket: raw}
	if pl.Wait > 0 {
		st.EstimatedWait = durationpb.New(pl.Wait)
	}
	if !pl.Live {
		return st, nil
	}
	state, ends, err := s.lines.Pass(ctx, t.Event, t.Epoch, pl.Seq, t.User)
	if err != nil {
		return nil, err
	}
	switch state {
	case passLive:
		// The pass is the ticket with its drawn place (the same ticket
		// for a join after the opening).
		pass := t
		pass.Number, pass.Pre = pl.Seq, false
		if st.QueuePass, err = s.tickets.Sign(pass); err != nil {
			return nil, err
		}
		st.PassExpiresAt = timestamppb.New(ends)
	case passUsed:
		st.Status = used
	case passWaiting:
		st.Status = waiting
	default:
		st.Status = expired
	}
	return st, nil
}

// errWatchDone ends a watch after its last message.
var errWatchDone = errors.New("watch done")

// Watch sends the place of raw (or of the caller's ticket) now and after
// every change of the event's line, until the buyer is admitted, the line
// sold out, the pass expired or was used: that last place is sent and the
// watch ends. It also ends when ctx does. Every watch of an event in this
// process shares one read of the line per tick.
func (s *Service) Watch(ctx context.Context, ev, raw string, send func(*queuev1.QueueStatus) error) error {
	t, err := s.resolve(ctx, ev, raw)
	if err != nil {
		_, err = s.noLine(ctx, ev, err)
		return err
	}
	var last *queuev1.QueueStatus
	err = s.hub.Watch(ctx, ev, func(l *queuev1.WatchLineResponse) error {
		pl := ticket.Where(t, l, ticket.DrawOf(l), time.Now())
		if pl.Unplaced {
			var err error
			if t, pl, err = s.reenter(ctx, t); err != nil {
				return err
			}
		}
		st, err := s.status(ctx, t, pl)
		if err != nil {
			return err
		}
		if last == nil || changed(last, st) {
			if err := send(st); err != nil {
				return err
			}
			last = st
		}
		if st.GetStatus() != waiting {
			return errWatchDone
		}
		return nil
	})
	if errors.Is(err, errWatchDone) || ctx.Err() != nil {
		return nil
	}
	return err
}

// changed reports whether a watcher should hear about st after last; the
// estimate alone follows position and is not news.
func changed(last, st *queuev1.QueueStatus) bool {
	return last.GetStatus() != st.GetStatus() || last.GetPosition() != st.GetPosition() ||
		last.GetTotal() != st.GetTotal() || last.GetQueuePass() != st.GetQueuePass()
}

// Line is the public state of the event's line, at most a tick old.
func (s *Service) Line(ctx context.Context, ev string) (*queuev1.Line, error) {
	if _, err := s.settings.Knobs(ctx, ev); err != nil {
		return nil, err
	}
	l, err := s.hub.Snapshot(ctx, ev)
	if err != nil {
		return nil, err
	}
	if l.GetLine().GetOpensAt() == nil {
		// Not in the booking engine's Redis: maybe a draft, which is its
		// organizer's alone (the catalog answers NOT_FOUND to anyone else;
		// so does its line). A published event pays nothing for this.
		q, err := s.settings.event(ctx, ev)
		if err != nil {
			return nil, err
		}
		if q.status == "draft" {
			return nil, errEventNotFound
		}
	}
	return l.GetLine(), nil
}

// WatchLine sends the event's line state now and after every change, to
// the mesh's own components (the edge's streams), until ctx ends.
func (s *Service) WatchLine(ctx context.Context, ev string, send func(*queuev1.WatchLineResponse) error) error {
	if err := authn.RequireService(ctx, "a line is watched through WatchQueueStatus"); err != nil {
		return err
	}
	return s.hub.Watch(ctx, ev, send)
}

// readLine is what the hub reads of a line each tick: its Redis state,
// with the knobs as Postgres has them now (the state carries those of the
// last admission step).
func (s *Service) readLine(ctx context.Context, ev string) (*queuev1.WatchLineResponse, error) {
	l, err := s.lines.Read(ctx, ev)
	if err != nil {
		return nil, err
	}
	if k, err := s.settings.Knobs(ctx, ev); err == nil {
		l.Line.AdmitPerSecond, l.Line.MaxActive = int32(k.Rate), int32(k.MaxActive)
	}
	return l, nil
}

// noLine answers a join or status of an event without a line: admitted
// without a pass when the event has no queue, else why there is none.
func (s *Service) noLine(ctx context.Context, ev string, err error) (*queuev1.QueueStatus, error) {
	switch {
	case errors.Is(err, errNoQueue):
		return &queuev1.QueueStatus{EventId: ev, Status: admitted}, nil
	case errors.Is(err, errNotLoaded):
		return nil, s.notLoaded(ctx, ev)
	}
	return nil, err
}

// notLoaded explains why Redis has no inventory for the event. A draft is
// its organizer's alone: anyone else reads NOT_FOUND, as from the catalog.
func (s *Service) notLoaded(ctx context.Context, ev string) error {
	q, err := s.settings.event(ctx, ev)
	switch {
	case err != nil:
		return err
	case q.status == "published":
		return errs.Unavailable("the event's sale is being prepared; retry", nil)
	case q.status == "draft" && mayChange(authn.FromContext(ctx), q) != nil:
		return errEventNotFound
	}
	return errs.New(errs.SaleNotOpen, "the event is not on sale", "status", q.status)
}

// mayChange answers why p may not change the queue of q, nil when it may:
// its organizer, an admin or the system. Another organizer reads
// FORBIDDEN, or NOT_FOUND for a draft they may not know exists.
func mayChange(p *authn.Principal, q eventQueue) error {
	switch {
	case p == nil:
		return errs.New(errs.Unauthorized, "sign in first")
	case p.Role == authn.RoleAdmin || p.Role == authn.RoleService:
		return nil
	case p.Role == authn.RoleOrganizer && p.UserID == q.organizer:
		return nil
	case q.status == "draft":
		return errEventNotFound
	}
	return errs.New(errs.Forbidden, "only the event's organizer or an admin may change its queue")
}

// SetSettings switches the event's queue and sets its knobs (the event's
// organizer, an admin, or the system). When the switch of a published event
// changes, the catalog has the booking engine reload the event's sale
// settings so the reserve script enforces the new switch at once; if it
// cannot, the settings are put back and the answer is SERVICE_UNAVAILABLE.
func (s *Service) SetSettings(ctx context.Context, ev string, c change) (*queuev1.QueueSettings, error) {
	p, err := authn.Require(ctx, authn.RoleOrganizer)
	if err != nil {
		return nil, err
	}
	q, err := s.settings.event(ctx, ev)
	if err != nil {
		return nil, err
	}
	if err := mayChange(p, q); err != nil {
		return nil, err
	}
	return s.apply(ctx, ev, c)
}

// SwitchOnForOverload turns the event's queue on when the edge has been
// shedding its reserves and the organizer allowed it (auto); switched says
// whether this call did (the system only).
func (s *Service) SwitchOnForOverload(ctx context.Context, ev string) (*queuev1.QueueSettings, bool, error) {
	if err := authn.RequireService(ctx, "only the edge switches a queue on for overload"); err != nil {
		return nil, false, err
	}
	q, err := s.settings.event(ctx, ev)
	if err != nil {
		return nil, false, err
	}
	if !q.auto || q.enabled || q.status != "published" {
		return settingsOf(ev, q), false, nil
	}
	on := true
	set, err := s.apply(ctx, ev, change{enabled: &on})
	if err == nil {
		s.log.Warn("waiting room switched on: the edge shed this event's reserves for a sustained while", zap.String("event_id", ev))
	}
	return set, err == nil, err
}

// apply makes the change c to the event's queue (the caller was
// authorized): the knobs in the queue's own table first, then, when the
// switch changed, the catalog's switch (the catalog has the booking engine
// reload a published event's sale settings), the knobs put back if that
// fails.
func (s *Service) apply(ctx context.Context, ev string, c change) (*queuev1.QueueSettings, error) {
	before, after, err := s.settings.update(ctx, ev, c)
	if err != nil {
		return nil, err
	}
	if before.enabled != after.enabled {
		req := connect.NewRequest(&catalogv1.SetQueueEnabledRequest{EventId: ev, Enabled: after.enabled})
		if _, err := s.catalog.SetQueueEnabled(authn.AsSystem(ctx), req); err != nil {
			back := change{enabled: &before.enabled, rate: &before.knobs.Rate, maxActive: &before.knobs.MaxActive, auto: &before.auto}
			if _, _, rerr := s.settings.update(context.WithoutCancel(ctx), ev, back); rerr != nil {
				s.log.Error("could not restore the queue settings after a failed switch",
					zap.String("event_id", ev), zap.Error(rerr))
			}
			return nil, errs.FromPeer(err, "catalog", "the booking engine could not take the new queue switch; nothing changed")
		}
	}
	if after.enabled {
		// Buyers who waited while the queue was off move again.
		if err := s.lines.Activate(ctx, ev); err != nil {
			return nil, err
		}
	}
	s.hub.Fresh(ev)
	return settingsOf(ev, after), nil
}

// settingsOf is q on the wire.
func settingsOf(ev string, q eventQueue) *queuev1.QueueSettings {
	return &queuev1.QueueSettings{EventId: ev, Enabled: q.enabled, AdmitPerSecond: int32(q.knobs.Rate),
		MaxActive: int32(q.knobs.MaxActive), Auto: q.auto}
}
