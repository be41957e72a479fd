package edge_test

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/testkit"
)

// paidFor has buyer (token) reserve qty seats of the zone and pay them with
// the simulator; it answers the payment, as its buyer reads it, once the
// booking is confirmed.
func (a *api) paidFor(token, showID, zoneID string, qty int) apiReply {
	a.t.Helper()
	r := a.call("POST", "/api/v1/bookings/reserve", token, map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": qty},
		"Idempotency-Key", "res-"+uuid.NewString())
	a.want(r, http.StatusCreated, "")
	pay := a.call("POST", "/api/v1/payments", token, map[string]any{"booking_id": r.str("id"), "payment_method": "sim_ok"})
	a.want(pay, http.StatusCreated, "")
	testkit.Eventually(a.t, 30*time.Second, "the booking confirmed", func() bool {
		return a.call("GET", "/api/v1/bookings/"+r.str("id"), token, nil).str("status") == "confirmed"
	})
	return a.call("GET", "/api/v1/payments/"+pay.str("id"), token, nil)
}

// refundsLine is an event's refunds as GET /events/{id}/refunds answers
// them, in a line: "paid n amount, refunded ..., in progress ..., failed
// ..., outside ...".
func refundsLine(r apiReply) string {
	d := r.data()
	var parts []string
	for _, k := range []string{"paid", "refunded", "in_progress", "failed", "refunded_outside_provider"} {
		t, _ := d[k].(map[string]any)
		parts = append(parts, fmt.Sprintf("%s %v %v", k, t["bookings"], t["amount"]))
	}
	return strings.Join(parts, ", ")
}

