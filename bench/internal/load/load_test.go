package load_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookingrush/rush/bench/internal/load"
)

func TestHistogramPercentiles(t *testing.T) {
	t.Parallel()
	a := load.NewHistogram()
	for i := 1; i <= 1000; i++ {
		a.Record(time.Duration(i) * time.Millisecond)
	}
	if a.Count() != 1000 {
		t.Fatalf("count %d, want 1000", a.Count())
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 500 * time.Millisecond}, {90, 900 * time.Millisecond}, {99, 990 * time.Millisecond}, {100, time.Second}} {
		got := a.Percentile(c.p)
		if diff := got - c.want; diff < -c.want/1000 || diff > c.want/1000 {
			t.Errorf("p%v = %v, want %v within 0.1%%", c.p, got, c.want)
		}
	}
	if m := a.Max(); m < 999*time.Millisecond || m > 1001*time.Millisecond {
		t.Errorf("max %v, want 1s", m)
	}
	if m := a.Mean(); m < 499*time.Millisecond || m > 502*time.Millisecond {
		t.Errorf("mean %v, want 500.5ms", m)
	}
	empty := load.NewHistogram()
	if empty.Percentile(99) != 0 {
		t.Errorf("empty p99 %v, want 0", empty.Percentile(99))
	}
	// Out of range values are clamped, never lost.
	empty.Record(-time.Second)
	empty.Record(time.Hour)
	if empty.Count() != 2 {
		t.Errorf("clamped values lost: count %d", empty.Count())
	}
}

// A target slower than the pool can absorb: the scheduler must not slow
// down to its pace (coordinated omission) but drop what it cannot send, and
// measure latency from each request's due time.
func TestOpenModelDropsInsteadOfWaiting(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	slow := func(ctx context.Context, seq uint64) load.Answer {
		calls.Add(1)
		time.Sleep(50 * time.Millisecond)
		return load.Answer{Outcome: "201", Expected: true, Seats: 2, Zone: int(seq % 2)}
	}
	o := load.Open{Rate: 1000, Duration: 200 * time.Millisecond, Workers: 2}
	start := time.Now()
	s := o.Run(context.Background(), slow)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("run took %v: the scheduler waited for the target", took)
	}
	if s.Done+s.Dropped != 200 {
		t.Fatalf("done %d + dropped %d != 200 due", s.Done, s.Dropped)
	}
	if s.Done != uint64(calls.Load()) {
		t.Errorf("done %d, calls %d", s.Done, calls.Load())
	}
	// Two workers of 50 ms each can take at most ~12 requests in 250 ms.
	if s.Done > 20 || s.Dropped < 180 {
		t.Errorf("done %d dropped %d: expected nearly everything dropped", s.Done, s.Dropped)
	}
	if s.Errors() != s.Dropped || s.ErrorRate() < 0.9 {
		t.Errorf("errors %d rate %v: dropped requests must count as errors", s.Errors(), s.ErrorRate())
	}
	if s.Latency.Percentile(50) < 50*time.Millisecond {
		t.Errorf("p50 %v below the target's own 50ms", s.Latency.Percentile(50))
	}
	if s.TotalSeats() != int64(2*s.Done) || s.Seats[0]+s.Seats[1] != s.TotalSeats() {
		t.Errorf("seats %v for %d holds of 2", s.Seats, s.Done)
	}
}

// A pool as large as the requests in flight drops none: a worker not yet
// waiting (starting, or done and not yet scheduled) is not a busy one.
func TestOpenModelDropsOnlyWhenEveryWorkerIsBusy(t *testing.T) {
	t.Parallel()
	hold := func(ctx context.Context, seq uint64) load.Answer {
		time.Sleep(300 * time.Millisecond)
		return load.Answer{Outcome: "201", Expected: true}
	}
	// 1,000 requests due in 100 ms, each answered after 300 ms: all 1,000
	// workers are busy at the end, and every request had one.
	s := load.Open{Rate: 10000, Duration: 100 * time.Millisecond, Workers: 1000}.Run(context.Background(), hold)
	if s.Dropped != 0 || s.Done != 1000 {
		t.Errorf("done %d, dropped %d of 1000 with a worker for each", s.Done, s.Dropped)
	}
}

