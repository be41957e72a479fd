package testkit

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/server"
)

// WantCode fails the test unless err is a Connect error carrying the domain
// code, under the Connect code the error table maps it to.
func WantCode(t testing.TB, err error, code errs.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if got := errs.FromConnect(err).Code; got != code {
		t.Fatalf("error %v has code %s, want %s", err, got, code)
	}
	if got := connect.CodeOf(err); got != code.ConnectCode() {
		t.Fatalf("error %v has connect code %v, want %v", err, got, code.ConnectCode())
	}
}

// Bearer returns a request for msg carrying token ("" for an anonymous
// call).
func Bearer[T any](token string, msg *T) *connect.Request[T] {
	req := connect.NewRequest(msg)
	if token != "" {
		req.Header().Set("Authorization", "Bearer "+token)
	}
	return req
}

// As returns a request for msg carrying user's access token.
func As[T any](t testing.TB, m *Mesh, user, role string, msg *T) *connect.Request[T] {
	t.Helper()
	return Bearer(m.Token(t, user, role), msg)
}

// AsService returns a request for msg carrying the service token of
// component, as the mesh client sends it for the saga or auth.
func AsService[T any](t testing.TB, m *Mesh, component string, msg *T) *connect.Request[T] {
	t.Helper()
	tok, _, err := m.Keys.IssueService(component, time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return Bearer(tok, msg)
}

// Count runs a query answering one integer (a count(*)) on the app's
// database.
func (a *App) Count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := a.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// Booking reads user's booking id through BookingService.GetBooking.
//
// An answer "unavailable, retry shortly" is retried for up to 5 s, as a
// client told so would: right after a dependency comes back (Redis thawed
// in a fault test), a token's revocation check answers it until its next
// read of the feed.
func (a *App) Booking(t testing.TB, user, id string) *bookingv1.Booking {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, err := a.booking(t).GetBooking(context.Background(), As(t, a.Mesh, user, authn.RoleUser, &bookingv1.GetBookingRequest{BookingId: id}))
		if err == nil {
			return res.Msg.GetBooking()
		}
		if connect.CodeOf(err) != connect.CodeUnavailable || time.Now().After(deadline) {
			t.Fatalf("testkit: get booking: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Zone reads the live counters of the shop's zone.
func (a *App) Zone(t testing.TB, s Shop) *bookingv1.ZoneAvailability {
	t.Helper()
	res, err := a.booking(t).GetAvailability(context.Background(), AsService(t, a.Mesh, "catalog",
		&bookingv1.GetAvailabilityRequest{ShowId: s.Show}))
	if err != nil || len(res.Msg.GetZones()) != 1 {
		t.Fatalf("testkit: availability: %v %v", res, err)
	}
	return res.Msg.GetZones()[0]
}

// booking is a client of the app's booking service.
func (a *App) booking(t testing.TB) bookingv1connect.BookingServiceClient {
	t.Helper()
	return bookingv1connect.NewBookingServiceClient(server.NewClient(), a.URL(t, "booking"))
}
