package analytics

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	analyticsv1 "github.com/bookingrush/rush/gen/bookingrush/analytics/v1"
	"github.com/bookingrush/rush/gen/bookingrush/analytics/v1/analyticsv1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
)

// Server implements analyticsv1connect.AnalyticsServiceHandler.
type Server struct {
	store   *Store
	catalog Catalog
	now     func() time.Time
}

var _ analyticsv1connect.AnalyticsServiceHandler = (*Server)(nil)

// NewServer returns the AnalyticsService handler: the figures from store,
// what they are about (owner, title, capacity) from the catalog.
func NewServer(store *Store, catalog Catalog) analyticsv1connect.AnalyticsServiceHandler {
	return &Server{store: store, catalog: catalog, now: time.Now}
}

// currency of every amount: bookings are priced in one currency (the
// booking engine's), and the aggregates keep none.
const currency = "USD"

// maxDays bounds a report's range.
const maxDays = 366

// hourlyDays bounds a report's hourly series to the range's last days: a
// year of hours (8,784 points) in every read of a live dashboard is too
// much to send for what anyone reads of it.
const hourlyDays = 31

// GetEventAnalytics reports one event to its organizer or an admin. Anyone
// else gets FORBIDDEN, or NOT_FOUND when the event is not public (a draft;
// a deleted event is NOT_FOUND to everyone), so reports do not reveal
// hidden events.
func (s *Server) GetEventAnalytics(ctx context.Context, req *connect.Request[analyticsv1.GetEventAnalyticsRequest]) (*connect.Response[analyticsv1.GetEventAnalyticsResponse], error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	id := req.Msg.GetEventId()
	ev, err := s.catalog.Event(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := authn.MayReadEvent(p, ev.OrganizerID, ev.Draft, "its analytics"); err != nil {
		return nil, err
	}
	from, to, err := dateRange(req.Msg.GetFrom(), req.Msg.GetTo(), s.now())
	if err != nil {
		return nil, err
	}
	sc := Scope{EventIDs: []string{id}}
	out := &analyticsv1.EventAnalytics{EventId: id, From: from.Format(time.DateOnly), To: to.Format(time.DateOnly)}
	if out.Summary, out.Daily, out.Hourly, err = s.report(ctx, sc, from, to); err != nil {
		return nil, err
	}
	seats, err := s.catalog.Capacity(ctx, id)
	if err != nil {
		return nil, err
	}
	out.TotalSeats = int32(seats)
	return connect.NewResponse(&analyticsv1.GetEventAnalyticsResponse{Analytics: out}), nil
}

// GetDashboard reports an organizer's events, or every event to an admin.
func (s *Server) GetDashboard(ctx context.Context, req *connect.Request[analyticsv1.GetDashboardRequest]) (*connect.Response[analyticsv1.GetDashboardResponse], error) {
	p, err := authn.Require(ctx, authn.RoleOrganizer)
	if err != nil {
		return nil, err
	}
	from, to, err := dateRange(req.Msg.GetFrom(), req.Msg.GetTo(), s.now())
	if err != nil {
		return nil, err
	}
	sc, titles, err := s.scope(ctx, p)
	if err != nil {
		return nil, err
	}
	out := &analyticsv1.Dashboard{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly)}
	if out.Summary, out.Daily, out.Hourly, err = s.report(ctx, sc, from, to); err != nil {
		return nil, err
	}
	top, err := s.store.TopEvents(ctx, sc, from, to, 10)
	if err != nil {
		return nil, err
	}
	for _, e := range top {
		title, ok := titles[e.EventID]
		if !ok {
			title, err = s.title(ctx, e.EventID)
			if err != nil {
				return nil, err
			}
		}
		out.TopEvents = append(out.TopEvents, &analyticsv1.EventSales{EventId: e.EventID, Title: title, TicketsSold: int32(e.SeatsSold), Revenue: e.NetRevenue})
	}
	return connect.NewResponse(&analyticsv1.GetDashboardResponse{Dashboard: out}), nil
}

