package edge_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/mail/mailtest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/testkit"
)

// TestRoleChangesAndLogoutReachIssuedTokens: through the edge of a whole
// mesh, a demoted organizer's token loses organizer powers, and a logged-out
// (or password-reset) access token stops working, within seconds rather
// than at the token's expiry (15 minutes).
func TestRoleChangesAndLogoutReachIssuedTokens(t *testing.T) {
	t.Parallel()
	redisURL := "redis://127.0.0.1:6379/0"
	m := testkit.Start(t, "-target=all", "-edge.trusted-proxies=127.0.0.1/32",
		"-admin.email=root@rush.test", "-admin.password=root-password-1",
		"-booking.key-prefix="+testkit.KeyPrefix(t, redisURL), "-catalog.cache-prefix="+testkit.KeyPrefix(t, redisURL),
		"-rate-limit.prefix="+testkit.KeyPrefix(t, redisURL), "-queue.key-prefix="+testkit.KeyPrefix(t, redisURL),
	)
	a := &api{t: t, base: m.URL(t, "edge")}
	signIn := func(email, password string) apiReply {
		r := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": password})
		a.want(r, http.StatusOK, "")
		return r
	}
	admin := signIn("root@rush.test", "root-password-1").str("access_token")
	org := a.call("POST", "/api/v1/auth/register", "", map[string]any{"email": "org@rush.test", "password": "secret-pass-1", "full_name": "Org"})
	a.want(org, http.StatusCreated, "")
	setRole := func(role string) {
		t.Helper()
		a.want(a.call("PUT", "/api/v1/admin/users/"+org.str("user", "id")+"/role", admin, map[string]any{"role": role}), http.StatusOK, "")
	}
	event := map[string]any{"title": "Demoted", "venue": "Hall", "sale_start_at": "2030-01-01T00:00:00Z", "sale_end_at": "2030-02-01T00:00:00Z"}
	// within waits until call answers status and says how long it took.
	within := func(what string, status int, call func() apiReply) time.Duration {
		t.Helper()
		began := time.Now()
		testkit.Eventually(t, 5*time.Second, what, func() bool { return call().status == status })
		return time.Since(began)
	}

	// Promoted, then signed in: an organizer's token.
	setRole("organizer")
	token := signIn("org@rush.test", "secret-pass-1").str("access_token")
	a.want(a.call("POST", "/api/v1/events", token, event), http.StatusCreated, "")

	// Demoted: the same token is a user's within seconds.
	setRole("user")
	took := within("the demoted token refused POST /events", http.StatusForbidden, func() apiReply { return a.call("POST", "/api/v1/events", token, event) })
	t.Logf("demotion reached the token in %v", took)
	if me := a.call("GET", "/api/v1/auth/me", token, nil); me.status != http.StatusOK {
		t.Errorf("the demoted user's token no longer signs in: %s", me)
	}
	// Promoted again: the old token gets the role back, as a new one has it.
	setRole("organizer")
	within("the promoted token allowed POST /events again", http.StatusCreated, func() apiReply { return a.call("POST", "/api/v1/events", token, event) })

	// Logout ends the access tokens issued so far; a new sign-in works.
	session := signIn("org@rush.test", "secret-pass-1")
	a.want(a.call("POST", "/api/v1/auth/logout", "", map[string]any{"refresh_token": session.str("refresh_token")}), http.StatusOK, "")
	took = within("the logged-out token refused", http.StatusUnauthorized, func() apiReply {
		return a.call("GET", "/api/v1/auth/me", session.str("access_token"), nil)
	})
	t.Logf("logout reached the token in %v", took)
	a.want(a.call("GET", "/api/v1/auth/me", token, nil), http.StatusUnauthorized, "UNAUTHORIZED")
	fresh := signIn("org@rush.test", "secret-pass-1").str("access_token")
	a.want(a.call("GET", "/api/v1/auth/me", fresh, nil), http.StatusOK, "")
	a.want(a.call("POST", "/api/v1/events", fresh, event), http.StatusCreated, "")
}

