package edge_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/testkit"
)

// TestADeletedAccountKeepsNoPurchase: once "delete my account" answered
// 200, its access token still passes every service but auth until their
// next revocation poll (by design), and booking's ForgetUser checked the
// holds before that: a reserve and a payment sent at once with the old
// token could make a paid, confirmed booking for an account that no longer
// exists, which nobody can sign in to see or cancel. Whatever passes now
// ends refunded in full, the seats back: the saga gives the money back
// instead of confirming for a deleted account.
func TestADeletedAccountKeepsNoPurchase(t *testing.T) {
	t.Parallel()
	m, _, a := startWhole(t, "-payment.sim-delay=20ms", "-notify.poll=100ms")
	db := pgtest.Open(t, m.DSN)
	users := a.people([]string{"org"}, "org")
	_, showID, zoneID := a.onSale(users["org"], "Gone Buyer", 10)
	token, _ := a.register("leaving@rush.test")

	a.want(a.call("POST", "/api/v1/auth/delete-account", token, map[string]any{"password": "secret-pass-1"}), http.StatusOK, "")
	// The very next requests of the same browser tab.
	res := a.call("POST", "/api/v1/bookings/reserve", token, map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": 2},
		"Idempotency-Key", "after-delete-0001")
	if res.status != http.StatusCreated {
		t.Skipf("the reserve after the deletion was refused already (%s): the revocation reached booking first", res)
	}
	pay := a.call("POST", "/api/v1/payments", token, map[string]any{"booking_id": res.str("id"), "payment_method": "sim_ok"},
		"Idempotency-Key", "after-delete-pay-0001")
	if pay.status != http.StatusCreated {
		t.Skipf("the payment after the deletion was refused already: %s", pay)
	}
	var bookingStatus, paymentStatus string
	testkit.Eventually(t, 30*time.Second, "the deleted account's payment refunded, its booking not kept", func() bool {
		_ = db.QueryRowContext(t.Context(), `SELECT status FROM bookings WHERE id = $1`, res.str("id")).Scan(&bookingStatus)
		_ = db.QueryRowContext(t.Context(), `SELECT status FROM payments WHERE id = $1`, pay.str("id")).Scan(&paymentStatus)
		return paymentStatus == "refunded" && (bookingStatus == "cancelled" || bookingStatus == "refunded")
	})
	var reason string
	_ = db.QueryRowContext(t.Context(), `SELECT coalesce(refund_reason, '') FROM payments WHERE id = $1`, pay.str("id")).Scan(&reason)
	if reason != "the buyer's account was deleted" {
		t.Errorf("the refund's reason (its mail shows it): %q", reason)
	}
}

