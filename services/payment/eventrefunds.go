package payment

import (
	"context"

	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
)

// reasonNotCancelled is the CONFLICT reason of EventRefunds for an event
// that is not cancelled.
const reasonNotCancelled = "not_cancelled"

// EventRefunds answers p, the organizer of a cancelled event or an admin,
// where the refunds of its paid bookings stand: counts and amounts from
// the payments only (nothing names a buyer). Who runs the event and
// whether it is cancelled come from the catalog; the refusals are
// authn.MayReadEvent's, as for the event's analytics. An event not
// cancelled is CONFLICT (reason not_cancelled): its paid bookings are
// sales, not refunds.
func (s *Service) EventRefunds(ctx context.Context, p *authn.Principal, eventID string) (EventRefunds, error) {
	organizer, status, err := s.shows.EventOf(ctx, eventID)
	if err != nil {
		return EventRefunds{}, err
	}
	if err := authn.MayReadEvent(p, organizer, status == catalogv1.EventStatus_EVENT_STATUS_DRAFT, "where its refunds stand"); err != nil {
		return EventRefunds{}, err
	}
	if status != catalogv1.EventStatus_EVENT_STATUS_CANCELLED {
		return EventRefunds{}, errs.New(errs.Conflict, "the event is not cancelled: its paid bookings are sales, not refunds",
			"reason", reasonNotCancelled, "event_id", eventID)
	}
	r, err := s.store.RefundsOfEvent(ctx, eventID)
	if err != nil {
		return EventRefunds{}, err
	}
	if r.Currency == "" {
		r.Currency = "USD"
	}
	return r, nil
}
