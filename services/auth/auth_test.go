package auth_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	authv1 "github.com/bookingrush/rush/gen/bookingrush/auth/v1"
	"github.com/bookingrush/rush/gen/bookingrush/auth/v1/authv1connect"
	"github.com/bookingrush/rush/schema"
	"github.com/bookingrush/rush/services/app"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/mail/mailtest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

// protocols: every RPC is called over Connect and gRPC.
var protocols = map[string][]connect.ClientOption{
	"connect": nil,
	"grpc":    {connect.WithGRPC()},
}

const (
	adminEmail    = "Root@Example.com"
	adminPassword = "root-password-1"
	resetURL      = "https://tickets.example.com/reset"
)

// fixture is one auth component (with notify, which mails its resets, and
// the gate, told of every role change) with its own schema and SMTP server.
type fixture struct {
	mesh *testkit.Mesh
	smtp *mailtest.Server
}

func start(t *testing.T, args ...string) *fixture {
	t.Helper()
	smtp := mailtest.NewServer(t)
	m := testkit.Start(t, append([]string{
		"-target=auth,notify,gate", "-smtp.addr=" + smtp.Addr, "-auth.reset-url=" + resetURL,
		"-admin.email=" + adminEmail, "-admin.password=" + adminPassword,
	}, args...)...)
	return &fixture{mesh: m, smtp: smtp}
}

func (f *fixture) client(t *testing.T, opts []connect.ClientOption) authv1connect.AuthServiceClient {
	return authv1connect.NewAuthServiceClient(server.NewClient(), f.mesh.URL(t, "auth"), opts...)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// uniqueEmail is an address no other test uses.
func uniqueEmail(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:]) + "@example.com"
}

// must(call(...))(t) is call's value; the test fails on its error.
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func register(t *testing.T, c authv1connect.AuthServiceClient, email, password string) *authv1.RegisterResponse {
	t.Helper()
	return must(c.Register(ctx(t), testkit.Bearer("", &authv1.RegisterRequest{Email: email, Password: password, FullName: "Ana Test"})))(t).Msg
}

// principal verifies an access token the way every service does.
func (f *fixture) principal(t *testing.T, token string) *authn.Principal {
	t.Helper()
	p, err := f.mesh.Keys.Verify(token, time.Now())
	if err != nil {
		t.Fatalf("access token does not verify: %v", err)
	}
	return p
}

// wantRevoked waits (the revocation poll) until access no longer verifies.
func wantRevoked(t *testing.T, f *fixture, access string) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, "the access token revoked", func() bool {
		_, err := f.mesh.Keys.Verify(access, time.Now())
		return err != nil
	})
}

func TestAuthService(t *testing.T) {
	t.Parallel()
	f := start(t)
	for proto, opts := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			c := f.client(t, opts)
			t.Run("register", func(t *testing.T) { t.Parallel(); testRegister(t, f, c) })
			t.Run("login", func(t *testing.T) { t.Parallel(); testLogin(t, f, c) })
			t.Run("refresh rotates and reuse kills the family", func(t *testing.T) { t.Parallel(); testRefresh(t, f, c) })
			t.Run("logout", func(t *testing.T) { t.Parallel(); testLogout(t, f, c) })
			t.Run("forgot and reset password", func(t *testing.T) { t.Parallel(); testForgotReset(t, f, c) })
			t.Run("me", func(t *testing.T) { t.Parallel(); testMe(t, c) })
			t.Run("roles", func(t *testing.T) { t.Parallel(); testRoles(t, f, c) })
			t.Run("user directory", func(t *testing.T) { t.Parallel(); testListUsers(t, c) })
			t.Run("audit logs", func(t *testing.T) { t.Parallel(); testAuditLogs(t, c) })
		})
	}
}

