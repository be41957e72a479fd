// Package ticket is the waiting room's queue ticket: a buyer's place in an
// event's line (event, user, sequence number, issue time), signed by the
// mesh so that any component checks it without a round trip. The queue
// service issues it when a buyer joins; the edge authenticates the buyer's
// stream with it and tells the place it names from the event's cursor; the
// booking engine takes it as the queue pass once the cursor passed it.
//
// A ticket of the pre-queue (joined before the sale opened) carries its join
// number instead of a sequence: the opening draws a random permutation of
// the pre-queue (Draw), from which every component computes the sequence
// itself, so the shuffle costs no per-buyer work in Redis.
package ticket

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/platform/authn"
)

// Ticket is a buyer's place in one event's line.
type Ticket struct {
	// Event and User are UUIDs: the pass works for this user and this
	// event only.
	Event, User string
	// Epoch names the line (its Redis state): a line that was reset starts
	// a new epoch, and the tickets of the old one are void.
	Epoch uint64
	// Number is the ticket's sequence in the line (1, 2, ...); for a Pre
	// ticket, its join number in the pre-queue, which the opening's Draw
	// turns into a sequence.
	Number uint32
	// Pre is true for a ticket issued before the opening.
	Pre bool
	// IssuedAt is when the buyer joined (ms precision).
	IssuedAt time.Time
}

// Sequence is the ticket's place in the line: Number, or for a Pre ticket
// the place the opening drew (ok false before the opening: draw is nil).
func (t Ticket) Sequence(draw *Draw) (seq uint32, ok bool) {
	if !t.Pre {
		return t.Number, true
	}
	if draw == nil || t.Number < 1 || t.Number > draw.n {
		return 0, false
	}
	return draw.Seq(t.Number), true
}

const (
	version = 1
	flagPre = 1
	bodyLen = 1 + 1 + 16 + 16 + 8 + 4 + 8
	macLen  = 16
)

// ErrInvalid is any string that is not a ticket signed by this mesh.
var ErrInvalid = errors.New("not a valid queue ticket")

// Signer signs and verifies tickets with a key every process of the mesh
// derives from the JWT secret (authn.Keys.Derive), so a ticket never
// verifies as a login token, nor a login token as a ticket.
type Signer struct {
	macs sync.Pool // HMAC-SHA256 of the ticket key, reused (keying one costs two SHA-256 blocks)
}

// NewSigner returns the mesh's ticket signer.
func NewSigner(k *authn.Keys) *Signer {
	key := k.Derive("queue ticket v1")
	s := &Signer{}
	s.macs.New = func() any { return hmac.New(sha256.New, key) }
	return s
}

// Sign encodes t: 70 bytes, base64url (94 characters), HMAC-SHA256 cut to
// 128 bits.
func (s *Signer) Sign(t Ticket) (string, error) {
	ev, err := uuid.Parse(t.Event)
	if err != nil {
		return "", errors.New("ticket: event is not a UUID")
	}
	user, err := uuid.Parse(t.User)
	if err != nil {
		return "", errors.New("ticket: user is not a UUID")
	}
	b := make([]byte, bodyLen, bodyLen+32)
	b[0] = version
	if t.Pre {
		b[1] = flagPre
	}
	copy(b[2:18], ev[:])
	copy(b[18:34], user[:])
	binary.BigEndian.PutUint64(b[34:42], t.Epoch)
	binary.BigEndian.PutUint32(b[42:46], t.Number)
	binary.BigEndian.PutUint64(b[46:54], uint64(t.IssuedAt.UnixMilli()))
	var sum [sha256.Size]byte
	b = append(b, s.mac(b, &sum)[:macLen]...)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Verify decodes a ticket signed by this mesh.
func (s *Signer) Verify(token string) (Ticket, error) {
	if len(token) != base64.RawURLEncoding.EncodedLen(bodyLen+macLen) {
		return Ticket{}, ErrInvalid
	}
	// Strict: the last character's unused bits must be zero, so one
	// ticket has one spelling.
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || b[0] != version || b[1]&^flagPre != 0 {
		return Ticket{}, ErrInvalid
	}
	var sum [sha256.Size]byte
	if !hmac.Equal(s.mac(b[:bodyLen], &sum)[:macLen], b[bodyLen:]) {
		return Ticket{}, ErrInvalid
	}
	var ev, user uuid.UUID
	copy(ev[:], b[2:18])
	copy(user[:], b[18:34])
	return Ticket{
		Event: ev.String(), User: user.String(), Pre: b[1]&flagPre != 0,
		Epoch:    binary.BigEndian.Uint64(b[34:42]),
		Number:   binary.BigEndian.Uint32(b[42:46]),
		IssuedAt: time.UnixMilli(int64(binary.BigEndian.Uint64(b[46:54]))),
	}, nil
}

// mac writes body's HMAC into sum and returns it.
func (s *Signer) mac(body []byte, sum *[sha256.Size]byte) []byte {
	m := s.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(body)
	out := m.Sum(sum[:0])
	s.macs.Put(m)
	return out
}