// TestChangePassword: through the edge of a whole mesh, a signed-in user
// changes their password. A wrong current password is a 400 on
// current_password that leaves the session working; the right one ends
// every session of the user (both devices' refresh tokens, their access
// tokens within seconds), answers a new session for the caller, and mails
// the owner with the way back.
func TestChangePassword(t *testing.T) {
	t.Parallel()
	smtp := mailtest.NewServer(t)
	redisURL := "redis://127.0.0.1:6379/0"
	m := testkit.Start(t, "-target=all", "-edge.trusted-proxies=127.0.0.1/32", "-smtp.addr="+smtp.Addr,
		"-auth.reset-url=https://tickets.rush.test/reset-password",
		"-booking.key-prefix="+testkit.KeyPrefix(t, redisURL), "-catalog.cache-prefix="+testkit.KeyPrefix(t, redisURL),
		"-rate-limit.prefix="+testkit.KeyPrefix(t, redisURL), "-queue.key-prefix="+testkit.KeyPrefix(t, redisURL),
	)
	a := &api{t: t, base: m.URL(t, "edge")}
	const email = "changer@rush.test"
	laptop := a.call("POST", "/api/v1/auth/register", "", map[string]any{"email": email, "password": "old-secret-1", "full_name": "Changer"})
	a.want(laptop, http.StatusCreated, "")
	phone := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": "old-secret-1"})
	a.want(phone, http.StatusOK, "")
	change := func(token, current, next string) apiReply {
		return a.call("POST", "/api/v1/auth/change-password", token, map[string]any{"current_password": current, "new_password": next})
	}

	// Refused, nothing changed, still signed in.
	a.want(change("", "old-secret-1", "new-secret-2"), http.StatusUnauthorized, "UNAUTHORIZED")
	wrong := change(laptop.str("access_token"), "not-my-password", "new-secret-2")
	a.want(wrong, http.StatusBadRequest, "VALIDATION_ERROR")
	wantField(t, wrong, "current_password", "password.current")
	same := change(laptop.str("access_token"), "old-secret-1", "old-secret-1")
	a.want(same, http.StatusBadRequest, "VALIDATION_ERROR")
	wantField(t, same, "new_password", "password.changed")
	wantField(t, change(laptop.str("access_token"), "old-secret-1", email), "new_password", "password.not_email")
	wantField(t, change(laptop.str("access_token"), "old-secret-1", "short"), "new_password", "string.min_len")
	a.want(a.call("GET", "/api/v1/auth/me", laptop.str("access_token"), nil), http.StatusOK, "")
	a.want(a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": "old-secret-1"}), http.StatusOK, "")

	// Changed: a new session for the caller, every other one ends.
	done := change(laptop.str("access_token"), "old-secret-1", "new-secret-2")
	a.want(done, http.StatusOK, "")
	if done.str("user", "email") != email || done.str("access_token") == "" || done.str("refresh_token") == "" {
		t.Fatalf("change-password answered %s", done)
	}
	for name, s := range map[string]apiReply{"laptop": laptop, "phone": phone} {
		a.want(a.call("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": s.str("refresh_token")}), http.StatusUnauthorized, "UNAUTHORIZED")
		testkit.Eventually(t, 5*time.Second, "the "+name+"'s access token refused", func() bool {
			return a.call("GET", "/api/v1/auth/me", s.str("access_token"), nil).status == http.StatusUnauthorized
		})
	}
	a.want(a.call("GET", "/api/v1/auth/me", done.str("access_token"), nil), http.StatusOK, "")
	a.want(a.call("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": done.str("refresh_token")}), http.StatusOK, "")
	a.want(a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": "old-secret-1"}), http.StatusUnauthorized, "UNAUTHORIZED")
	a.want(a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": "new-secret-2"}), http.StatusOK, "")

	mail := smtp.WaitForSubject(t, email, "password was changed", 10*time.Second)
	for _, body := range []string{mail.Text, mail.HTML} {
		if !strings.Contains(body, "https://tickets.rush.test/forgot-password") || !strings.Contains(body, "Changer") {
			t.Errorf("the password-changed mail lacks the way back or the name:\n%s", body)
		}
	}
	if n := len(smtp.To(email)); n != 2 { // the welcome, and this one
		t.Errorf("%d mails to %s, want the welcome and the change", n, email)
	}
}

// TestDeleteAccount: through the edge of a whole mesh, a buyer deletes their
// account. A wrong password is a 400; an unpaid hold and an organizer's role
// are 409s that change nothing. Once the hold is cancelled the account goes:
// its sessions end, its mails and the audit trail's personal data are
// erased, its bookings stay (under the bare id), and the address can sign up
// anew.
func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	smtp := mailtest.NewServer(t)
	redisURL := "redis://127.0.0.1:6379/0"
	dsn := pgtest.Migrated(t)
	m := testkit.StartApp(t, testkit.Config(t, dsn, "-postgres.migrate-on-start=false", "-target=all",
		"-smtp.addr="+smtp.Addr, "-admin.email=root@rush.test", "-admin.password=root-password-1",
		"-booking.key-prefix="+testkit.KeyPrefix(t, redisURL), "-catalog.cache-prefix="+testkit.KeyPrefix(t, redisURL),
		"-rate-limit.prefix="+testkit.KeyPrefix(t, redisURL), "-queue.key-prefix="+testkit.KeyPrefix(t, redisURL),
		"-edge.trusted-proxies=127.0.0.1/32", "-payment.sim-delay=20ms", "-notify.poll=100ms"))
	db := pgtest.Open(t, dsn)
	a := &api{t: t, base: m.URL(t, "edge")}
	login := func(email string) apiReply {
		return a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": "secret-pass-1"})
	}
	register := func(email string) apiReply {
		r := a.call("POST", "/api/v1/auth/register", "", map[string]any{"email": email, "password": "secret-pass-1", "full_name": "Gone Soon"})
		a.want(r, http.StatusCreated, "")
		return r
	}
	deleteAccount := func(token, password string) apiReply {
		return a.call("POST", "/api/v1/auth/delete-account", token, map[string]any{"password": password})
	}

	// An organizer's event to buy from.
	admin := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"})
	orgID := register("org@rush.test").str("user", "id")
	a.want(a.call("PUT", "/api/v1/admin/users/"+orgID+"/role", admin.str("access_token"), map[string]any{"role": "organizer"}), http.StatusOK, "")
	org := login("org@rush.test").str("access_token")
	ev := a.call("POST", "/api/v1/events", org, map[string]any{"title": "Last Dance", "venue": "Hall", "max_per_user": 10,
		"sale_start_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "sale_end_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)})
	a.want(ev, http.StatusCreated, "")
	show := a.call("POST", "/api/v1/events/"+ev.str("id")+"/shows", org, map[string]any{"show_date": time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)})
	a.want(show, http.StatusCreated, "")
	zone := a.call("POST", "/api/v1/shows/"+show.str("id")+"/zones", org, map[string]any{"name": "Floor", "price": "20.00", "total_seats": 10})
	a.want(zone, http.StatusCreated, "")
	a.want(a.call("POST", "/api/v1/events/"+ev.str("id")+"/publish", org, nil), http.StatusOK, "")

	// The buyer pays for one booking and holds another.
	buyer := register("gone@rush.test")
	token, id := buyer.str("access_token"), buyer.str("user", "id")
	reserveAs := func(token, key string, qty int) string {
		r := a.call("POST", "/api/v1/bookings/reserve", token, map[string]any{"show_id": show.str("id"), "zone_id": zone.str("id"), "quantity": qty}, "Idempotency-Key", key)
		a.want(r, http.StatusCreated, "")
		return r.str("id")
	}
	reserve := func(key string) string { return reserveAs(token, key, 1) }
	paid := reserve("gone-paid-0001")
	a.want(a.call("POST", "/api/v1/payments", token, map[string]any{"booking_id": paid, "payment_method": "sim_ok"}, "Idempotency-Key", "gone-pay-0001"), http.StatusCreated, "")
	testkit.Eventually(t, 30*time.Second, "the paid booking confirmed", func() bool {
		return a.call("GET", "/api/v1/bookings/"+paid, token, nil).str("status") == "confirmed"
	})
	smtp.WaitForSubject(t, "gone@rush.test", "Welcome", 30*time.Second)
	held := reserve("gone-held-0001")
	testkit.Eventually(t, 10*time.Second, "the hold in the buyer's pending bookings", func() bool {
		return len(a.call("GET", "/api/v1/bookings/pending", token, nil).list()) == 1
	})

	// Refused, and nothing changed.
	wantField(t, deleteAccount(token, "not-my-password"), "password", "password.current")
	unpaid := deleteAccount(token, "secret-pass-1")
	a.want(unpaid, http.StatusConflict, "CONFLICT")
	if unpaid.detail("reason") != "unpaid_bookings" || unpaid.detail("count") != float64(1) {
		t.Errorf("delete with a hold: %s", unpaid)
	}
	a.want(deleteAccount(org, "secret-pass-1"), http.StatusConflict, "CONFLICT")
	a.want(a.call("GET", "/api/v1/auth/me", token, nil), http.StatusOK, "")

	// The pending list is booking's records, written a moment after the
	// answers: the cancelled hold must be recorded cancelled there (an
	// empty list alone could be read before the hold itself was recorded,
	// and the hold then show up in it for a moment).
	noHolds := func(cancelled string) {
		t.Helper()
		testkit.Eventually(t, 10*time.Second, "no hold left in the buyer's pending bookings", func() bool {
			recorded := false
			for _, b := range a.call("GET", "/api/v1/bookings", token, nil).list() {
				if b := b.(map[string]any); b["id"] == cancelled && b["status"] == "cancelled" {
					recorded = true
				}
			}
			return recorded && len(a.call("GET", "/api/v1/bookings/pending", token, nil).list()) == 0
		})
	}
	a.want(a.call("POST", "/api/v1/bookings/"+held+"/cancel", token, nil), http.StatusOK, "")
	noHolds(held)
	// A hold of the last moment, which booking's records may not show yet,
	// refuses too (booking's live inventory counts it).
	fresh := reserve("gone-fresh-0001")
	unpaid = deleteAccount(token, "secret-pass-1")
	a.want(unpaid, http.StatusConflict, "CONFLICT")
	if unpaid.detail("reason") != "unpaid_bookings" {
		t.Errorf("delete right after a hold: %s", unpaid)
	}
	a.want(a.call("POST", "/api/v1/bookings/"+fresh+"/cancel", token, nil), http.StatusOK, "")
	noHolds(fresh)

	// The buyer waits on the sold-out zone's waitlist, ahead of another.
	rival := register("rival@rush.test").str("access_token")
	rivalHold := reserveAs(rival, "rival-all-0001", 9)
	next := register("next@rush.test").str("access_token")
	for _, tok := range []string{token, next} {
		a.want(a.call("POST", "/api/v1/waitlist", tok, map[string]any{"show_id": show.str("id"), "zone_id": zone.str("id"), "quantity": 1}), http.StatusOK, "")
	}

	// Deleted once no hold is left.
	a.want(deleteAccount(token, "secret-pass-1"), http.StatusOK, "")
	a.want(login("gone@rush.test"), http.StatusUnauthorized, "UNAUTHORIZED")
	a.want(a.call("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": buyer.str("refresh_token")}), http.StatusUnauthorized, "UNAUTHORIZED")
	testkit.Eventually(t, 5*time.Second, "the deleted account's access token refused", func() bool {
		return a.call("GET", "/api/v1/auth/me", token, nil).status == http.StatusUnauthorized
	})

	count := func(query string) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(t.Context(), query, id).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM users WHERE id = $1`); n != 0 {
		t.Errorf("the account's row is still there")
	}
	if n := count(`SELECT count(*) FROM notifications WHERE user_id = $1`); n != 0 {
		t.Errorf("%d notifications of the deleted account kept", n)
	}
	if n := count(`SELECT count(*) FROM audit_logs WHERE (user_id = $1 OR entity_id = $1)
		AND (new_values ? 'email' OR new_values ? 'full_name' OR old_values ? 'email' OR ip_address IS NOT NULL AND user_id = $1)`); n != 0 {
		rows, _ := db.QueryContext(t.Context(), `SELECT action, coalesce(old_values::text, ''), coalesce(new_values::text, ''), coalesce(host(ip_address), ''), user_id::text FROM audit_logs WHERE user_id = $1 OR entity_id = $1`, id)
		for rows.Next() {
			var a, o, nv, ip, u string
			_ = rows.Scan(&a, &o, &nv, &ip, &u)
			t.Logf("audit: %s old=%s new=%s ip=%s user=%s", a, o, nv, ip, u)
		}
		rows.Close()
		t.Errorf("%d audit entries still name the deleted person", n)
	}
	if n := count(`SELECT count(*) FROM audit_logs WHERE user_id = $1 AND action = 'auth.account_deleted'`); n != 1 {
		t.Errorf("the deletion audited %d times", n)
	}
	// Off the waitlist: the seats that come back are offered to the next
	// buyer, not held for nobody.
	a.want(a.call("POST", "/api/v1/bookings/"+rivalHold+"/cancel", rival, nil), http.StatusOK, "")
	testkit.Eventually(t, 10*time.Second, "the next buyer's waitlist offer", func() bool {
		l := a.call("GET", "/api/v1/bookings/pending", next, nil).list()
		return len(l) == 1 && l[0].(map[string]any)["waitlist_offer"] == true
	})
	if n := count(`SELECT count(*) FROM bookings WHERE user_id = $1`); n != 3 {
		t.Errorf("%d bookings of the deleted account, want its 3 kept (no waitlist offer)", n)
	}

	// The address is free again: a new account, with nothing of the old.
	again := register("gone@rush.test")
	if again.str("user", "id") == id {
		t.Fatalf("the new account has the old id")
	}
	a.want(a.call("GET", "/api/v1/bookings", again.str("access_token"), nil), http.StatusOK, "")
	if n := len(a.call("GET", "/api/v1/bookings", again.str("access_token"), nil).list()); n != 0 {
		t.Errorf("the new account sees %d bookings of the old", n)
	}
}

// wantField fails t unless r's validation error names field name with rule.
func wantField(t *testing.T, r apiReply, name, rule string) {
	t.Helper()
	fields, _ := r.detail("fields").([]any)
	for _, f := range fields {
		if f, _ := f.(map[string]any); f["field"] == name && f["rule"] == rule {
			return
		}
	}
	t.Errorf("%s does not name field %s with rule %s", r, name, rule)
}
