package auth_test

import (
	"testing"
	"time"

	authv1 "github.com/bookingrush/rush/gen/bookingrush/auth/v1"
	"github.com/bookingrush/rush/gen/bookingrush/auth/v1/authv1connect"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/testkit"
)

// race runs first and then second against one user while a transaction of
// the test holds the user's row lock: it starts first, waits until it waits
// in the database, starts second, waits until it waits too (behind the lock
// or behind first, whichever statement each waits in), then releases the
// lock and returns what each answered. It forces the interleavings that
// concurrent clients (a thief refreshing in a loop) get by timing.
func race(t *testing.T, f *fixture, userID string, first, second func() error) (firstErr, secondErr error) {
	t.Helper()
	db := pgtest.Open(t, f.mesh.DSN)
	tx, err := db.BeginTx(ctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	var holder int
	if err := tx.QueryRowContext(ctx(t), `SELECT pg_backend_pid() FROM users WHERE id = $1 FOR UPDATE`, userID).Scan(&holder); err != nil {
		t.Fatal(err)
	}
	queued := func(n int) {
		t.Helper()
		testkit.Eventually(t, 10*time.Second, "calls waiting behind the user's lock", func() bool {
			var behind int
			err := db.QueryRowContext(ctx(t), `
				WITH RECURSIVE behind(pid) AS (
					SELECT $1::int
					UNION
					SELECT a.pid FROM pg_stat_activity a JOIN behind b ON b.pid = ANY(pg_blocking_pids(a.pid)))
				SELECT count(*) - 1 FROM behind`, holder).Scan(&behind)
			if err != nil {
				t.Fatal(err)
			}
			return behind >= n
		})
	}
	run := func(call func() error) <-chan error {
		done := make(chan error, 1)
		go func() { done <- call() }()
		return done
	}
	e1 := run(first)
	queued(1)
	e2 := run(second)
	queued(2)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	return <-e1, <-e2
}

// refreshing is a Refresh of token to race; the new pair lands in *pair.
func refreshing(t *testing.T, c authv1connect.AuthServiceClient, token string, pair **authv1.RefreshResponse) func() error {
	return func() error {
		res, err := c.Refresh(ctx(t), testkit.Bearer("", &authv1.RefreshRequest{RefreshToken: token}))
		if err == nil {
			*pair = res.Msg
		}
		return err
	}
}

// changingPassword is a ChangePassword of the holder of access to race.
func changingPassword(t *testing.T, c authv1connect.AuthServiceClient, access, current, next string) func() error {
	return func() error {
		_, err := c.ChangePassword(ctx(t), testkit.Bearer(access, &authv1.ChangePasswordRequest{CurrentPassword: current, NewPassword: next}))
		return err
	}
}

// tokenPair is a login's, a registration's or a refresh's answer.
type tokenPair interface {
	GetAccessToken() string
	GetRefreshToken() string
}

// wantNoSession checks what a call that raced the end of a user's sessions
// left behind: it was refused (err UNAUTHORIZED), or the pair it handed out
// is dead: its refresh token refreshes nothing and, within the revocation
// poll, its access token verifies nowhere.
func wantNoSession(t *testing.T, f *fixture, c authv1connect.AuthServiceClient, err error, pair tokenPair) {
	t.Helper()
	if err != nil {
		testkit.WantCode(t, err, errs.Unauthorized) // the other call went first
		return
	}
	_, err = c.Refresh(ctx(t), testkit.Bearer("", &authv1.RefreshRequest{RefreshToken: pair.GetRefreshToken()}))
	testkit.WantCode(t, err, errs.Unauthorized)
	wantRevoked(t, f, pair.GetAccessToken())
}

// A logout that runs while a refresh of the same session is in flight ends
// the pair that refresh hands out too. Both take the user's row lock before
// they touch the session's tokens, so the logout waits for the refresh to
// commit and then revokes its new refresh token, and (as every logout does)
// the user's access tokens. Before, the logout's UPDATE of the family did not
// see the token the refresh committed a moment later: the thief's new pair
// lived on, and the logout found nothing to revoke, left the access tokens
// alone and answered OK.
func TestLogoutRacingRefresh(t *testing.T) {
	t.Parallel()
	f := start(t)
	c := f.client(t, nil)
	reg := register(t, c, uniqueEmail("race"), "race password 1")
	user, r1 := reg.GetUser().GetId(), reg.GetRefreshToken()

	var thief *authv1.RefreshResponse
	refreshed, loggedOut := race(t, f, user, refreshing(t, c, r1, &thief), func() error {
		_, err := c.Logout(ctx(t), testkit.Bearer("", &authv1.LogoutRequest{RefreshToken: r1}))
		return err
	})
	if loggedOut != nil {
		t.Fatalf("logout: %v", loggedOut)
	}
	wantNoSession(t, f, c, refreshed, thief)
	wantRevoked(t, f, reg.GetAccessToken())
	if n := f.audits(t, "auth.logout", user); n != 1 {
		t.Fatalf("%d auth.logout entries, want 1", n)
	}
}

// The reuse detection (an exchanged refresh token presented again revokes
// its family) ends the pair a concurrent refresh of the family hands out
// too: like a logout it takes the user's row lock first, so it revokes the
// token that refresh commits. Before, the thief's freshly minted refresh
// token survived the revocation meant to stop it.
func TestRefreshReuseRacingRefresh(t *testing.T) {
	t.Parallel()
	f := start(t)
	c := f.client(t, nil)
	reg := register(t, c, uniqueEmail("reuse"), "reuse password 1")
	user, r1 := reg.GetUser().GetId(), reg.GetRefreshToken()
	// The thief exchanged r1 already.
	r2 := must(c.Refresh(ctx(t), testkit.Bearer("", &authv1.RefreshRequest{RefreshToken: r1})))(t).Msg.GetRefreshToken()

	var thief, owner *authv1.RefreshResponse
	// The owner's copy of r1 comes second: a reuse, which must end the family.
	refreshed, reused := race(t, f, user, refreshing(t, c, r2, &thief), refreshing(t, c, r1, &owner))
	testkit.WantCode(t, reused, errs.Unauthorized)
	wantNoSession(t, f, c, refreshed, thief)
}

// A password reset and a password change of the same user that run together
// never deadlock: the reset locks the user before it uses its token up, as
// the change does before it voids the user's reset tokens. Whichever goes
// first wins; the other finds its token used or its current password
// replaced (VALIDATION_ERROR), never a 500.
func TestPasswordResetRacingChange(t *testing.T) {
	t.Parallel()
	f := start(t)
	c := f.client(t, nil)
	email := uniqueEmail("reset-race")
	reg := register(t, c, email, "reset race password 1")
	must(c.ForgotPassword(ctx(t), testkit.Bearer("", &authv1.ForgotPasswordRequest{Email: email})))(t)
	token := f.resetToken(t, email)

	e1, e2 := race(t, f, reg.GetUser().GetId(),
		changingPassword(t, c, reg.GetAccessToken(), "reset race password 1", "reset race password 2"),
		func() error {
			_, err := c.ResetPassword(ctx(t), testkit.Bearer("", &authv1.ResetPasswordRequest{Token: token, NewPassword: "reset race password 3"}))
			return err
		})
	if (e1 == nil) == (e2 == nil) {
		t.Fatalf("change: %v; reset: %v; want exactly one to succeed", e1, e2)
	}
	for _, err := range []error{e1, e2} {
		if err != nil {
			testkit.WantCode(t, err, errs.Validation)
		}
	}
}

// A password change ends every session of the user, including the one a
// refresh or a login racing it hands out, and both calls end well, in one
// order or the other. Each takes the user's row lock first, so the change
// revokes what the other committed, or the other finds the token revoked
// or the password it checked replaced (a wrong password). Before, the
// refresh locked its token and then (its INSERT's foreign key) the user,
// the change the user and then the tokens: Postgres aborted one as a
// deadlock and its caller read 500 INTERNAL_ERROR; and a login's new
// session outlived the change.
func TestPasswordChangeRacingNewSession(t *testing.T) {
	t.Parallel()
	f := start(t)
	c := f.client(t, nil)
	for _, tc := range []struct {
		name string
		// open opens a session with what the change is about to void.
		open func(t *testing.T, reg *authv1.RegisterResponse, email, password string) (tokenPair, error)
	}{
		{"refresh", func(t *testing.T, reg *authv1.RegisterResponse, _, _ string) (tokenPair, error) {
			res, err := c.Refresh(ctx(t), testkit.Bearer("", &authv1.RefreshRequest{RefreshToken: reg.GetRefreshToken()}))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		}},
		{"login", func(t *testing.T, _ *authv1.RegisterResponse, email, password string) (tokenPair, error) {
			res, err := c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: email, Password: password}))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			email := uniqueEmail("change-" + tc.name)
			reg := register(t, c, email, "change race password 1")
			var pair tokenPair
			changed, opened := race(t, f, reg.GetUser().GetId(),
				changingPassword(t, c, reg.GetAccessToken(), "change race password 1", "change race password 2"),
				func() (err error) {
					pair, err = tc.open(t, reg, email, "change race password 1")
					return err
				})
			if changed != nil {
				t.Fatalf("change password: %v", changed)
			}
			wantNoSession(t, f, c, opened, pair)
		})
	}
}
