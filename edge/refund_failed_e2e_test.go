package edge_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/bookingrush/rush/services/platform/mail/mailtest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/topic"
	"github.com/bookingrush/rush/services/testkit"
)

// refundFailedSecret signs the provider events the refund failure tests
// send through the public webhook route.
const refundFailedSecret = "whsec_refund_failed_0123456789"

// failRefund posts, through the public webhook route, Stripe's
// refund.failed of the refund the simulator made of payment pay (id and
// provider reference): the buyer's card was closed, and the money is back
// on Booking Rush's account.
func (a *api) failRefund(pay apiReply, cents int64, reason string) {
	a.t.Helper()
	intent := pay.str("provider_reference")
	a.providerEvent(refundFailedSecret, "refund.failed", map[string]any{
		"id": "simre_" + strings.TrimPrefix(intent, "simpi_"), "object": "refund", "amount": cents, "currency": "eur",
		"status": "failed", "failure_reason": reason, "payment_intent": intent,
		"metadata": map[string]string{"payment_id": pay.str("id"), "rush_refund": "share"},
	})
}

// providerEvent posts a Stripe event of type typ about object, signed with
// the webhook secret, through the public webhook route; it must be
// answered 200.
func (a *api) providerEvent(secret, typ string, object map[string]any) {
	a.t.Helper()
	payload, _ := json.Marshal(map[string]any{
		"id": "evt_" + strings.ReplaceAll(uuid.NewString(), "-", ""), "object": "event", "type": typ,
		"api_version": "2020-08-27", "created": time.Now().Unix(), "data": map[string]any{"object": object},
	})
	sig := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: time.Now()})
	req, _ := http.NewRequest("POST", a.base+"/api/v1/webhooks/stripe", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", sig.Header)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		a.t.Fatalf("%s webhook: %d %s", typ, res.StatusCode, body)
	}
}

// paidAndRefunded has buyer (token) buy two seats of the zone with the
// simulator and cancel them for a full refund; it answers the payment as it
// stands once refunded.
func (a *api) paidAndRefunded(token, showID, zoneID string) apiReply {
	a.t.Helper()
	pay := a.paidFor(token, showID, zoneID, 2)
	a.want(a.call("POST", "/api/v1/payments/"+pay.str("id")+"/refund", token, map[string]any{}), http.StatusOK, "")
	got := a.call("GET", "/api/v1/payments/"+pay.str("id"), token, nil)
	if got.str("status") != "refunded" || got.str("refunded_amount") != "50.00" {
		a.t.Fatalf("the buyer's refund: %s", got)
	}
	return got
}

// waitPaymentStatus waits for payment id to reach status, as token sees it.
func (a *api) waitPaymentStatus(token, id, status string) apiReply {
	a.t.Helper()
	var r apiReply
	testkit.Eventually(a.t, 30*time.Second, "payment "+id+" "+status, func() bool {
		r = a.call("GET", "/api/v1/payments/"+id, token, nil)
		return r.str("status") == status
	})
	return r
}

