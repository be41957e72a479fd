package booking

import (
	"fmt"
	"math"
	"testing"
)

// TestFormatCents: minor units as the decimal string every answer and
// event carries, the same as the fmt formatting it replaced.
func TestFormatCents(t *testing.T) {
	for _, c := range []int64{0, 1, 9, 10, 99, 100, 101, 4990, 123456789, -1, -99, -100, -4990, math.MaxInt64, math.MinInt64 + 1} {
		abs, sign := c, ""
		if c < 0 {
			abs, sign = -c, "-"
		}
		if got, want := formatCents(c), fmt.Sprintf("%s%d.%02d", sign, abs/100, abs%100); got != want {
			t.Errorf("formatCents(%d) = %q, want %q", c, got, want)
		}
	}
	if got := formatCents(math.MinInt64); got != "-92233720368547758.08" {
		t.Errorf("formatCents(MinInt64) = %q", got)
	}
}

func BenchmarkFormatCents(b *testing.B) {
	b.ReportAllocs()
	for i := range b.N {
		_ = formatCents(int64(i))
	}
}
