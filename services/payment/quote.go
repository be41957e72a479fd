package payment

import (
	"context"
	"time"

	"connectrpc.com/connect"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
)

// Quote is what cancelling a booking would refund now.
type Quote struct {
	BookingID   string
	Cancellable bool
	// PaidCents is what was charged (0 for an unpaid hold).
	PaidCents, RefundCents int64
	// RefundedCents is what was given back already, for a booking that
	// ended (PaidCents is then what was charged).
	RefundedCents int64
	// OwedCents is what a refund that failed at the provider still owes
	// the buyer of a booking that ended (RefundOwedCents).
	OwedCents        int64
	Percent          int64
	Currency, Policy string
	// ValidUntil is when the quote changes next (zero: it does not).
	ValidUntil time.Time
}

// Quote answers what cancelling the caller's booking would refund now: the
// same rules RefundBooking applies, nothing changed.
func (s *Service) Quote(ctx context.Context, p *authn.Principal, bookingID string) (Quote, error) {
	// The caller's token travels on: another user's booking is NOT_FOUND.
	res, err := s.booking.GetBooking(ctx, connect.NewRequest(&bookingv1.GetBookingRequest{BookingId: bookingID}))
	if err != nil {
		return Quote{}, errs.FromConnect(err)
	}
	b := res.Msg.GetBooking()
	if b.GetUserId() != p.UserID && p.Role != authn.RoleAdmin {
		return Quote{}, errs.New(errs.NotFound, "booking not found")
	}
	q := Quote{BookingID: bookingID, Currency: b.GetCurrency()}
	pay, paid, err := s.store.ByBooking(ctx, bookingID)
	if err != nil {
		return Quote{}, err
	}
	paid = paid && pay.Status == StatusSucceeded && pay.RefundRequestedAt.IsZero()
	if paid {
		q.PaidCents, q.Currency = pay.AmountCents, pay.Currency
	}
	switch b.GetStatus() {
	case bookingv1.BookingStatus_BOOKING_STATUS_RESERVED:
		q.Cancellable = true
		q.Percent, q.Policy = 100, "an unpaid hold: cancelling releases the seats and nothing is charged"
		if paid {
			q.Policy = "paid but not confirmed yet: cancelling refunds everything"
		}
	case bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED:
		q.Cancellable = true
		show, event, err := s.shows.ShowOf(ctx, b.GetShowId())
		if err != nil {
			return Quote{}, err
		}
		cancelled := event == catalogv1.EventStatus_EVENT_STATUS_CANCELLED
		if cancelled {
			q.Percent, q.Policy = 100, "the event was cancelled: everything is refunded"
			break
		}
		used, err := s.checkedIn(ctx, bookingID)
		if err != nil {
			return Quote{}, err
		}
		if used > 0 {
			// The booking service refuses such a cancellation.
			q.Cancellable = false
			q.Policy = "a ticket of this booking was checked in at the door: it can no longer be cancelled"
			break
		}
		q.Percent, q.Policy, q.ValidUntil = policyStep(show, s.now())
	default:
		q.Policy = "the booking already ended (" + bookingStatusName(b.GetStatus()) + "): there is nothing to cancel"
		switch pay.Status {
		case StatusSucceeded, StatusRefunded, StatusPartiallyRefunded, StatusRefundFailed:
			// What became of its money: charged, given back, and what a
			// refund that failed still owes.
			q.PaidCents, q.RefundedCents, q.Currency = pay.AmountCents, pay.RefundedCents, pay.Currency
			if pay.Status == StatusRefundFailed {
				q.OwedCents = pay.RefundOwedCents()
			}
		}
	}
	if q.Cancellable {
		q.RefundCents = refundCents(q.PaidCents, q.Percent)
	}
	if q.Currency == "" {
		q.Currency = "USD"
	}
	return q, nil
}
