package auth

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
)

// Bookings is what auth asks of booking, which owns the bookings, before it
// deletes an account.
type Bookings interface {
	// Unpaid counts the caller's live holds, for which a payment may be on
	// its way, as booking's records have them: a hold of the last moment,
	// before booking's persister wrote it (well under a second), is not
	// counted; it expires as any hold does.
	Unpaid(ctx context.Context) (int, error)
	// Forget takes the account off every waitlist, as the system, inside
	// its deletion. It refuses (CONFLICT, reason unpaid_bookings) while the
	// live inventory counts a hold of the user's, even one of the last
	// moment that Unpaid cannot see yet.
	Forget(ctx context.Context, userID string) error
}

// NewBookings returns Bookings over booking's client; the mesh client
// forwards the caller's token, so booking answers the caller's own.
func NewBookings(c bookingv1connect.BookingServiceClient) Bookings { return bookingClient{c} }

type bookingClient struct {
	c bookingv1connect.BookingServiceClient
}

func (b bookingClient) Unpaid(ctx context.Context) (int, error) {
	res, err := b.c.ListPendingBookings(ctx, connect.NewRequest(&bookingv1.ListPendingBookingsRequest{PerPage: 1}))
	if err != nil {
		return 0, bookingError(err)
	}
	return int(res.Msg.GetMeta().GetTotal()), nil
}

func (b bookingClient) Forget(ctx context.Context, userID string) error {
	_, err := b.c.ForgetUser(authn.AsSystem(ctx), connect.NewRequest(&bookingv1.ForgetUserRequest{UserId: userID}))
	if err != nil {
		return bookingError(err)
	}
	return nil
}

// bookingError is booking's refusal as booking said it, or, when booking
// failed, SERVICE_UNAVAILABLE naming it.
func bookingError(err error) error {
	e := errs.FromConnect(err)
	if e.Code == errs.ServiceUnavailable || e.Code == errs.Internal {
		return errs.Unavailable("bookings are unavailable; retry", errors.New(err.Error()), "dependency", "booking")
	}
	return e
}
