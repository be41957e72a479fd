package edge_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/testkit"
)

// TestAnonymousRoutesAreLimitedPerClientAndAddress runs a whole mesh and
// attacks the sign-in routes as issue 13 did: tokens attached to login and
// register, one victim's password guessed and reset-mailed from many
// clients, IPv6 clients rotating through their /64.
func TestAnonymousRoutesAreLimitedPerClientAndAddress(t *testing.T) {
	t.Parallel()
	_, smtp, a := startWhole(t, "-auth.login-per-email.burst=3", "-auth.login-per-email.per-hour=1",
		"-auth.reset-mails-per-email.burst=2", "-auth.reset-mails-per-email.per-hour=1")
	from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
	register := func(ip, email, token string) apiReply {
		return a.call("POST", "/api/v1/auth/register", token, map[string]any{"email": email, "password": "secret-pass-1", "full_name": "N"}, from(ip)...)
	}
	login := func(ip, email, password, token string) apiReply {
		return a.call("POST", "/api/v1/auth/login", token, map[string]any{"email": email, "password": password}, from(ip)...)
	}

	// One client signing up with the token of its previous account gets the
	// register limit (3 a minute) all the same.
	token := ""
	for i := range 3 {
		r := register("10.13.0.1", fmt.Sprintf("chain-%d@rush.test", i), token)
		a.want(r, http.StatusCreated, "")
		token = r.str("access_token")
	}
	a.want(register("10.13.0.1", "chain-3@rush.test", token), http.StatusTooManyRequests, "RATE_LIMITED")

	// Logins with a valid token attached count per client (5 a minute).
	for i := range 5 {
		a.want(login("10.13.0.2", fmt.Sprintf("guess-%d@rush.test", i), "wrong-pass-1", token), http.StatusUnauthorized, "UNAUTHORIZED")
	}
	a.want(login("10.13.0.2", "guess-5@rush.test", "wrong-pass-1", token), http.StatusTooManyRequests, "RATE_LIMITED")

	// One victim guessed at from many clients: 3 attempts per address,
	// whoever makes them and whether or not the account exists; then 429
	// with Retry-After, even for the right password.
	a.want(register("10.13.0.3", "victim@rush.test", ""), http.StatusCreated, "")
	for i := range 3 {
		a.want(login(fmt.Sprintf("10.13.1.%d", i+1), "victim@rush.test", "wrong-pass-1", ""), http.StatusUnauthorized, "UNAUTHORIZED")
		a.want(login(fmt.Sprintf("10.13.2.%d", i+1), "ghost@rush.test", "wrong-pass-1", ""), http.StatusUnauthorized, "UNAUTHORIZED")
	}
	for _, email := range []string{"victim@rush.test", "ghost@rush.test"} {
		r := login("10.13.1.9", email, "secret-pass-1", "")
		a.want(r, http.StatusTooManyRequests, "RATE_LIMITED")
		if r.detail("limit") != "login_email" || r.header.Get("Retry-After") == "" {
			t.Errorf("per-address limit of %s: %s, Retry-After %q", email, r, r.header.Get("Retry-After"))
		}
	}
	a.want(login("10.13.1.9", "chain-0@rush.test", "secret-pass-1", ""), http.StatusOK, "")

	// Reset mails for one address: every request answers 202, two mails go out.
	for i := range 6 {
		a.want(a.call("POST", "/api/v1/auth/forgot-password", "", map[string]any{"email": "victim@rush.test"}, from(fmt.Sprintf("10.13.3.%d", i+1))...),
			http.StatusAccepted, "")
	}
	resets := func() int {
		n := 0
		for _, m := range smtp.To("victim@rush.test") {
			if strings.Contains(m.Subject, "Reset") {
				n++
			}
		}
		return n
	}
	testkit.Eventually(t, 20*time.Second, "two reset mails", func() bool { return resets() >= 2 })
	time.Sleep(time.Second) // the worker has handled the other four by now
	if n := resets(); n != 2 {
		t.Errorf("%d reset mails to one address, want 2", n)
	}

	// IPv6 clients count per /64: rotating the last 64 bits buys nothing.
	for i := range 3 {
		a.want(register(fmt.Sprintf("2001:db8:13:1::%x", i+1), fmt.Sprintf("v6-%d@rush.test", i), ""), http.StatusCreated, "")
	}
	a.want(register("2001:db8:13:1:ffff:ffff:ffff:ffff", "v6-3@rush.test", ""), http.StatusTooManyRequests, "RATE_LIMITED")
	a.want(register("2001:db8:13:2::1", "v6-4@rush.test", ""), http.StatusCreated, "")
}