func testRegister(t *testing.T, f *fixture, c authv1connect.AuthServiceClient) {
	email := uniqueEmail("Reg")
	res := register(t, c, email, "correct horse 1")
	u := res.GetUser()
	if u.GetEmail() != strings.ToLower(email) || u.GetFullName() != "Ana Test" || u.GetRole() != authv1.Role_ROLE_USER || u.GetId() == "" || u.GetEmailVerified() {
		t.Fatalf("user %v", u)
	}
	if u.GetCreatedAt() == nil || time.Since(u.GetCreatedAt().AsTime()) > time.Minute {
		t.Fatalf("created_at %v", u.GetCreatedAt())
	}
	if res.GetExpiresIn() != 900 || len(res.GetRefreshToken()) < 40 {
		t.Fatalf("expires_in %d refresh %q", res.GetExpiresIn(), res.GetRefreshToken())
	}
	p := f.principal(t, res.GetAccessToken())
	if p.UserID != u.GetId() || p.Role != authn.RoleUser || p.TenantID != schema.DefaultTenantID {
		t.Fatalf("principal %+v", p)
	}

	for _, variant := range []string{email, strings.ToUpper(email), strings.ToLower(email)} {
		_, err := c.Register(ctx(t), testkit.Bearer("", &authv1.RegisterRequest{Email: variant, Password: "another pass 2", FullName: "Eve"}))
		testkit.WantCode(t, err, errs.Conflict)
	}

	other := uniqueEmail("weak")
	_, err := c.Register(ctx(t), testkit.Bearer("", &authv1.RegisterRequest{Email: other, Password: strings.ToUpper(other), FullName: "Eve"}))
	testkit.WantCode(t, err, errs.Validation)
	_, err = c.Register(ctx(t), testkit.Bearer("", &authv1.RegisterRequest{Email: other, Password: "fine password", FullName: "   "}))
	testkit.WantCode(t, err, errs.Validation)
	_, err = c.Register(ctx(t), testkit.Bearer("", &authv1.RegisterRequest{Email: "not-an-email", Password: "fine password", FullName: "Eve"}))
	testkit.WantCode(t, err, errs.Validation)
	// None of the rejected attempts created the account.
	_, err = c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: other, Password: "fine password"}))
	testkit.WantCode(t, err, errs.Unauthorized)
}

func testLogin(t *testing.T, f *fixture, c authv1connect.AuthServiceClient) {
	email := uniqueEmail("login")
	reg := register(t, c, email, "login password")

	res := must(c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: strings.ToUpper(email), Password: "login password"})))(t).Msg
	if res.GetUser().GetId() != reg.GetUser().GetId() || res.GetRefreshToken() == reg.GetRefreshToken() || res.GetExpiresIn() != 900 {
		t.Fatalf("login %v", res)
	}
	if p := f.principal(t, res.GetAccessToken()); p.UserID != reg.GetUser().GetId() {
		t.Fatalf("principal %+v", p)
	}

	_, wrongPassword := c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: email, Password: "Login password"}))
	_, unknownEmail := c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: uniqueEmail("nobody"), Password: "login password"}))
	testkit.WantCode(t, wrongPassword, errs.Unauthorized)
	testkit.WantCode(t, unknownEmail, errs.Unauthorized)
	if wrongPassword.Error() != unknownEmail.Error() {
		t.Fatalf("wrong password %q and unknown e-mail %q answer differently", wrongPassword, unknownEmail)
	}
}

