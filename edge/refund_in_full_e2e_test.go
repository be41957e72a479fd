package edge_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/testkit"
)

// TestSupportRefundsInFull: a buyer falls ill two days before the show.
// The refund policy gives nothing back under 3 days, and before, support
// could not either: POST /api/v1/payments/{id}/refund applied the policy to
// an admin too. Now an admin sends in_full: the payment is refunded 100%
// (refunded_amount = amount), the booking refunded, its seats back on sale,
// and the buyer is mailed that our support team refunded the full amount
// and the booking is cancelled; its tickets are revoked (the door refuses
// them, online and synced, and its revocation list has them). The buyer's
// own in_full is 403 FORBIDDEN and changes nothing (a buyer's refund
// without it still gets the policy's 0%); the money audit holds.
func TestSupportRefundsInFull(t *testing.T) {
	t.Parallel()
	app, smtp, a, prefix := startWholeAppPrefix(t, "-payment.sim-delay=20ms", "-notify.poll=100ms")
	users := a.people([]string{"org", "ill"}, "org")
	adm := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"}).str("access_token")
	eventID, showID, zoneID := a.onSaleIn(users["org"], "Fever Night", 10, 2*24*time.Hour+2*time.Hour)
	seats := func() float64 { return a.seatsLeft(showID, zoneID) }
	booking, codes := a.buy(users["ill"], showID, zoneID, 2)
	dev := a.call("POST", "/api/v1/checkin/devices", users["org"], map[string]any{"name": "Door", "event_ids": []string{eventID}})
	a.want(dev, http.StatusCreated, "")
	door := dev.str("credential")
	var pay apiReply
	testkit.Eventually(t, 30*time.Second, "the booking's payment", func() bool {
		q := a.call("GET", "/api/v1/bookings/"+booking+"/refund-quote", users["ill"], nil)
		pay = q
		return q.str("paid") == "50.00"
	})
	if pay.data()["refund_percent"] != float64(0) {
		t.Fatalf("the policy two days before the show: %s", pay)
	}
	var paymentID string
	if err := app.Pool.QueryRow(t.Context(), `SELECT id::text FROM payments WHERE booking_id = $1 AND status = 'succeeded'`, booking).Scan(&paymentID); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/payments/" + paymentID + "/refund"
	ask := map[string]any{"reason": "ill with a fever, doctor's note sent", "in_full": true}

	// The buyer may not: 403, nothing changes.
	r := a.call("POST", path, users["ill"], ask)
	a.want(r, http.StatusForbidden, "FORBIDDEN")
	if !strings.Contains(r.raw, "only an admin") {
		t.Errorf("the buyer's in_full is refused without saying why: %s", r)
	}
	if got := a.call("GET", "/api/v1/payments/"+paymentID, users["ill"], nil); got.str("status") != "succeeded" || got.str("refunded_amount") != "0.00" {
		t.Fatalf("the payment after the buyer's in_full: %s", got)
	}
	if got := a.call("GET", "/api/v1/bookings/"+booking, users["ill"], nil); got.str("status") != "confirmed" {
		t.Fatalf("the booking after the buyer's in_full: %s", got)
	}
	if n := seats(); n != 8 {
		t.Fatalf("%v seats left after the buyer's in_full, want 8", n)
	}

	// Support's refund in full.
	r = a.call("POST", path, adm, ask)
	a.want(r, http.StatusOK, "")
	if r.str("status") != "refunded" || r.str("refunded_amount") != "50.00" || r.str("amount") != "50.00" {
		t.Fatalf("support's refund in full: %s", r)
	}
	if got := a.call("GET", "/api/v1/bookings/"+booking, users["ill"], nil); got.str("status") != "refunded" || got.str("cancel_cause") != "support" {
		t.Fatalf("the booking after support's refund: %s", got)
	}
	testkit.Eventually(t, 30*time.Second, "the seats back on sale", func() bool { return seats() == 10 })
	// Its tickets are revoked: on the show's revocation list a door
	// downloads, refused at the door online and synced from offline,
	// listed without code, out of the counts of tickets sold.
	testkit.Eventually(t, 30*time.Second, "both tickets on the revocation list", func() bool {
		l, _ := a.call("GET", "/api/v1/shows/"+showID+"/revoked-tickets", door, nil).data()["tickets"].([]any)
		return len(l) == 2
	})
	for i, c := range codes {
		if r := a.call("POST", "/api/v1/checkin", door, map[string]any{"code": c, "gate": "Main", "show_id": showID}); r.str("outcome") != "revoked" {
			t.Errorf("ticket %d refunded in full, at the door: %s", i, r)
		}
		r := a.call("POST", "/api/v1/checkin/sync", door, map[string]any{"scans": []any{map[string]any{"code": c, "gate": "Side", "show_id": showID,
			"scanned_at": time.Now().UTC().Format(time.RFC3339)}}})
		if res, _ := r.data()["results"].([]any); len(res) != 1 || res[0].(map[string]any)["outcome"] != "revoked" {
			t.Errorf("ticket %d refunded in full, synced: %s", i, r)
		}
	}
	for _, tk := range ticketsOf(a.call("GET", "/api/v1/bookings/"+booking+"/tickets", users["ill"], nil)) {
		if m := tk.(map[string]any); m["status"] != "revoked" || m["code"] != "" {
			t.Errorf("a ticket refunded in full: %v", m)
		}
	}
	if st := a.call("GET", "/api/v1/shows/"+showID+"/checkin-stats", users["org"], nil).data(); st["sold"] != float64(0) || st["checked_in"] != float64(0) || st["revoked"] != float64(2) {
		t.Errorf("the show's counts after the refund in full: %v", st)
	}
	// Again: the payment as it is.
	if again := a.call("POST", path, adm, ask); again.status != http.StatusOK || again.str("refunded_amount") != "50.00" {
		t.Fatalf("support's refund again: %s", again)
	}

	m := smtp.WaitForSubject(t, "ill@rush.test", "Refund 50.00 USD", 30*time.Second)
	for _, want := range []string{"our support team has refunded the full 50.00 USD you paid", "Your booking is cancelled and its seats are released."} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the buyer's mail does not say %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.Text, "no money is returned") {
		t.Errorf("the buyer's mail speaks of the policy's 0%%:\n%s", m.Text)
	}
	var n int
	if err := app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_logs WHERE action = 'payment.refund' AND entity_id = $1
		AND user_id IS NOT NULL AND new_values->>'admin' = user_id::text AND new_values->>'in_full' = 'true'`, paymentID).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d audit entries of the refund naming the admin and in_full (%v), want 1", n, err)
	}
	time.Sleep(500 * time.Millisecond)
	refunds := 0
	for _, subject := range mailsTo(smtp, "ill@rush.test") {
		if strings.HasPrefix(subject, "Refund") || strings.Contains(subject, "no refund") {
			refunds++
		}
	}
	if refunds != 1 {
		t.Errorf("the buyer got %d refund mails, want one: %v", refunds, mailsTo(smtp, "ill@rush.test"))
	}
	app.AuditMoney(t, prefix)
}
