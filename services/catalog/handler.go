package catalog

import (
	"context"

	"connectrpc.com/connect"

	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/gen/bookingrush/catalog/v1/catalogv1connect"
)

// Server implements catalogv1connect.CatalogServiceHandler: it translates
// between the wire and Service, where the rules are. Input was validated by
// the protovalidate interceptor and the caller authenticated before a
// method runs.
type Server struct {
	svc *Service
}

var _ catalogv1connect.CatalogServiceHandler = (*Server)(nil)

// NewServer returns the CatalogService handler.
func NewServer(svc *Service) catalogv1connect.CatalogServiceHandler {
	return &Server{svc: svc}
}

// answer wraps a result, or answers err (server.domainErrors maps it).
func answer[T any](msg *T, err error) (*connect.Response[T], error) {
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(msg), nil
}

// ListEvents implements catalogv1connect.CatalogServiceHandler.
func (s *Server) ListEvents(ctx context.Context, req *connect.Request[catalogv1.ListEventsRequest]) (*connect.Response[catalogv1.ListEventsResponse], error) {
	return answer(s.svc.ListEvents(ctx, req.Msg))
}

// GetEvent implements catalogv1connect.CatalogServiceHandler.
func (s *Server) GetEvent(ctx context.Context, req *connect.Request[catalogv1.GetEventRequest]) (*connect.Response[catalogv1.GetEventResponse], error) {
	ev, err := s.svc.GetEvent(ctx, req.Msg.GetSlug())
	return answer(&catalogv1.GetEventResponse{Event: ev}, err)
}

// ListShows implements catalogv1connect.CatalogServiceHandler.
func (s *Server) ListShows(ctx context.Context, req *connect.Request[catalogv1.ListShowsRequest]) (*connect.Response[catalogv1.ListShowsResponse], error) {
	return answer(s.svc.ListShows(ctx, req.Msg.GetSlug()))
}

// GetShow implements catalogv1connect.CatalogServiceHandler.
func (s *Server) GetShow(ctx context.Context, req *connect.Request[catalogv1.GetShowRequest]) (*connect.Response[catalogv1.GetShowResponse], error) {
	return answer(s.svc.store.Show(ctx, req.Msg.GetShowId()))
}

// ListZones implements catalogv1connect.CatalogServiceHandler.
func (s *Server) ListZones(ctx context.Context, req *connect.Request[catalogv1.ListZonesRequest]) (*connect.Response[catalogv1.ListZonesResponse], error) {
	return answer(s.svc.ListZones(ctx, req.Msg.GetShowId()))
}

// CreateEvent implements catalogv1connect.CatalogServiceHandler.
func (s *Server) CreateEvent(ctx context.Context, req *connect.Request[catalogv1.CreateEventRequest]) (*connect.Response[catalogv1.CreateEventResponse], error) {
	ev, err := s.svc.CreateEvent(ctx, req.Msg)
	return answer(&catalogv1.CreateEventResponse{Event: ev}, err)
}

// UpdateEvent implements catalogv1connect.CatalogServiceHandler.
func (s *Server) UpdateEvent(ctx context.Context, req *connect.Request[catalogv1.UpdateEventRequest]) (*connect.Response[catalogv1.UpdateEventResponse], error) {
	ev, err := s.svc.UpdateEvent(ctx, req.Msg)
	return answer(&catalogv1.UpdateEventResponse{Event: ev}, err)
}

// DeleteEvent implements catalogv1connect.CatalogServiceHandler.
func (s *Server) DeleteEvent(ctx context.Context, req *connect.Request[catalogv1.DeleteEventRequest]) (*connect.Response[catalogv1.DeleteEventResponse], error) {
	return answer(&catalogv1.DeleteEventResponse{}, s.svc.DeleteEvent(ctx, req.Msg.GetEventId()))
}

// CreateShow implements catalogv1connect.CatalogServiceHandler.
func (s *Server) CreateShow(ctx context.Context, req *connect.Request[catalogv1.CreateShowRequest]) (*connect.Response[catalogv1.CreateShowResponse], error) {
	sh, err := s.svc.CreateShow(ctx, req.Msg)
	return answer(&catalogv1.CreateShowResponse{Show: sh}, err)
}

// CreateZone implements catalogv1connect.CatalogServiceHandler.
func (s *Server) CreateZone(ctx context.Context, req *connect.Request[catalogv1.CreateZoneRequest]) (*connect.Response[catalogv1.CreateZoneResponse], error) {
	z, err := s.svc.CreateZone(ctx, req.Msg)
	return answer(&catalogv1.CreateZoneResponse{Zone: z}, err)
}

// DeleteShow implements catalogv1connect.CatalogServiceHandler.
func (s *Server) DeleteShow(ctx context.Context, req *connect.Request[catalogv1.DeleteShowRequest]) (*connect.Response[catalogv1.DeleteShowResponse], error) {
	return answer(&catalogv1.DeleteShowResponse{}, s.svc.DeleteShow(ctx, req.Msg.GetShowId()))
}

// DeleteZone implements catalogv1connect.CatalogServiceHandler.
func (s *Server) DeleteZone(ctx context.Context, req *connect.Request[catalogv1.DeleteZoneRequest]) (*connect.Response[catalogv1.DeleteZoneResponse], error) {
	return answer(&catalogv1.DeleteZoneResponse{}, s.svc.DeleteZone(ctx, req.Msg.GetZoneId()))
}

// PublishEvent implements catalogv1connect.CatalogServiceHandler.
func (s *Server) PublishEvent(ctx context.Context, req *connect.Request[catalogv1.PublishEventRequest]) (*connect.Response[catalogv1.PublishEventResponse], error) {
	ev, err := s.svc.PublishEvent(ctx, req.Msg.GetEventId())
	return answer(&catalogv1.PublishEventResponse{Event: ev}, err)
}

// CancelEvent implements catalogv1connect.CatalogServiceHandler.
func (s *Server) CancelEvent(ctx context.Context, req *connect.Request[catalogv1.CancelEventRequest]) (*connect.Response[catalogv1.CancelEventResponse], error) {
	ev, err := s.svc.CancelEvent(ctx, req.Msg)
	return answer(&catalogv1.CancelEventResponse{Event: ev}, err)
}

// ListCategories implements catalogv1connect.CatalogServiceHandler.
func (s *Server) ListCategories(ctx context.Context, _ *connect.Request[catalogv1.ListCategoriesRequest]) (*connect.Response[catalogv1.ListCategoriesResponse], error) {
	return answer(s.svc.ListCategories(ctx))
}

// CreateCategory implements catalogv1connect.CatalogServiceHandler.
func (s *Server) CreateCategory(ctx context.Context, req *connect.Request[catalogv1.CreateCategoryRequest]) (*connect.Response[catalogv1.CreateCategoryResponse], error) {
	c, err := s.svc.CreateCategory(ctx, req.Msg)
	return answer(&catalogv1.CreateCategoryResponse{Category: c}, err)
}

// SetQueueEnabled implements catalogv1connect.CatalogServiceHandler.
func (s *Server) SetQueueEnabled(ctx context.Context, req *connect.Request[catalogv1.SetQueueEnabledRequest]) (*connect.Response[catalogv1.SetQueueEnabledResponse], error) {
	ev, err := s.svc.SetQueueEnabled(ctx, req.Msg.GetEventId(), req.Msg.GetEnabled())
	return answer(&catalogv1.SetQueueEnabledResponse{Event: ev}, err)
}
