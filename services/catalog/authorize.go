package catalog

import (
	"context"
	"errors"

	"github.com/google/uuid"

	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/server"
)

var _ server.Authorizer = (*Server)(nil)

// AuthorizeRequest implements server.Authorizer. The routes that change one
// event (or add or delete one of its shows or zones) are for its organizer or an
// admin: anyone else reads FORBIDDEN (NOT_FOUND for someone else's draft)
// from the event's id alone, before the body is validated, instead of the
// route's validation rules. It stays silent when it cannot tell (a
// malformed id, an event, show or zone that does not exist, the store failing):
// validation and the handler decide then, as they always do.
func (s *Server) AuthorizeRequest(ctx context.Context, _ string, msg any) error {
	// A show or zone leads to its event: through is its id, what names it
	// (NOT_FOUND to whoever may not see the event), eventOf finds the event.
	var eventID, through, what string
	var eventOf func(context.Context, string) (string, error)
	switch m := msg.(type) {
	case *catalogv1.UpdateEventRequest:
		eventID = m.GetEventId()
	case *catalogv1.DeleteEventRequest:
		eventID = m.GetEventId()
	case *catalogv1.CreateShowRequest:
		eventID = m.GetEventId()
	case *catalogv1.PublishEventRequest:
		eventID = m.GetEventId()
	case *catalogv1.CancelEventRequest:
		eventID = m.GetEventId()
	case *catalogv1.CreateZoneRequest:
		through, what, eventOf = m.GetShowId(), "show", s.svc.store.showEventID
	case *catalogv1.DeleteShowRequest:
		through, what, eventOf = m.GetShowId(), "show", s.svc.store.showEventID
	case *catalogv1.DeleteZoneRequest:
		through, what, eventOf = m.GetZoneId(), "zone", s.svc.store.zoneEventID
	default:
		return nil
	}
	if eventOf != nil {
		if uuid.Validate(through) != nil {
			return nil
		}
		id, err := eventOf(ctx, through)
		if err != nil {
			return nil
		}
		eventID = id
	}
	if uuid.Validate(eventID) != nil {
		return nil
	}
	ev, _, err := s.svc.eventByID(ctx, eventID)
	if err != nil {
		return nil
	}
	if err := authorize(authn.FromContext(ctx), ev); err != nil {
		if what != "" && errors.Is(err, errEventNotFound) {
			err = errs.New(errs.NotFound, what+" not found")
		}
		return errs.Connect(err)
	}
	return nil
}
