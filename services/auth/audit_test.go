package auth_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/bookingrush/rush/gen/bookingrush/auth/v1"
	"github.com/bookingrush/rush/gen/bookingrush/auth/v1/authv1connect"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/testkit"
)

// testAuditLogs: every auth action of a user shows in ListAuditLogs, with
// the filters, paging and masking; only admins may read it.
func testAuditLogs(t *testing.T, c authv1connect.AuthServiceClient) {
	since := time.Now().Add(-time.Second)
	email := uniqueEmail("zq-audit")
	reg := register(t, c, email, "audit password 1")
	uid := reg.GetUser().GetId()
	login := must(c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: email, Password: "audit password 1"})))(t).Msg
	_, err := c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: email, Password: "wrong password 9"}))
	testkit.WantCode(t, err, errs.Unauthorized)
	unknown := uniqueEmail("zq-nobody")
	_, err = c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: unknown, Password: "typed password 7"}))
	testkit.WantCode(t, err, errs.Unauthorized)
	// Admins only. Checked before the logout below, which ends every
	// access token the user holds (the registration's too).
	_, err = c.ListAuditLogs(ctx(t), testkit.Bearer(reg.GetAccessToken(), &authv1.ListAuditLogsRequest{}))
	testkit.WantCode(t, err, errs.Forbidden)
	_, err = c.ListAuditLogs(ctx(t), testkit.Bearer("", &authv1.ListAuditLogsRequest{}))
	testkit.WantCode(t, err, errs.Unauthorized)
	// The role is checked before the input: a user with an invalid filter
	// is refused, an admin reads the validation error.
	_, err = c.ListAuditLogs(ctx(t), testkit.Bearer(reg.GetAccessToken(), &authv1.ListAuditLogsRequest{UserId: "not-a-uuid"}))
	testkit.WantCode(t, err, errs.Forbidden)
	must(c.Logout(ctx(t), testkit.Bearer("", &authv1.LogoutRequest{RefreshToken: login.GetRefreshToken()})))(t)

	admin := must(c.Login(ctx(t), testkit.Bearer("", &authv1.LoginRequest{Email: adminEmail, Password: adminPassword})))(t).Msg.GetAccessToken()
	_, err = c.ListAuditLogs(ctx(t), testkit.Bearer(admin, &authv1.ListAuditLogsRequest{UserId: "not-a-uuid"}))
	testkit.WantCode(t, err, errs.Validation)
	list := func(r *authv1.ListAuditLogsRequest) *authv1.ListAuditLogsResponse {
		t.Helper()
		return must(c.ListAuditLogs(ctx(t), testkit.Bearer(admin, r)))(t).Msg
	}
	actions := func(res *authv1.ListAuditLogsResponse) string {
		var a []string
		for _, e := range res.GetAuditLogs() {
			a = append(a, e.GetAction())
		}
		return strings.Join(a, ",")
	}

	about := list(&authv1.ListAuditLogsRequest{EntityType: "user", EntityId: uid})
	if got := actions(about); got != "auth.logout,auth.login_failed,auth.login,auth.register" {
		t.Fatalf("entries about the user, newest first: %s", got)
	}
	if m := about.GetMeta(); m.GetTotal() != 4 || m.GetPage() != 1 || m.GetPerPage() != 20 {
		t.Fatalf("meta %v", m)
	}
	failed := about.GetAuditLogs()[1]
	if failed.GetUserId() != "" || failed.GetNewValues().GetFields()["email"].GetStringValue() != "z…@e…" ||
		failed.GetNewValues().GetFields()["reason"].GetStringValue() != "wrong_password" {
		t.Fatalf("failed login %v", failed)
	}
	if r := about.GetAuditLogs()[3]; r.GetUserId() != uid || r.GetNewValues().GetFields()["email"].GetStringValue() != "z…@e…" ||
		r.GetCreatedAt() == nil || r.GetId() == "" || r.GetIpAddress() != "" {
		t.Fatalf("register %v", r)
	}
	// By actor: the failed attempt has none.
	if got := actions(list(&authv1.ListAuditLogsRequest{UserId: uid})); got != "auth.logout,auth.login,auth.register" {
		t.Fatalf("entries by the user: %s", got)
	}
	// Paging.
	page := list(&authv1.ListAuditLogsRequest{EntityId: uid, Page: 2, PerPage: 1})
	if actions(page) != "auth.login_failed" || page.GetMeta().GetTotal() != 4 || page.GetMeta().GetPerPage() != 1 || page.GetMeta().GetPage() != 2 {
		t.Fatalf("page 2 of 1: %s %v", actions(page), page.GetMeta())
	}
	// Time range.
	if res := list(&authv1.ListAuditLogsRequest{EntityId: uid, From: timestamppb.New(time.Now().Add(time.Minute))}); len(res.GetAuditLogs()) != 0 || res.GetMeta().GetTotal() != 0 {
		t.Fatalf("from the future: %v", res)
	}
	if res := list(&authv1.ListAuditLogsRequest{EntityId: uid, From: timestamppb.New(since), To: timestamppb.New(time.Now().Add(time.Minute))}); res.GetMeta().GetTotal() != 4 {
		t.Fatalf("within the test: %v", res.GetMeta())
	}
	_, err = c.ListAuditLogs(ctx(t), testkit.Bearer(admin, &authv1.ListAuditLogsRequest{From: timestamppb.Now(), To: timestamppb.New(time.Now().Add(-time.Hour))}))
	testkit.WantCode(t, err, errs.Validation)
	// The unknown address: no entity, masked.
	var found bool
	for _, e := range list(&authv1.ListAuditLogsRequest{Action: "auth.login_failed", From: timestamppb.New(since), PerPage: 100}).GetAuditLogs() {
		if e.GetEntityId() == "" && e.GetNewValues().GetFields()["reason"].GetStringValue() == "unknown_email" &&
			e.GetNewValues().GetFields()["email"].GetStringValue() == "z…@e…" {
			found = true
		}
	}
	if !found {
		t.Fatal("no auth.login_failed entry for the unknown address")
	}
	// No password, token or address in clear anywhere.
	raw, _ := protojson.Marshal(list(&authv1.ListAuditLogsRequest{From: timestamppb.New(since), PerPage: 100}))
	for _, leak := range []string{"audit password 1", "wrong password 9", "typed password 7", strings.ToLower(email), strings.ToLower(unknown), login.GetRefreshToken()} {
		if strings.Contains(string(raw), leak) {
			t.Fatalf("the audit log shows %q", leak)
		}
	}
}

