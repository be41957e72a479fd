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
// event (or add a zone to one of its shows) are for its organizer or an
// admin: anyone else reads FORBIDDEN (NOT_FOUND for someone else's draft)
// from the event's id alone, before the body is validated, instead of the
// route's validation rules. It stays silent when it cannot tell (a
// malformed id, an event or show that does not exist, the store failing):
// validation and the handler decide then, as they always do.
func (s *Server) AuthorizeRequest(ctx context.Context, _ string, msg any) error {
	var eventID, showID string
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
		showID = m.GetShowId()
	default:
		return nil
	}
	if showID != "" {
		if uuid.Validate(showID) != nil {
			return nil
		}
		id, err := s.svc.store.showEventID(ctx, showID)
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
		if showID != "" && errors.Is(err, errEventNotFound) {
			err = errs.New(errs.NotFound, "show not found")
		}
		return errs.Connect(err)
	}
	return nil
}
