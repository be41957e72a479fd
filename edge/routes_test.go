package edge

import "testing"

// TestLiteralRouteWins: a path that a literal route and a {variable} route
// both match is checked as the literal one, as the transcoder routes it:
// GET /bookings/pending is ListPendingBookings with its page parameters,
// not GetBooking of the booking "pending" (whose query rules dropped them,
// so the web app's pending bookings never left page 1).
func TestLiteralRouteWins(t *testing.T) {
	rt, err := newRouteTable()
	if err != nil {
		t.Fatal(err)
	}
	r := rt.lookup("GET", "/api/v1/bookings/pending")
	if r == nil || r.procedure != "/bookingrush.booking.v1.BookingService/ListPendingBookings" {
		t.Fatalf("GET /api/v1/bookings/pending is checked as %v", r)
	}
	if r := rt.lookup("GET", "/api/v1/bookings/4b9a3c2e-0d7a-4d5e-9f00-1a2b3c4d5e6f"); r == nil ||
		r.procedure != "/bookingrush.booking.v1.BookingService/GetBooking" {
		t.Fatalf("GET /api/v1/bookings/{id} is checked as %v", r)
	}
}