// TestAuditThroughTheEdge: entries made through the public API carry the
// client address the edge computed (X-Forwarded-For from a trusted proxy;
// a client's own X-Client-IP is overwritten) and its User-Agent, and
// GET /api/v1/admin/audit-logs serves them to admins only.
func TestAuditThroughTheEdge(t *testing.T) {
	t.Parallel()
	m := testkit.Start(t, "-target=edge,auth", "-rate-limit.enabled=false",
		"-edge.trusted-proxies=127.0.0.1/32,::1/128", "-admin.email="+adminEmail, "-admin.password="+adminPassword)
	base := m.URL(t, "edge") + "/api/v1"
	call := func(method, path, token string, body any) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		r, _ := http.NewRequestWithContext(ctx(t), method, base+path, rd)
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("User-Agent", "audit-test/1.0 (edge)")
		r.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.7")
		r.Header.Set("X-Client-IP", "6.6.6.6") // a client's attempt to choose its address
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return res.StatusCode, out
	}

	email := uniqueEmail("edge")
	status, out := call("POST", "/auth/register", "", map[string]any{"email": email, "password": "edge password 1", "full_name": "Edge"})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, out)
	}
	userToken := out["data"].(map[string]any)["access_token"].(string)
	uid := out["data"].(map[string]any)["user"].(map[string]any)["id"].(string)
	if status, _ := call("POST", "/auth/login", "", map[string]any{"email": email, "password": "not it at all"}); status != http.StatusUnauthorized {
		t.Fatalf("failed login: %d", status)
	}
	status, out = call("POST", "/auth/login", "", map[string]any{"email": adminEmail, "password": adminPassword})
	if status != http.StatusOK {
		t.Fatalf("admin login: %d %v", status, out)
	}
	admin := out["data"].(map[string]any)["access_token"].(string)

	status, out = call("GET", "/admin/audit-logs?entity_id="+uid, userToken, nil)
	if status != http.StatusForbidden || out["error"].(map[string]any)["code"] != "FORBIDDEN" {
		t.Fatalf("a user reads the audit log: %d %v", status, out)
	}
	status, out = call("GET", "/admin/audit-logs?"+url.Values{"entity_id": {uid}, "per_page": {"10"}}.Encode(), admin, nil)
	if status != http.StatusOK {
		t.Fatalf("audit logs: %d %v", status, out)
	}
	entries := out["data"].([]any)
	if meta := out["meta"].(map[string]any); len(entries) != 2 || meta["total"] != 2.0 || meta["per_page"] != 10.0 {
		t.Fatalf("entries %v meta %v", entries, out["meta"])
	}
	for i, action := range []string{"auth.login_failed", "auth.register"} {
		e := entries[i].(map[string]any)
		if e["action"] != action || e["ip_address"] != "203.0.113.7" || e["user_agent"] != "audit-test/1.0 (edge)" || e["entity_type"] != "user" {
			t.Fatalf("entry %d: %v", i, e)
		}
	}
	if nv := entries[0].(map[string]any)["new_values"].(map[string]any); nv["email"] != "e…@e…" || nv["reason"] != "wrong_password" {
		t.Fatalf("failed login values %v", nv)
	}
}

// TestAuditPartitionsOnStart: a missing partition of next month is created
// when the auth component starts.
func TestAuditPartitionsOnStart(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Migrated(t)
	db := pgtest.Open(t, dsn)
	now := time.Now().UTC()
	next := "audit_logs_" + now.AddDate(0, 1, 1-now.Day()).Format("2006_01")
	if _, err := db.ExecContext(ctx(t), `DROP TABLE `+next); err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, testkit.Config(t, dsn, "-postgres.migrate-on-start=false", "-target=auth"))
	var parent string
	err := db.QueryRowContext(ctx(t), `SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = to_regclass($1)`, next).Scan(&parent)
	if err != nil || parent != "audit_logs" {
		t.Fatalf("%s after start: attached to %q, %v", next, parent, err)
	}
}
