package authn_test

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/errs"
)

func keys(t *testing.T, secret string) *authn.Keys {
	t.Helper()
	k, err := authn.NewKeys(authn.Config{Secret: config.Secret(secret), Issuer: "test", AccessTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const secret = "0123456789abcdef0123456789abcdef"

func TestIssueVerify(t *testing.T) {
	k := keys(t, secret)
	now := time.Now()
	tok, exp, err := k.IssueAccess("u1", authn.RoleOrganizer, "t1", now)
	if err != nil || !exp.After(now) {
		t.Fatal(err)
	}
	for range 2 { // second time from the cache
		p, err := k.Verify(tok, now)
		if err != nil || p.UserID != "u1" || p.Role != authn.RoleOrganizer || p.TenantID != "t1" || p.Token != tok {
			t.Fatalf("verify: %+v %v", p, err)
		}
	}
	if _, err := k.Verify(tok, now.Add(2*time.Minute)); !errs.Is(err, errs.Unauthorized) {
		t.Fatalf("expired token accepted (cache must respect expiry): %v", err)
	}
	if _, err := keys(t, secret+"-other").Verify(tok, now); err == nil {
		t.Fatal("token verified with another key")
	}
}

func TestRejectsForeignAlgorithmsAndTypes(t *testing.T) {
	k := keys(t, secret)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"sub": "u1", "role": "admin", "typ": "access", "iss": "test", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if _, err := k.Verify(none, time.Now()); err == nil {
		t.Fatal("alg=none accepted")
	}
	pass, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "u1", "role": "user", "typ": "queue_pass", "iss": "test", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
	if _, err := k.Verify(pass, time.Now()); err == nil {
		t.Fatal("a token of another type was accepted as a login token")
	}
}

func TestRequire(t *testing.T) {
	ctx := context.Background()
	if _, err := authn.Require(ctx); !errs.Is(err, errs.Unauthorized) {
		t.Fatalf("anonymous: %v", err)
	}
	user := authn.WithPrincipal(ctx, &authn.Principal{UserID: "u", Role: authn.RoleUser})
	if _, err := authn.Require(user, authn.RoleOrganizer); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("user as organizer: %v", err)
	}
	admin := authn.WithPrincipal(ctx, &authn.Principal{UserID: "a", Role: authn.RoleAdmin})
	if _, err := authn.Require(admin, authn.RoleOrganizer); err != nil {
		t.Fatalf("admin refused: %v", err)
	}
}

func TestBearerToken(t *testing.T) {
	for h, want := range map[string]string{"Bearer abc": "abc", "bearer abc": "abc", "Basic abc": "", "Bearer ": "", "": ""} {
		got, ok := authn.BearerToken(h)
		if got != want || ok != (want != "") {
			t.Errorf("BearerToken(%q) = %q %v", h, got, ok)
		}
	}
}

// TestClaimsChecks: each claim Verify relies on is checked on a token it has
// never seen (no cache): a valid signature alone is not enough.
func TestClaimsChecks(t *testing.T) {
	now := time.Now()
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "u1", "role": "user", "typ": "access", "iss": "test", "exp": now.Add(time.Minute).Unix()}
	}
	cases := map[string]struct {
		edit   func(jwt.MapClaims)
		method jwt.SigningMethod
		ok     bool
	}{
		"valid":                   {edit: func(jwt.MapClaims) {}, ok: true},
		"expired within leeway":   {edit: func(c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Second).Unix() }, ok: true},
		"expired beyond leeway":   {edit: func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() }},
		"no expiry":               {edit: func(c jwt.MapClaims) { delete(c, "exp") }},
		"expiry not a number":     {edit: func(c jwt.MapClaims) { c["exp"] = "tomorrow" }},
		"another issuer":          {edit: func(c jwt.MapClaims) { c["iss"] = "someone-else" }},
		"no issuer":               {edit: func(c jwt.MapClaims) { delete(c, "iss") }},
		"no subject":              {edit: func(c jwt.MapClaims) { delete(c, "sub") }},
		"not yet valid":           {edit: func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }},
		"refresh type":            {edit: func(c jwt.MapClaims) { c["typ"] = "refresh" }},
		"HS512 with the same key": {edit: func(jwt.MapClaims) {}, method: jwt.SigningMethodHS512},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := valid()
			tc.edit(c)
			m := tc.method
			if m == nil {
				m = jwt.SigningMethodHS256
			}
			tok, err := jwt.NewWithClaims(m, c).SignedString([]byte(secret))
			if err != nil {
				t.Fatal(err)
			}
			p, err := keys(t, secret).Verify(tok, now)
			if tc.ok != (err == nil) {
				t.Fatalf("Verify = %+v, %v; want ok=%v", p, err, tc.ok)
			}
			if tc.ok && (p.UserID != "u1" || p.Role != "user") {
				t.Fatalf("principal %+v", p)
			}
		})
	}
}

