package gate

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/bookingrush/rush/gen/bookingrush/common/v1"
	gatev1 "github.com/bookingrush/rush/gen/bookingrush/gate/v1"
	"github.com/bookingrush/rush/gen/bookingrush/gate/v1/gatev1connect"
	"github.com/bookingrush/rush/services/platform/authn"
)

// Server implements gatev1connect.GateServiceHandler: it translates between
// the contract and the Service.
type Server struct{ svc *Service }

var _ gatev1connect.GateServiceHandler = (*Server)(nil)

// NewServer returns the GateService handler.
func NewServer(svc *Service) gatev1connect.GateServiceHandler { return &Server{svc: svc} }

// ListBookingTickets answers the tickets of one of the caller's bookings.
func (s *Server) ListBookingTickets(ctx context.Context, req *connect.Request[gatev1.ListBookingTicketsRequest]) (*connect.Response[gatev1.ListBookingTicketsResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	ts, err := s.svc.BookingTickets(ctx, p, req.Msg.GetBookingId(), true)
	if err != nil {
		return nil, err
	}
	out := &gatev1.ListBookingTicketsResponse{Tickets: make([]*gatev1.Ticket, len(ts))}
	for i, t := range ts {
		out.Tickets[i] = &gatev1.Ticket{Id: t.ID, BookingId: t.BookingID, Seat: int32(t.Seat), EventId: t.EventID, ShowId: t.ShowID,
			ZoneId: t.ZoneID, Status: ticketStatus[t.Status], Code: t.Code, QrPng: t.QR, ValidUntil: timestamppb.New(t.ValidUntil),
			CheckedInAt: ts0(t.CheckedInAt)}
	}
	return connect.NewResponse(out), nil
}

// GetBookingCheckIns says whether a booking's tickets were used at the door.
func (s *Server) GetBookingCheckIns(ctx context.Context, req *connect.Request[gatev1.GetBookingCheckInsRequest]) (*connect.Response[gatev1.GetBookingCheckInsResponse], error) {
	if err := authn.RequireService(ctx, "only services read a booking's check-ins"); err != nil {
		return nil, err
	}
	n, first, err := s.svc.store.BookingCheckIns(ctx, req.Msg.GetBookingId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&gatev1.GetBookingCheckInsResponse{CheckedIn: int32(n), FirstCheckedInAt: ts0(first)}), nil
}

var ticketStatus = map[string]gatev1.TicketStatus{
	StatusValid: gatev1.TicketStatus_TICKET_STATUS_VALID, StatusRevoked: gatev1.TicketStatus_TICKET_STATUS_REVOKED,
}

func ts0(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func keysProto(ks []Key) []*gatev1.TicketKey {
	out := make([]*gatev1.TicketKey, len(ks))
	for i, k := range ks {
		out[i] = &gatev1.TicketKey{KeyId: uint32(k.ID), Algorithm: "Ed25519", PublicKey: k.Public, Active: k.Active, CreatedAt: timestamppb.New(k.CreatedAt)}
	}
	return out
}

// GetTicketKeys publishes an event's public keys (a draft's to whoever
// runs it only).
func (s *Server) GetTicketKeys(ctx context.Context, req *connect.Request[gatev1.GetTicketKeysRequest]) (*connect.Response[gatev1.GetTicketKeysResponse], error) {
	ks, err := s.svc.Keys(ctx, authn.FromContext(ctx), req.Msg.GetEventId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&gatev1.GetTicketKeysResponse{EventId: req.Msg.GetEventId(), Keys: keysProto(ks)}), nil
}

// RotateTicketKey gives an event a new active key.
func (s *Server) RotateTicketKey(ctx context.Context, req *connect.Request[gatev1.RotateTicketKeyRequest]) (*connect.Response[gatev1.RotateTicketKeyResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	ks, err := s.svc.Rotate(ctx, p, req.Msg.GetEventId(), req.Msg.GetDropPrevious())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&gatev1.RotateTicketKeyResponse{Keys: keysProto(ks)}), nil
}

// ListRevokedTickets answers a show's revocation list.
func (s *Server) ListRevokedTickets(ctx context.Context, req *connect.Request[gatev1.ListRevokedTicketsRequest]) (*connect.Response[gatev1.ListRevokedTicketsResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	asOf := time.Now()
	rs, err := s.svc.Revoked(ctx, p, req.Msg.GetShowId())
	if err != nil {
		return nil, err
	}
	out := &gatev1.ListRevokedTicketsResponse{ShowId: req.Msg.GetShowId(), AsOf: timestamppb.New(asOf), Tickets: make([]*gatev1.RevokedTicket, len(rs))}
	for i, r := range rs {
		out.Tickets[i] = &gatev1.RevokedTicket{TicketId: r.TicketID, RevokedAt: timestamppb.New(r.RevokedAt)}
	}
	return connect.NewResponse(out), nil
}

// CreateDevice registers a check-in device.
func (s *Server) CreateDevice(ctx context.Context, req *connect.Request[gatev1.CreateDeviceRequest]) (*connect.Response[gatev1.CreateDeviceResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	d, cred, err := s.svc.CreateDevice(ctx, p, req.Msg.GetName(), req.Msg.GetEventIds(), int(req.Msg.GetValidDays()))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&gatev1.CreateDeviceResponse{Credential: cred, Device: deviceProto(d)}), nil
}

// ListDevices pages through the caller's devices.
func (s *Server) ListDevices(ctx context.Context, req *connect.Request[gatev1.ListDevicesRequest]) (*connect.Response[gatev1.ListDevicesResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	page, perPage := max(int(req.Msg.GetPage()), 1), int(req.Msg.GetPerPage())
	if perPage == 0 {
		perPage = 20
	}
	f := DeviceFilter{OwnerID: req.Msg.GetOwnerId(), EventID: req.Msg.GetEventId()}
	ds, total, err := s.svc.Devices(ctx, p, f, page, perPage)
	if err != nil {
		return nil, err
	}
	out := &gatev1.ListDevicesResponse{Devices: make([]*gatev1.Device, len(ds)),
		Meta: &commonv1.PageMeta{Page: int32(page), PerPage: int32(perPage), Total: int32(total)}}
	for i, d := range ds {
		out.Devices[i] = deviceProto(d)
	}
	return connect.NewResponse(out), nil
}

// deviceProto is a device as the contract writes it (never its credential).
func deviceProto(d Device) *gatev1.Device {
	return &gatev1.Device{Id: d.ID, Name: d.Name, EventIds: d.EventIDs, CreatedAt: timestamppb.New(d.CreatedAt),
		ExpiresAt: timestamppb.New(d.ExpiresAt), RevokedAt: ts0(d.RevokedAt), OwnerId: d.OrganizerID,
		LastSeenAt: ts0(d.LastSeenAt), Scans: int32(d.Scans)}
}

// SetDeviceOwnerRole records a user's new role and revokes the devices it
// may no longer run; the mesh's own services only (auth).
func (s *Server) SetDeviceOwnerRole(ctx context.Context, req *connect.Request[gatev1.SetDeviceOwnerRoleRequest]) (*connect.Response[gatev1.SetDeviceOwnerRoleResponse], error) {
	if err := authn.RequireService(ctx, "only the auth service tells the gate of a role change"); err != nil {
		return nil, err
	}
	n, err := s.svc.SetDeviceOwnerRole(ctx, req.Msg.GetUserId(), req.Msg.GetRole())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&gatev1.SetDeviceOwnerRoleResponse{Revoked: int32(n)}), nil
}

// RevokeDevice ends a device's credential.
func (s *Server) RevokeDevice(ctx context.Context, req *connect.Request[gatev1.RevokeDeviceRequest]) (*connect.Response[gatev1.RevokeDeviceResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.svc.RevokeDevice(ctx, p, req.Msg.GetDeviceId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&gatev1.RevokeDeviceResponse{}), nil
}

// CheckIn judges one scan.
func (s *Server) CheckIn(ctx context.Context, req *connect.Request[gatev1.CheckInRequest]) (*connect.Response[gatev1.CheckInResponse], error) {
	sc := ScanIn{Code: req.Msg.GetCode(), Gate: req.Msg.GetGate(), ShowID: req.Msg.GetShowId()}
	if req.Msg.GetScannedAt() != nil {
		sc.ScannedAt = req.Msg.GetScannedAt().AsTime()
	}
	vs, err := s.checkIn(ctx, []ScanIn{sc})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&gatev1.CheckInResponse{Result: vs[0]}), nil
}

// doors names a door's verdict as gate_scans.door does ("" when not said).
var doors = map[gatev1.DoorVerdict]string{gatev1.DoorVerdict_DOOR_VERDICT_ADMITTED: DoorAdmitted, gatev1.DoorVerdict_DOOR_VERDICT_REFUSED: DoorRefused}

// SyncCheckIns judges a batch of offline scans.
func (s *Server) SyncCheckIns(ctx context.Context, req *connect.Request[gatev1.SyncCheckInsRequest]) (*connect.Response[gatev1.SyncCheckInsResponse], error) {
	in := make([]ScanIn, len(req.Msg.GetScans()))
	for i, sc := range req.Msg.GetScans() {
		in[i] = ScanIn{Code: sc.GetCode(), Gate: sc.GetGate(), ShowID: sc.GetShowId(), Offline: true, Door: doors[sc.GetDoor()]}
		if sc.GetScannedAt() != nil {
			in[i].ScannedAt = sc.GetScannedAt().AsTime()
		}
	}
	vs, err := s.checkIn(ctx, in)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&gatev1.SyncCheckInsResponse{Results: vs}), nil
}

func (s *Server) checkIn(ctx context.Context, scans []ScanIn) ([]*gatev1.CheckInResult, error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	vs, err := s.svc.CheckIn(ctx, p, scans)
	if err != nil {
		return nil, err
	}
	out := make([]*gatev1.CheckInResult, len(vs))
	for i, v := range vs {
		out[i] = &gatev1.CheckInResult{Outcome: outcomes[v.Outcome], TicketId: v.TicketID, ShowId: v.ShowID, ZoneId: v.ZoneID, Reason: v.Reason}
		if v.First != nil {
			out[i].FirstScan = &gatev1.FirstScan{ScannedAt: timestamppb.New(v.First.ScannedAt), Gate: v.First.Gate, DeviceId: v.First.DeviceID}
		}
	}
	return out, nil
}

var outcomes = map[string]gatev1.CheckInOutcome{
	OutcomeValid:       gatev1.CheckInOutcome_CHECK_IN_OUTCOME_VALID,
	OutcomeAlreadyUsed: gatev1.CheckInOutcome_CHECK_IN_OUTCOME_ALREADY_USED,
	OutcomeRevoked:     gatev1.CheckInOutcome_CHECK_IN_OUTCOME_REVOKED,
	OutcomeWrongEvent:  gatev1.CheckInOutcome_CHECK_IN_OUTCOME_WRONG_EVENT,
	OutcomeInvalid:     gatev1.CheckInOutcome_CHECK_IN_OUTCOME_INVALID,
	OutcomeWrongShow:   gatev1.CheckInOutcome_CHECK_IN_OUTCOME_WRONG_SHOW,
}

// GetShowCheckInStats answers a show's counts.
func (s *Server) GetShowCheckInStats(ctx context.Context, req *connect.Request[gatev1.GetShowCheckInStatsRequest]) (*connect.Response[gatev1.GetShowCheckInStatsResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.svc.Stats(ctx, p, req.Msg.GetShowId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&gatev1.GetShowCheckInStatsResponse{ShowId: req.Msg.GetShowId(), Sold: int32(st.Sold),
		CheckedIn: int32(st.CheckedIn), Revoked: int32(st.Revoked), Reused: int32(st.Reused), RevokedOffline: int32(st.RevokedOffline)}), nil
}
