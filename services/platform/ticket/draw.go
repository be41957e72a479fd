package ticket

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
)

// Draw is the opening's shuffle of an event's pre-queue: a keyed
// pseudo-random permutation of the join numbers 1..n onto the sequences
// 1..n. The admitter draws the key (crypto/rand) once, when the sale opens,
// and stores it with n in the line's state; every component holding a
// pre-queue ticket computes its sequence from them, so the shuffle of a
// million buyers is one Redis write, not a million.
//
// The permutation is a balanced Feistel network on the smallest even number
// of bits that holds n (six rounds, each SHA-256 of the key, the round and
// the right half), walking the cycle until the value falls in 0..n-1 (fewer
// than four steps on average): a different, unpredictable order for every
// key, in which nobody's join order says anything of their place.
type Draw struct {
	key  [16]byte
	n    uint32
	half uint // bits in each half of the network's block
}

// NewDrawKey returns a fresh random draw key (hex).
func NewDrawKey() string {
	var k [16]byte
	_, _ = rand.Read(k[:])
	return hex.EncodeToString(k[:])
}

// NewDraw returns the permutation of 1..n under key (NewDrawKey's format).
func NewDraw(key string, n uint32) (*Draw, error) {
	b, err := hex.DecodeString(key)
	if err != nil || len(b) != 16 {
		return nil, errors.New("ticket: a draw key is 32 hex digits")
	}
	d := &Draw{n: n, half: 1}
	copy(d.key[:], b)
	for uint64(1)<<(2*d.half) < uint64(n) {
		d.half++
	}
	return d, nil
}

// Seq is the sequence the draw gives join number (1..n; anything else
// answers 0).
func (d *Draw) Seq(number uint32) uint32 {
	if number < 1 || number > d.n {
		return 0
	}
	x := uint64(number - 1)
	for {
		x = d.permute(x)
		if x < uint64(d.n) {
			return uint32(x) + 1
		}
	}
}

const rounds = 6

func (d *Draw) permute(x uint64) uint64 {
	mask := uint64(1)<<d.half - 1
	l, r := x>>d.half, x&mask
	var buf [16 + 1 + 8]byte
	copy(buf[:16], d.key[:])
	for round := range rounds {
		buf[16] = byte(round)
		binary.BigEndian.PutUint64(buf[17:], r)
		h := sha256.Sum256(buf[:])
		l, r = r, l^(binary.BigEndian.Uint64(h[:8])&mask)
	}
	return l<<d.half | r
}
