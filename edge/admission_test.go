package edge

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestAdmissionLimitAdapts: answers faster than the target grow a limit in
// use by about one per limit's worth; a slow answer shrinks it by a tenth,
// once per target interval; beyond the limit a request is shed.
func TestAdmissionLimitAdapts(t *testing.T) {
	t.Parallel()
	cfg := AdmissionConfig{Enabled: true, Initial: 10, Min: 4, Max: 12, Target: 50 * time.Millisecond, RetryAfter: time.Second}
	a, err := newAdmission(cfg, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for range 10 {
		if !a.acquire() {
			t.Fatal("shed below the limit")
		}
	}
	if a.acquire() {
		t.Fatal("admitted beyond the limit")
	}
	// Ten fast answers of a full limit: +1/limit each, about +1 in all.
	for range 10 {
		a.release(time.Millisecond, now)
		a.acquire()
	}
	if l := a.current(); l < 10.9 || l > 11.1 {
		t.Fatalf("limit after fast answers at full use: %.2f, want about 11", l)
	}
	// A burst of slow answers shrinks it once per target interval.
	for range 5 {
		a.release(time.Second, now.Add(time.Second))
	}
	if l := a.current(); l < 9.8 || l > 10 {
		t.Fatalf("limit after one slow burst: %.2f, want about 9.9 (one shrink)", l)
	}
	for i := range 40 {
		a.release(time.Second, now.Add(2*time.Second+time.Duration(i)*cfg.Target))
		a.acquire()
	}
	if l := a.current(); l != float64(cfg.Min) {
		t.Fatalf("limit after sustained slowness: %.2f, want the minimum %d", l, cfg.Min)
	}
	// Fast answers of a limit nobody uses do not grow it.
	for a.inflight > 0 {
		a.release(time.Millisecond, now.Add(time.Hour))
	}
	for range 50 {
		a.acquire()
		a.release(time.Millisecond, now.Add(time.Hour))
	}
	if l := a.current(); l > float64(cfg.Min)+0.5 {
		t.Fatalf("an idle limit grew to %.2f", l)
	}
}
