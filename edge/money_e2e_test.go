package edge_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/mail/mailtest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/topic"
	"github.com/bookingrush/rush/services/testkit"
)

// TestCancelledEventTakesNoMoney: through the public API of a whole mesh,
// an organizer cancels an event while one buyer has paid, one holds seats
// and one has a payment in flight. The paid booking is refunded in full,
// the hold is released and can no longer be paid, the payment that
// succeeds after the cancellation is refunded automatically, every buyer is
// told the truth about their money by e-mail, and cancelling again changes
// nothing. Along the way: Idempotency-Key on POST /payments and the refund
// quote.
func TestCancelledEventTakesNoMoney(t *testing.T) {
	t.Parallel()
	smtp := mailtest.NewServer(t)
	redisURL := "redis://127.0.0.1:6379/0"
	prefix := testkit.KeyPrefix(t, redisURL)
	app := testkit.StartApp(t, testkit.Config(t, pgtest.Migrated(t), "-postgres.migrate-on-start=false", "-target=all",
		"-smtp.addr="+smtp.Addr, "-admin.email=root@rush.test", "-admin.password=root-password-1",
		"-booking.key-prefix="+prefix, "-catalog.cache-prefix="+testkit.KeyPrefix(t, redisURL),
		"-rate-limit.prefix="+testkit.KeyPrefix(t, redisURL), "-queue.key-prefix="+testkit.KeyPrefix(t, redisURL),
		"-edge.trusted-proxies=127.0.0.1/32", "-payment.sim-delay=3s", "-notify.poll=100ms"))
	a := &api{t: t, base: app.URL(t, "edge")}

	adm := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"}).str("access_token")
	users := map[string]string{}
	for _, name := range []string{"org", "paid", "held", "late", "rich"} {
		r := a.call("POST", "/api/v1/auth/register", "", map[string]any{"email": name + "@rush.test", "password": "secret-pass-1", "full_name": name})
		a.want(r, http.StatusCreated, "")
		users[name] = r.str("access_token")
		if name == "org" {
			a.want(a.call("PUT", "/api/v1/admin/users/"+r.str("user", "id")+"/role", adm, map[string]any{"role": "organizer"}), 200, "")
			users[name] = a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "org@rush.test", "password": "secret-pass-1"}).str("access_token")
		}
	}
	org := users["org"]
	ev := a.call("POST", "/api/v1/events", org, map[string]any{"title": "Storm Night", "venue": "Hall", "max_per_user": 10,
		"sale_start_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "sale_end_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)})
	a.want(ev, 201, "")
	eventID := ev.str("id")
	show := a.call("POST", "/api/v1/events/"+eventID+"/shows", org, map[string]any{"show_date": time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)})
	a.want(show, 201, "")
	zone := a.call("POST", "/api/v1/shows/"+show.str("id")+"/zones", org, map[string]any{"name": "Floor", "price": "20.00", "total_seats": 10})
	a.want(zone, 201, "")
	// The dearest seat: ten of them still fit an amount.
	bad := a.call("POST", "/api/v1/shows/"+show.str("id")+"/zones", org, map[string]any{"name": "Gold", "price": "10000000.00", "total_seats": 10})
	a.want(bad, 400, "VALIDATION_ERROR")
	if !strings.Contains(bad.raw, `"field":"price"`) {
		t.Fatalf("price too high: %s", bad)
	}
	gold := a.call("POST", "/api/v1/shows/"+show.str("id")+"/zones", org, map[string]any{"name": "Gold", "price": "9999999.99", "total_seats": 10})
	a.want(gold, 201, "")
	a.want(a.call("POST", "/api/v1/events/"+eventID+"/publish", org, nil), 200, "")
	reserveIn := func(who, zoneID string, qty int) string {
		t.Helper()
		r := a.call("POST", "/api/v1/bookings/reserve", users[who], map[string]any{"show_id": show.str("id"), "zone_id": zoneID, "quantity": qty},
			"Idempotency-Key", "res-"+who+"-0001")
		a.want(r, 201, "")
		if !strings.HasPrefix(r.str("reference"), "BR-") {
			t.Fatalf("reserve answer without a reference: %s", r)
		}
		return r.str("id")
	}
	reserve := func(who string, qty int) string { t.Helper(); return reserveIn(who, zone.str("id"), qty) }
	booking := func(who, id string) apiReply {
		t.Helper()
		r := a.call("GET", "/api/v1/bookings/"+id, users[who], nil)
		a.want(r, 200, "")
		return r
	}
	waitBooking := func(who, id, status string) apiReply {
		t.Helper()
		var r apiReply
		testkit.Eventually(t, 30*time.Second, who+"'s booking "+status, func() bool { r = booking(who, id); return r.str("status") == status })
		return r
	}
	waitPayment := func(who, id, status string) apiReply {
		t.Helper()
		var r apiReply
		testkit.Eventually(t, 30*time.Second, who+"'s payment "+status, func() bool {
			r = a.call("GET", "/api/v1/payments/"+id, users[who], nil)
			return r.str("status") == status
		})
		return r
	}

	// "paid" pays; a retry with the same Idempotency-Key answers the same payment.
	paidBooking := reserve("paid", 2)
	pay := map[string]any{"booking_id": paidBooking, "payment_method": "sim_ok"}
	p1 := a.call("POST", "/api/v1/payments", users["paid"], pay, "Idempotency-Key", "pay-paid-0001")
	a.want(p1, 201, "")
	p2 := a.call("POST", "/api/v1/payments", users["paid"], pay, "Idempotency-Key", "pay-paid-0001")
	a.want(p2, 201, "")
	if p1.str("id") != p2.str("id") || p1.str("amount") != "40.00" {
		t.Fatalf("a retried payment: %s then %s", p1, p2)
	}
	waitBooking("paid", paidBooking, "confirmed")
	q := a.call("GET", "/api/v1/bookings/"+paidBooking+"/refund-quote", users["paid"], nil)
	a.want(q, 200, "")
	if q.str("refund_amount") != "40.00" || q.data()["refund_percent"] != float64(100) {
		t.Fatalf("refund quote: %s", q)
	}
	a.want(a.call("GET", "/api/v1/bookings/"+paidBooking+"/refund-quote", users["held"], nil), 404, "NOT_FOUND")

	// "rich" buys the ten dearest seats: the total is stored and charged.
	richBooking := reserveIn("rich", gold.str("id"), 10)
	rich := a.call("POST", "/api/v1/payments", users["rich"], map[string]any{"booking_id": richBooking, "payment_method": "sim_ok"})
	a.want(rich, 201, "")
	if rich.str("amount") != "99999999.90" {
		t.Fatalf("the dearest payment: %s", rich)
	}
	waitBooking("rich", richBooking, "confirmed")

	// "held" holds seats; "late" pays slowly (the webhook comes after the cancel).
	heldBooking := reserve("held", 2)
	lateBooking := reserve("late", 1)
	late := a.call("POST", "/api/v1/payments", users["late"], map[string]any{"booking_id": lateBooking, "payment_method": "sim_slow"})
	a.want(late, 201, "")

	a.want(a.call("POST", "/api/v1/events/"+eventID+"/cancel", org, map[string]any{"reason": "storm warning"}), 200, "")

	// The hold is released at once and can no longer be paid.
	if r := booking("held", heldBooking); r.str("status") != "cancelled" || r.str("cancel_cause") != "event_cancelled" {
		t.Fatalf("the hold after the cancel: %s", r)
	}
	a.want(a.call("POST", "/api/v1/payments", users["held"], map[string]any{"booking_id": heldBooking, "payment_method": "sim_ok"}), 409, "CONFLICT")
	a.want(a.call("POST", "/api/v1/bookings/reserve", users["held"], map[string]any{"show_id": show.str("id"), "zone_id": zone.str("id"), "quantity": 1},
		"Idempotency-Key", "res-held-0002"), 409, "SALE_NOT_OPEN")
	// The purchase is refunded in full.
	if r := waitPayment("paid", p1.str("id"), "refunded"); r.str("refunded_amount") != "40.00" {
		t.Fatalf("refund of the purchase: %s", r)
	}
	if r := waitBooking("paid", paidBooking, "refunded"); r.str("cancel_cause") != "event_cancelled" {
		t.Fatalf("the purchase after the cancel: %s", r)
	}
	// The payment that succeeded after the cancel is refunded, and its
	// booking was never confirmed.
	if r := waitPayment("late", late.str("id"), "refunded"); r.str("refunded_amount") != "20.00" {
		t.Fatalf("the late payment: %s", r)
	}
	if r := booking("late", lateBooking); r.str("status") != "cancelled" || r.str("confirmed_at") != "" {
		t.Fatalf("the late payer's booking: %s", r)
	}
	zones := a.call("GET", "/api/v1/shows/"+show.str("id")+"/zones", "", nil)
	for _, z := range zones.list() {
		if z.(map[string]any)["available_seats"] != float64(10) {
			t.Fatalf("zones after the cancel: %s", zones)
		}
	}

	// Every buyer is told, truthfully.
	for who, want := range map[string]string{"paid": "refunded in full", "held": "Nothing was charged", "late": "If a payment you made for it went through"} {
		m := smtp.WaitForSubject(t, who+"@rush.test", "Storm Night is cancelled", 30*time.Second)
		if !strings.Contains(m.Text, want) || !strings.Contains(m.Text, "storm warning") {
			t.Fatalf("%s's cancellation mail does not say %q:\n%s", who, want, m.Text)
		}
	}
	if r := waitPayment("rich", rich.str("id"), "refunded"); r.str("refunded_amount") != "99999999.90" {
		t.Fatalf("refund of the dearest purchase: %s", r)
	}
	for _, who := range []string{"paid", "late"} {
		if m := smtp.WaitForSubject(t, who+"@rush.test", "Refund", 30*time.Second); !strings.Contains(m.Text, "we are refunding") {
			t.Fatalf("%s's refund mail:\n%s", who, m.Text)
		}
	}
	if n := len(smtp.To("held@rush.test")); n != 2 {
		t.Fatalf("the holder got %d mails, want the welcome and the cancellation", n)
	}

	// Cancelling again finishes nothing more and changes nothing.
	a.want(a.call("POST", "/api/v1/events/"+eventID+"/cancel", org, map[string]any{"reason": "storm warning"}), 200, "")
	app.Drained(t, "booking-persister", topic.BookingEvents)
	var deadLetters int
	if err := app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM dead_letters`).Scan(&deadLetters); err != nil || deadLetters != 0 {
		t.Fatalf("%d dead letters (%v)", deadLetters, err)
	}
	app.AuditMoney(t, prefix)
}
