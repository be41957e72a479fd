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
	// A ticket of the event's other show: tk's is Saturday, this Monday.
	monday := tk
	monday.ID, monday.ShowID = uuid.New(), uuid.New()
	mondayCode := eticket.Sign(monday, priv)
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.json")
	if err := os.WriteFile(keys, []byte(`{"success":true,"data":{"event_id":"x","keys":[{"key_id":2,"algorithm":"Ed25519","public_key":"`+
		base64.StdEncoding.EncodeToString(pub)+`","active":true}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// list writes a show's revocation list, as GET /shows/{id}/revoked-tickets answers it.
	list := func(name, show string, tickets ...uuid.UUID) string {
		entries := make([]string, len(tickets))
		for i, id := range tickets {
			entries[i] = `{"ticket_id":"` + id.String() + `"}`
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(`{"show_id":"`+show+`","tickets":[`+strings.Join(entries, ",")+`]}`), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	revoked := list("revoked.json", tk.ShowID.String(), other.ID)
	mondayList := list("monday.json", monday.ShowID.String(), uuid.New())
	wrongShow := "WRONG_SHOW ticket " + tk.ID.String() + " is for show " + tk.ShowID.String() + ", not show " + monday.ShowID.String()

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

		// A gate admits to one show: Saturday's codes at Monday's, the
		// revoked one too (Monday's list cannot know it), are refused.
		"another show's list": {[]string{"-keys", keys, "-revoked", mondayList, code, revokedCode, mondayCode}, "", 1,
			[]string{wrongShow, "WRONG_SHOW ticket " + other.ID.String(), "VALID ticket " + monday.ID.String()}},
		"a show, no list": {[]string{"-key", base64.StdEncoding.EncodeToString(pub), "-show", monday.ShowID.String(), mondayCode, code}, "", 1,
			[]string{"VALID ticket " + monday.ID.String(), wrongShow}},
		"the list's show":     {[]string{"-keys", keys, "-revoked", revoked, "-show", strings.ToUpper(tk.ShowID.String()), code}, "", 0, []string{"VALID"}},
		"another list's show": {[]string{"-keys", keys, "-revoked", revoked, "-show", monday.ShowID.String(), code}, "", 2, nil},
		"a list without show": {[]string{"-keys", keys, "-revoked", list("no-show.json", "", other.ID), code}, "", 2, nil},
		"bad show argument":   {[]string{"-keys", keys, "-show", "saturday", code}, "", 2, nil},
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
