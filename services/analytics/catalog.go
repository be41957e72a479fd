package analytics

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/gen/bookingrush/catalog/v1/catalogv1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/server"
)

// Catalog is what the reports ask of the catalog, which owns the events:
// who runs an event and whether it is public (who may read its report),
// its title and capacity, and which events an organizer runs (the scope of
// their dashboard). The figures themselves are analytics' own, built from
// the events it consumes.
type Catalog interface {
	// Event reads one event as the system; NOT_FOUND when the catalog has
	// none (or deleted it).
	Event(ctx context.Context, id string) (Event, error)
	// Capacity is the event's seats over all its shows.
	Capacity(ctx context.Context, id string) (int64, error)
	// OrganizerEvents are the events of the caller (an organizer) that can
	// have sales: published and cancelled ones.
	OrganizerEvents(ctx context.Context) ([]Event, error)
}

// Event is what the reports need to know about an event.
type Event struct {
	ID, OrganizerID, Title string
	Draft                  bool
}

// NewCatalog returns Catalog over the catalog's client.
func NewCatalog(c catalogv1connect.CatalogServiceClient) Catalog { return catalogClient{c} }

func newCatalog(mesh *server.Mesh) Catalog {
	return NewCatalog(server.Dial(mesh, "analytics", "catalog", catalogv1connect.NewCatalogServiceClient))
}

type catalogClient struct {
	c catalogv1connect.CatalogServiceClient
}

// pageSize is the catalog's largest page.
const pageSize = 100

func (c catalogClient) Event(ctx context.Context, id string) (Event, error) {
	res, err := c.c.GetEvent(authn.AsSystem(ctx), connect.NewRequest(&catalogv1.GetEventRequest{Slug: id}))
	if err != nil {
		return Event{}, catalogErr(err)
	}
	return eventOf(res.Msg.GetEvent()), nil
}

func (c catalogClient) Capacity(ctx context.Context, id string) (int64, error) {
	res, err := c.c.ListShows(authn.AsSystem(ctx), connect.NewRequest(&catalogv1.ListShowsRequest{Slug: id}))
	if err != nil {
		return 0, catalogErr(err)
	}
	var n int64
	for _, sh := range res.Msg.GetShows() {
		n += int64(sh.GetTotalSeats())
	}
	return n, nil
}

// OrganizerEvents pages through the caller's own events (ListEvents with
// mine: the catalog takes the organizer from the caller's token, forwarded
// by the mesh client, so nobody can name another organizer).
func (c catalogClient) OrganizerEvents(ctx context.Context) ([]Event, error) {
	var out []Event
	for _, status := range []catalogv1.EventStatus{catalogv1.EventStatus_EVENT_STATUS_PUBLISHED, catalogv1.EventStatus_EVENT_STATUS_CANCELLED} {
		for page := int32(1); ; page++ {
			res, err := c.c.ListEvents(ctx, connect.NewRequest(&catalogv1.ListEventsRequest{Mine: true, Status: status, Page: page, PerPage: pageSize}))
			if err != nil {
				return nil, catalogErr(err)
			}
			for _, ev := range res.Msg.GetEvents() {
				out = append(out, eventOf(ev))
			}
			if len(res.Msg.GetEvents()) < pageSize {
				break
			}
		}
	}
	return out, nil
}

func eventOf(ev *catalogv1.Event) Event {
	return Event{ID: ev.GetId(), OrganizerID: ev.GetOrganizerId(), Title: ev.GetTitle(),
		Draft: ev.GetStatus() == catalogv1.EventStatus_EVENT_STATUS_DRAFT}
}

// catalogErr passes the catalog's domain answers (NOT_FOUND) through and
// names the catalog when it cannot be reached. The cause keeps the client's
// text only: a *connect.Error in the chain would be answered as it is.
func catalogErr(err error) error {
	e := errs.FromConnect(err)
	if e.Code == errs.ServiceUnavailable || e.Code == errs.Internal {
		return errs.Unavailable("the catalog is unavailable; retry", errors.New(err.Error()), "dependency", "catalog")
	}
	return e
}
