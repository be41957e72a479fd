package audit_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/bookingrush/rush/gen/bookingrush/auth/v1"
	"github.com/bookingrush/rush/schema"
	"github.com/bookingrush/rush/services/platform/audit"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/pgtest"
)

func TestMask(t *testing.T) {
	t.Parallel()
	v := map[string]any{
		"password": "hunter22", "new_password": "x", "password_hash": "$2a$12$abc", "PasswordHash": "y",
		"refresh_token": "rt", "access-token": "at", "client_secret": "cs", "api_key": "k", "Authorization": "Bearer z",
		"card_number": "4242424242424242", "cvc": "123", "cvv": 123, "pan": "4242", "queue_pass": "qp",
		"email": "Ana@Example.com", "recipient_email": "bob@mail.test", "backup_emails": []any{"cy@x.io", "nope"},
		"seats": 5, "title": "Rush", "role": "admin", "password_reset_sent": nil,
		"nested": map[string]any{"secret": "s", "name": "n", "items": []any{map[string]any{"token": "t", "id": 1.0}}},
	}
	audit.Mask(v)
	for _, k := range []string{"password", "new_password", "password_hash", "PasswordHash", "refresh_token", "access-token",
		"client_secret", "api_key", "Authorization", "card_number", "cvc", "cvv", "pan", "queue_pass"} {
		if v[k] != audit.Masked {
			t.Errorf("%s = %v, want masked", k, v[k])
		}
	}
	if v["password_reset_sent"] != nil {
		t.Errorf("a null secret stays null, got %v", v["password_reset_sent"])
	}
	if v["email"] != "A…@E…" || v["recipient_email"] != "b…@m…" {
		t.Errorf("emails %v %v", v["email"], v["recipient_email"])
	}
	if got := v["backup_emails"].([]any); got[0] != "c…@x…" || got[1] != "…" {
		t.Errorf("email list %v", got)
	}
	if v["title"] != "Rush" || v["role"] != "admin" || v["seats"] != 5 {
		t.Errorf("plain fields changed: %v", v)
	}
	nested := v["nested"].(map[string]any)
	if nested["secret"] != audit.Masked || nested["name"] != "n" || nested["items"].([]any)[0].(map[string]any)["token"] != audit.Masked {
		t.Errorf("nested %v", nested)
	}
	for in, want := range map[string]string{"": "", "a@b": "a…@b…", "@x.com": "…", "my-password": "…", "ünï@ç.de": "ü…@ç…"} {
		if got := audit.MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClientFromHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("User-Agent", "curl/8")
	if c := audit.ClientFromHeaders(h); c != (audit.Client{}) {
		t.Fatalf("no X-Client-IP: %+v, want nothing (the User-Agent is a service's)", c)
	}
	h.Set(audit.HeaderClientIP, "not an ip")
	if c := audit.ClientFromHeaders(h); c != (audit.Client{}) {
		t.Fatalf("bad X-Client-IP: %+v", c)
	}
	h.Set(audit.HeaderClientIP, "::ffff:203.0.113.9")
	h.Set("User-Agent", strings.Repeat("é", 400)+"\x00")
	c := audit.ClientFromHeaders(h)
	if c.IP != "203.0.113.9" || len(c.UserAgent) > 512 || strings.ContainsRune(c.UserAgent, 0) || !strings.HasPrefix(c.UserAgent, "éé") {
		t.Fatalf("client %+v (%d bytes)", c.IP, len(c.UserAgent))
	}
	if got := audit.ClientFrom(audit.WithClient(context.Background(), c)); got != c {
		t.Fatalf("ClientFrom %+v", got)
	}
}

func pool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), pgtest.Migrated(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestRecordAndList(t *testing.T) {
	t.Parallel()
	db := pool(t)
	ctx := context.Background()
	admin, user, target := uuid.NewString(), uuid.NewString(), uuid.NewString()
	asAdmin := authn.WithPrincipal(ctx, &authn.Principal{UserID: admin, Role: authn.RoleAdmin, TenantID: schema.DefaultTenantID})
	asAdmin = audit.WithClient(asAdmin, audit.Client{IP: "203.0.113.7", UserAgent: "ua/1"})

	// A protobuf message: proto field names, only the changed fields kept,
	// sensitive ones masked.
	before := &authv1.User{Id: target, Email: "ana@example.com", FullName: "Ana", Role: authv1.Role_ROLE_USER, CreatedAt: timestamppb.Now()}
	after := &authv1.User{Id: target, Email: "ana@example.com", FullName: "Ana B", Role: authv1.Role_ROLE_USER, CreatedAt: before.CreatedAt}
	if err := audit.Record(asAdmin, db, audit.Entry{Action: "user.update", EntityType: "user", EntityID: target, Old: before, New: after}); err != nil {
		t.Fatal(err)
	}
	// The system (a service token) and an explicit actor.
	asSystem := authn.WithPrincipal(ctx, &authn.Principal{UserID: "service:payment", Role: authn.RoleService})
	if err := audit.Record(asSystem, db, audit.Entry{Action: "payment.refund", EntityType: "payment", EntityID: uuid.NewString(),
		New: map[string]any{"status": "refunded", "client_secret": "pi_secret"}}); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Record(ctx, tx, audit.Entry{Action: "auth.login", EntityType: "user", EntityID: user, UserID: user, TenantID: schema.DefaultTenantID,
		New: struct {
			Email    string `json:"email"`
			Password string `json:"password"`
		}{"bob@mail.test", "hunter22"}}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// Rolled back with its transaction.
	tx, _ = db.Begin(ctx)
	if err := audit.Record(ctx, tx, audit.Entry{Action: "auth.logout", UserID: user}); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback(ctx)

	// Bad entries never reach the database.
	for _, e := range []audit.Entry{{Action: ""}, {Action: "Event.Create"}, {Action: "x", EntityType: "Event"}, {Action: "x", EntityID: "42"},
		{Action: "x", New: map[string]any{"f": func() {}}}} {
		if err := audit.Record(ctx, db, e); err == nil {
			t.Errorf("entry %+v recorded", e)
		}
	}

	rows, total, err := audit.List(ctx, db, audit.Filter{TenantID: schema.DefaultTenantID})
	if err != nil || total != 3 || len(rows) != 3 {
		t.Fatalf("list: %d rows, total %d, %v", len(rows), total, err)
	}
	if rows[0].Action != "auth.login" || rows[1].Action != "payment.refund" || rows[2].Action != "user.update" {
		t.Fatalf("not newest first: %s %s %s", rows[0].Action, rows[1].Action, rows[2].Action)
	}
	upd := rows[2]
	if upd.UserID != admin || upd.TenantID != schema.DefaultTenantID || upd.IP != "203.0.113.7" || upd.UserAgent != "ua/1" || upd.EntityID != target {
		t.Fatalf("update entry %+v", upd)
	}
	if len(upd.Old) != 1 || upd.Old["full_name"] != "Ana" || len(upd.New) != 1 || upd.New["full_name"] != "Ana B" {
		t.Fatalf("diff old %v new %v", upd.Old, upd.New)
	}
	if r := rows[1]; r.UserID != "" || r.TenantID != "" || r.IP != "" || r.New["client_secret"] != audit.Masked || r.Old != nil {
		t.Fatalf("system entry %+v", r)
	}
	login := rows[0]
	if login.UserID != user || login.New["password"] != audit.Masked || login.New["email"] != "b…@m…" {
		t.Fatalf("login entry %+v", login)
	}
	raw, _ := json.Marshal(rows)
	for _, leak := range []string{"hunter22", "pi_secret", "bob@mail.test"} {
		if strings.Contains(string(raw), leak) {
			t.Fatalf("%q stored: %s", leak, raw)
		}
	}

	// Filters.
	check := func(f audit.Filter, want ...string) {
		t.Helper()
		rows, total, err := audit.List(ctx, db, f)
		if err != nil || total != len(want) && f.PerPage == 0 {
			t.Fatalf("filter %+v: total %d, %v", f, total, err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.Action)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("filter %+v: %v, want %v", f, got, want)
		}
	}
	check(audit.Filter{UserID: admin}, "user.update")
	check(audit.Filter{Action: "payment.refund"}, "payment.refund")
	check(audit.Filter{EntityType: "user"}, "auth.login", "user.update")
	check(audit.Filter{EntityType: "user", EntityID: target}, "user.update")
	check(audit.Filter{From: time.Now().Add(time.Hour)})
	check(audit.Filter{To: time.Now().Add(-time.Hour)})
	check(audit.Filter{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), EntityType: "payment"}, "payment.refund")
	check(audit.Filter{TenantID: uuid.NewString()}, "payment.refund") // another tenant sees only the tenant-less entries
	if rows, total, _ := audit.List(ctx, db, audit.Filter{Page: 2, PerPage: 2}); total != 3 || len(rows) != 1 || rows[0].Action != "user.update" {
		t.Fatalf("page 2: total %d, %v", total, rows)
	}
}

func TestPartitionsAhead(t *testing.T) {
	t.Parallel()
	db := pool(t)
	ctx := context.Background()
	next := "audit_logs_" + time.Now().UTC().AddDate(0, 1, 1-time.Now().UTC().Day()).Format("2006_01")
	exists := func() bool {
		var ok bool
		if err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, next).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !exists() {
		t.Fatalf("the migration did not create %s", next)
	}
	if _, err := db.Exec(ctx, `DROP TABLE `+next); err != nil {
		t.Fatal(err)
	}
	m := audit.NewMaintainer(db, zap.NewNop(), time.Hour)
	m.Start(ctx)
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !exists() {
		t.Fatalf("%s not created on start", next)
	}
	if n, err := audit.EnsurePartitions(ctx, db, audit.MonthsAhead); err != nil || n != 0 {
		t.Fatalf("second run created %d, %v", n, err)
	}
}
