// Package bookingref names a booking for humans: the reference printed in
// e-mails, shown by the API and the web app, and read out at a counter.
package bookingref

import (
	"strconv"
	"strings"
)

// alphabet is Crockford's base32: no I, L, O or U, so a reference read
// aloud or typed from paper is not mistaken.
const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Of is the reference of the booking with id bookingID: "BR-" and 60 random
// bits of the id (the last 15 hex digits, the rand_b bits of a UUIDv7) in
// base32, grouped by four: "BR-7KQD-M2XH-9TFA". Postgres computes the same
// (booking_reference(id); the bits are unique among bookings, by the index
// bookings_reference_key), so the API, the mails and the database agree
// without storing it anywhere. An id that is not a UUID has no reference ("").
func Of(bookingID string) string {
	hex := strings.ReplaceAll(bookingID, "-", "")
	if len(hex) != 32 {
		return ""
	}
	bits, err := strconv.ParseUint(hex[17:], 16, 64)
	if err != nil {
		return ""
	}
	var b strings.Builder
	b.Grow(17)
	b.WriteString("BR-")
	for i := 11; i >= 0; i-- {
		b.WriteByte(alphabet[(bits>>(uint(i)*5))&31])
		if i == 8 || i == 4 {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// Parse reads a reference back into the bits it encodes, as Postgres's
// booking_reference_parse does: any case, dashes anywhere ("br7kqdm2xh9tfa"
// is "BR-7KQD-M2XH-9TFA"). ok is false when ref is not a reference (another
// prefix or length, a letter outside the alphabet such as I, L, O or U).
// The bits find the booking through the index on booking_reference_bits(id).
func Parse(ref string) (bits int64, ok bool) {
	s := strings.ToUpper(strings.ReplaceAll(ref, "-", ""))
	if len(s) != 14 || !strings.HasPrefix(s, "BR") {
		return 0, false
	}
	for i := 2; i < len(s); i++ {
		d := strings.IndexByte(alphabet, s[i])
		if d < 0 {
			return 0, false
		}
		bits = bits<<5 | int64(d)
	}
	return bits, true
}
