package payment

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	commonv1 "github.com/bookingrush/rush/gen/bookingrush/common/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/money"
	"github.com/bookingrush/rush/services/platform/server"
)

// Server implements paymentv1connect.PaymentServiceHandler: it translates
// between the contract and the Service.
type Server struct {
	svc *Service
}

var _ paymentv1connect.PaymentServiceHandler = (*Server)(nil)

// NewServer returns the PaymentService handler.
func NewServer(svc *Service) paymentv1connect.PaymentServiceHandler { return &Server{svc: svc} }

// CreatePayment starts paying for the caller's hold.
func (s *Server) CreatePayment(ctx context.Context, req *connect.Request[paymentv1.CreatePaymentRequest]) (*connect.Response[paymentv1.CreatePaymentResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	key, err := server.IdempotencyKey(req.Header())
	if err != nil {
		return nil, err
	}
	pay, replayed, err := s.svc.Create(ctx, p, req.Msg.GetBookingId(), req.Msg.GetPaymentMethod(), key)
	if err != nil {
		return nil, err
	}
	res := connect.NewResponse(&paymentv1.CreatePaymentResponse{Payment: toProto(pay)})
	if replayed {
		res.Header().Set("Idempotent-Replayed", "true")
	}
	return res, nil
}

// GetRefundQuote tells the caller what cancelling their booking would
// refund now.
func (s *Server) GetRefundQuote(ctx context.Context, req *connect.Request[paymentv1.GetRefundQuoteRequest]) (*connect.Response[paymentv1.GetRefundQuoteResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	q, err := s.svc.Quote(ctx, p, req.Msg.GetBookingId())
	if err != nil {
		return nil, err
	}
	out := &paymentv1.GetRefundQuoteResponse{
		BookingId: q.BookingID, Cancellable: q.Cancellable, Paid: money.Format(q.PaidCents), RefundPercent: int32(q.Percent),
		RefundAmount: money.Format(q.RefundCents), Currency: q.Currency, Policy: q.Policy, Refunded: money.Format(q.RefundedCents),
		Owed: money.Format(q.OwedCents),
	}
	if !q.ValidUntil.IsZero() {
		out.ValidUntil = timestamppb.New(q.ValidUntil)
	}
	return connect.NewResponse(out), nil
}

// GetBookingPayment answers a booking's payment to the system.
func (s *Server) GetBookingPayment(ctx context.Context, req *connect.Request[paymentv1.GetBookingPaymentRequest]) (*connect.Response[paymentv1.GetBookingPaymentResponse], error) {
	if err := authn.RequireService(ctx, "a booking's payment is read with GetPayment"); err != nil {
		return nil, err
	}
	pay, ok, err := s.svc.store.ByBooking(ctx, req.Msg.GetBookingId())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errs.New(errs.NotFound, "no payment for this booking")
	}
	return connect.NewResponse(&paymentv1.GetBookingPaymentResponse{Payment: toProto(pay)}), nil
}

// GetPayment answers one of the caller's payments.
func (s *Server) GetPayment(ctx context.Context, req *connect.Request[paymentv1.GetPaymentRequest]) (*connect.Response[paymentv1.GetPaymentResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	pay, err := s.svc.Get(ctx, p, req.Msg.GetPaymentId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&paymentv1.GetPaymentResponse{Payment: toProto(pay)}), nil
}

// ListPayments pages through the payments of one status, of one booking,
// or both (admins).
func (s *Server) ListPayments(ctx context.Context, req *connect.Request[paymentv1.ListPaymentsRequest]) (*connect.Response[paymentv1.ListPaymentsResponse], error) {
	m := req.Msg
	f := PaymentFilter{Status: statusFromProto(m.GetStatus()), BookingID: m.GetBookingId(), Page: int(m.GetPage()), PerPage: int(m.GetPerPage())}
	pays, total, f, err := s.svc.List(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &paymentv1.ListPaymentsResponse{
		Payments: make([]*paymentv1.Payment, 0, len(pays)),
		Meta:     &commonv1.PageMeta{Page: int32(f.Page), PerPage: int32(f.PerPage), Total: int32(total)},
	}
	for _, p := range pays {
		pp := toProto(p)
		pp.ClientSecret = ""
		out.Payments = append(out.Payments, pp)
	}
	return connect.NewResponse(out), nil
}

// RecordRefundOutsideProvider records money a failed refund owed given
// back another way (admins).
func (s *Server) RecordRefundOutsideProvider(ctx context.Context, req *connect.Request[paymentv1.RecordRefundOutsideProviderRequest]) (*connect.Response[paymentv1.RecordRefundOutsideProviderResponse], error) {
	m := req.Msg
	pay, err := s.svc.RecordRefundOutsideProvider(ctx, m.GetPaymentId(), m.GetReference(), m.GetNote())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&paymentv1.RecordRefundOutsideProviderResponse{Payment: toProto(pay)}), nil
}

// statusFromProto is the stored name of a status ("" for unspecified).
func statusFromProto(st paymentv1.PaymentStatus) string {
	for name, v := range statusToProto {
		if v == st {
			return name
		}
	}
	return ""
}

// RefundPayment cancels the payer's booking and refunds per the policy, or
// in full for an admin's InFull.
func (s *Server) RefundPayment(ctx context.Context, req *connect.Request[paymentv1.RefundPaymentRequest]) (*connect.Response[paymentv1.RefundPaymentResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	pay, err := s.svc.RefundPayment(ctx, p, req.Msg.GetPaymentId(), req.Msg.GetReason(), req.Msg.GetInFull())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&paymentv1.RefundPaymentResponse{Payment: toProto(pay)}), nil
}

// RefundBooking is the system's refund (booking cancel, saga compensation,
// event cancellation): callers with the service role only.
func (s *Server) RefundBooking(ctx context.Context, req *connect.Request[paymentv1.RefundBookingRequest]) (*connect.Response[paymentv1.RefundBookingResponse], error) {
	err := authn.RequireService(ctx, "internal only")
	if err != nil {
		return nil, err
	}
	m := req.Msg
	var pay Payment
	var amount int64
	switch m.GetStep() {
	case paymentv1.RefundStep_REFUND_STEP_DECIDE:
		pay, err = s.svc.DecideRefund(ctx, m.GetBookingId(), m.GetPaymentId(), m.GetShowId(), m.GetCause(), m.GetReason())
	case paymentv1.RefundStep_REFUND_STEP_REFUND:
		pay, amount, err = s.svc.FinishRefund(ctx, m.GetBookingId(), m.GetPaymentId())
	default:
		pay, amount, err = s.svc.RefundBooking(ctx, m.GetBookingId(), m.GetPaymentId(), m.GetCause(), m.GetReason())
	}
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&paymentv1.RefundBookingResponse{Payment: toProto(pay), RefundAmount: money.Format(amount),
		RefundPercent: int32(max(pay.RefundPercent, 0))}), nil
}

// RefundEvent refunds a cancelled event's payments: the catalog's call,
// with the service role only.
func (s *Server) RefundEvent(ctx context.Context, req *connect.Request[paymentv1.RefundEventRequest]) (*connect.Response[paymentv1.RefundEventResponse], error) {
	if err := authn.RequireService(ctx, "only the catalog refunds a whole event (cancel it)"); err != nil {
		return nil, err
	}
	total, failed, err := s.svc.RefundEvent(ctx, req.Msg.GetEventId(), req.Msg.GetReason())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&paymentv1.RefundEventResponse{Refunds: int32(total), Failed: int32(failed)}), nil
}

