package edge_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/testkit"
)

// TestSupportFindsABookingByItsReference: a buyer writes to support naming
// their booking's reference (BR-XXXX-XXXX-XXXX, from a mail or the booking's
// page). Before, an admin had no API to find that booking or its payments
// (only SQL). Now GET /api/v1/admin/bookings/{reference} answers the
// booking, written in any case, with or without dashes; a malformed
// reference is 400 VALIDATION_ERROR naming the field, an unknown one 404;
// a buyer or an organizer gets 403 and learns nothing of the booking. GET
// /api/v1/admin/payments?booking_id= lists that booking's payments only,
// newest first, whatever their status; the old call without a status or a
// booking is still 400 on status.
func TestSupportFindsABookingByItsReference(t *testing.T) {
	t.Parallel()
	app, _, a := startWholeApp(t, "-payment.sim-delay=20ms")
	users := a.people([]string{"org", "ann", "bob"}, "org")
	adm := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"}).str("access_token")
	_, showID, zoneID := a.onSale(users["org"], "Lost Mail", 10)

	// ann's card is declined first, then she pays with another.
	r := a.call("POST", "/api/v1/bookings/reserve", users["ann"], map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": 2},
		"Idempotency-Key", "res-"+uuid.NewString())
	a.want(r, http.StatusCreated, "")
	annBooking := r.str("id")
	declined := a.call("POST", "/api/v1/payments", users["ann"], map[string]any{"booking_id": annBooking, "payment_method": "sim_declined"})
	if declined.status != http.StatusCreated && declined.status != http.StatusPaymentRequired {
		t.Fatalf("a declined card: %s", declined)
	}
	testkit.Eventually(t, 30*time.Second, "the declined payment recorded", func() bool {
		var n int
		_ = app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM payments WHERE booking_id = $1 AND status = 'failed'`, annBooking).Scan(&n)
		return n == 1
	})
	a.want(a.call("POST", "/api/v1/payments", users["ann"], map[string]any{"booking_id": annBooking, "payment_method": "sim_ok"}), http.StatusCreated, "")
	testkit.Eventually(t, 30*time.Second, "ann's booking confirmed", func() bool {
		return a.call("GET", "/api/v1/bookings/"+annBooking, users["ann"], nil).str("status") == "confirmed"
	})
	bobBooking, _ := a.buy(users["bob"], showID, zoneID, 1)
	ref := a.call("GET", "/api/v1/bookings/"+annBooking, users["ann"], nil).str("reference")
	if len(ref) != 17 || !strings.HasPrefix(ref, "BR-") {
		t.Fatalf("ann's reference: %q", ref)
	}

	// Support finds it however ann wrote it.
	for _, asWritten := range []string{ref, strings.ToLower(ref), strings.ReplaceAll(ref, "-", ""), strings.ToLower(strings.ReplaceAll(ref, "-", ""))} {
		got := a.call("GET", "/api/v1/admin/bookings/"+asWritten, adm, nil)
		a.want(got, http.StatusOK, "")
		if got.str("id") != annBooking || got.str("reference") != ref || got.str("status") != "confirmed" || got.str("total_amount") != "50.00" {
			t.Fatalf("the booking found by %q: %s", asWritten, got)
		}
	}
	// Nobody else: 403 by the access option, the booking not named.
	for _, who := range []string{"ann", "org"} {
		got := a.call("GET", "/api/v1/admin/bookings/"+ref, users[who], nil)
		a.want(got, http.StatusForbidden, "FORBIDDEN")
		if strings.Contains(got.raw, annBooking) || strings.Contains(got.raw, `"total_amount"`) {
			t.Fatalf("%s's refusal tells of the booking: %s", who, got)
		}
	}
	a.want(a.call("GET", "/api/v1/admin/bookings/"+ref, "", nil), http.StatusUnauthorized, "UNAUTHORIZED")
	// Not a reference: 400 naming the field and what it must be.
	for _, bad := range []string{"BR-7KQD-M2XH-9TFU", "XX-7KQD-M2XH-9TFA", "BR-7KQD-M2XH", "hello", strings.Repeat("B", 65)} {
		got := a.call("GET", "/api/v1/admin/bookings/"+bad, adm, nil)
		a.want(got, http.StatusBadRequest, "VALIDATION_ERROR")
		if !strings.Contains(got.raw, `"field":"reference"`) {
			t.Fatalf("%q: the refusal does not name the reference: %s", bad, got)
		}
	}
	if got := a.call("GET", "/api/v1/admin/bookings/BR-7KQD", adm, nil); !strings.Contains(got.raw, "such as BR-7KQD-M2XH-9TFA") {
		t.Fatalf("a malformed reference is refused without saying what one looks like: %s", got)
	}
	// A reference nobody has: 404.
	unknown := "BR-0000-0000-0000"
	if unknown == ref {
		unknown = "BR-0000-0000-0001"
	}
	a.want(a.call("GET", "/api/v1/admin/bookings/"+unknown, adm, nil), http.StatusNotFound, "NOT_FOUND")

	// Its payments: that booking's only, newest first, every status.
	list := a.call("GET", "/api/v1/admin/payments?booking_id="+annBooking, adm, nil)
	a.want(list, http.StatusOK, "")
	rows, err := app.Pool.Query(t.Context(), `SELECT id::text FROM payments WHERE booking_id = $1 ORDER BY created_at DESC, id`, annBooking)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	rows.Close()
	var got, statuses []string
	for _, p := range list.list() {
		m, _ := p.(map[string]any)
		got = append(got, m["id"].(string))
		statuses = append(statuses, m["status"].(string))
		if m["booking_id"] != annBooking || m["client_secret"] != "" {
			t.Fatalf("a payment of another booking, or its secret: %v", m)
		}
	}
	if len(want) != 2 || !slices.Equal(got, want) || !slices.Equal(statuses, []string{"succeeded", "failed"}) {
		t.Fatalf("ann's payments: %v %v, want %v (succeeded, then the declined one)", got, statuses, want)
	}
	if meta, _ := list.body["meta"].(map[string]any); meta["total"] != float64(2) {
		t.Fatalf("meta of ann's payments: %s", list)
	}
	// With a status too: both filters apply.
	if failed := a.call("GET", "/api/v1/admin/payments?status=failed&booking_id="+annBooking, adm, nil); len(failed.list()) != 1 {
		t.Fatalf("ann's failed payments: %s", failed)
	}
	if bobs := a.call("GET", "/api/v1/admin/payments?booking_id="+bobBooking, adm, nil); len(bobs.list()) != 1 {
		t.Fatalf("bob's payments: %s", bobs)
	}
	a.want(a.call("GET", "/api/v1/admin/payments?booking_id="+annBooking, users["ann"], nil), http.StatusForbidden, "FORBIDDEN")
	a.want(a.call("GET", "/api/v1/admin/payments?booking_id=BR-1234", adm, nil), http.StatusBadRequest, "VALIDATION_ERROR")
	// The old call without either is still refused on status.
	old := a.call("GET", "/api/v1/admin/payments", adm, nil)
	a.want(old, http.StatusBadRequest, "VALIDATION_ERROR")
	if !strings.Contains(old.raw, `"field":"status"`) {
		t.Fatalf("no status nor booking: %s", old)
	}
}