func testRefresh(t *testing.T, f *fixture, c authv1connect.AuthServiceClient) {
	email := uniqueEmail("refresh")
	reg := register(t, c, email, "refresh password")
	first := reg.GetRefreshToken()
	other := must(c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: email, Password: "refresh password"})))(t).Msg.GetRefreshToken()

	second := must(c.Refresh(ctx(t), testkit.Bearer("", &authv1.RefreshRequest{RefreshToken: first})))(t).Msg
	if second.GetRefreshToken() == first || second.GetExpiresIn() != 900 {
		t.Fatalf("refresh %v", second)
	}
	f.principal(t, second.GetAccessToken())
	third := must(c.Refresh(ctx(t), testkit.Bearer("", &authv1.RefreshRequest{RefreshToken: second.GetRefreshToken()})))(t).Msg

	// first was rotated: presenting it again is a replay.
	_, err := c.Refresh(ctx(t), testkit.Bearer("", &authv1.RefreshRequest{RefreshToken: first}))
	testkit.WantCode(t, err, errs.Unauthorized)
	// ... which revoked the newest token of the family too, and (as a
	// logout does) every access token of the user issued so far: the
	// thief's included.
	_, err = c.Refresh(ctx(t), testkit.Bearer("", &authv1.RefreshRequest{RefreshToken: third.GetRefreshToken()}))
	testkit.WantCode(t, err, errs.Unauthorized)
	wantRevoked(t, f, third.GetAccessToken())
	// The admins' audit trail says a token came back once.
	if n := f.audits(t, "auth.refresh_reused", reg.GetUser().GetId()); n != 1 {
		t.Fatalf("%d auth.refresh_reused entries, want 1", n)
	}
	// The user's other session is another family and lives on.
	must(c.Refresh(ctx(t), testkit.Bearer("", &authv1.RefreshRequest{RefreshToken: other})))(t)

	_, err = c.Refresh(ctx(t), testkit.Bearer("", &authv1.RefreshRequest{RefreshToken: "never-issued-0123456789abcdef"}))
	testkit.WantCode(t, err, errs.Unauthorized)
	// An access token is no refresh token.
	_, err = c.Refresh(ctx(t), testkit.Bearer("", &authv1.RefreshRequest{RefreshToken: third.GetAccessToken()}))
	testkit.WantCode(t, err, errs.Unauthorized)
}

func testLogout(t *testing.T, f *fixture, c authv1connect.AuthServiceClient) {
	email := uniqueEmail("logout")
	reg := register(t, c, email, "logout password")
	rotated := must(c.Refresh(ctx(t), testkit.Bearer("", &authv1.RefreshRequest{RefreshToken: reg.GetRefreshToken()})))(t).Msg
	kept := must(c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: email, Password: "logout password"})))(t).Msg

	// Logging out with the current token ends that session (its family).
	must(c.Logout(ctx(t), testkit.Bearer(rotated.GetAccessToken(), &authv1.LogoutRequest{RefreshToken: rotated.GetRefreshToken()})))(t)
	_, err := c.Refresh(ctx(t), testkit.Bearer("", &authv1.RefreshRequest{RefreshToken: rotated.GetRefreshToken()}))
	testkit.WantCode(t, err, errs.Unauthorized)
	// Idempotent, and silent about tokens it does not know.
	must(c.Logout(ctx(t), testkit.Bearer("", &authv1.LogoutRequest{RefreshToken: rotated.GetRefreshToken()})))(t)
	must(c.Logout(ctx(t), testkit.Bearer("", &authv1.LogoutRequest{RefreshToken: "never-issued-0123456789abcdef"})))(t)
	// The other session is untouched.
	must(c.Refresh(ctx(t), testkit.Bearer("", &authv1.RefreshRequest{RefreshToken: kept.GetRefreshToken()})))(t)
	// One session ended, one audit entry (the repeated logout ended none).
	if n := f.audits(t, "auth.logout", reg.GetUser().GetId()); n != 1 {
		t.Fatalf("%d auth.logout entries, want 1", n)
	}
}

