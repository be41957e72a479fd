package queue

import (
	"context"

	"github.com/google/uuid"

	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/server"
)

var _ server.Authorizer = (*Server)(nil)

// AuthorizeRequest implements server.Authorizer: a change of an event's
// queue by anyone but its organizer (or an admin) answers FORBIDDEN
// (NOT_FOUND for someone else's draft) from the event's id alone, before
// the body is validated, as the catalog's routes of one event do. It stays
// silent when it cannot tell (a malformed id, no such event, the store
// failing): validation and the handler decide then.
func (s *Server) AuthorizeRequest(ctx context.Context, _ string, msg any) error {
	m, ok := msg.(*queuev1.SetQueueSettingsRequest)
	if !ok || uuid.Validate(m.GetEventId()) != nil {
		return nil
	}
	q, err := s.svc.settings.event(ctx, m.GetEventId())
	if err != nil {
		return nil
	}
	if err := mayChange(authn.FromContext(ctx), q); err != nil {
		return errs.Connect(err)
	}
	return nil
}
