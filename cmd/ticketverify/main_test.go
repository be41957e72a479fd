package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/platform/eticket"
)

func TestVerifyOffline(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	now := time.Now()
	tk := eticket.Ticket{KeyID: 2, ID: uuid.New(), EventID: uuid.New(), ShowID: uuid.New(), ZoneID: uuid.New(),
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	code := eticket.Sign(tk, priv)
	other := tk
	other.ID = uuid.New()
	revokedCode := eticket.Sign(other, priv)
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.json")
	if err := os.WriteFile(keys, []byte(`{"success":true,"data":{"event_id":"x","keys":[{"key_id":2,"algorithm":"Ed25519","public_key":"`+
		base64.StdEncoding.EncodeToString(pub)+`","active":true}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	revoked := filepath.Join(dir, "revoked.json")
	if err := os.WriteFile(revoked, []byte(`{"show_id":"x","tickets":[{"ticket_id":"`+other.ID.String()+`"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}

	for name, c := range map[string]struct {
		args   []string
		stdin  string
		status int
		want   []string
	}{
		"one key":          {[]string{"-key", base64.StdEncoding.EncodeToString(pub), code}, "", 0, []string{"VALID ticket " + tk.ID.String()}},
		"published keys":   {[]string{"-keys", keys, code}, "", 0, []string{"VALID ticket " + tk.ID.String() + " event " + tk.EventID.String()}},
		"stdin":            {[]string{"-keys", keys}, code + "\n\n" + code + "\n", 0, []string{"VALID", "VALID"}},
		"revoked":          {[]string{"-keys", keys, "-revoked", revoked, code, revokedCode}, "", 1, []string{"VALID", "INVALID revoked"}},
		"tampered":         {[]string{"-keys", keys, code[:40] + flip(code[40]) + code[41:]}, "", 1, []string{"INVALID signature does not verify"}},
		"another key":      {[]string{"-key", base64.StdEncoding.EncodeToString(make([]byte, 32)), code}, "", 1, []string{"INVALID"}},
		"no key":           {[]string{code}, "", 2, nil},
		"not a ticket":     {[]string{"-keys", keys, "hello"}, "", 1, []string{"INVALID not a ticket code"}},
		"bad key argument": {[]string{"-key", "abc", code}, "", 2, nil},
	} {
		var out, errOut bytes.Buffer
		status := run(c.args, strings.NewReader(c.stdin), &out, &errOut, now)
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if status != c.status || (c.want != nil && len(lines) != len(c.want)) {
			t.Errorf("%s: status %d, output %q %q", name, status, out.String(), errOut.String())
			continue
		}
		for i, w := range c.want {
			if !strings.HasPrefix(lines[i], w) {
				t.Errorf("%s: line %d %q, want %q...", name, i, lines[i], w)
			}
		}
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}