// TestAnOrganizerFollowsTheRefundsOfTheirCancelledEvent: an organizer
// cancels an event with three paid bookings (50.00, 25.00, 75.00). Before,
// they were told "paid bookings are being refunded in full" and nothing
// more, ever: not how many were back, which were still on their way, nor
// that one failed at a buyer's bank. Now GET /api/v1/events/{id}/refunds
// (the payment service's, from its own payments) counts them with their
// amounts as the refunds go: one whose record fails stays in progress
// until the catalog's retry finishes it, one that fails at the buyer's card
// (Stripe's refund.failed) waits for support, and one support pays back by
// bank transfer counts refunded, and as such. Its organizer and admins
// read it; another organizer and a buyer get FORBIDDEN, as the event's
// analytics answer them (NOT_FOUND for a draft); an event not cancelled
// is CONFLICT. The answer names no buyer.
func TestAnOrganizerFollowsTheRefundsOfTheirCancelledEvent(t *testing.T) {
	t.Parallel()
	app, _, a, prefix := startWholeAppPrefix(t, "-payment.sim-delay=20ms", "-catalog.cancel-retry=200ms",
		"-stripe.webhook-secret="+refundFailedSecret)
	users := a.people([]string{"org", "rival", "ann", "bob", "cid"}, "org", "rival")
	adm := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"}).str("access_token")
	eventID, showID, zoneID := a.onSale(users["org"], "Storm Night", 20)
	path := "/api/v1/events/" + eventID + "/refunds"
	ann := a.paidFor(users["ann"], showID, zoneID, 2)
	bob := a.paidFor(users["bob"], showID, zoneID, 1)
	cid := a.paidFor(users["cid"], showID, zoneID, 3)

	// On sale, its paid bookings are sales.
	if r := a.call("GET", path, users["org"], nil); r.status != http.StatusConflict || r.code() != "CONFLICT" || !strings.Contains(r.raw, `"not_cancelled"`) {
		t.Fatalf("the refunds of an event on sale: %s", r)
	}

	// cid's refund is made at the provider but its record fails: the
	// cancellation answers 503 and stands; cid's refund is in progress.
	if _, err := app.Pool.Exec(t.Context(), `CREATE FUNCTION fail_cid_refund() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'the commit after the refund fails'; END $$;
		CREATE TRIGGER fail_cid_refund BEFORE UPDATE ON payments FOR EACH ROW
			WHEN (OLD.id = '`+cid.str("id")+`' AND OLD.refunded_at IS NULL AND NEW.refunded_at IS NOT NULL) EXECUTE FUNCTION fail_cid_refund()`); err != nil {
		t.Fatal(err)
	}
	a.want(a.call("POST", "/api/v1/events/"+eventID+"/cancel", users["org"], map[string]any{"reason": "storm"}), http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	a.waitPaymentStatus(users["ann"], ann.str("id"), "refunded")
	a.waitPaymentStatus(users["bob"], bob.str("id"), "refunded")
	r := a.call("GET", path, users["org"], nil)
	a.want(r, http.StatusOK, "")
	if got, want := refundsLine(r), "paid 3 150.00, refunded 2 75.00, in_progress 1 75.00, failed 0 0.00, refunded_outside_provider 0 0.00"; got != want {
		t.Fatalf("while cid's refund is in flight:\n got %s\nwant %s", got, want)
	}
	if r.str("event_id") != eventID || r.str("currency") != "USD" {
		t.Fatalf("the refunds' event and currency: %s", r)
	}
	// Counts and amounts only: no buyer, booking or payment is named.
	if keys := slices.Sorted(maps.Keys(r.data())); !slices.Equal(keys, []string{"currency", "event_id", "failed", "in_progress", "paid", "refunded", "refunded_outside_provider"}) {
		t.Fatalf("the refunds' fields: %v", keys)
	}
	for _, p := range []apiReply{ann, bob, cid} {
		for _, private := range []string{p.str("id"), p.str("booking_id"), p.str("user_id"), p.str("provider_reference")} {
			if strings.Contains(r.raw, private) {
				t.Fatalf("the refunds name a buyer's %q: %s", private, r.raw)
			}
		}
	}

	// bob's refund fails at his card: it waits for support.
	a.failRefund(bob, 2500, "expired_or_canceled_card")
	a.waitPaymentStatus(users["bob"], bob.str("id"), "refund_failed")
	if got, want := refundsLine(a.call("GET", path, users["org"], nil)), "paid 3 150.00, refunded 1 50.00, in_progress 1 75.00, failed 1 25.00, refunded_outside_provider 0 0.00"; got != want {
		t.Fatalf("after bob's refund failed:\n got %s\nwant %s", got, want)
	}

	// The record works again: the catalog's retry finishes cid's refund.
	if _, err := app.Pool.Exec(t.Context(), `DROP TRIGGER fail_cid_refund ON payments`); err != nil {
		t.Fatal(err)
	}
	a.waitPaymentStatus(users["cid"], cid.str("id"), "refunded")
	if got, want := refundsLine(a.call("GET", path, users["org"], nil)), "paid 3 150.00, refunded 2 125.00, in_progress 0 0.00, failed 1 25.00, refunded_outside_provider 0 0.00"; got != want {
		t.Fatalf("after the retry:\n got %s\nwant %s", got, want)
	}

	// Who may read it: the organizer and admins, as the event's analytics.
	a.want(a.call("GET", path, adm, nil), http.StatusOK, "")
	for who, want := range map[string]int{"rival": http.StatusForbidden, "ann": http.StatusForbidden} {
		an := a.call("GET", "/api/v1/analytics/events/"+eventID, users[who], nil)
		r := a.call("GET", path, users[who], nil)
		if r.status != want || r.code() != "FORBIDDEN" || an.status != r.status || an.code() != r.code() {
			t.Fatalf("%s reads the refunds: %s (analytics: %s)", who, r, an)
		}
	}
	a.want(a.call("GET", path, "", nil), http.StatusUnauthorized, "UNAUTHORIZED")
	a.want(a.call("GET", "/api/v1/events/"+uuid.NewString()+"/refunds", users["org"], nil), http.StatusNotFound, "NOT_FOUND")
	a.want(a.call("GET", "/api/v1/events/nope/refunds", users["org"], nil), http.StatusBadRequest, "VALIDATION_ERROR")
	draft := a.call("POST", "/api/v1/events", users["org"], map[string]any{"title": "Still a Draft", "venue": "Hall", "max_per_user": 4,
		"sale_start_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "sale_end_at": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)})
	a.want(draft, http.StatusCreated, "")
	a.want(a.call("GET", "/api/v1/events/"+draft.str("id")+"/refunds", users["rival"], nil), http.StatusNotFound, "NOT_FOUND")
	a.want(a.call("GET", "/api/v1/analytics/events/"+draft.str("id"), users["rival"], nil), http.StatusNotFound, "NOT_FOUND")
	a.want(a.call("GET", "/api/v1/events/"+draft.str("id")+"/refunds", users["org"], nil), http.StatusConflict, "CONFLICT")

	// Support pays bob back by bank transfer.
	a.want(a.call("POST", "/api/v1/admin/payments/"+bob.str("id")+"/refund-outside-provider", adm,
		map[string]any{"reference": "SEPA-2026-1207-0099"}), http.StatusOK, "")
	if got, want := refundsLine(a.call("GET", path, users["org"], nil)), "paid 3 150.00, refunded 3 150.00, in_progress 0 0.00, failed 0 0.00, refunded_outside_provider 1 25.00"; got != want {
		t.Fatalf("after support's bank transfer:\n got %s\nwant %s", got, want)
	}
	app.AuditMoney(t, prefix)
}