// GetEventRefunds tells a cancelled event's organizer (or an admin) where
// its refunds stand.
func (s *Server) GetEventRefunds(ctx context.Context, req *connect.Request[paymentv1.GetEventRefundsRequest]) (*connect.Response[paymentv1.GetEventRefundsResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.svc.EventRefunds(ctx, p, req.Msg.GetEventId())
	if err != nil {
		return nil, err
	}
	tally := func(t RefundTally) *paymentv1.RefundTally {
		return &paymentv1.RefundTally{Bookings: int32(t.Count), Amount: money.Format(t.Cents)}
	}
	return connect.NewResponse(&paymentv1.GetEventRefundsResponse{Refunds: &paymentv1.EventRefunds{
		EventId: req.Msg.GetEventId(), Currency: r.Currency, Paid: tally(r.Paid), Refunded: tally(r.Refunded),
		InProgress: tally(r.InProgress), Failed: tally(r.Failed), RefundedOutsideProvider: tally(r.OutsideProvider),
	}}), nil
}

// HandleStripeWebhook verifies and applies a provider event. The signature
// comes from the field (the edge copies the header) or the Stripe-Signature
// header of the call itself.
func (s *Server) HandleStripeWebhook(ctx context.Context, req *connect.Request[paymentv1.HandleStripeWebhookRequest]) (*connect.Response[paymentv1.HandleStripeWebhookResponse], error) {
	sig := req.Msg.GetStripeSignature()
	if sig == "" {
		sig = req.Header().Get("Stripe-Signature")
	}
	res, err := s.svc.HandleWebhook(ctx, req.Msg.GetBody().GetData(), sig)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&paymentv1.HandleStripeWebhookResponse{EventId: res.EventID, Duplicate: res.Duplicate}), nil
}

var statusToProto = map[string]paymentv1.PaymentStatus{
	StatusPending:           paymentv1.PaymentStatus_PAYMENT_STATUS_PENDING,
	StatusProcessing:        paymentv1.PaymentStatus_PAYMENT_STATUS_PROCESSING,
	StatusSucceeded:         paymentv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED,
	StatusFailed:            paymentv1.PaymentStatus_PAYMENT_STATUS_FAILED,
	StatusRefunded:          paymentv1.PaymentStatus_PAYMENT_STATUS_REFUNDED,
	StatusPartiallyRefunded: paymentv1.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED,
	StatusRefundFailed:      paymentv1.PaymentStatus_PAYMENT_STATUS_REFUND_FAILED,
}

func toProto(p Payment) *paymentv1.Payment {
	out := &paymentv1.Payment{
		Id: p.ID, BookingId: p.BookingID, UserId: p.UserID, Amount: money.Format(p.AmountCents), Currency: p.Currency,
		Status: statusToProto[p.Status], Provider: p.Provider, PaymentMethod: p.Method, ProviderReference: p.ProviderRef,
		RefundedAmount: money.Format(p.RefundedCents), FailedReason: p.FailedReason, RefundFailureReason: p.RefundFailureReason,
	}
	if p.Status == StatusPending || p.Status == StatusProcessing {
		out.ClientSecret = p.ClientSecret
	}
	if p.Status == StatusRefundFailed {
		out.RefundOwed = money.Format(p.RefundOwedCents())
	}
	if !p.RefundFailedAt.IsZero() {
		out.RefundFailedAt = timestamppb.New(p.RefundFailedAt)
	}
	if !p.CreatedAt.IsZero() {
		out.CreatedAt = timestamppb.New(p.CreatedAt)
	}
	if !p.UpdatedAt.IsZero() {
		out.UpdatedAt = timestamppb.New(p.UpdatedAt)
	}
	return out
}

// bookingStatusName is the JSON name of a booking status ("expired").
func bookingStatusName(s bookingv1.BookingStatus) string {
	return server.EnumWord(s)
}
