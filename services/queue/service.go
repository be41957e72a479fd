package queue

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
)

// Service holds the queue's rules: who may join, what a place looks like on
// the wire, how a watch ends and how settings change.
type Service struct {
	lines      *Lines
	settings   *Settings
	booking    bookingv1connect.BookingServiceClient
	watchEvery time.Duration
	log        *zap.Logger
}

// NewService returns the queue service.
func NewService(lines *Lines, settings *Settings, booking bookingv1connect.BookingServiceClient, watchEvery time.Duration, log *zap.Logger) *Service {
	return &Service{lines: lines, settings: settings, booking: booking, watchEvery: watchEvery, log: log}
}

// Join puts the caller in the event's line (once) and returns the place.
func (s *Service) Join(ctx context.Context, eventID string) (*queuev1.QueueStatus, error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	return s.look(ctx, p, eventID, true)
}

// Status returns the caller's place; NOT_FOUND when the caller never joined
// (or the queue keys are gone after the sale).
func (s *Service) Status(ctx context.Context, eventID string) (*queuev1.QueueStatus, error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	return s.look(ctx, p, eventID, false)
}

// Watch sends the caller's place now and after every change (polled every
// watchEvery), until the caller is admitted or the pass expired: that last
// place is sent and the watch ends. It also ends when ctx does.
func (s *Service) Watch(ctx context.Context, eventID string, send func(*queuev1.QueueStatus) error) error {
	p, err := authn.Require(ctx)
	if err != nil {
		return err
	}
	t := time.NewTicker(s.watchEvery)
	defer t.Stop()
	var last *queuev1.QueueStatus
	for {
		st, err := s.look(ctx, p, eventID, false)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if last == nil || changed(last, st) {
			if err := send(st); err != nil {
				return err
			}
			last = st
		}
		if st.GetStatus() != queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// changed reports whether a watcher should hear about st after last; the
// estimate alone follows position and is not news.
func changed(last, st *queuev1.QueueStatus) bool {
	return last.GetStatus() != st.GetStatus() || last.GetPosition() != st.GetPosition() ||
		last.GetTotal() != st.GetTotal() || last.GetQueuePass() != st.GetQueuePass()
}

func (s *Service) look(ctx context.Context, p *authn.Principal, eventID string, join bool) (*queuev1.QueueStatus, error) {
	pl, err := s.lines.Place(ctx, eventID, p.UserID, join)
	if errors.Is(err, errNotLoaded) {
		return nil, s.notLoaded(ctx, eventID)
	}
	if err != nil {
		return nil, err
	}
	st := &queuev1.QueueStatus{EventId: eventID, Position: int32(pl.position), Total: int32(pl.total)}
	switch pl.kind {
	case placeOpen:
		st.Status = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_ADMITTED
	case placeAdmitted:
		st.Status = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_ADMITTED
		st.QueuePass, st.PassExpiresAt = pl.pass, timestamppb.New(pl.passExpires)
	case placeExpired:
		st.Status = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_EXPIRED
	case placePre:
		// Places are drawn at the opening: until then the position is 0
		// and the wait is at least the time to the opening.
		st.Status = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING
		st.EstimatedWait = durationpb.New(max(pl.opensAt.Sub(pl.now), 0))
	case placeWaiting:
		st.Status = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING
		// The estimate is a nicety: without the rate it is left out, the
		// place itself is still right.
		if rate, err := s.settings.Rate(ctx, eventID); err == nil && rate > 0 {
			st.EstimatedWait = durationpb.New(time.Duration(pl.position) * time.Second / time.Duration(rate))
		}
	case placeNone:
		return nil, errs.New(errs.NotFound, "you are not in this event's queue; join it first")
	}
	return st, nil
}

// notLoaded explains why Redis has no inventory for the event.
func (s *Service) notLoaded(ctx context.Context, eventID string) error {
	status, found, err := s.settings.status(ctx, eventID)
	switch {
	case err != nil:
		return err
	case !found:
		return errs.New(errs.NotFound, "event not found")
	case status == "published":
		return errs.Unavailable("the event's sale is being prepared; retry", nil)
	}
	return errs.New(errs.SaleNotOpen, "the event is not on sale", "status", status)
}

// SetSettings switches the event's queue and sets its rate (internal
// callers and admins only). When the switch of a published event changes,
// the booking engine reloads the event's sale settings so the reserve script
// enforces the new switch at once; if it cannot, the switch is put back and
// the answer is SERVICE_UNAVAILABLE.
func (s *Service) SetSettings(ctx context.Context, eventID string, enabled bool, rate int) (*queuev1.QueueSettings, error) {
	if _, err := authn.Require(ctx, authn.RoleService); err != nil {
		return nil, err
	}
	before, after, err := s.settings.update(ctx, eventID, enabled, rate)
	if err != nil {
		return nil, err
	}
	if before.enabled != after.enabled && after.status == "published" {
		req := connect.NewRequest(&bookingv1.LoadInventoryRequest{EventId: eventID})
		if _, err := s.booking.LoadInventory(ctx, req); err != nil {
			if _, _, rerr := s.settings.update(context.WithoutCancel(ctx), eventID, before.enabled, before.rate); rerr != nil {
				s.log.Error("could not restore the queue switch after a failed inventory reload",
					zap.String("event_id", eventID), zap.Error(rerr))
			}
			return nil, errs.Unavailable("the booking engine could not take the new queue switch; nothing changed", err, "dependency", "booking")
		}
	}
	if after.enabled {
		// Buyers who waited while the queue was off move again.
		if err := s.lines.Activate(ctx, eventID); err != nil {
			return nil, err
		}
	}
	return &queuev1.QueueSettings{EventId: eventID, Enabled: after.enabled, AdmitPerSecond: int32(after.rate)}, nil
}
