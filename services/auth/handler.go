package auth

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/bookingrush/rush/gen/bookingrush/auth/v1"
	"github.com/bookingrush/rush/gen/bookingrush/auth/v1/authv1connect"
	commonv1 "github.com/bookingrush/rush/gen/bookingrush/common/v1"
	"github.com/bookingrush/rush/services/platform/audit"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/breaker"
	"github.com/bookingrush/rush/services/platform/errs"
)

// Server implements authv1connect.AuthServiceHandler: it translates between
// protobuf and the Service. Request fields are already validated by the
// protovalidate interceptor and the caller authenticated by the authn one.
type Server struct {
	authv1connect.UnimplementedAuthServiceHandler
	svc *Service
	log *zap.Logger
}

var _ authv1connect.AuthServiceHandler = (*Server)(nil)

// NewServer returns the AuthService handler.
func NewServer(svc *Service, log *zap.Logger) authv1connect.AuthServiceHandler {
	return &Server{svc: svc, log: log.Named("auth")}
}

// Register implements authv1connect.AuthServiceHandler.
func (h *Server) Register(ctx context.Context, req *connect.Request[authv1.RegisterRequest]) (*connect.Response[authv1.RegisterResponse], error) {
	m := req.Msg
	u, s, err := h.svc.Register(ctx, m.GetEmail(), m.GetPassword(), m.GetFullName())
	if err != nil {
		return nil, h.fail(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&authv1.RegisterResponse{
		User: toProto(u), AccessToken: s.AccessToken, RefreshToken: s.RefreshToken, ExpiresIn: int32(s.ExpiresIn.Seconds()),
	}), nil
}

// Login implements authv1connect.AuthServiceHandler.
func (h *Server) Login(ctx context.Context, req *connect.Request[authv1.LoginRequest]) (*connect.Response[authv1.LoginResponse], error) {
	u, s, err := h.svc.Login(ctx, req.Msg.GetEmail(), req.Msg.GetPassword())
	if err != nil {
		return nil, h.fail(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&authv1.LoginResponse{
		User: toProto(u), AccessToken: s.AccessToken, RefreshToken: s.RefreshToken, ExpiresIn: int32(s.ExpiresIn.Seconds()),
	}), nil
}

// Refresh implements authv1connect.AuthServiceHandler.
func (h *Server) Refresh(ctx context.Context, req *connect.Request[authv1.RefreshRequest]) (*connect.Response[authv1.RefreshResponse], error) {
	s, err := h.svc.Refresh(ctx, req.Msg.GetRefreshToken())
	if err != nil {
		return nil, h.fail(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&authv1.RefreshResponse{
		AccessToken: s.AccessToken, RefreshToken: s.RefreshToken, ExpiresIn: int32(s.ExpiresIn.Seconds()),
	}), nil
}

// Logout implements authv1connect.AuthServiceHandler.
func (h *Server) Logout(ctx context.Context, req *connect.Request[authv1.LogoutRequest]) (*connect.Response[authv1.LogoutResponse], error) {
	if err := h.svc.Logout(ctx, req.Msg.GetRefreshToken()); err != nil {
		return nil, h.fail(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&authv1.LogoutResponse{}), nil
}

// ForgotPassword implements authv1connect.AuthServiceHandler.
func (h *Server) ForgotPassword(ctx context.Context, req *connect.Request[authv1.ForgotPasswordRequest]) (*connect.Response[authv1.ForgotPasswordResponse], error) {
	if err := h.svc.ForgotPassword(ctx, req.Msg.GetEmail()); err != nil {
		return nil, h.fail(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&authv1.ForgotPasswordResponse{}), nil
}

// ResetPassword implements authv1connect.AuthServiceHandler.
func (h *Server) ResetPassword(ctx context.Context, req *connect.Request[authv1.ResetPasswordRequest]) (*connect.Response[authv1.ResetPasswordResponse], error) {
	if err := h.svc.ResetPassword(ctx, req.Msg.GetToken(), req.Msg.GetNewPassword()); err != nil {
		return nil, h.fail(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&authv1.ResetPasswordResponse{}), nil
}

// ChangePassword implements authv1connect.AuthServiceHandler.
func (h *Server) ChangePassword(ctx context.Context, req *connect.Request[authv1.ChangePasswordRequest]) (*connect.Response[authv1.ChangePasswordResponse], error) {
	u, s, err := h.svc.ChangePassword(ctx, req.Msg.GetCurrentPassword(), req.Msg.GetNewPassword())
	if err != nil {
		return nil, h.fail(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&authv1.ChangePasswordResponse{
		User: toProto(u), AccessToken: s.AccessToken, RefreshToken: s.RefreshToken, ExpiresIn: int32(s.ExpiresIn.Seconds()),
	}), nil
}

// DeleteUser implements authv1connect.AuthServiceHandler.
func (h *Server) DeleteUser(ctx context.Context, req *connect.Request[authv1.DeleteUserRequest]) (*connect.Response[authv1.DeleteUserResponse], error) {
	if err := h.svc.DeleteUser(ctx, req.Msg.GetUserId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.DeleteUserResponse{}), nil
}

// DeleteAccount implements authv1connect.AuthServiceHandler.
func (h *Server) DeleteAccount(ctx context.Context, req *connect.Request[authv1.DeleteAccountRequest]) (*connect.Response[authv1.DeleteAccountResponse], error) {
	if err := h.svc.DeleteAccount(ctx, req.Msg.GetPassword()); err != nil {
		return nil, h.fail(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&authv1.DeleteAccountResponse{}), nil
}

// GetMe implements authv1connect.AuthServiceHandler.
func (h *Server) GetMe(ctx context.Context, req *connect.Request[authv1.GetMeRequest]) (*connect.Response[authv1.GetMeResponse], error) {
	u, err := h.svc.Me(ctx)
	if err != nil {
		return nil, h.fail(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&authv1.GetMeResponse{User: toProto(u)}), nil
}

// GetUser implements authv1connect.AuthServiceHandler.
func (h *Server) GetUser(ctx context.Context, req *connect.Request[authv1.GetUserRequest]) (*connect.Response[authv1.GetUserResponse], error) {
	u, err := h.svc.User(ctx, req.Msg.GetUserId())
	if err != nil {
		return nil, h.fail(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&authv1.GetUserResponse{User: toProto(u)}), nil
}

// UpdateMe implements authv1connect.AuthServiceHandler.
func (h *Server) UpdateMe(ctx context.Context, req *connect.Request[authv1.UpdateMeRequest]) (*connect.Response[authv1.UpdateMeResponse], error) {
	u, err := h.svc.UpdateMe(ctx, req.Msg.GetFullName())
	if err != nil {
		return nil, h.fail(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&authv1.UpdateMeResponse{User: toProto(u)}), nil
}

// SetUserRole implements authv1connect.AuthServiceHandler.
func (h *Server) SetUserRole(ctx context.Context, req *connect.Request[authv1.SetUserRoleRequest]) (*connect.Response[authv1.SetUserRoleResponse], error) {
	role, ok := roleNames[req.Msg.GetRole()]
	if !ok { // protovalidate rejects these already
		return nil, h.fail(ctx, req.Spec(), errs.Invalid("role", "role.known", "must be user, organizer or admin"))
	}
	u, err := h.svc.SetUserRole(ctx, req.Msg.GetUserId(), role)
	if err != nil {
		return nil, h.fail(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&authv1.SetUserRoleResponse{User: toProto(u)}), nil
}

// ListUsers implements authv1connect.AuthServiceHandler.
func (h *Server) ListUsers(ctx context.Context, req *connect.Request[authv1.ListUsersRequest]) (*connect.Response[authv1.ListUsersResponse], error) {
	m := req.Msg
	f := UserFilter{query: m.GetQuery(), role: roleNames[m.GetRole()], page: int(m.GetPage()), perPage: int(m.GetPerPage())}
	users, total, f, err := h.svc.ListUsers(ctx, f)
	if err != nil {
		return nil, h.fail(ctx, req.Spec(), err)
	}
	out := &authv1.ListUsersResponse{
		Users: make([]*authv1.User, 0, len(users)),
		Meta:  &commonv1.PageMeta{Page: int32(f.page), PerPage: int32(f.perPage), Total: int32(total)},
	}
	for _, u := range users {
		out.Users = append(out.Users, toProto(u))
	}
	return connect.NewResponse(out), nil
}

// ListAuditLogs implements authv1connect.AuthServiceHandler.
func (h *Server) ListAuditLogs(ctx context.Context, req *connect.Request[authv1.ListAuditLogsRequest]) (*connect.Response[authv1.ListAuditLogsResponse], error) {
	m := req.Msg
	f := audit.Filter{
		UserID: m.GetUserId(), Action: m.GetAction(), EntityType: m.GetEntityType(), EntityID: m.GetEntityId(),
		Page: int(m.GetPage()), PerPage: int(m.GetPerPage()),
	}
	if m.From != nil {
		f.From = m.GetFrom().AsTime()
	}
	if m.To != nil {
		f.To = m.GetTo().AsTime()
	}
	rows, total, f, err := h.svc.AuditLogs(ctx, f)
	if err != nil {
		return nil, h.fail(ctx, req.Spec(), err)
	}
	out := &authv1.ListAuditLogsResponse{
		AuditLogs: make([]*authv1.AuditLog, 0, len(rows)),
		Meta:      &commonv1.PageMeta{Page: int32(f.Page), PerPage: int32(f.PerPage), Total: int32(total)},
	}
	for _, r := range rows {
		e := &authv1.AuditLog{
			Id: r.ID, UserId: r.UserID, Action: r.Action, EntityType: r.EntityType, EntityId: r.EntityID,
			IpAddress: r.IP, UserAgent: r.UserAgent, CreatedAt: timestamppb.New(r.CreatedAt),
		}
		if e.OldValues, err = toStruct(r.Old); err == nil {
			e.NewValues, err = toStruct(r.New)
		}
		if err != nil {
			return nil, h.fail(ctx, req.Spec(), err)
		}
		out.AuditLogs = append(out.AuditLogs, e)
	}
	return connect.NewResponse(out), nil
}

// toStruct converts stored JSON values (nil stays nil).
func toStruct(m map[string]any) (*structpb.Struct, error) {
	if m == nil {
		return nil, nil
	}
	return structpb.NewStruct(m)
}

// fail turns err into the answer (server.domainErrors maps it to its Connect
// error): domain errors as they are, an unreachable
// database as SERVICE_UNAVAILABLE, anything else as INTERNAL_ERROR; the
// cause of the last two is logged here because the caller never sees it.
func (h *Server) fail(_ context.Context, spec connect.Spec, err error) error {
	var de *errs.Error
	if errors.As(err, &de) {
		return err
	}
	var u *unavailable
	if errors.As(err, &u) {
		if !errors.Is(err, breaker.ErrOpen) { // the breaker logged the outage once
			h.log.Warn("rpc failed: database unavailable", zap.String("procedure", spec.Procedure), zap.Error(err))
		}
		return errs.New(errs.ServiceUnavailable, "database unavailable; try again", "dependency", "postgres")
	}
	h.log.Error("rpc failed", zap.String("procedure", spec.Procedure), zap.Error(err))
	return err
}

// roleNames maps the protobuf roles to the stored ones.
var roleNames = map[authv1.Role]string{
	authv1.Role_ROLE_USER:      authn.RoleUser,
	authv1.Role_ROLE_ORGANIZER: authn.RoleOrganizer,
	authv1.Role_ROLE_ADMIN:     authn.RoleAdmin,
}

func toProto(u *User) *authv1.User {
	role := authv1.Role_ROLE_UNSPECIFIED
	for r, name := range roleNames {
		if name == u.Role {
			role = r
		}
	}
	return &authv1.User{
		Id: u.ID, Email: u.Email, FullName: u.FullName, Role: role, EmailVerified: u.EmailVerified,
		CreatedAt: timestamppb.New(u.CreatedAt), UpdatedAt: timestamppb.New(u.UpdatedAt),
	}
}
