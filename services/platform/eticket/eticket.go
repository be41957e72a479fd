// Package eticket is the e-ticket a gate scans: a compact payload (ticket,
// event, show, zone, validity, signing key) signed with the event's
// Ed25519 key, written as text that a QR code holds in its dense
// alphanumeric mode. Anyone with the event's public key verifies a code
// offline (cmd/ticketverify, a gate's scanner); only the gate service,
// which keeps the private keys, issues them.
//
// Not to be confused with services/platform/ticket, the waiting room's
// queue tickets (HMAC, mesh-internal).
//
// A code is "BRT1:" followed by the base32 (RFC 4648, no padding) of
//
//	version (1 byte, 1) | key id (2) | ticket id (16) | event id (16) | show id (16) |
//	zone id (16) | not before (4, unix seconds) | not after (4) | Ed25519 signature (64)
//
// where the signature covers every byte before it. 139 bytes, 228
// characters: a version 10 QR code at error correction level M.
package eticket

import (
	"crypto/ed25519"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	qrcode "github.com/skip2/go-qrcode"
)

// Prefix starts every code (the format's version is in the payload too).
const Prefix = "BRT1:"

const (
	version    = 1
	payloadLen = 1 + 2 + 4*16 + 4 + 4
	codeLen    = payloadLen + ed25519.SignatureSize
)

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// Ticket is what a code says.
type Ticket struct {
	// KeyID names the event's key that signed it (GET /api/v1/events/{id}/ticket-keys).
	KeyID                       uint16
	ID, EventID, ShowID, ZoneID uuid.UUID
	NotBefore, NotAfter         time.Time
}

// Why a code does not verify.
var (
	ErrMalformed    = errors.New("eticket: not a ticket code")
	ErrUnknownKey   = errors.New("eticket: signed by a key not published for the event")
	ErrBadSignature = errors.New("eticket: signature does not verify")
	ErrNotYetValid  = errors.New("eticket: not valid yet")
	ErrExpired      = errors.New("eticket: no longer valid")
)

// Sign writes t as a code signed with key (the event's key t.KeyID).
func Sign(t Ticket, key ed25519.PrivateKey) string {
	b := make([]byte, payloadLen, codeLen)
	b[0] = version
	binary.BigEndian.PutUint16(b[1:3], t.KeyID)
	copy(b[3:19], t.ID[:])
	copy(b[19:35], t.EventID[:])
	copy(b[35:51], t.ShowID[:])
	copy(b[51:67], t.ZoneID[:])
	binary.BigEndian.PutUint32(b[67:71], uint32(t.NotBefore.Unix()))
	binary.BigEndian.PutUint32(b[71:75], uint32(t.NotAfter.Unix()))
	b = append(b, ed25519.Sign(key, b)...)
	return Prefix + enc.EncodeToString(b)
}

// Parse reads a code without checking its signature (Verify does).
func Parse(code string) (Ticket, error) {
	t, _, err := parse(code)
	return t, err
}

func parse(code string) (Ticket, []byte, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(code), Prefix)
	if !ok {
		return Ticket{}, nil, ErrMalformed
	}
	b, err := enc.DecodeString(rest)
	// The last character carries bits the payload does not use: a code
	// is only its canonical spelling, so one ticket has one code.
	if err != nil || len(b) != codeLen || b[0] != version || enc.EncodeToString(b) != rest {
		return Ticket{}, nil, ErrMalformed
	}
	var t Ticket
	t.KeyID = binary.BigEndian.Uint16(b[1:3])
	copy(t.ID[:], b[3:19])
	copy(t.EventID[:], b[19:35])
	copy(t.ShowID[:], b[35:51])
	copy(t.ZoneID[:], b[51:67])
	t.NotBefore = time.Unix(int64(binary.BigEndian.Uint32(b[67:71])), 0).UTC()
	t.NotAfter = time.Unix(int64(binary.BigEndian.Uint32(b[71:75])), 0).UTC()
	return t, b, nil
}

// Keys are an event's published public keys, by key id.
type Keys map[uint16]ed25519.PublicKey

// Verify checks code against keys (the public keys of the code's event:
// a code of another event fails with ErrUnknownKey unless its keys are
// given) and its validity at now. It needs no network: this is what a gate
// runs offline.
func Verify(code string, keys Keys, now time.Time) (Ticket, error) {
	t, b, err := parse(code)
	if err != nil {
		return Ticket{}, err
	}
	pub, ok := keys[t.KeyID]
	if !ok || len(pub) != ed25519.PublicKeySize {
		return t, ErrUnknownKey
	}
	if !ed25519.Verify(pub, b[:payloadLen], b[payloadLen:]) {
		return t, ErrBadSignature
	}
	if now.Before(t.NotBefore) {
		return t, ErrNotYetValid
	}
	if !now.Before(t.NotAfter) {
		return t, ErrExpired
	}
	return t, nil
}

// QR renders code as a PNG QR code of size x size pixels (level M).
func QR(code string, size int) ([]byte, error) {
	q, err := qrcode.New(code, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("eticket: QR code: %w", err)
	}
	return q.PNG(size)
}
