package eticket_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/platform/eticket"
)

func TestSignVerify(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	now := time.Unix(1_800_000_000, 0)
	tk := eticket.Ticket{KeyID: 3, ID: uuid.New(), EventID: uuid.New(), ShowID: uuid.New(), ZoneID: uuid.New(),
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	code := eticket.Sign(tk, priv)
	if !strings.HasPrefix(code, eticket.Prefix) || len(code) != 228 || strings.ToUpper(code) != code {
		t.Fatalf("code %q (%d chars): want BRT1: and 223 upper-case base32 characters", code, len(code))
	}
	got, err := eticket.Verify(code, eticket.Keys{3: pub}, now)
	if err != nil || got.ID != tk.ID || got.EventID != tk.EventID || got.ShowID != tk.ShowID || got.ZoneID != tk.ZoneID ||
		!got.NotAfter.Equal(tk.NotAfter) || got.KeyID != 3 {
		t.Fatalf("verify: %+v %v", got, err)
	}
	// The last character carries 3 bits the 139 bytes do not use: a code
	// is only its canonical spelling, or one ticket would have eight codes
	// (eight QR codes) that verify, and a door that remembers the codes it
	// admitted offline would let it in eight times.
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" {
		if alt := code[:len(code)-1] + string(c); alt != code {
			if _, err := eticket.Verify(alt, eticket.Keys{3: pub}, now); err == nil {
				t.Fatalf("another spelling of the code verifies (last character %q for %q)", c, code[len(code)-1:])
			}
		}
	}
	other, _, _ := ed25519.GenerateKey(nil)
	// One changed character anywhere breaks it.
	tampered := []byte(code)
	if tampered[40] == 'A' {
		tampered[40] = 'B'
	} else {
		tampered[40] = 'A'
	}
	for name, c := range map[string]struct {
		code string
		keys eticket.Keys
		at   time.Time
		want error
	}{
		"tampered":      {string(tampered), eticket.Keys{3: pub}, now, eticket.ErrBadSignature},
		"other key":     {code, eticket.Keys{3: other}, now, eticket.ErrBadSignature},
		"unknown key":   {code, eticket.Keys{4: pub}, now, eticket.ErrUnknownKey},
		"expired":       {code, eticket.Keys{3: pub}, now.Add(2 * time.Hour), eticket.ErrExpired},
		"not yet valid": {code, eticket.Keys{3: pub}, now.Add(-2 * time.Hour), eticket.ErrNotYetValid},
		"garbage":       {"BRT1:HELLO", eticket.Keys{3: pub}, now, eticket.ErrMalformed},
		"no prefix":     {code[5:], eticket.Keys{3: pub}, now, eticket.ErrMalformed},
	} {
		if _, err := eticket.Verify(c.code, c.keys, c.at); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	png, err := eticket.QR(code, 256)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("QR: %d bytes, %v", len(png), err)
	}
}