// audits counts the audit entries of action about user (as entity and actor).
func (f *fixture) audits(t *testing.T, action, user string) int {
	t.Helper()
	var n int
	if err := pgtest.Open(t, f.mesh.DSN).QueryRowContext(ctx(t), `SELECT count(*) FROM audit_logs WHERE action = $1 AND entity_id = $2 AND user_id = $2`,
		action, user).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var tokenInLink = regexp.MustCompile(regexp.QuoteMeta(resetURL) + `\?token=([A-Za-z0-9_-]{40,})`)

// resetToken waits for the reset mail to addr and returns its token.
func (f *fixture) resetToken(t *testing.T, addr string) string {
	t.Helper()
	m := f.smtp.WaitForSubject(t, addr, "Reset", 10*time.Second)
	if !strings.Contains(m.Header.Get("From"), "no-reply@bookingrush.local") {
		t.Fatalf("reset mail: subject %q from %q", m.Subject, m.Header.Get("From"))
	}
	match := tokenInLink.FindStringSubmatch(m.Text)
	if match == nil {
		t.Fatalf("no reset link in %q", m.Text)
	}
	return match[1]
}

func testForgotReset(t *testing.T, f *fixture, c authv1connect.AuthServiceClient) {
	email := uniqueEmail("forgot")
	reg := register(t, c, email, "old password 1")
	if m := f.smtp.WaitForSubject(t, email, "Welcome", 10*time.Second); !strings.Contains(m.Text, "Your account is ready") {
		t.Fatalf("welcome mail: %q", m.Text)
	}

	unknown := uniqueEmail("unknown")
	must(c.ForgotPassword(ctx(t), testkit.Bearer("", &authv1.ForgotPasswordRequest{Email: unknown})))(t)
	must(c.ForgotPassword(ctx(t), testkit.Bearer("", &authv1.ForgotPasswordRequest{Email: strings.ToUpper(email)})))(t)
	token := f.resetToken(t, email)
	// One worker serves the requests in order: the unknown address, asked
	// first, was handled before this mail went out, and got nothing.
	if n := len(f.smtp.To(unknown)); n != 0 {
		t.Fatalf("%d mails to an address without an account", n)
	}

	// A weak new password is refused and leaves the token usable.
	_, err := c.ResetPassword(ctx(t), testkit.Bearer("", &authv1.ResetPasswordRequest{Token: token, NewPassword: email}))
	testkit.WantCode(t, err, errs.Validation)

	must(c.ResetPassword(ctx(t), testkit.Bearer("", &authv1.ResetPasswordRequest{Token: token, NewPassword: "new password 2"})))(t)
	_, err = c.ResetPassword(ctx(t), testkit.Bearer("", &authv1.ResetPasswordRequest{Token: token, NewPassword: "third password 3"}))
	testkit.WantCode(t, err, errs.Validation)
	_, err = c.ResetPassword(ctx(t), testkit.Bearer("", &authv1.ResetPasswordRequest{Token: "never-issued-0123456789abcdef", NewPassword: "third password 3"}))
	testkit.WantCode(t, err, errs.Validation)

	_, err = c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: email, Password: "old password 1"}))
	testkit.WantCode(t, err, errs.Unauthorized)
	must(c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: email, Password: "new password 2"})))(t)
	// The reset ended the sessions opened with the old password.
	_, err = c.Refresh(ctx(t), testkit.Bearer("", &authv1.RefreshRequest{RefreshToken: reg.GetRefreshToken()}))
	testkit.WantCode(t, err, errs.Unauthorized)
	// One reset happened (the refused ones rolled back with their entry).
	if n := f.audits(t, "auth.password_reset", reg.GetUser().GetId()); n != 1 {
		t.Fatalf("%d auth.password_reset entries, want 1", n)
	}
}

