// Package directory answers what a mail needs to know of data other
// services own (an account's address, a show's event and date, a booking),
// by asking its owner's RPC as the system, never its tables. The services
// that send mails (notify, the saga) declare the calls they make as their
// own small interfaces; a Directory serves them all.
package directory

import (
	"context"
	"time"

	"connectrpc.com/connect"

	authv1 "github.com/bookingrush/rush/gen/bookingrush/auth/v1"
	"github.com/bookingrush/rush/gen/bookingrush/auth/v1/authv1connect"
	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/gen/bookingrush/catalog/v1/catalogv1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/platform/showtime"
)

// Directory asks auth, catalog and booking.
type Directory struct {
	auth    authv1connect.AuthServiceClient
	catalog catalogv1connect.CatalogServiceClient
	booking bookingv1connect.BookingServiceClient
}

// New dials the owners through the mesh on behalf of the component from.
func New(mesh *server.Mesh, from string) *Directory {
	return &Directory{
		auth:    server.Dial(mesh, from, "auth", authv1connect.NewAuthServiceClient),
		catalog: server.Dial(mesh, from, "catalog", catalogv1connect.NewCatalogServiceClient),
		booking: server.Dial(mesh, from, "booking", bookingv1connect.NewBookingServiceClient),
	}
}

// User is what a mail needs from an account.
type User struct {
	Email, Name string
}

// User reads the account of id; a NOT_FOUND error when there is none
// (deleted since).
func (d *Directory) User(ctx context.Context, id string) (User, error) {
	res, err := d.auth.GetUser(authn.AsSystem(ctx), connect.NewRequest(&authv1.GetUserRequest{UserId: id}))
	if err != nil {
		return User{}, errs.FromConnect(err)
	}
	return User{Email: res.Msg.GetUser().GetEmail(), Name: res.Msg.GetUser().GetFullName()}, nil
}

// Show is what a mail says about a show and its event.
type Show struct {
	EventTitle string
	ShowDate   time.Time
	// EndsAt is when the show ends; zero when the organizer did not say.
	EndsAt time.Time
	// CancelReason is the organizer's reason when the event was cancelled.
	CancelReason string
	// TimeZone is the venue's (the event's), an IANA name.
	TimeZone string
	// Venue is where the event takes place.
	Venue string
	// Zones maps the show's zone ids to their names.
	Zones map[string]string
}

// At writes t as the venue reads it ("Sat, 12 Dec 2026, 20:00 CET").
func (s Show) At(t time.Time) string { return showtime.Format(t, s.TimeZone) }

// Date is the show's date as the venue reads it.
func (s Show) Date() string { return s.At(s.ShowDate) }

// Show reads a show's date and end, its zones' names, and its event's title, venue
// and time zone (and cancellation reason); a NOT_FOUND error when there is
// no such show.
func (d *Directory) Show(ctx context.Context, showID string) (Show, error) {
	res, err := d.catalog.GetShow(authn.AsSystem(ctx), connect.NewRequest(&catalogv1.GetShowRequest{ShowId: showID}))
	if err != nil {
		return Show{}, errs.FromConnect(err)
	}
	sh := res.Msg.GetShow()
	var ends time.Time
	if sh.GetEndsAt() != nil {
		ends = sh.GetEndsAt().AsTime()
	}
	return Show{EventTitle: res.Msg.GetEventTitle(), ShowDate: sh.GetShowDate().AsTime(), EndsAt: ends,
		CancelReason: res.Msg.GetCancelReason(), TimeZone: res.Msg.GetEventTimeZone(), Venue: res.Msg.GetEventVenue(),
		Zones: res.Msg.GetZoneNames()}, nil
}

// Booking reads a booking as the booking service knows it; a NOT_FOUND
// error when it does not.
func (d *Directory) Booking(ctx context.Context, id string) (*bookingv1.Booking, error) {
	res, err := d.booking.GetBooking(authn.AsSystem(ctx), connect.NewRequest(&bookingv1.GetBookingRequest{BookingId: id}))
	if err != nil {
		return nil, errs.FromConnect(err)
	}
	return res.Msg.GetBooking(), nil
}
