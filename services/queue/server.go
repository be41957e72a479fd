package queue

import (
	"context"

	"connectrpc.com/connect"

	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/gen/bookingrush/queue/v1/queuev1connect"
)

// Server implements queuev1connect.QueueServiceHandler: it translates
// between the contract and the Service.
type Server struct {
	svc *Service
}

var _ queuev1connect.QueueServiceHandler = (*Server)(nil)

// NewServer returns the QueueService handler.
func NewServer(svc *Service) queuev1connect.QueueServiceHandler { return &Server{svc: svc} }

// JoinQueue puts the caller in line.
func (s *Server) JoinQueue(ctx context.Context, req *connect.Request[queuev1.JoinQueueRequest]) (*connect.Response[queuev1.JoinQueueResponse], error) {
	st, err := s.svc.Join(ctx, req.Msg.GetEventId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&queuev1.JoinQueueResponse{QueueStatus: st}), nil
}

// GetQueueStatus returns a place.
func (s *Server) GetQueueStatus(ctx context.Context, req *connect.Request[queuev1.GetQueueStatusRequest]) (*connect.Response[queuev1.GetQueueStatusResponse], error) {
	st, err := s.svc.Status(ctx, req.Msg.GetEventId(), req.Msg.GetTicket())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&queuev1.GetQueueStatusResponse{QueueStatus: st}), nil
}

// WatchQueueStatus streams a place until admission.
func (s *Server) WatchQueueStatus(ctx context.Context, req *connect.Request[queuev1.WatchQueueStatusRequest], stream *connect.ServerStream[queuev1.WatchQueueStatusResponse]) error {
	return s.svc.Watch(ctx, req.Msg.GetEventId(), req.Msg.GetTicket(), func(st *queuev1.QueueStatus) error {
		return stream.Send(&queuev1.WatchQueueStatusResponse{QueueStatus: st})
	})
}

// GetLine returns the public state of an event's line.
func (s *Server) GetLine(ctx context.Context, req *connect.Request[queuev1.GetLineRequest]) (*connect.Response[queuev1.GetLineResponse], error) {
	l, err := s.svc.Line(ctx, req.Msg.GetEventId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&queuev1.GetLineResponse{Line: l}), nil
}

// WatchLine streams an event's line state to the mesh's components.
func (s *Server) WatchLine(ctx context.Context, req *connect.Request[queuev1.WatchLineRequest], stream *connect.ServerStream[queuev1.WatchLineResponse]) error {
	return s.svc.WatchLine(ctx, req.Msg.GetEventId(), stream.Send)
}

// SetQueueSettings switches an event's queue and sets its knobs.
func (s *Server) SetQueueSettings(ctx context.Context, req *connect.Request[queuev1.SetQueueSettingsRequest]) (*connect.Response[queuev1.SetQueueSettingsResponse], error) {
	m := req.Msg
	var c change
	if m.Enabled != nil {
		e := m.GetEnabled()
		c.enabled = &e
	}
	if r := int(m.GetAdmitPerSecond()); r > 0 {
		c.rate = &r
	}
	if m.MaxActive != nil {
		n := int(m.GetMaxActive())
		c.maxActive = &n
	}
	if m.Auto != nil {
		a := m.GetAuto()
		c.auto = &a
	}
	set, err := s.svc.SetSettings(ctx, m.GetEventId(), c)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&queuev1.SetQueueSettingsResponse{Settings: set}), nil
}

// SwitchOnForOverload turns a shedding event's queue on if its organizer
// allowed it.
func (s *Server) SwitchOnForOverload(ctx context.Context, req *connect.Request[queuev1.SwitchOnForOverloadRequest]) (*connect.Response[queuev1.SwitchOnForOverloadResponse], error) {
	set, switched, err := s.svc.SwitchOnForOverload(ctx, req.Msg.GetEventId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&queuev1.SwitchOnForOverloadResponse{Switched: switched, Settings: set}), nil
}