// refundedOf answers what the event's sales report counts as refunded
// once analytics consumed every payment event relayed so far.
func refundedOf(app *testkit.App, a *api, org, eventID string) string {
	a.t.Helper()
	testkit.Eventually(a.t, 30*time.Second, "the payment events relayed", func() bool {
		var n int
		_ = app.Pool.QueryRow(a.t.Context(), `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n)
		return n == 0
	})
	app.Drained(a.t, "analytics", topic.PaymentRefunded, topic.BookingEvents)
	r := a.call("GET", "/api/v1/analytics/events/"+eventID, org, nil)
	a.want(r, http.StatusOK, "")
	return r.str("summary", "refunded")
}

// startWholeApp is startWhole as a testkit.App (its database and Kafka at
// hand).
func startWholeApp(t *testing.T, extra ...string) (*testkit.App, *mailtest.Server, *api) {
	t.Helper()
	app, smtp, a, _ := startWholeAppPrefix(t, extra...)
	return app, smtp, a
}

// startWholeAppPrefix is startWholeApp that also answers the booking key
// prefix (for the money audit).
func startWholeAppPrefix(t *testing.T, extra ...string) (*testkit.App, *mailtest.Server, *api, string) {
	t.Helper()
	smtp := mailtest.NewServer(t)
	args, prefix := wholeArgs(t, smtp, append([]string{"-postgres.migrate-on-start=false"}, extra...)...)
	app := testkit.StartApp(t, testkit.Config(t, pgtest.Migrated(t), args...))
	return app, smtp, &api{t: t, base: app.URL(t, "edge")}, prefix
}

// mailsTo answers the subjects of the mails to addr.
func mailsTo(smtp *mailtest.Server, addr string) []string {
	var out []string
	for _, m := range smtp.To(addr) {
		out = append(out, m.Subject)
	}
	return out
}

// TestARefundThatFailsIsToldToItsBuyer: a buyer cancels and is mailed
// "Refund 50.00"; days later the refund fails at their card (Stripe's
// refund.failed). Before, nobody told them: they believed the money was
// back. Now they are mailed that it failed and what happens next, once
// (the same failure reported again mails nothing); analytics counts no
// second refund and gives no revenue back (the sale ended; the money is
// owed). When an admin's retry succeeds, they are mailed once that the
// money is on its way after all, and analytics still counts one refund.
func TestARefundThatFailsIsToldToItsBuyer(t *testing.T) {
	t.Parallel()
	app, smtp, a := startWholeApp(t, "-payment.sim-delay=20ms", "-notify.poll=100ms", "-stripe.webhook-secret="+refundFailedSecret)
	users := a.people([]string{"org", "buyer"}, "org")
	adm := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"}).str("access_token")
	eventID, showID, zoneID := a.onSale(users["org"], "Closed Card", 10)
	pay := a.paidAndRefunded(users["buyer"], showID, zoneID)
	smtp.WaitForSubject(t, "buyer@rush.test", "Refund 50.00", 30*time.Second)
	if got := refundedOf(app, a, users["org"], eventID); got != "50.00" {
		t.Fatalf("analytics counts %q refunded, want 50.00", got)
	}

	a.failRefund(pay, 5000, "expired_or_canceled_card")
	a.failRefund(pay, 5000, "expired_or_canceled_card") // Stripe's refund.updated of the same failure
	if got := refundedOf(app, a, users["org"], eventID); got != "50.00" {
		t.Fatalf("analytics counts %q refunded after the failure, want 50.00 (the sale ended; the money is owed)", got)
	}
	if r := a.waitPaymentStatus(users["buyer"], pay.str("id"), "refund_failed"); r.str("refund_failure_reason") != "expired_or_canceled_card" {
		t.Fatalf("payment after the failure: %s", r)
	}
	m := smtp.WaitForSubject(t, "buyer@rush.test", "Your refund of 50.00 USD failed", 30*time.Second)
	for _, want := range []string{"could not be paid back to your card", "the card has expired or was cancelled", "support", "keep trying"} {
		if !strings.Contains(m.Text, want) {
			t.Fatalf("the failure mail does not say %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.Text, "expired_or_canceled_card") {
		t.Fatalf("the failure mail says Stripe's code, not words:\n%s", m.Text)
	}

	// An admin retries once the buyer's bank takes it.
	r := a.call("POST", "/api/v1/payments/"+pay.str("id")+"/refund", adm, map[string]any{})
	a.want(r, http.StatusOK, "")
	if r.str("status") != "refunded" {
		t.Fatalf("an admin's retry: %s", r)
	}
	m = smtp.WaitForSubject(t, "buyer@rush.test", "on its way", 30*time.Second)
	if !strings.Contains(m.Text, "50.00 USD") || !strings.Contains(m.Text, "sent again to the payment method you paid with") ||
		!strings.Contains(m.Text, "after all") {
		t.Fatalf("the mail after the retry:\n%s", m.Text)
	}
	if got := refundedOf(app, a, users["org"], eventID); got != "50.00" {
		t.Fatalf("analytics counts %q refunded after the retry, want 50.00 (one refund)", got)
	}
	// Each mail once (the confirmation was withdrawn or sent, as the
	// refund raced it): the failure reported twice, the retry once.
	time.Sleep(time.Second)
	count := map[string]int{}
	for _, subject := range mailsTo(smtp, "buyer@rush.test") {
		count[strings.SplitN(subject, " – ", 2)[0]]++
	}
	for _, want := range []string{"Refund 50.00 USD", "Your refund of 50.00 USD failed", "Your refund of 50.00 USD is on its way"} {
		if count[want] != 1 {
			t.Fatalf("the buyer's mails %v, want one %q", count, want)
		}
	}
}

// TestAnAdminSettlesAFailedRefund: the refunds of two buyers failed at their
// cards. Before, an admin could find them only in SQL, and money support
// gave back by bank transfer could not be recorded: the payment stayed
// refund_failed and the money audit open for ever. Now an admin lists
// them (GET /api/v1/admin/payments?status=refund_failed, newest failure
// first, with the reason, the booking and what is owed; paged, filters
// checked), and records a bank transfer (POST
// /api/v1/admin/payments/{id}/refund-outside-provider): the payment is
// refunded, the money audit settled, an audit entry names the admin and
// the note, and the buyer is mailed once. Never for a payment whose refund
// did not fail (409), nor by a buyer (403).
func TestAnAdminSettlesAFailedRefund(t *testing.T) {
	t.Parallel()
	app, smtp, a, prefix := startWholeAppPrefix(t, "-payment.sim-delay=20ms", "-notify.poll=100ms", "-stripe.webhook-secret="+refundFailedSecret)
	users := a.people([]string{"org", "ann", "bob"}, "org")
	adm := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"}).str("access_token")
	_, showID, zoneID := a.onSale(users["org"], "Bank Transfer", 10)
	ann := a.paidAndRefunded(users["ann"], showID, zoneID)
	bob := a.paidAndRefunded(users["bob"], showID, zoneID)
	a.failRefund(ann, 5000, "expired_or_canceled_card")
	a.waitPaymentStatus(users["ann"], ann.str("id"), "refund_failed")
	a.failRefund(bob, 5000, "lost_or_stolen_card")
	a.waitPaymentStatus(users["bob"], bob.str("id"), "refund_failed")
	// The buyer's booking page reads what the failed refund still owes them
	// (before, its quote said paid 0.00, refunded 0.00).
	quote := func(want string) {
		t.Helper()
		q := a.call("GET", "/api/v1/bookings/"+ann.str("booking_id")+"/refund-quote", users["ann"], nil)
		a.want(q, http.StatusOK, "")
		if q.str("paid") != "50.00" || q.str("refunded")+"/"+q.str("owed") != want || q.data()["cancellable"] == true {
			t.Fatalf("ann's quote, want refunded/owed %s: %s", want, q)
		}
	}
	quote("0.00/50.00")

	// The listing: admins only, filters checked.
	a.want(a.call("GET", "/api/v1/admin/payments?status=refund_failed", users["ann"], nil), http.StatusForbidden, "FORBIDDEN")
	for _, q := range []string{"", "?status=nonsense", "?status=refund_failed&per_page=101", "?status=refund_failed&page=-1"} {
		a.want(a.call("GET", "/api/v1/admin/payments"+q, adm, nil), http.StatusBadRequest, "VALIDATION_ERROR")
	}
	list := a.call("GET", "/api/v1/admin/payments?status=refund_failed&per_page=1", adm, nil)
	a.want(list, http.StatusOK, "")
	if meta, _ := list.body["meta"].(map[string]any); meta["total"] != float64(2) || meta["per_page"] != float64(1) || len(list.list()) != 1 {
		t.Fatalf("first page of one: %s", list)
	}
	first, _ := list.list()[0].(map[string]any)
	if first["id"] != bob.str("id") || first["booking_id"] != bob.str("booking_id") || first["refund_failure_reason"] != "lost_or_stolen_card" ||
		first["refund_owed"] != "50.00" || first["refund_failed_at"] == nil || first["client_secret"] != "" {
		t.Fatalf("the newest failure first, with its reason, booking and what is owed: %v", first)
	}
	second := a.call("GET", "/api/v1/admin/payments?status=refund_failed&per_page=1&page=2", adm, nil)
	if p, _ := second.list()[0].(map[string]any); len(second.list()) != 1 || p["id"] != ann.str("id") {
		t.Fatalf("second page: %s", second)
	}

	// Support paid ann back by bank transfer.
	path := "/api/v1/admin/payments/" + ann.str("id") + "/refund-outside-provider"
	transfer := map[string]any{"reference": "SEPA-2026-1207-0042", "note": "card closed; paid to the IBAN ann gave on the phone"}
	a.want(a.call("POST", path, users["ann"], transfer), http.StatusForbidden, "FORBIDDEN")
	a.want(a.call("POST", path, adm, map[string]any{"note": "no reference"}), http.StatusBadRequest, "VALIDATION_ERROR")
	r := a.call("POST", path, adm, transfer)
	a.want(r, http.StatusOK, "")
	if r.str("status") != "refunded" || r.str("refunded_amount") != "50.00" {
		t.Fatalf("recorded outside the provider: %s", r)
	}
	quote("50.00/0.00")
	// Once: it is refunded now, and so is any payment whose refund did not fail.
	a.want(a.call("POST", path, adm, transfer), http.StatusConflict, "CONFLICT")
	other := a.paidAndRefunded(users["ann"], showID, zoneID)
	a.want(a.call("POST", "/api/v1/admin/payments/"+other.str("id")+"/refund-outside-provider", adm, transfer), http.StatusConflict, "CONFLICT")
	if got := a.call("GET", "/api/v1/payments/"+other.str("id"), users["ann"], nil); got.str("status") != "refunded" {
		t.Fatalf("a refused record changed the payment: %s", got)
	}

	var n int
	if err := app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_logs WHERE action = 'payment.refund_outside_provider'
		AND entity_id = $1 AND user_id IS NOT NULL AND new_values->>'reference' = $2 AND new_values->>'note' = $3`,
		ann.str("id"), transfer["reference"], transfer["note"]).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d audit entries of the record naming the admin, reference and note (%v)", n, err)
	}
	// ann's mail says support paid her, not that her card was refunded again.
	m := smtp.WaitForSubject(t, "ann@rush.test", "Your refund of 50.00 USD has been paid back by our support team", 30*time.Second)
	if !strings.Contains(m.Text, "not to your card") || strings.Contains(m.Text, "sent again") || strings.Contains(m.Text, "on its way") {
		t.Fatalf("the mail after the bank transfer:\n%s", m.Text)
	}
	if list := a.call("GET", "/api/v1/admin/payments?status=refund_failed", adm, nil); len(list.list()) != 1 {
		t.Fatalf("after the record, the failed refunds: %s", list)
	}
	// bob's is still open; an admin's retry through the provider settles it.
	a.want(a.call("POST", "/api/v1/payments/"+bob.str("id")+"/refund", adm, map[string]any{}), http.StatusOK, "")
	if m := smtp.WaitForSubject(t, "bob@rush.test", "Your refund of 50.00 USD is on its way", 30*time.Second); !strings.Contains(m.Text, "sent again to the payment method") {
		t.Fatalf("the mail after the retry:\n%s", m.Text)
	}
	app.AuditMoney(t, prefix)
}

// TestEventCancelledWhileARefundFailedGivesTheRest: a buyer cancels five
// days before the show and gets 50% (25.00 of 50.00); that refund fails at
// their card; then the organizer cancels the event, which refunds everyone
// 100%. Before, the cancellation passed over a payment whose refund had
// failed (it listed succeeded and partially refunded payments only): the
// admin's retry gave back the 25.00 and the payment ended partially
// refunded, the buyer short of the 25.00 the cancellation owes them, with
// nothing left to give it (the cancellation was settled) and the money audit
// content. Now the cancellation records the rest as due, what the admins'
// listing says is owed counts it (50.00), the admin's retry gives the failed
// share back and then the rest (its own refund and mail, as an event's
// cancellation gives it), a bank transfer recorded for another such buyer
// pays the whole (her mail of the rest says not to her card), analytics
// counts both prices back, and the money audit holds.
func TestEventCancelledWhileARefundFailedGivesTheRest(t *testing.T) {
	t.Parallel()
	app, smtp, a, prefix := startWholeAppPrefix(t, "-payment.sim-delay=20ms", "-notify.poll=100ms", "-stripe.webhook-secret="+refundFailedSecret)
	users := a.people([]string{"org", "buyer", "ann"}, "org")
	adm := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"}).str("access_token")
	eventID, showID, zoneID := a.onSaleIn(users["org"], "Rained Out", 10, 5*24*time.Hour+2*time.Hour)
	failedHalf := func(buyer string) string {
		booking, _ := a.buy(users[buyer], showID, zoneID, 2)
		a.want(a.call("POST", "/api/v1/bookings/"+booking+"/cancel", users[buyer], nil), http.StatusOK, "")
		var id string
		if err := app.Pool.QueryRow(t.Context(), `SELECT id::text FROM payments WHERE booking_id = $1`, booking).Scan(&id); err != nil {
			t.Fatal(err)
		}
		pay := a.waitPaymentStatus(users[buyer], id, "partially_refunded")
		if pay.str("refunded_amount") != "25.00" {
			t.Fatalf("%s's cancel five days before the show: %s", buyer, pay)
		}
		a.failRefund(pay, 2500, "expired_or_canceled_card")
		a.waitPaymentStatus(users[buyer], id, "refund_failed")
		return id
	}
	id, annID := failedHalf("buyer"), failedHalf("ann")

	a.want(a.call("POST", "/api/v1/events/"+eventID+"/cancel", users["org"], map[string]any{"reason": "storm"}), http.StatusOK, "")
	list := a.call("GET", "/api/v1/admin/payments?status=refund_failed", adm, nil)
	if l := list.list(); len(l) != 2 || l[0].(map[string]any)["refund_owed"] != "50.00" || l[1].(map[string]any)["refund_owed"] != "50.00" {
		t.Fatalf("what the cancelled event's buyers are owed, to admins: %s", list)
	}
	// ann's card is closed for good: support pays her the whole 50.00 by
	// bank transfer, recorded as such (nothing more goes to her card).
	r := a.call("POST", "/api/v1/admin/payments/"+annID+"/refund-outside-provider", adm, map[string]any{"reference": "SEPA-42"})
	a.want(r, http.StatusOK, "")
	if r.str("status") != "refunded" || r.str("refunded_amount") != "50.00" {
		t.Fatalf("a bank transfer of a cancelled event's failed refund: %s, want refunded 50.00", r)
	}
	testkit.Eventually(t, 30*time.Second, "ann's mail of the rest", func() bool {
		for _, m := range smtp.To("ann@rush.test") {
			if strings.Contains(m.Text, "the remaining 25.00 USD of the 50.00 USD you paid") && strings.Contains(m.Text, "not to your card") {
				return true
			}
		}
		return false
	})

	r = a.call("POST", "/api/v1/payments/"+id+"/refund", adm, map[string]any{})
	a.want(r, http.StatusOK, "")
	if r.str("status") != "refunded" || r.str("refunded_amount") != "50.00" {
		t.Fatalf("an admin's retry of a cancelled event's failed refund: %s, want refunded 50.00", r)
	}
	smtp.WaitForSubject(t, "buyer@rush.test", "on its way", 30*time.Second)
	testkit.Eventually(t, 30*time.Second, "the rest's mail", func() bool {
		for _, m := range smtp.To("buyer@rush.test") {
			if strings.Contains(m.Text, "the remaining 25.00 USD of the 50.00 USD you paid") {
				return true
			}
		}
		return false
	})
	if got := refundedOf(app, a, users["org"], eventID); got != "100.00" {
		t.Fatalf("analytics counts %q refunded, want 100.00 (both prices)", got)
	}
	app.AuditMoney(t, prefix)
}
