package eticket_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/platform/eticket"
)

// TestReviewOneTicketOneSpelling: a code is 139 bytes in 223 base32
// characters, so its last character carries 3 bits that mean nothing. A
// code whose last character is changed must not verify: else every ticket
// has eight spellings (eight different QR codes) that all verify, and a
// door app that remembers the codes it admitted offline (the only thing it
// can compare without parsing) lets the same ticket in eight times.
func TestReviewOneTicketOneSpelling(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	now := time.Unix(1_800_000_000, 0)
	code := eticket.Sign(eticket.Ticket{KeyID: 1, ID: uuid.New(), EventID: uuid.New(), ShowID: uuid.New(), ZoneID: uuid.New(),
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}, priv)
	keys := eticket.Keys{1: pub}
	if _, err := eticket.Verify(code, keys, now); err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var accepted []string
	for _, c := range alphabet {
		other := code[:len(code)-1] + string(c)
		if other == code {
			continue
		}
		if _, err := eticket.Verify(other, keys, now); err == nil {
			accepted = append(accepted, other[len(other)-3:])
		}
	}
	if len(accepted) > 0 {
		t.Fatalf("%d other spellings of one code verify (code ends %q; accepted endings %q)", len(accepted), code[len(code)-3:], accepted)
	}
}
