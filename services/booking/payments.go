package booking

import (
	"context"

	"connectrpc.com/connect"

	gatev1 "github.com/bookingrush/rush/gen/bookingrush/gate/v1"
	"github.com/bookingrush/rush/gen/bookingrush/gate/v1/gatev1connect"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
)

// Payments is what the booking service asks of the payment service, which
// owns the money (and its table). The calls go one way: the payment service
// never calls back into the booking service while answering them.
type Payments interface {
	// Paid reports whether the booking has a succeeded payment.
	Paid(ctx context.Context, bookingID string) (bool, error)
	// DecideRefund records the refund of a confirmed booking of showID
	// that its buyer cancels, and answers the share the policy gives back
	// (0-100). A decision stands: asking again answers the first one.
	DecideRefund(ctx context.Context, bookingID, showID, reason string) (percent int, err error)
	// FinishRefund gives the decided share back; the seats are released.
	FinishRefund(ctx context.Context, bookingID string) error
}

// NewPayments returns Payments over the payment service's client; calls
// are made as the system (the caller's ownership is checked here first).
func NewPayments(c paymentv1connect.PaymentServiceClient) Payments { return paymentsClient{c} }

type paymentsClient struct {
	c paymentv1connect.PaymentServiceClient
}

func (p paymentsClient) Paid(ctx context.Context, bookingID string) (bool, error) {
	res, err := p.c.GetBookingPayment(authn.AsSystem(ctx), connect.NewRequest(&paymentv1.GetBookingPaymentRequest{BookingId: bookingID}))
	if err != nil {
		if e := errs.FromConnect(err); e.Code == errs.NotFound {
			return false, nil
		}
		return false, errs.FromConnect(err)
	}
	return res.Msg.GetPayment().GetStatus() == paymentv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED, nil
}

func (p paymentsClient) DecideRefund(ctx context.Context, bookingID, showID, reason string) (int, error) {
	res, err := p.c.RefundBooking(authn.AsSystem(ctx), connect.NewRequest(&paymentv1.RefundBookingRequest{
		BookingId: bookingID, ShowId: showID, Reason: reason,
		Cause: paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED, Step: paymentv1.RefundStep_REFUND_STEP_DECIDE,
	}))
	if err != nil {
		return 0, errs.FromConnect(err)
	}
	return int(res.Msg.GetRefundPercent()), nil
}

func (p paymentsClient) FinishRefund(ctx context.Context, bookingID string) error {
	_, err := p.c.RefundBooking(authn.AsSystem(ctx), connect.NewRequest(&paymentv1.RefundBookingRequest{
		BookingId: bookingID, Cause: paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED, Step: paymentv1.RefundStep_REFUND_STEP_REFUND,
	}))
	if err != nil {
		return errs.FromConnect(err)
	}
	return nil
}

// Gate is what the booking service asks of the gate service, which owns the
// tickets and their check-ins. The gate never calls the booking service.
type Gate interface {
	// CheckedIn answers how many of the booking's tickets were used at the
	// door.
	CheckedIn(ctx context.Context, bookingID string) (int, error)
}

// NewGate returns Gate over the gate service's client; calls are made as
// the system.
func NewGate(c gatev1connect.GateServiceClient) Gate { return gateClient{c} }

type gateClient struct {
	c gatev1connect.GateServiceClient
}

func (g gateClient) CheckedIn(ctx context.Context, bookingID string) (int, error) {
	res, err := g.c.GetBookingCheckIns(authn.AsSystem(ctx), connect.NewRequest(&gatev1.GetBookingCheckInsRequest{BookingId: bookingID}))
	if err != nil {
		return 0, errs.FromPeer(err, "gate", "the gate service did not say whether this booking's tickets were used at the door; nothing changed, retry")
	}
	return int(res.Msg.GetCheckedIn()), nil
}