func testMe(t *testing.T, c authv1connect.AuthServiceClient) {
	email := uniqueEmail("me")
	reg := register(t, c, email, "me password 1")
	access := reg.GetAccessToken()

	_, err := c.GetMe(ctx(t), testkit.Bearer("", &authv1.GetMeRequest{}))
	testkit.WantCode(t, err, errs.Unauthorized)
	_, err = c.GetMe(ctx(t), testkit.Bearer(access+"x", &authv1.GetMeRequest{}))
	testkit.WantCode(t, err, errs.Unauthorized)

	me := must(c.GetMe(ctx(t), testkit.Bearer(access, &authv1.GetMeRequest{})))(t).Msg.GetUser()
	if me.GetId() != reg.GetUser().GetId() || me.GetEmail() != strings.ToLower(email) || me.GetFullName() != "Ana Test" {
		t.Fatalf("me %v", me)
	}
	updated := must(c.UpdateMe(ctx(t), testkit.Bearer(access, &authv1.UpdateMeRequest{FullName: "  Ana María  "})))(t).Msg.GetUser()
	if updated.GetFullName() != "Ana María" || !updated.GetUpdatedAt().AsTime().After(me.GetCreatedAt().AsTime().Add(-time.Second)) {
		t.Fatalf("updated %v", updated)
	}
	if got := must(c.GetMe(ctx(t), testkit.Bearer(access, &authv1.GetMeRequest{})))(t).Msg.GetUser().GetFullName(); got != "Ana María" {
		t.Fatalf("full name after update %q", got)
	}
	_, err = c.UpdateMe(ctx(t), testkit.Bearer(access, &authv1.UpdateMeRequest{FullName: " "}))
	testkit.WantCode(t, err, errs.Validation)
	_, err = c.UpdateMe(ctx(t), testkit.Bearer("", &authv1.UpdateMeRequest{FullName: "Anonymous"}))
	testkit.WantCode(t, err, errs.Unauthorized)
}

func testListUsers(t *testing.T, c authv1connect.AuthServiceClient) {
	// A marker only this test's accounts carry: other tests register too.
	marker := strings.TrimSuffix(strings.TrimPrefix(uniqueEmail("dir"), "dir-"), "@example.com")
	first := register(t, c, "first-"+marker+"@example.com", "directory pass")
	second := register(t, c, "second-"+marker+"@example.com", "directory pass")
	admin := must(c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: strings.ToLower(adminEmail), Password: adminPassword})))(t).Msg.GetAccessToken()
	must(c.SetUserRole(ctx(t), testkit.Bearer(admin, &authv1.SetUserRoleRequest{UserId: first.GetUser().GetId(), Role: authv1.Role_ROLE_ORGANIZER})))(t)
	list := func(r *authv1.ListUsersRequest) *authv1.ListUsersResponse {
		t.Helper()
		return must(c.ListUsers(ctx(t), testkit.Bearer(admin, r)))(t).Msg
	}
	emails := func(res *authv1.ListUsersResponse) string {
		var out []string
		for _, u := range res.GetUsers() {
			out = append(out, strings.SplitN(u.GetEmail(), "-", 2)[0]+"/"+strings.ToLower(strings.TrimPrefix(u.GetRole().String(), "ROLE_")))
		}
		return strings.Join(out, ",")
	}
	// Newest first, with the role; the search ignores case.
	if res := list(&authv1.ListUsersRequest{Query: strings.ToUpper(marker)}); emails(res) != "second/user,first/organizer" || res.GetMeta().GetTotal() != 2 {
		t.Fatalf("users %s, meta %v", emails(res), res.GetMeta())
	}
	if res := list(&authv1.ListUsersRequest{Query: marker, Role: authv1.Role_ROLE_ORGANIZER}); emails(res) != "first/organizer" {
		t.Fatalf("organizers %s", emails(res))
	}
	if res := list(&authv1.ListUsersRequest{Query: marker, Page: 2, PerPage: 1}); emails(res) != "first/organizer" ||
		res.GetMeta().GetPage() != 2 || res.GetMeta().GetPerPage() != 1 || res.GetMeta().GetTotal() != 2 {
		t.Fatalf("page 2: %s, meta %v", emails(res), res.GetMeta())
	}
	// By name too: every account of this test is "Ana Test"; the admin is not.
	if res := list(&authv1.ListUsersRequest{Query: "ana test", PerPage: 100}); res.GetMeta().GetTotal() < 2 {
		t.Fatalf("by name: meta %v", res.GetMeta())
	}
	_, err := c.ListUsers(ctx(t), testkit.Bearer(second.GetAccessToken(), &authv1.ListUsersRequest{}))
	testkit.WantCode(t, err, errs.Forbidden)
	_, err = c.ListUsers(ctx(t), testkit.Bearer("", &authv1.ListUsersRequest{}))
	testkit.WantCode(t, err, errs.Unauthorized)
	_, err = c.ListUsers(ctx(t), testkit.Bearer(admin, &authv1.ListUsersRequest{PerPage: 101}))
	testkit.WantCode(t, err, errs.Validation)
}

