// Command ticketverify checks e-ticket codes offline, with nothing but the
// event's public key: what a gate's scanner does without network.
//
//	ticketverify -key <base64 Ed25519 public key> [-show ID] CODE...
//	ticketverify -keys keys.json [-revoked revoked.json] [-show ID] CODE...
//	... | ticketverify -keys keys.json          (one code a line on stdin)
//
// keys.json is the answer of GET /api/v1/events/{id}/ticket-keys (the
// envelope or its data), revoked.json the one of GET
// /api/v1/shows/{id}/revoked-tickets; both may be fetched once, before the
// doors open. -key alone accepts the code whatever key id it names.
//
// A gate admits to one show: the revocation list's, or -show's (which must
// then be the list's). A code of another show of the event is refused as
// WRONG_SHOW, as the gate service refuses it: the list names only its own
// show's revoked tickets, so another show's revoked ticket would otherwise
// pass. With neither, a code of any show of the event is accepted.
//
// For each code it prints VALID with the ticket, WRONG_SHOW with the
// ticket's show, or INVALID with the reason; it exits 0 when every code is
// valid, 1 when one is not, 2 on a usage error.
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

	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/platform/eticket"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, time.Now())) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer, now time.Time) int {
	fs := flag.NewFlagSet("ticketverify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	key := fs.String("key", "", "the event's Ed25519 public key, base64 (any key id)")
	keysFile := fs.String("keys", "", "the saved answer of GET /api/v1/events/{id}/ticket-keys")
	revokedFile := fs.String("revoked", "", "the saved answer of GET /api/v1/shows/{id}/revoked-tickets (optional); codes of other shows are refused")
	showFlag := fs.String("show", "", "the show this gate admits to (optional; with -revoked, the list's show): codes of other shows are refused")
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
	var show uuid.UUID // the gate's show; uuid.Nil: any
	if *showFlag != "" {
		var err error
		if show, err = uuid.Parse(*showFlag); err != nil {
			fmt.Fprintln(stderr, "ticketverify: -show is not a show id (a UUID)")
			return 2
		}
	}
	revoked := map[string]bool{}
	if *revokedFile != "" {
		listShow, err := readRevoked(*revokedFile, revoked)
		if err != nil {
			fmt.Fprintln(stderr, "ticketverify:", err)
			return 2
		}
		if show != uuid.Nil && show != listShow {
			fmt.Fprintf(stderr, "ticketverify: %s is the revocation list of show %s, not of -show %s\n", *revokedFile, listShow, show)
			return 2
		}
		show = listShow
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
		if err == nil && show != uuid.Nil && t.ShowID != show {
			status = 1
			fmt.Fprintf(stdout, "WRONG_SHOW ticket %s is for show %s, not show %s\n", t.ID, t.ShowID, show)
			continue
		}
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

// readRevoked reads a show's revocation list into revoked and answers its
// show: a list without one cannot say which show's gate it is for.
func readRevoked(path string, revoked map[string]bool) (uuid.UUID, error) {
	var d struct {
		ShowID  string `json:"show_id"`
		Tickets []struct {
			TicketID string `json:"ticket_id"`
		} `json:"tickets"`
	}
	if err := data(path, &d); err != nil {
		return uuid.Nil, err
	}
	show, err := uuid.Parse(d.ShowID)
	if err != nil {
		return uuid.Nil, fmt.Errorf("%s: show_id %q is not a show id (save the whole answer of GET /api/v1/shows/{id}/revoked-tickets)", path, d.ShowID)
	}
	for _, t := range d.Tickets {
		revoked[t.TicketID] = true
	}
	return show, nil
}
