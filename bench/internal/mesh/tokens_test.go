package mesh_test

import (
	"testing"
	"time"

	"github.com/bookingrush/rush/bench/internal/mesh"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/config"
)

// The bench mints tokens itself; the services must accept them exactly as
// tokens from the auth service, so check them with authn's own verifier.
func TestMintedTokensVerifyWithAuthn(t *testing.T) {
	t.Parallel()
	secret := mesh.RandomSecret()
	keys, err := authn.NewKeys(authn.Config{Secret: config.Secret(secret), Issuer: mesh.Issuer, AccessTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	m := mesh.Minter{Secret: []byte(secret), Issuer: mesh.Issuer, TTL: time.Hour}
	now := time.Now()
	tok, err := m.Mint("11111111-2222-3333-4444-555555555555", authn.RoleOrganizer, now)
	if err != nil {
		t.Fatal(err)
	}
	p, err := keys.Verify(tok, now)
	if err != nil {
		t.Fatalf("authn rejects a minted token: %v", err)
	}
	if p.UserID != "11111111-2222-3333-4444-555555555555" || p.Role != authn.RoleOrganizer || p.TenantID != mesh.DefaultTenant {
		t.Errorf("principal %+v", p)
	}
	if _, err := keys.Verify(tok, now.Add(2*time.Hour)); err == nil {
		t.Error("an expired minted token verified")
	}
	other, err := authn.NewKeys(authn.Config{Secret: config.Secret(mesh.RandomSecret()), Issuer: mesh.Issuer, AccessTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Verify(tok, now); err == nil {
		t.Error("a token minted with another secret verified")
	}
	wrongIss := mesh.Minter{Secret: []byte(secret), Issuer: "someone-else", TTL: time.Hour}
	tok2, _ := wrongIss.Mint("u", authn.RoleUser, now)
	if _, err := keys.Verify(tok2, now); err == nil {
		t.Error("a token of another issuer verified")
	}
}
