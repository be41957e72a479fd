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