// TestServiceAccountKeys: a key verifies as its account (role, stable id,
// scope) and only against its own hash; entries that would give a key the
// mesh's service role, or no real hash, are refused.
func TestServiceAccountKeys(t *testing.T) {
	key, hash, err := authn.NewServiceAccountKey("reports")
	if err != nil {
		t.Fatal(err)
	}
	k, err := authn.NewKeys(authn.Config{Secret: secret, Issuer: "test", AccessTTL: time.Minute,
		ServiceAccounts: config.StringSlice{"reports:organizer:" + hash + ":analytics"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.Verify(key, time.Now())
	if err != nil || p.Role != authn.RoleOrganizer || p.ServiceAccount != "reports" || p.UserID == "" || p.Token != key {
		t.Fatalf("verify the key: %+v %v", p, err)
	}
	other, _, _ := authn.NewServiceAccountKey("reports") // same name, another secret
	for _, bad := range []string{other, key + "0", authn.KeyPrefix + "reports", authn.KeyPrefix + "nobody_00"} {
		if _, err := k.Verify(bad, time.Now()); !errs.Is(err, errs.Unauthorized) {
			t.Errorf("key %q: %v, want unauthorized", bad, err)
		}
	}
	for _, entry := range []string{"reports:service:" + hash, "reports:organizer:beef", "Reports:user:" + hash, "reports:user"} {
		if _, err := authn.ParseServiceAccount(entry); err == nil {
			t.Errorf("entry %q accepted", entry)
		}
	}
	_, otherHash, _ := authn.NewServiceAccountKey("reports")
	for _, entries := range [][]string{
		{"reports:user:" + hash, "reports:admin:" + otherHash},               // another role
		{"reports:user:" + hash + ":analytics", "reports:user:" + otherHash}, // another scope
		{"reports:user:" + hash, "reports:user:" + hash},                     // the same key
	} {
		if err := (&authn.Config{Secret: secret, AccessTTL: time.Minute, RevocationPrefix: "a:", RevocationPoll: time.Second, RevocationMaxStale: 5 * time.Second,
			ServiceAccounts: entries}).Validate(); err == nil {
			t.Errorf("entries %q accepted", entries)
		}
	}
}

// TestServiceAccountRotation: two entries of one account, one per key (a
// rotation), make both keys act as the same account, whatever the order of
// its services.
func TestServiceAccountRotation(t *testing.T) {
	oldKey, oldHash, _ := authn.NewServiceAccountKey("reports")
	newKey, newHash, _ := authn.NewServiceAccountKey("reports")
	cfg := authn.Config{Secret: secret, Issuer: "test", AccessTTL: time.Minute, RevocationPrefix: "a:", RevocationPoll: time.Second, RevocationMaxStale: 5 * time.Second,
		ServiceAccounts: config.StringSlice{"reports:organizer:" + oldHash + ":analytics+catalog", "reports:organizer:" + newHash + ":catalog+analytics"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	k, err := authn.NewKeys(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, key := range []string{oldKey, newKey} {
		p, err := k.Verify(key, time.Now())
		if err != nil || p.ServiceAccount != "reports" || p.Role != authn.RoleOrganizer {
			t.Fatalf("key %.20s...: %+v %v", key, p, err)
		}
		ids = append(ids, p.UserID)
	}
	if ids[0] != ids[1] {
		t.Errorf("the keys act as %v, want one account", ids)
	}
	if n := len(k.ServiceAccounts()); n != 1 {
		t.Errorf("%d accounts, want 1", n)
	}
}
