package authn

import "github.com/bookingrush/rush/services/platform/errs"

// MayReadEvent answers whether p may read what an event's organizer reads
// about it (its sales report, where its cancellation's refunds stand): the
// organizer (organizerID), an admin, or the system. Anyone else gets
// FORBIDDEN, or NOT_FOUND while the event is a draft, so that nobody learns
// an event exists before it is public. what names the refused read in the
// message ("its analytics").
//
// The services that keep figures about an event (analytics, payment) ask
// the catalog, which owns the events, for organizerID and draft, then ask
// this, so every such route refuses alike.
func MayReadEvent(p *Principal, organizerID string, draft bool, what string) error {
	if p != nil && (p.Role == RoleAdmin || p.Role == RoleService || (p.Role == RoleOrganizer && p.UserID == organizerID)) {
		return nil
	}
	if draft {
		return errs.New(errs.NotFound, "event not found")
	}
	return errs.New(errs.Forbidden, "only the event's organizer or an admin may read "+what)
}
