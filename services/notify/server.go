package notify

import (
	"context"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/bookingrush/rush/gen/bookingrush/common/v1"
	notifyv1 "github.com/bookingrush/rush/gen/bookingrush/notify/v1"
	"github.com/bookingrush/rush/gen/bookingrush/notify/v1/notifyv1connect"
	"github.com/bookingrush/rush/services/platform/authn"
)

// Server implements notifyv1connect.NotifyServiceHandler.
type Server struct {
	svc *Service
}

var _ notifyv1connect.NotifyServiceHandler = (*Server)(nil)

// NewServer returns the NotifyService handler.
func NewServer(svc *Service) notifyv1connect.NotifyServiceHandler {
	return &Server{svc: svc}
}

// ListNotifications pages the caller's own notifications, newest first.
func (s *Server) ListNotifications(ctx context.Context, req *connect.Request[notifyv1.ListNotificationsRequest]) (*connect.Response[notifyv1.ListNotificationsResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	page, per := int(max(req.Msg.GetPage(), 1)), int(req.Msg.GetPerPage())
	if per == 0 {
		per = 20
	}
	ns, total, err := s.svc.List(ctx, p, page, per)
	if err != nil {
		return nil, err
	}
	out := &notifyv1.ListNotificationsResponse{
		Notifications: make([]*notifyv1.Notification, 0, len(ns)),
		Meta:          &commonv1.PageMeta{Page: int32(page), PerPage: int32(per), Total: int32(total)},
	}
	for _, n := range ns {
		out.Notifications = append(out.Notifications, toProto(n))
	}
	return connect.NewResponse(out), nil
}

// SendNotification records a message and queues it for delivery. Only
// services call it (the saga, auth): a user or admin token is FORBIDDEN,
// so nobody can make the system mail arbitrary addresses.
func (s *Server) SendNotification(ctx context.Context, req *connect.Request[notifyv1.SendNotificationRequest]) (*connect.Response[notifyv1.SendNotificationResponse], error) {
	if err := authn.RequireService(ctx, "only services send notifications"); err != nil {
		return nil, err
	}
	m := req.Msg
	n, err := s.svc.Send(ctx, Request{
		Kind: Kind(m.GetTemplate()), Recipient: m.GetRecipient(), UserID: m.GetUserId(), Data: m.GetData(), Key: m.GetIdempotencyKey(),
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&notifyv1.SendNotificationResponse{Notification: toProto(n)}), nil
}

// ForgetUser erases a deleted account's notifications. Only services call
// it (auth, deleting the account).
func (s *Server) ForgetUser(ctx context.Context, req *connect.Request[notifyv1.ForgetUserRequest]) (*connect.Response[notifyv1.ForgetUserResponse], error) {
	if err := authn.RequireService(ctx, "only services forget users"); err != nil {
		return nil, err
	}
	n, err := s.svc.store.Forget(ctx, req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&notifyv1.ForgetUserResponse{Erased: int32(n)}), nil
}

var statuses = map[string]notifyv1.NotificationStatus{
	"pending":   notifyv1.NotificationStatus_NOTIFICATION_STATUS_PENDING,
	"sent":      notifyv1.NotificationStatus_NOTIFICATION_STATUS_SENT,
	"failed":    notifyv1.NotificationStatus_NOTIFICATION_STATUS_FAILED,
	"withdrawn": notifyv1.NotificationStatus_NOTIFICATION_STATUS_WITHDRAWN,
}

func toProto(n Notification) *notifyv1.Notification {
	out := &notifyv1.Notification{
		Id: n.ID, UserId: n.UserID, Template: templateOf(n.Kind), Recipient: n.Recipient, Subject: n.Subject,
		Status: statuses[n.Status], Attempts: int32(n.Attempts), CreatedAt: timestamppb.New(n.CreatedAt),
	}
	if !n.SentAt.IsZero() {
		out.SentAt = timestamppb.New(n.SentAt)
	}
	return out
}

func isUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}
