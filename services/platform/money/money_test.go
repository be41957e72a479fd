package money_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/bookingrush/rush/services/platform/money"
)

// TestFormat: minor units as the decimal string every answer and event
// carries, the same as the fmt formatting it replaced.
func TestFormat(t *testing.T) {
	for _, c := range []int64{0, 1, 9, 10, 99, 100, 101, 4990, 123456789, -1, -99, -100, -4990, math.MaxInt64, math.MinInt64 + 1} {
		abs, sign := c, ""
		if c < 0 {
			abs, sign = -c, "-"
		}
		if got, want := money.Format(c), fmt.Sprintf("%s%d.%02d", sign, abs/100, abs%100); got != want {
			t.Errorf("Format(%d) = %q, want %q", c, got, want)
		}
	}
	if got := money.Format(math.MinInt64); got != "-92233720368547758.08" {
		t.Errorf("Format(MinInt64) = %q", got)
	}
}

// TestParse: what Format writes reads back; anything else is refused.
func TestParse(t *testing.T) {
	for s, want := range map[string]int64{"49.90": 4990, "49.9": 4990, "49": 4900, " 0.01 ": 1, "0": 0} {
		if got, err := money.Parse(s); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, c := range []int64{0, 1, 99, 4990, 123456789} {
		if got, err := money.Parse(money.Format(c)); err != nil || got != c {
			t.Errorf("Parse(Format(%d)) = %d, %v", c, got, err)
		}
	}
	for _, s := range []string{"", ".5", "-1.00", "-0.50", "+5", "+0.50", "1.001", "1.-1", "1.+1", "abc", "1e3", "1_000"} {
		if _, err := money.Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func BenchmarkFormat(b *testing.B) {
	b.ReportAllocs()
	for i := range b.N {
		_ = money.Format(int64(i))
	}
}