// TestDeletionForgetsProviderAndAuditData: what the payment
// provider told us about the buyer (a Stripe event carries the card
// holder's name, e-mail, address) and the client addresses of the failed
// sign-ins on the account are personal data of the deleted person; after
// "delete my account" nothing must still name them. Money records stay
// (and a refund still reaches the deleted account's card).
func TestDeletionForgetsProviderAndAuditData(t *testing.T) {
	t.Parallel()
	const secret = "whsec_privacy_test_0123456789"
	m, _, a := startWhole(t, "-payment.sim-delay=20ms", "-notify.poll=100ms", "-stripe.webhook-secret="+secret)
	db := pgtest.Open(t, m.DSN)
	users := a.people([]string{"org"}, "org")
	eventID, showID, zoneID := a.onSale(users["org"], "Forget Me", 10)
	token, id := a.register("private@rush.test")

	// The owner mistypes their password once, from their home address.
	a.want(a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "private@rush.test", "password": "wrong-pass-1"},
		"X-Forwarded-For", "198.51.100.77"), http.StatusUnauthorized, "UNAUTHORIZED")

	// A paid booking.
	bk := a.call("POST", "/api/v1/bookings/reserve", token, map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": 1},
		"Idempotency-Key", "private-paid-0001")
	a.want(bk, http.StatusCreated, "")
	pay := a.call("POST", "/api/v1/payments", token, map[string]any{"booking_id": bk.str("id"), "payment_method": "sim_ok"},
		"Idempotency-Key", "private-pay-0001")
	a.want(pay, http.StatusCreated, "")
	testkit.Eventually(t, 30*time.Second, "the booking confirmed", func() bool {
		return a.call("GET", "/api/v1/bookings/"+bk.str("id"), token, nil).str("status") == "confirmed"
	})

	// The provider also sends the charge's event (Stripe does, with the
	// card holder's billing details), about the same payment.
	a.providerEvent(secret, "charge.succeeded", map[string]any{
		"id": "ch_privacy", "object": "charge", "amount": 2500, "currency": "eur",
		"billing_details": map[string]any{"name": "Priya Vatova", "email": "private@rush.test", "phone": "+33 6 12 34 56 78",
			"address": map[string]any{"line1": "12 rue des Lilas", "city": "Lyon", "postal_code": "69003", "country": "FR"}},
		"receipt_email": "private@rush.test",
		"metadata":      map[string]string{"payment_id": pay.str("id"), "booking_id": bk.str("id"), "user_id": id},
	})

	a.want(a.call("POST", "/api/v1/auth/delete-account", token, map[string]any{"password": "secret-pass-1"}), http.StatusOK, "")

	count := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM payment_webhook_events
		WHERE payload::text ILIKE '%private@rush.test%' OR payload::text ILIKE '%Priya Vatova%' OR payload::text ILIKE '%rue des Lilas%'`); n != 0 {
		t.Errorf("%d stored provider events still carry the deleted buyer's name, e-mail and address", n)
	}
	if n := count(`SELECT count(*) FROM audit_logs WHERE entity_id = $1 AND ip_address IS NOT NULL`, id); n != 0 {
		rows, _ := db.QueryContext(t.Context(), `SELECT action, host(ip_address), coalesce(user_id::text, '-') FROM audit_logs
			WHERE entity_id = $1 AND ip_address IS NOT NULL`, id)
		for rows.Next() {
			var act, ip, u string
			_ = rows.Scan(&act, &ip, &u)
			t.Logf("audit about the deleted account: %s from %s (actor %s)", act, ip, u)
		}
		rows.Close()
		t.Errorf("%d audit entries about the deleted account still keep a client address", n)
	}

	// Money: the event is cancelled after the deletion; the deleted
	// account's payment is refunded all the same.
	a.want(a.call("POST", "/api/v1/events/"+eventID+"/cancel", users["org"], map[string]any{"reason": "storm"}), http.StatusOK, "")
	testkit.Eventually(t, 30*time.Second, "the deleted account's payment refunded", func() bool {
		var status string
		_ = db.QueryRowContext(t.Context(), `SELECT status FROM payments WHERE id = $1`, pay.str("id")).Scan(&status)
		return status == "refunded"
	})
}

// TestAnAdminDeletesAnAccount: a person who can no longer sign in (their
// mailbox is gone, so is the password) asks support to erase their
// account. Before, no admin could: deletion needed the account's own
// password. Now an admin deletes it as "delete my account" would, refused
// in the same cases (an organizer, a live hold), never their own, and only
// an admin may.
func TestAnAdminDeletesAnAccount(t *testing.T) {
	t.Parallel()
	_, _, a := startWhole(t)
	adm := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"})
	admin, adminID := adm.str("access_token"), adm.str("user", "id")
	users := a.people([]string{"org", "ann", "ben"}, "org")
	_, showID, zoneID := a.onSale(users["org"], "Erase Night", 10)
	id := func(name string) string { return a.call("GET", "/api/v1/auth/me", users[name], nil).str("id") }
	annID, benID, orgID := id("ann"), id("ben"), id("org")

	a.want(a.call("DELETE", "/api/v1/admin/users/"+annID, users["ben"], nil), http.StatusForbidden, "FORBIDDEN")
	a.want(a.call("DELETE", "/api/v1/admin/users/"+annID, users["org"], nil), http.StatusForbidden, "FORBIDDEN")
	a.want(a.call("DELETE", "/api/v1/admin/users/not-a-uuid", admin, nil), http.StatusBadRequest, "VALIDATION_ERROR")
	a.want(a.call("DELETE", "/api/v1/admin/users/"+uuid.NewString(), admin, nil), http.StatusNotFound, "NOT_FOUND")
	if r := a.call("DELETE", "/api/v1/admin/users/"+adminID, admin, nil); r.status != http.StatusConflict || !strings.Contains(r.raw, `"self"`) {
		t.Errorf("an admin deletes their own account here: %s, want 409 reason self", r)
	}
	if r := a.call("DELETE", "/api/v1/admin/users/"+orgID, admin, nil); r.status != http.StatusConflict || !strings.Contains(r.raw, `"role"`) {
		t.Errorf("an admin deletes an organizer: %s, want 409 reason role", r)
	}
	// ben holds seats he has not paid for: his payment may be on its way.
	a.want(a.call("POST", "/api/v1/bookings/reserve", users["ben"], map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": 1},
		"Idempotency-Key", "erase-ben-0001"), http.StatusCreated, "")
	if r := a.call("DELETE", "/api/v1/admin/users/"+benID, admin, nil); r.status != http.StatusConflict || !strings.Contains(r.raw, "unpaid_bookings") {
		t.Errorf("an admin deletes an account holding an unpaid booking: %s, want 409 unpaid_bookings", r)
	}
	if a.call("GET", "/api/v1/auth/me", users["ben"], nil).status != http.StatusOK {
		t.Errorf("ben's account is gone after a refused deletion")
	}

	a.want(a.call("DELETE", "/api/v1/admin/users/"+annID, admin, nil), http.StatusOK, "")
	a.want(a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "ann@rush.test", "password": "secret-pass-1"}), http.StatusUnauthorized, "UNAUTHORIZED")
	testkit.Eventually(t, 10*time.Second, "ann's access token refused", func() bool {
		return a.call("GET", "/api/v1/bookings", users["ann"], nil).status == http.StatusUnauthorized
	})
	for _, u := range a.call("GET", "/api/v1/admin/users?query=ann", admin, nil).list() {
		t.Errorf("the deleted account is still listed: %v", u)
	}
	a.want(a.call("DELETE", "/api/v1/admin/users/"+annID, admin, nil), http.StatusNotFound, "NOT_FOUND")
	found := false
	for _, e := range a.call("GET", "/api/v1/admin/audit-logs?action=auth.account_deleted", admin, nil).list() {
		if e := e.(map[string]any); e["entity_id"] == annID && e["user_id"] == adminID {
			found = true
		}
	}
	if !found {
		t.Errorf("the audit log does not say which admin deleted the account")
	}
	// ann may sign up again with the same address: a new account.
	a.want(a.call("POST", "/api/v1/auth/register", "", map[string]any{"email": "ann@rush.test", "password": "secret-pass-2", "full_name": "Ann"}), http.StatusCreated, "")
}

// TestAnAdminReadsAnAccount: support finds a booking or a failed refund
// whose records name the buyer by their user id alone, and must reach that
// person: an admin reads the account's e-mail address, name and role (the
// id in any case). Only an admin may; an id that is not one is refused in
// words; an unknown account and a deleted one (its row is erased, the id
// stays on its bookings and payments) are not found, never a 500. Every
// answer is the one the OpenAPI document describes.
func TestAnAdminReadsAnAccount(t *testing.T) {
	t.Parallel()
	_, _, a := startWhole(t)
	admin := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"}).str("access_token")
	users := a.people([]string{"org", "ann", "ben"}, "org")
	annID := a.call("GET", "/api/v1/auth/me", users["ann"], nil).str("id")
	a.spec = loadOpenAPI(t, a.base) // every answer below as the document says

	for _, id := range []string{annID, strings.ToUpper(annID)} {
		r := a.call("GET", "/api/v1/admin/users/"+id, admin, nil)
		a.want(r, http.StatusOK, "")
		if r.str("id") != annID || r.str("email") != "ann@rush.test" || r.str("full_name") != "ann" || r.str("role") != "user" {
			t.Errorf("GET /admin/users/%s: %s", id, r)
		}
	}
	for _, who := range []string{"ben", "org"} {
		r := a.call("GET", "/api/v1/admin/users/"+annID, users[who], nil)
		a.want(r, http.StatusForbidden, "FORBIDDEN")
		if strings.Contains(r.raw, "ann@rush.test") {
			t.Errorf("%s reads ann's account: %s", who, r)
		}
	}
	a.want(a.call("GET", "/api/v1/admin/users/not-a-uuid", admin, nil), http.StatusBadRequest, "VALIDATION_ERROR")
	a.want(a.call("GET", "/api/v1/admin/users/"+uuid.NewString(), admin, nil), http.StatusNotFound, "NOT_FOUND")

	a.want(a.call("DELETE", "/api/v1/admin/users/"+annID, admin, nil), http.StatusOK, "")
	if r := a.call("GET", "/api/v1/admin/users/"+annID, admin, nil); r.status != http.StatusNotFound || r.code() != "NOT_FOUND" || strings.Contains(r.raw, "ann@rush.test") {
		t.Errorf("a deleted account: %s, want 404 NOT_FOUND", r)
	}
}