func TestOpenModelCountsEveryRequestOnce(t *testing.T) {
	t.Parallel()
	seen := make([]atomic.Int32, 300)
	fast := func(ctx context.Context, seq uint64) load.Answer {
		seen[seq-1000].Add(1)
		if seq%3 == 0 {
			return load.Answer{Outcome: "409 INSUFFICIENT_STOCK"}
		}
		return load.Answer{Outcome: "201", Expected: true, Seats: 1}
	}
	s := load.Open{Rate: 3000, Duration: 100 * time.Millisecond, Workers: 64, FirstSeq: 1000}.Run(context.Background(), fast)
	if s.Done+s.Dropped != 300 {
		t.Fatalf("done %d + dropped %d != 300", s.Done, s.Dropped)
	}
	for i := range seen {
		if n := seen[i].Load(); n > 1 {
			t.Fatalf("seq %d sent %d times", 1000+i, n)
		}
	}
	if got := s.Outcomes["201"] + s.Outcomes["409 INSUFFICIENT_STOCK"]; got != s.Done {
		t.Errorf("outcomes %v do not add up to %d", s.Outcomes, s.Done)
	}
	if s.Errors() != s.Outcomes["409 INSUFFICIENT_STOCK"]+s.Dropped {
		t.Errorf("errors %d, want unexpected answers + dropped", s.Errors())
	}
	if s.Latency.Count() != int64(s.Done) {
		t.Errorf("histogram holds %d, done %d", s.Latency.Count(), s.Done)
	}
}

func TestClosedLoopKeepsWorkersBusy(t *testing.T) {
	t.Parallel()
	var inFlight, most atomic.Int32
	do := func(ctx context.Context, seq uint64) load.Answer {
		n := inFlight.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		inFlight.Add(-1)
		return load.Answer{Outcome: "201", Expected: true}
	}
	s := load.Closed{Workers: 4, Duration: 100 * time.Millisecond}.Run(context.Background(), do)
	if most.Load() > 4 {
		t.Errorf("%d requests in flight with 4 workers", most.Load())
	}
	if s.Done == 0 || s.Dropped != 0 || s.Errors() != 0 {
		t.Errorf("done %d dropped %d errors %d", s.Done, s.Dropped, s.Errors())
	}
	if s.Elapsed < 100*time.Millisecond {
		t.Errorf("elapsed %v shorter than the run", s.Elapsed)
	}
}

// A closed loop reports where in the run it stalled: the slowest answer of
// the requests sent in each window.
func TestClosedLoopReportsItsStalls(t *testing.T) {
	t.Parallel()
	start := time.Now()
	do := func(ctx context.Context, seq uint64) load.Answer {
		if time.Since(start) < 50*time.Millisecond {
			time.Sleep(150 * time.Millisecond) // a cold start
		}
		time.Sleep(time.Millisecond)
		return load.Answer{Outcome: "201", Expected: true}
	}
	s := load.Closed{Workers: 4, Duration: 300 * time.Millisecond}.Run(context.Background(), do)
	st := s.Stalls(100 * time.Millisecond)
	if len(st) != 1 || !strings.HasPrefix(st[0], "0.0s:") {
		t.Fatalf("stalls %v, want the first window's only", st)
	}
	if !strings.Contains(s.Summary(), "windows with an answer over 100ms (send time") {
		t.Errorf("summary does not report the stall:\n%s", s.Summary())
	}
}

// A closed loop of a number of requests sends each of them exactly once,
// however many workers race for them, and then stops.
func TestClosedLoopOfRequestsSendsEachOnce(t *testing.T) {
	t.Parallel()
	seen := make([]atomic.Int32, 500)
	do := func(ctx context.Context, seq uint64) load.Answer {
		seen[seq-100].Add(1)
		return load.Answer{Outcome: "201", Expected: true, Seats: 1}
	}
	s := load.Closed{Workers: 16, FirstSeq: 100, Requests: 450}.Run(context.Background(), do)
	if s.Done != 450 || s.TotalSeats() != 450 {
		t.Fatalf("done %d, seats %d, want 450 requests", s.Done, s.TotalSeats())
	}
	for i := range seen {
		want := int32(1)
		if i >= 450 {
			want = 0 // past the last request
		}
		if n := seen[i].Load(); n != want {
			t.Fatalf("seq %d sent %d times, want %d", 100+i, n, want)
		}
	}
}