func testRoles(t *testing.T, f *fixture, c authv1connect.AuthServiceClient) {
	email := uniqueEmail("role")
	reg := register(t, c, email, "role password")
	target := reg.GetUser().GetId()
	set := func(token, id string, role authv1.Role) (*authv1.User, error) {
		res, err := c.SetUserRole(ctx(t), testkit.Bearer(token, &authv1.SetUserRoleRequest{UserId: id, Role: role}))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetUser(), nil
	}

	_, err := set(reg.GetAccessToken(), target, authv1.Role_ROLE_ADMIN)
	testkit.WantCode(t, err, errs.Forbidden)
	_, err = set("", target, authv1.Role_ROLE_ADMIN)
	testkit.WantCode(t, err, errs.Unauthorized)

	admin := must(c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: strings.ToLower(adminEmail), Password: adminPassword})))(t).Msg
	if admin.GetUser().GetRole() != authv1.Role_ROLE_ADMIN || f.principal(t, admin.GetAccessToken()).Role != authn.RoleAdmin {
		t.Fatalf("bootstrap admin %v", admin.GetUser())
	}
	_, err = set(admin.GetAccessToken(), target, authv1.Role_ROLE_UNSPECIFIED)
	testkit.WantCode(t, err, errs.Validation)
	_, err = set(admin.GetAccessToken(), "0195f3a0-0000-7000-8000-0000000000ff", authv1.Role_ROLE_ORGANIZER)
	testkit.WantCode(t, err, errs.NotFound)
	_, err = set(admin.GetAccessToken(), admin.GetUser().GetId(), authv1.Role_ROLE_USER)
	testkit.WantCode(t, err, errs.Conflict)

	u := must(set(admin.GetAccessToken(), target, authv1.Role_ROLE_ORGANIZER))(t)
	if u.GetId() != target || u.GetRole() != authv1.Role_ROLE_ORGANIZER {
		t.Fatalf("after SetUserRole: %v", u)
	}
	// The new role is in the next token, from a login or a refresh.
	login := must(c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: email, Password: "role password"})))(t).Msg
	if p := f.principal(t, login.GetAccessToken()); p.Role != authn.RoleOrganizer || login.GetUser().GetRole() != authv1.Role_ROLE_ORGANIZER {
		t.Fatalf("after promotion, login gives %+v / %v", p, login.GetUser().GetRole())
	}
	refreshed := must(c.Refresh(ctx(t), testkit.Bearer("", &authv1.RefreshRequest{RefreshToken: reg.GetRefreshToken()})))(t).Msg
	if p := f.principal(t, refreshed.GetAccessToken()); p.Role != authn.RoleOrganizer {
		t.Fatalf("after promotion, refresh gives %+v", p)
	}

	// The change is in the audit trail.
	db := pgtest.Open(t, f.mesh.DSN)
	var n int
	if err := db.QueryRowContext(ctx(t), `SELECT count(*) FROM audit_logs WHERE action = 'user.role_changed' AND entity_id = $1 AND user_id = $2 AND new_values->>'role' = 'organizer' AND old_values->>'role' = 'user'`,
		target, admin.GetUser().GetId()).Scan(&n); err != nil || n != 1 {
		t.Fatalf("audit entries %d, %v", n, err)
	}
}

