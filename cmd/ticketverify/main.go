// Command ticketverify checks e-ticket codes offline, with nothing but the
// event's public key: what a gate's scanner does without network.
//
//	ticketverify -key <base64 Ed25519 public key> CODE...
//	ticketverify -keys keys.json [-revoked revoked.json] CODE...
//	... | ticketverify -keys keys.json          (one code a line on stdin)
//
// keys.json is the answer of GET /api/v1/events/{id}/ticket-keys (the
// envelope or its data), revoked.json the one of GET
// /api/v1/shows/{id}/revoked-tickets; both may be fetched once, before the
// doors open. -key alone accepts the code whatever key id it names.
//
// For each code it prints VALID with the ticket, or INVALID with the
// reason; it exits 0 when every code is valid, 1 when one is not, 2 on a
// usage error.
package main

import (
	"bufio"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/bookingrush/rush/services/platform/eticket"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, time.Now())) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer, now time.Time) int {
	fs := flag.NewFlagSet("ticketverify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	key := fs.String("key", "", "the event's Ed25519 public key, base64 (any key id)")
	keysFile := fs.String("keys", "", "the saved answer of GET /api/v1/events/{id}/ticket-keys")
	revokedFile := fs.String("revoked", "", "the saved answer of GET /api/v1/shows/{id}/revoked-tickets (optional)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if (*key == "") == (*keysFile == "") {
		fmt.Fprintln(stderr, "ticketverify: give exactly one of -key and -keys")
		return 2
	}
	var single ed25519.PublicKey
	keys := eticket.Keys{}
	if *key != "" {
		b, err := base64.StdEncoding.DecodeString(*key)
		if err != nil || len(b) != ed25519.PublicKeySize {
			fmt.Fprintln(stderr, "ticketverify: -key is not a base64 Ed25519 public key (32 bytes)")
			return 2
		}
		single = b
	} else if err := readKeys(*keysFile, keys); err != nil {
		fmt.Fprintln(stderr, "ticketverify:", err)
		return 2
	}
	revoked := map[string]bool{}
	if *revokedFile != "" {
		if err := readRevoked(*revokedFile, revoked); err != nil {
			fmt.Fprintln(stderr, "ticketverify:", err)
			return 2
		}
	}
	codes := fs.Args()
	if len(codes) == 0 {
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			if c := strings.TrimSpace(sc.Text()); c != "" {
				codes = append(codes, c)
			}
		}
	}
	if len(codes) == 0 {
		fmt.Fprintln(stderr, "ticketverify: no code to check")
		return 2
	}
	status := 0
	for _, code := range codes {
		ks := keys
		if single != nil {
			if t, err := eticket.Parse(code); err == nil {
				ks = eticket.Keys{t.KeyID: single}
			}
		}
		t, err := eticket.Verify(code, ks, now)
		if err == nil && revoked[t.ID.String()] {
			err = errors.New("revoked (the booking was cancelled or refunded)")
		}
		if err != nil {
			status = 1
			fmt.Fprintf(stdout, "INVALID %s\n", strings.TrimPrefix(err.Error(), "eticket: "))
			continue
		}
		fmt.Fprintf(stdout, "VALID ticket %s event %s show %s zone %s valid until %s (key %d)\n",
			t.ID, t.EventID, t.ShowID, t.ZoneID, t.NotAfter.Format(time.RFC3339), t.KeyID)
	}
	return status
}

// data reads a saved API answer: the envelope's data, or the data itself.
func data(path string, into any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(raw, &env) == nil && len(env.Data) > 0 {
		raw = env.Data
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func readKeys(path string, keys eticket.Keys) error {
	var d struct {
		Keys []struct {
			KeyID     uint16 `json:"key_id"`
			Algorithm string `json:"algorithm"`
			PublicKey []byte `json:"public_key"` // base64, as protojson writes bytes
		} `json:"keys"`
	}
	if err := data(path, &d); err != nil {
		return err
	}
	for _, k := range d.Keys {
		if k.Algorithm != "Ed25519" || len(k.PublicKey) != ed25519.PublicKeySize {
			return fmt.Errorf("%s: key %d is not an Ed25519 public key", path, k.KeyID)
		}
		keys[k.KeyID] = k.PublicKey
	}
	if len(keys) == 0 {
		return fmt.Errorf("%s: no keys", path)
	}
	return nil
}

func readRevoked(path string, revoked map[string]bool) error {
	var d struct {
		Tickets []struct {
			TicketID string `json:"ticket_id"`
		} `json:"tickets"`
	}
	if err := data(path, &d); err != nil {
		return err
	}
	for _, t := range d.Tickets {
		revoked[t.TicketID] = true
	}
	return nil
}
