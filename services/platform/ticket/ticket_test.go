package ticket_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/ticket"
)

func signer(t *testing.T, secret string) (*ticket.Signer, *authn.Keys) {
	t.Helper()
	k, err := authn.NewKeys(authn.Config{Secret: config.Secret(secret), Issuer: "test", AccessTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return ticket.NewSigner(k), k
}

const secret = "0123456789abcdef0123456789abcdef"

func TestSignVerify(t *testing.T) {
	t.Parallel()
	s, keys := signer(t, secret)
	in := ticket.Ticket{Event: uuid.NewString(), User: uuid.NewString(), Epoch: 1<<63 + 12345, Number: 4_000_000_001, Pre: true,
		IssuedAt: time.UnixMilli(time.Now().UnixMilli())}
	tok, err := s.Sign(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 94 {
		t.Errorf("ticket of %d characters, want 94: %s", len(tok), tok)
	}
	out, err := s.Verify(tok)
	if err != nil || out != in {
		t.Fatalf("verify: %+v %v, want %+v", out, err, in)
	}
	// Every changed character is refused (the signature covers all).
	for i := range tok {
		b := []byte(tok)
		b[i] = map[bool]byte{true: 'A', false: 'B'}[b[i] != 'A']
		if _, err := s.Verify(string(b)); err == nil {
			t.Fatalf("ticket with character %d changed verified", i)
		}
	}
	other, _ := signer(t, secret+"-other")
	if _, err := other.Verify(tok); err == nil {
		t.Fatal("a ticket verified with another mesh's secret")
	}
	// A ticket is no login token, and a login token no ticket.
	if _, err := keys.Verify(tok, time.Now()); err == nil {
		t.Fatal("a ticket verified as a bearer token")
	}
	jwt, _, _ := keys.IssueAccess(in.User, authn.RoleUser, "", time.Now())
	for _, bad := range []string{"", jwt, tok[:93], tok + "A", "not a ticket"} {
		if _, err := s.Verify(bad); err == nil {
			t.Fatalf("%q verified as a ticket", bad)
		}
	}
	if _, err := s.Sign(ticket.Ticket{Event: "e", User: in.User}); err == nil {
		t.Fatal("a ticket for an event id that is not a UUID")
	}
}

// TestDrawIsAPermutation: every join number gets its own sequence in
// 1..n, and the order has nothing to do with the join order.
func TestDrawIsAPermutation(t *testing.T) {
	t.Parallel()
	for _, n := range []uint32{1, 2, 3, 7, 64, 65, 1000, 4097} {
		d, err := ticket.NewDraw(ticket.NewDrawKey(), n)
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]bool, n+1)
		for i := uint32(1); i <= n; i++ {
			s := d.Seq(i)
			if s < 1 || s > n || seen[s] {
				t.Fatalf("n=%d: join %d drawn to %d (out of range or taken)", n, i, s)
			}
			seen[s] = true
		}
		if d.Seq(0) != 0 || d.Seq(n+1) != 0 {
			t.Fatalf("n=%d: numbers outside 1..n drawn", n)
		}
	}
	// Over many draws, the first joiner lands anywhere: each quarter of
	// the line gets about a quarter of the draws.
	const n, draws = 1000, 4000
	var quarter [4]int
	concordant := 0
	for range draws {
		d, _ := ticket.NewDraw(ticket.NewDrawKey(), n)
		quarter[(d.Seq(1)-1)*4/n]++
		if d.Seq(1) < d.Seq(2) {
			concordant++
		}
	}
	for q, c := range quarter {
		if c < draws/4*8/10 || c > draws/4*12/10 {
			t.Errorf("the first joiner drawn into quarter %d %d times of %d: %v", q, c, draws, quarter)
		}
	}
	if concordant < draws*45/100 || concordant > draws*55/100 {
		t.Errorf("join 1 before join 2 in %d of %d draws: the join order shows through", concordant, draws)
	}
	if _, err := ticket.NewDraw("abc", 3); err == nil {
		t.Fatal("a malformed draw key accepted")
	}
}
