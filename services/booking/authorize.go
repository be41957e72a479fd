package booking

import (
	"context"

	"github.com/google/uuid"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/server"
)

var _ server.Authorizer = (*Server)(nil)

// AuthorizeRequest implements server.Authorizer: a confirm or cancel of
// someone else's booking answers NOT_FOUND (as the handler would) from the
// booking's id alone, before the rest of the body (a reason) is validated.
// It stays silent when it cannot tell (a malformed id, the stores failing).
func (s *Server) AuthorizeRequest(ctx context.Context, _ string, msg any) error {
	var id string
	switch m := msg.(type) {
	case *bookingv1.ConfirmBookingRequest:
		id = m.GetBookingId()
	case *bookingv1.CancelBookingRequest:
		id = m.GetBookingId()
	default:
		return nil
	}
	p := authn.FromContext(ctx)
	if p == nil || uuid.Validate(id) != nil {
		return nil
	}
	if _, _, err := s.svc.owned(ctx, p, id); errs.Is(err, errs.NotFound) {
		return errs.Connect(err)
	}
	return nil
}
