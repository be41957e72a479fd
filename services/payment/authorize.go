package payment

import (
	"context"

	"github.com/google/uuid"

	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/server"
)

var _ server.Authorizer = (*Server)(nil)

// AuthorizeRequest implements server.Authorizer: a refund of someone else's
// payment answers NOT_FOUND (as the handler would) from the payment's id
// alone, before the rest of the body (a reason) is validated. It stays
// silent when it cannot tell (a malformed id, the store failing).
func (s *Server) AuthorizeRequest(ctx context.Context, _ string, msg any) error {
	m, ok := msg.(*paymentv1.RefundPaymentRequest)
	p := authn.FromContext(ctx)
	if !ok || p == nil || uuid.Validate(m.GetPaymentId()) != nil {
		return nil
	}
	if _, err := s.svc.Get(ctx, p, m.GetPaymentId()); errs.Is(err, errs.NotFound) {
		return errs.Connect(err)
	}
	return nil
}