// SetUserRole takes the user's id in any letter case (a UUID all the same):
// the access tokens the user holds carry the new role, and an admin's own id
// is refused however it is spelt. Before, the id was compared and recorded
// for the live tokens as typed: a demoted admin's tokens kept the role, and
// an admin could change their own.
func TestSetUserRoleIDInAnyCase(t *testing.T) {
	t.Parallel()
	f := start(t)
	c := f.client(t, nil)
	admin := must(c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: strings.ToLower(adminEmail), Password: adminPassword})))(t).Msg

	email := uniqueEmail("demote")
	target := register(t, c, email, "demote password").GetUser().GetId()
	must(c.SetUserRole(ctx(t), testkit.Bearer(admin.GetAccessToken(), &authv1.SetUserRoleRequest{UserId: target, Role: authv1.Role_ROLE_ADMIN})))(t)
	login := must(c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: email, Password: "demote password"})))(t).Msg
	if p := f.principal(t, login.GetAccessToken()); p.Role != authn.RoleAdmin {
		t.Fatalf("promoted, the token carries role %s", p.Role)
	}

	u := must(c.SetUserRole(ctx(t), testkit.Bearer(admin.GetAccessToken(),
		&authv1.SetUserRoleRequest{UserId: strings.ToUpper(target), Role: authv1.Role_ROLE_USER})))(t).Msg.GetUser()
	if u.GetId() != target || u.GetRole() != authv1.Role_ROLE_USER {
		t.Fatalf("demoted: %v", u)
	}
	testkit.Eventually(t, 10*time.Second, "the demoted user's token carrying role user", func() bool {
		return f.principal(t, login.GetAccessToken()).Role == authn.RoleUser
	})

	_, err := c.SetUserRole(ctx(t), testkit.Bearer(admin.GetAccessToken(),
		&authv1.SetUserRoleRequest{UserId: strings.ToUpper(admin.GetUser().GetId()), Role: authv1.Role_ROLE_ORGANIZER}))
	testkit.WantCode(t, err, errs.Conflict)
}

// TestRoleChangeWaitsForTheGate: a role change tells the gate in its
// transaction, so that the check-in devices the user registered work only
// while the user may run their events; with the gate unreachable the change
// is refused, SERVICE_UNAVAILABLE naming the gate, and the role stays.
// Before, the change was made without the gate, and a demoted organizer's
// devices kept admitting people.
func TestRoleChangeWaitsForTheGate(t *testing.T) {
	t.Parallel()
	f := start(t, "-target=auth,notify")
	c := f.client(t, nil)
	admin := must(c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: strings.ToLower(adminEmail), Password: adminPassword})))(t).Msg
	target := register(t, c, uniqueEmail("gateless"), "gateless password").GetUser().GetId()
	_, err := c.SetUserRole(ctx(t), testkit.Bearer(admin.GetAccessToken(), &authv1.SetUserRoleRequest{UserId: target, Role: authv1.Role_ROLE_ORGANIZER}))
	testkit.WantCode(t, err, errs.ServiceUnavailable)
	if d := errs.FromConnect(err).Details; d["dependency"] != "gate" {
		t.Errorf("the refusal names %v, want the gate", d)
	}
	users := must(c.ListUsers(ctx(t), testkit.Bearer(admin.GetAccessToken(), &authv1.ListUsersRequest{Role: authv1.Role_ROLE_ORGANIZER})))(t).Msg.GetUsers()
	if len(users) != 0 {
		t.Errorf("organizers after the refused change: %v", users)
	}
}

func TestResetTokenExpires(t *testing.T) {
	t.Parallel()
	f := start(t, "-auth.reset-ttl=1s")
	c := f.client(t, nil)
	email := uniqueEmail("expire")
	register(t, c, email, "expire password")
	must(c.ForgotPassword(ctx(t), testkit.Bearer("", &authv1.ForgotPasswordRequest{Email: email})))(t)
	token := f.resetToken(t, email)
	time.Sleep(1500 * time.Millisecond)
	_, err := c.ResetPassword(ctx(t), testkit.Bearer("", &authv1.ResetPasswordRequest{Token: token, NewPassword: "new password 2"}))
	testkit.WantCode(t, err, errs.Validation)
	must(c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: email, Password: "expire password"})))(t)
}

