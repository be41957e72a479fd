// Package money writes and reads the API's decimal amounts ("49.90") as
// minor units (cents), the way every service keeps them.
package money

import (
	"fmt"
	"strconv"
	"strings"
)

// Format writes minor units as a decimal string: 4990 -> "49.90". Every
// hold formats its amounts on the reserve path, so it appends digits
// instead of going through fmt (one allocation, no reflection).
func Format(cents int64) string {
	var b [24]byte
	out := b[:0]
	u := uint64(cents)
	if cents < 0 {
		out = append(out, '-')
		u = -u
	}
	out = strconv.AppendUint(out, u/100, 10)
	out = append(out, '.', byte('0'+u%100/10), byte('0'+u%10))
	return string(out)
}

// Parse reads a non-negative decimal string with at most two fraction
// digits ("49.9", "49.90", "49") as minor units.
func Parse(s string) (int64, error) {
	whole, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	if whole == "" || len(frac) > 2 || strings.TrimLeft(whole, "0123456789") != "" {
		// No sign: "-0.50" would read as 50 cents, "+5" as 5.
		return 0, fmt.Errorf("amount %q is not a decimal with at most 2 fraction digits", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w < 0 {
		return 0, fmt.Errorf("amount %q is not a decimal with at most 2 fraction digits", s)
	}
	frac += strings.Repeat("0", 2-len(frac))
	f, err := strconv.ParseUint(frac, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("amount %q is not a decimal with at most 2 fraction digits", s)
	}
	return w*100 + int64(f), nil
}
