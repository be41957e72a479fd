package edge_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/mail/mailtest"
	"github.com/bookingrush/rush/services/testkit"
)

// TestRoleChangesAndLogoutReachIssuedTokens: through the edge of a whole
// mesh, a demoted organizer's token loses organizer powers, and a logged-out
// (or password-reset) access token stops working, within seconds rather
// than at the token's expiry (15 minutes).
func TestRoleChangesAndLogoutReachIssuedTokens(t *testing.T) {
	t.Parallel()
	redisURL := "redis://127.0.0.1:6379/0"
	m := testkit.Start(t, "-target=all", "-auth.bcrypt-cost=4", "-edge.trusted-proxies=127.0.0.1/32",
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
	m := testkit.Start(t, "-target=all", "-auth.bcrypt-cost=4", "-edge.trusted-proxies=127.0.0.1/32", "-smtp.addr="+smtp.Addr,
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
	field := func(r apiReply, name, rule string) {
		t.Helper()
		fields, _ := r.detail("fields").([]any)
		for _, f := range fields {
			if f, _ := f.(map[string]any); f["field"] == name && f["rule"] == rule {
				return
			}
		}
		t.Errorf("%s does not name field %s with rule %s", r, name, rule)
	}

	// Refused, nothing changed, still signed in.
	a.want(change("", "old-secret-1", "new-secret-2"), http.StatusUnauthorized, "UNAUTHORIZED")
	wrong := change(laptop.str("access_token"), "not-my-password", "new-secret-2")
	a.want(wrong, http.StatusBadRequest, "VALIDATION_ERROR")
	field(wrong, "current_password", "password.current")
	same := change(laptop.str("access_token"), "old-secret-1", "old-secret-1")
	a.want(same, http.StatusBadRequest, "VALIDATION_ERROR")
	field(same, "new_password", "password.changed")
	field(change(laptop.str("access_token"), "old-secret-1", email), "new_password", "password.not_email")
	field(change(laptop.str("access_token"), "old-secret-1", "short"), "new_password", "string.min_len")
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