// scope is what a dashboard covers: every event for an admin, else the
// events the catalog says the caller runs (and their titles). Nothing the
// caller sends widens it.
func (s *Server) scope(ctx context.Context, p *authn.Principal) (Scope, map[string]string, error) {
	if p.Role == authn.RoleAdmin {
		return Scope{All: true}, nil, nil
	}
	evs, err := s.catalog.OrganizerEvents(ctx)
	if err != nil {
		return Scope{}, nil, err
	}
	sc, titles := Scope{EventIDs: make([]string, 0, len(evs))}, make(map[string]string, len(evs))
	for _, ev := range evs {
		if ev.OrganizerID != p.UserID {
			continue // never another's, whatever the catalog answers
		}
		sc.EventIDs = append(sc.EventIDs, ev.ID)
		titles[ev.ID] = ev.Title
	}
	return sc, titles, nil
}

// title names an event of an admin's dashboard; one the catalog no longer
// has (deleted) keeps its figures and goes untitled.
func (s *Server) title(ctx context.Context, id string) (string, error) {
	ev, err := s.catalog.Event(ctx, id)
	if err != nil && errs.FromConnect(err).Code == errs.NotFound {
		return "", nil
	}
	return ev.Title, err
}

// report builds the summary and both series of a scope.
func (s *Server) report(ctx context.Context, sc Scope, from, to time.Time) (*analyticsv1.SalesSummary, []*analyticsv1.SeriesPoint, []*analyticsv1.SeriesPoint, error) {
	t, err := s.store.Summary(ctx, sc, from, to)
	if err != nil {
		return nil, nil, nil, err
	}
	daily, err := s.store.Daily(ctx, sc, from, to)
	if err != nil {
		return nil, nil, nil, err
	}
	hourlyFrom := from
	if first := to.AddDate(0, 0, 1-hourlyDays); first.After(from) {
		hourlyFrom = first
	}
	hourly, err := s.store.Hourly(ctx, sc, hourlyFrom, to)
	if err != nil {
		return nil, nil, nil, err
	}
	return summary(t), points(daily), points(hourly), nil
}

func summary(t Totals) *analyticsv1.SalesSummary {
	return &analyticsv1.SalesSummary{
		Reservations: int32(t.Reservations), ConfirmedBookings: int32(t.Confirmed), CancelledBookings: int32(t.Cancelled),
		ExpiredBookings: int32(t.Expired), TicketsSold: int32(t.SeatsSold), Revenue: t.NetRevenue, Refunded: t.Refunds,
		Currency: currency, ConversionRate: conversion(t.Confirmed, t.Reservations),
	}
}

// conversion is confirmed / reserved, kept within [0, 1]: a range may
// hold the confirmation of a hold made before it began.
func conversion(confirmed, reservations int64) float64 {
	if reservations <= 0 {
		return 0
	}
	return min(float64(confirmed)/float64(reservations), 1)
}

func points(ps []Point) []*analyticsv1.SeriesPoint {
	out := make([]*analyticsv1.SeriesPoint, len(ps))
	for i, p := range ps {
		out[i] = &analyticsv1.SeriesPoint{
			Start: timestamppb.New(p.Start), Reservations: int32(p.Reservations), ConfirmedBookings: int32(p.Confirmed),
			TicketsSold: int32(p.SeatsSold), Revenue: p.Revenue,
		}
	}
	return out
}

// dateRange reads from and to ("YYYY-MM-DD", UTC days, both included):
// an empty to is today, an empty from is 30 days before to.
func dateRange(from, to string, now time.Time) (time.Time, time.Time, error) {
	var f, t time.Time
	var err error
	if to == "" {
		n := now.UTC()
		t = time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
	} else if t, err = time.Parse(time.DateOnly, to); err != nil {
		return f, t, errs.Invalid("to", "date", "must be a date (YYYY-MM-DD)")
	}
	if from == "" {
		f = t.AddDate(0, 0, -30)
	} else if f, err = time.Parse(time.DateOnly, from); err != nil {
		return f, t, errs.Invalid("from", "date", "must be a date (YYYY-MM-DD)")
	}
	if f.After(t) {
		return f, t, errs.Invalid("to", "date_range.order", "must not be before from")
	}
	if t.Sub(f) > maxDays*24*time.Hour {
		return f, t, errs.Invalid("from", "date_range.max_days", "must be at most 366 days before to", "max_days", maxDays)
	}
	return f, t, nil
}
