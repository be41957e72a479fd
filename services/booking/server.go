package booking

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	commonv1 "github.com/bookingrush/rush/gen/bookingrush/common/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/bookingref"
	"github.com/bookingrush/rush/services/platform/money"
	"github.com/bookingrush/rush/services/platform/server"
)

// Server implements bookingv1connect.BookingServiceHandler: it translates
// between the contract and the Service.
type Server struct {
	svc *Service
}

var _ bookingv1connect.BookingServiceHandler = (*Server)(nil)

// NewServer returns the BookingService handler.
func NewServer(svc *Service) bookingv1connect.BookingServiceHandler { return &Server{svc: svc} }

// Reserve holds seats; the Idempotency-Key and X-Queue-Pass headers stand
// in for the fields when those are empty (the public API sends headers).
func (s *Server) Reserve(ctx context.Context, req *connect.Request[bookingv1.ReserveRequest]) (*connect.Response[bookingv1.ReserveResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	key := m.GetIdempotencyKey()
	if key == "" {
		if key, err = server.IdempotencyKey(req.Header()); err != nil {
			return nil, err
		}
	}
	pass := m.GetQueuePass()
	if pass == "" {
		pass = req.Header().Get("X-Queue-Pass")
	}
	h, replay, err := s.svc.Reserve(ctx, p, ReserveRequest{
		ShowID: m.GetShowId(), ZoneID: m.GetZoneId(), Quantity: int(m.GetQuantity()), IdempotencyKey: key, QueuePass: pass,
	})
	if err != nil {
		return nil, err
	}
	res := connect.NewResponse(&bookingv1.ReserveResponse{Booking: toProto(h)})
	if replay {
		res.Header().Set("Idempotent-Replayed", "true")
	}
	return res, nil
}

// ConfirmBooking confirms a paid hold.
func (s *Server) ConfirmBooking(ctx context.Context, req *connect.Request[bookingv1.ConfirmBookingRequest]) (*connect.Response[bookingv1.ConfirmBookingResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	h, err := s.svc.Confirm(ctx, p, req.Msg.GetBookingId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&bookingv1.ConfirmBookingResponse{Booking: toProto(h)}), nil
}

// CancelBooking releases a hold at once.
func (s *Server) CancelBooking(ctx context.Context, req *connect.Request[bookingv1.CancelBookingRequest]) (*connect.Response[bookingv1.CancelBookingResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	h, err := s.svc.Cancel(ctx, p, req.Msg.GetBookingId(), CancelOptions{
		Cause: causeName(req.Msg.GetCause()), ConfirmedAs: statusName(req.Msg.GetReleaseAs()),
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&bookingv1.CancelBookingResponse{Booking: toProto(h)}), nil
}

// GetBooking answers one of the caller's bookings.
func (s *Server) GetBooking(ctx context.Context, req *connect.Request[bookingv1.GetBookingRequest]) (*connect.Response[bookingv1.GetBookingResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	h, err := s.svc.Get(ctx, p, req.Msg.GetBookingId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&bookingv1.GetBookingResponse{Booking: toProto(h)}), nil
}

// FindBooking answers anyone's booking by its reference (admins).
func (s *Server) FindBooking(ctx context.Context, req *connect.Request[bookingv1.FindBookingRequest]) (*connect.Response[bookingv1.FindBookingResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	h, err := s.svc.Find(ctx, p, req.Msg.GetReference())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&bookingv1.FindBookingResponse{Booking: toProto(h)}), nil
}

// ListBookings pages the caller's bookings.
func (s *Server) ListBookings(ctx context.Context, req *connect.Request[bookingv1.ListBookingsRequest]) (*connect.Response[bookingv1.ListBookingsResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	f := ListFilter{Page: int(req.Msg.GetPage()), PerPage: int(req.Msg.GetPerPage())}
	if st := req.Msg.GetStatus(); st != bookingv1.BookingStatus_BOOKING_STATUS_UNSPECIFIED {
		f.Status = statusName(st)
	}
	items, meta, err := s.list(ctx, p, f)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&bookingv1.ListBookingsResponse{Bookings: items, Meta: meta}), nil
}

// ListPendingBookings pages the caller's live holds.
func (s *Server) ListPendingBookings(ctx context.Context, req *connect.Request[bookingv1.ListPendingBookingsRequest]) (*connect.Response[bookingv1.ListPendingBookingsResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	items, meta, err := s.list(ctx, p, ListFilter{Page: int(req.Msg.GetPage()), PerPage: int(req.Msg.GetPerPage()), LiveHoldsOnly: true})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&bookingv1.ListPendingBookingsResponse{Bookings: items, Meta: meta}), nil
}

func (s *Server) list(ctx context.Context, p *authn.Principal, f ListFilter) ([]*bookingv1.Booking, *commonv1.PageMeta, error) {
	hs, total, err := s.svc.List(ctx, p, f)
	if err != nil {
		return nil, nil, err
	}
	out := make([]*bookingv1.Booking, len(hs))
	for i, h := range hs {
		out[i] = toProto(h)
	}
	page, per := max(f.Page, 1), f.PerPage
	if per < 1 {
		per = 20
	}
	return out, &commonv1.PageMeta{Page: int32(page), PerPage: int32(per), Total: int32(total)}, nil
}

// LoadInventory keeps the catalog's snapshot of an event and loads or
// refreshes its inventory (the catalog calls it on publish, cancel and every
// change of the sale settings). Only the system may (not even an admin): the
// snapshot sets prices and sale rules, which an organizer changes through
// the catalog.
func (s *Server) LoadInventory(ctx context.Context, req *connect.Request[bookingv1.LoadInventoryRequest]) (*connect.Response[bookingv1.LoadInventoryResponse], error) {
	if err := authn.RequireService(ctx, "only the catalog loads an event's inventory"); err != nil {
		return nil, err
	}
	sale := req.Msg.GetSale()
	st := EventSettings{Status: sale.GetStatus(), MaxPerUser: int(sale.GetMaxPerUser()), Queue: sale.GetQueueEnabled()}
	if sale.GetSaleStartAt() != nil {
		st.SaleStart = sale.GetSaleStartAt().AsTime()
	}
	if sale.GetSaleEndAt() != nil {
		st.SaleEnd = sale.GetSaleEndAt().AsTime()
	}
	zones := make([]ZoneDef, len(req.Msg.GetZones()))
	for i, z := range req.Msg.GetZones() {
		zones[i] = ZoneDef{ID: z.GetZoneId(), ShowID: z.GetShowId(), Total: int(z.GetTotalSeats()), PriceCents: z.GetPriceCents()}
		if z.GetShowDate() != nil {
			zones[i].ShowDate = z.GetShowDate().AsTime()
		}
	}
	res, err := s.svc.LoadInventory(ctx, req.Msg.GetEventId(), st, zones)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&bookingv1.LoadInventoryResponse{EventId: req.Msg.GetEventId(), Zones: int32(res.Zones)}), nil
}

// ForgetUser takes an account that is being deleted off the waitlists. Only
// services call it (auth, deleting the account).
func (s *Server) ForgetUser(ctx context.Context, req *connect.Request[bookingv1.ForgetUserRequest]) (*connect.Response[bookingv1.ForgetUserResponse], error) {
	if err := authn.RequireService(ctx, "only services forget users"); err != nil {
		return nil, err
	}
	n, err := s.svc.ForgetUser(ctx, req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&bookingv1.ForgetUserResponse{WaitlistsLeft: int32(n)}), nil
}

// DropZones takes zones nobody reserved from off an event's inventory.
// Only services call it (the catalog, removing them).
func (s *Server) DropZones(ctx context.Context, req *connect.Request[bookingv1.DropZonesRequest]) (*connect.Response[bookingv1.DropZonesResponse], error) {
	if err := authn.RequireService(ctx, "only services drop zones"); err != nil {
		return nil, err
	}
	if err := s.svc.DropZones(ctx, req.Msg.GetEventId(), req.Msg.GetZoneIds()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&bookingv1.DropZonesResponse{}), nil
}

// GetAvailability answers the live counters of a show's zones.
func (s *Server) GetAvailability(ctx context.Context, req *connect.Request[bookingv1.GetAvailabilityRequest]) (*connect.Response[bookingv1.GetAvailabilityResponse], error) {
	// Held and sold are the organizer's business: the catalog shows them
	// to whom it may.
	if err := authn.RequireService(ctx, "a show's seats are read from the catalog"); err != nil {
		return nil, err
	}
	counters, zones, err := s.svc.Availability(ctx, req.Msg.GetShowId())
	if err != nil {
		return nil, err
	}
	out := &bookingv1.GetAvailabilityResponse{}
	for _, z := range zones {
		if c, ok := counters[z]; ok {
			out.Zones = append(out.Zones, &bookingv1.ZoneAvailability{ZoneId: z, Total: int32(c.Total),
				Available: int32(c.Available), Held: int32(c.Held), Sold: int32(c.Sold)})
		}
	}
	return connect.NewResponse(out), nil
}

func toProto(h Hold) *bookingv1.Booking {
	b := &bookingv1.Booking{
		Id: h.ID, UserId: h.UserID, EventId: h.EventID, ShowId: h.ShowID, ZoneId: h.ZoneID,
		Quantity: int32(h.Quantity), UnitPrice: money.Format(h.UnitCents), TotalAmount: money.Format(h.UnitCents * int64(h.Quantity)),
		Currency: Currency, Status: statusToProto[h.Status], IdempotencyKey: h.IdempotencyKey,
		Reference: bookingref.Of(h.ID), CancelCause: causeToProto[h.Cause], WaitlistOffer: h.WaitlistOffer,
	}
	if !h.ExpiresAt.IsZero() {
		b.ExpiresAt = timestamppb.New(h.ExpiresAt)
	}
	if !h.CreatedAt.IsZero() {
		b.CreatedAt = timestamppb.New(h.CreatedAt)
	}
	if !h.ConfirmedAt.IsZero() {
		b.ConfirmedAt = timestamppb.New(h.ConfirmedAt)
	}
	if !h.CancelledAt.IsZero() {
		b.CancelledAt = timestamppb.New(h.CancelledAt)
	}
	// A booking changes when it is made, confirmed and ended (cancelled,
	// expired, refunded), nothing else: its last change is the latest of
	// the three, as its events' updated_at says.
	last := h.CreatedAt
	if h.ConfirmedAt.After(last) {
		last = h.ConfirmedAt
	}
	if h.CancelledAt.After(last) {
		last = h.CancelledAt
	}
	if !last.IsZero() {
		b.UpdatedAt = timestamppb.New(last)
	}
	return b
}

// JoinWaitlist puts the caller on a zone's waitlist.
func (s *Server) JoinWaitlist(ctx context.Context, req *connect.Request[bookingv1.JoinWaitlistRequest]) (*connect.Response[bookingv1.JoinWaitlistResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.svc.JoinWaitlist(ctx, p, req.Msg.GetShowId(), req.Msg.GetZoneId(), int(req.Msg.GetQuantity()))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&bookingv1.JoinWaitlistResponse{Entry: waitlistProto(e)}), nil
}

// GetWaitlistEntry answers the caller's place on a zone's waitlist.
func (s *Server) GetWaitlistEntry(ctx context.Context, req *connect.Request[bookingv1.GetWaitlistEntryRequest]) (*connect.Response[bookingv1.GetWaitlistEntryResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.svc.WaitlistEntry(ctx, p, req.Msg.GetZoneId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&bookingv1.GetWaitlistEntryResponse{Entry: waitlistProto(e)}), nil
}

// LeaveWaitlist takes the caller off a zone's waitlist.
func (s *Server) LeaveWaitlist(ctx context.Context, req *connect.Request[bookingv1.LeaveWaitlistRequest]) (*connect.Response[bookingv1.LeaveWaitlistResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.svc.LeaveWaitlist(ctx, p, req.Msg.GetZoneId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&bookingv1.LeaveWaitlistResponse{}), nil
}

func waitlistProto(e WaitlistEntry) *bookingv1.WaitlistEntry {
	return &bookingv1.WaitlistEntry{EventId: e.EventID, ShowId: e.ShowID, ZoneId: e.ZoneID,
		Quantity: int32(e.Quantity), Position: int32(e.Position), Waiting: int32(e.Waiting)}
}

// ListWaitlisted pages through an event's waiting buyers.
func (s *Server) ListWaitlisted(ctx context.Context, req *connect.Request[bookingv1.ListWaitlistedRequest]) (*connect.Response[bookingv1.ListWaitlistedResponse], error) {
	if err := authn.RequireService(ctx, "only services read an event's waitlists"); err != nil {
		return nil, err
	}
	buyers, next, err := s.svc.ListWaitlisted(ctx, req.Msg.GetEventId(), int(req.Msg.GetPageSize()), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &bookingv1.ListWaitlistedResponse{Buyers: make([]*bookingv1.WaitingBuyer, len(buyers)), NextPageToken: next}
	for i, b := range buyers {
		out.Buyers[i] = &bookingv1.WaitingBuyer{UserId: b.UserID, Entry: waitlistProto(b.Entry)}
	}
	return connect.NewResponse(out), nil
}

// CloseWaitlists ends a cancelled event's waitlists.
func (s *Server) CloseWaitlists(ctx context.Context, req *connect.Request[bookingv1.CloseWaitlistsRequest]) (*connect.Response[bookingv1.CloseWaitlistsResponse], error) {
	if err := authn.RequireService(ctx, "only services close an event's waitlists"); err != nil {
		return nil, err
	}
	if err := s.svc.CloseWaitlists(ctx, req.Msg.GetEventId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&bookingv1.CloseWaitlistsResponse{}), nil
}