func TestBootstrapAdmin(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Migrated(t)
	db := pgtest.Open(t, dsn)
	args := []string{"-target=auth", "-postgres.migrate-on-start=false"}

	// Two replicas start at once on the same schema: one admin.
	var wg sync.WaitGroup
	meshes := make([]*testkit.Mesh, 2)
	for i := range meshes {
		wg.Go(func() {
			meshes[i] = testkit.Run(t, testkit.Config(t, dsn, append(args, "-admin.email=Boss@Example.com", "-admin.password=boss-password")...))
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var n int
	var role string
	if err := db.QueryRowContext(ctx(t), `SELECT count(*), min(role) FROM users WHERE lower(email) = 'boss@example.com'`).Scan(&n, &role); err != nil || n != 1 || role != "admin" {
		t.Fatalf("admins: %d %q %v", n, role, err)
	}
	c := authv1connect.NewAuthServiceClient(server.NewClient(), meshes[1].URL(t, "auth"), connect.WithGRPC())
	must(c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: "boss@example.com", Password: "boss-password"})))(t)

	// An existing account named as admin is promoted; its password stays.
	email := uniqueEmail("promoted")
	reg := register(t, c, email, "users own password")
	testkit.Run(t, testkit.Config(t, dsn, append(args, "-admin.email="+strings.ToUpper(email), "-admin.password=ignored-password")...))
	login := must(c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: email, Password: "users own password"})))(t).Msg
	if login.GetUser().GetId() != reg.GetUser().GetId() || login.GetUser().GetRole() != authv1.Role_ROLE_ADMIN {
		t.Fatalf("promoted user %v", login.GetUser())
	}
}

func TestBootstrapAdminOnFreshDatabase(t *testing.T) {
	t.Parallel()
	// Migrations run on start before the admin is created.
	dsn, _ := pgtest.NewSchema(t)
	m := testkit.Run(t, testkit.Config(t, dsn, "-target=auth", "-admin.email=first@example.com", "-admin.password=first-password"))
	c := authv1connect.NewAuthServiceClient(server.NewClient(), m.URL(t, "auth"))
	res := must(c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: "first@example.com", Password: "first-password"})))(t).Msg
	if res.GetUser().GetRole() != authv1.Role_ROLE_ADMIN {
		t.Fatalf("role %v", res.GetUser().GetRole())
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	load := func(env map[string]string, args ...string) (*app.Config, error) {
		var cfg app.Config
		err := config.Load(&cfg, flag.NewFlagSet("rush", flag.ContinueOnError), args, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		return &cfg, err
	}
	cfg, err := load(map[string]string{"RUSH_ADMIN_EMAIL": "ops@example.com", "RUSH_ADMIN_PASSWORD": "ops-secret-1", "RUSH_SMTP_ADDR": "mail:25"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Email != "ops@example.com" || cfg.Admin.Password.Reveal() != "ops-secret-1" || cfg.SMTP.Addr != "mail:25" ||
		cfg.Auth.BcryptCost != 12 || cfg.Auth.RefreshTTL != 30*24*time.Hour || cfg.Auth.ResetTTL != time.Hour || cfg.Auth.ResetURL != "http://localhost:3000/reset-password" {
		t.Fatalf("loaded %+v %+v %+v", cfg.Admin, cfg.Auth, cfg.SMTP)
	}
	if d, _ := config.Dump(cfg); strings.Contains(string(d), "ops-secret-1") {
		t.Fatal("-print-config shows the admin password")
	}
	_, err = load(map[string]string{"RUSH_ADMIN_EMAIL": "ops@example.com"}, "-auth.bcrypt-cost=3", "-auth.reset-url=ftp://x", "-auth.reset-ttl=0s")
	for _, want := range []string{"admin.password", "auth.bcrypt-cost", "auth.reset-url", "auth.reset-ttl"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}
