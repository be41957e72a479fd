package saga

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/bookingrush/rush/gen/bookingrush/common/v1"
	sagav1 "github.com/bookingrush/rush/gen/bookingrush/saga/v1"
	"github.com/bookingrush/rush/gen/bookingrush/saga/v1/sagav1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/server"
)

// Server implements sagav1connect.SagaServiceHandler: the read side, for
// admins.
type Server struct {
	store *Store
}

var _ sagav1connect.SagaServiceHandler = (*Server)(nil)

// NewServer returns the SagaService handler.
func NewServer(store *Store) sagav1connect.SagaServiceHandler { return &Server{store: store} }

// GetSaga answers one saga with its steps.
func (s *Server) GetSaga(ctx context.Context, req *connect.Request[sagav1.GetSagaRequest]) (*connect.Response[sagav1.GetSagaResponse], error) {
	if _, err := authn.Require(ctx, authn.RoleAdmin); err != nil {
		return nil, err
	}
	sg, err := s.store.Get(ctx, req.Msg.GetSagaId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&sagav1.GetSagaResponse{Saga: toProto(sg)}), nil
}

// ListSagas pages sagas, newest first.
func (s *Server) ListSagas(ctx context.Context, req *connect.Request[sagav1.ListSagasRequest]) (*connect.Response[sagav1.ListSagasResponse], error) {
	if _, err := authn.Require(ctx, authn.RoleAdmin); err != nil {
		return nil, err
	}
	page, per := paging(req.Msg.GetPage(), req.Msg.GetPerPage())
	f := ListFilter{BookingID: req.Msg.GetBookingId(), Page: page, PerPage: per}
	if st := req.Msg.GetStatus(); st != sagav1.SagaStatus_SAGA_STATUS_UNSPECIFIED {
		f.Status = server.EnumWord(st)
	}
	sagas, total, err := s.store.List(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &sagav1.ListSagasResponse{Meta: &commonv1.PageMeta{Page: int32(page), PerPage: int32(per), Total: int32(total)}}
	for _, sg := range sagas {
		out.Sagas = append(out.Sagas, toProto(sg))
	}
	return connect.NewResponse(out), nil
}

// ListDeadLetters pages the dead letters, newest first.
func (s *Server) ListDeadLetters(ctx context.Context, req *connect.Request[sagav1.ListDeadLettersRequest]) (*connect.Response[sagav1.ListDeadLettersResponse], error) {
	if _, err := authn.Require(ctx, authn.RoleAdmin); err != nil {
		return nil, err
	}
	page, per := paging(req.Msg.GetPage(), req.Msg.GetPerPage())
	dls, total, err := s.store.DeadLetters(ctx, page, per)
	if err != nil {
		return nil, err
	}
	out := &sagav1.ListDeadLettersResponse{Meta: &commonv1.PageMeta{Page: int32(page), PerPage: int32(per), Total: int32(total)}}
	for _, d := range dls {
		out.DeadLetters = append(out.DeadLetters, &sagav1.DeadLetter{
			Id: d.ID, SagaId: d.SagaID, Topic: d.Topic, Key: d.Key, Payload: d.Payload, Error: d.Error,
			Attempts: int32(d.Attempts), CreatedAt: timestamppb.New(d.CreatedAt),
		})
	}
	return connect.NewResponse(out), nil
}

func paging(page, per int32) (int, int) {
	if page < 1 {
		page = 1
	}
	if per < 1 {
		per = 20
	}
	return int(page), int(per)
}

var sagaStatus = map[string]sagav1.SagaStatus{
	StatusRunning: sagav1.SagaStatus_SAGA_STATUS_RUNNING, StatusCompleted: sagav1.SagaStatus_SAGA_STATUS_COMPLETED,
	StatusCompensating: sagav1.SagaStatus_SAGA_STATUS_COMPENSATING, StatusCompensated: sagav1.SagaStatus_SAGA_STATUS_COMPENSATED,
	StatusFailed: sagav1.SagaStatus_SAGA_STATUS_FAILED,
}

var stepStatus = map[string]sagav1.StepStatus{
	StepPending: sagav1.StepStatus_STEP_STATUS_PENDING, StepRunning: sagav1.StepStatus_STEP_STATUS_RUNNING,
	StepSucceeded: sagav1.StepStatus_STEP_STATUS_SUCCEEDED, StepFailed: sagav1.StepStatus_STEP_STATUS_FAILED,
	StepCompensated: sagav1.StepStatus_STEP_STATUS_COMPENSATED, StepSkipped: sagav1.StepStatus_STEP_STATUS_SKIPPED,
}

// Name is the saga definition's public name.
const Name = "post-payment-saga"

func toProto(sg Saga) *sagav1.Saga {
	out := &sagav1.Saga{
		Id: sg.ID, Name: Name, BookingId: sg.BookingID, PaymentId: sg.PaymentID, Status: sagaStatus[sg.Status],
		CurrentStep: sg.CurrentStep, LastError: sg.LastError, DeadlineAt: timestamppb.New(sg.DeadlineAt),
		CreatedAt: timestamppb.New(sg.CreatedAt), UpdatedAt: timestamppb.New(sg.UpdatedAt),
	}
	for _, st := range sg.Steps {
		p := &sagav1.SagaStep{Name: st.Name, Status: stepStatus[st.Status], Attempts: int32(st.Attempt), LastError: st.Error}
		if !st.StartedAt.IsZero() {
			p.StartedAt = timestamppb.New(st.StartedAt)
		}
		if !st.FinishedAt.IsZero() {
			p.FinishedAt = timestamppb.New(st.FinishedAt)
		}
		out.Steps = append(out.Steps, p)
	}
	return out
}
