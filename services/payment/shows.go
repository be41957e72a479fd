package payment

import (
	"context"
	"time"

	"connectrpc.com/connect"

	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/gen/bookingrush/catalog/v1/catalogv1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/server"
)

// Shows is what the payment service asks of the catalog, which owns the
// shows and events: when a show starts (the refund policy counts from it)
// and where its event stands (only a published event takes money; a
// cancelled one refunds in full); who runs an event (who may read where
// its refunds stand).
type Shows interface {
	ShowOf(ctx context.Context, showID string) (start time.Time, event catalogv1.EventStatus, err error)
	// EventOf answers an event's organizer and status; NOT_FOUND when the
	// catalog has no such event.
	EventOf(ctx context.Context, eventID string) (organizer string, status catalogv1.EventStatus, err error)
}

// NewShows returns Shows over the catalog's client; calls are made as the
// system.
func NewShows(c catalogv1connect.CatalogServiceClient) Shows { return showsClient{c} }

type showsClient struct {
	c catalogv1connect.CatalogServiceClient
}

func (s showsClient) ShowOf(ctx context.Context, showID string) (time.Time, catalogv1.EventStatus, error) {
	res, err := s.c.GetShow(authn.AsSystem(ctx), connect.NewRequest(&catalogv1.GetShowRequest{ShowId: showID}))
	if err != nil {
		return time.Time{}, 0, errs.FromConnect(err)
	}
	return res.Msg.GetShow().GetShowDate().AsTime(), res.Msg.GetEventStatus(), nil
}

func (s showsClient) EventOf(ctx context.Context, eventID string) (string, catalogv1.EventStatus, error) {
	res, err := s.c.GetEvent(authn.AsSystem(ctx), connect.NewRequest(&catalogv1.GetEventRequest{Slug: eventID}))
	if err != nil {
		return "", 0, errs.FromPeer(err, "catalog", "the catalog is unavailable; retry")
	}
	return res.Msg.GetEvent().GetOrganizerId(), res.Msg.GetEvent().GetStatus(), nil
}

func newShows(mesh *server.Mesh) Shows {
	return NewShows(server.Dial(mesh, "payment", "catalog", catalogv1connect.NewCatalogServiceClient))
}
