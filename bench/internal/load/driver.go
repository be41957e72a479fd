package load

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Answer is what one request got back.
type Answer struct {
	// Outcome names the answer for the error table: "201", "409
	// INSUFFICIENT_STOCK", "transport: ..." and so on.
	Outcome string
	// Expected is true for an answer the scenario counts as correct (a
	// hold, or "sold out" in a rush); anything else is an error.
	Expected bool
	// Seats is the number of seats the answer holds (0 unless a hold).
	Seats int
	// Zone is the index of the zone the request asked for.
	Zone int
	// Shed is an answer the target's admission control gave at once
	// (503, Retry-After) instead of serving the request: its latency is
	// kept apart from the served answers'.
	Shed bool
}

// Doer sends request number seq and reports its answer. It must be safe for
// concurrent use; ctx ends when the run's grace period is over.
type Doer func(ctx context.Context, seq uint64) Answer

// Stats is the outcome of one run.
type Stats struct {
	// Mode is "open" or "closed".
	Mode string
	// Rate is the offered arrival rate (open model), requests/s.
	Rate float64
	// Workers is the pool size (open) or concurrency (closed).
	Workers int
	// Elapsed is from the first scheduled send to the last answer.
	Elapsed time.Duration
	// Done counts answered requests (any outcome).
	Done uint64
	// Expected counts answers the scenario calls correct.
	Expected uint64
	// Dropped counts requests the open-model scheduler could not hand to a
	// worker when due (every worker busy): the system fell behind, and
	// instead of waiting (coordinated omission) the generator gives up on
	// them and counts them as errors.
	Dropped uint64
	// Late counts requests sent more than LateAfter after their due time
	// (generator starved of CPU); their latency is measured from the due
	// time, so lateness shows in the percentiles too.
	Late uint64
	// Lateness is the send delay behind schedule of every request (open
	// model): the generator's own share of the latency.
	Lateness *Histogram
	// Latency is measured from the due time (open) or the send (closed) to
	// the end of the answer body, of every answer that was not shed.
	Latency *Histogram
	// Shed counts the shed answers and ShedLatency is their latency (nil
	// when none was shed).
	Shed        uint64
	ShedLatency *Histogram
	// Outcomes counts answers by Answer.Outcome.
	Outcomes map[string]uint64
	// Seats sums Answer.Seats per zone index.
	Seats map[int]int64
	// Window is the width of the windows of WindowMax.
	Window time.Duration
	// WindowMax is the slowest answer to the requests due (open model) or
	// sent (closed loop) in each Window of the run, in order: where in the
	// run it stalled.
	WindowMax []time.Duration
}

// Stalls lists the windows whose slowest answer took longer than limit, as
// "2.3s:196ms" (start of the window into the run: its slowest answer).
func (s *Stats) Stalls(limit time.Duration) []string {
	var out []string
	for i, m := range s.WindowMax {
		if m > limit {
			out = append(out, fmt.Sprintf("%.1fs:%.0fms", (time.Duration(i)*s.Window).Seconds(), float64(m)/float64(time.Millisecond)))
		}
	}
	return out
}

// Throughput is answered requests per second of Elapsed.
func (s *Stats) Throughput() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Done) / s.Elapsed.Seconds()
}

// Errors counts unexpected answers plus dropped requests.
func (s *Stats) Errors() uint64 { return s.Done - s.Expected + s.Dropped }

// ErrorRate is Errors over every request due (answered or dropped).
func (s *Stats) ErrorRate() float64 {
	n := s.Done + s.Dropped
	if n == 0 {
		return 0
	}
	return float64(s.Errors()) / float64(n)
}

// TotalSeats sums the seats of every hold answered.
func (s *Stats) TotalSeats() int64 {
	var n int64
	for _, v := range s.Seats {
		n += v
	}
	return n
}

// Summary is a one-paragraph report.
func (s *Stats) Summary() string {
	var b strings.Builder
	if s.Mode == "open" {
		fmt.Fprintf(&b, "open model %.0f req/s offered, %d workers: ", s.Rate, s.Workers)
	} else {
		fmt.Fprintf(&b, "closed loop, %d workers: ", s.Workers)
	}
	fmt.Fprintf(&b, "%d answered in %.2fs = %.0f req/s; latency p50 %s p90 %s p99 %s max %s; errors %d (%.3f%%: %d dropped)",
		s.Done, s.Elapsed.Seconds(), s.Throughput(),
		ms(s.Latency.Percentile(50)), ms(s.Latency.Percentile(90)), ms(s.Latency.Percentile(99)), ms(s.Latency.Max()),
		s.Errors(), 100*s.ErrorRate(), s.Dropped)
	// A stall is an answer over 50 ms in the open model, over 100 ms in a
	// closed loop (whose answers queue behind each other by design).
	stall, when := 50*time.Millisecond, "due"
	if s.Mode == "open" {
		fmt.Fprintf(&b, "; sent late %d (p99 %s, worst %s)", s.Late, ms(s.Lateness.Percentile(99)), ms(s.Lateness.Max()))
	} else {
		stall, when = 100*time.Millisecond, "send"
	}
	if st := s.Stalls(stall); len(st) > 0 {
		more := ""
		if len(st) > 12 {
			st, more = st[:12], fmt.Sprintf(" and %d more", len(st)-12)
		}
		fmt.Fprintf(&b, "\n  %s windows with an answer over %s (%s time into the run: slowest): %s%s", s.Window, stall, when, strings.Join(st, " "), more)
	}
	if s.Shed > 0 {
		fmt.Fprintf(&b, "\n  shed %d (%.1f%%): latency p50 %s p99 %s max %s", s.Shed, 100*float64(s.Shed)/float64(s.Done),
			ms(s.ShedLatency.Percentile(50)), ms(s.ShedLatency.Percentile(99)), ms(s.ShedLatency.Max()))
	}
	b.WriteString("\n  answers:")
	for _, k := range slices.Sorted(maps.Keys(s.Outcomes)) {
		fmt.Fprintf(&b, " [%s] %d", k, s.Outcomes[k])
	}
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

// worker is one goroutine's tally, merged at the end so the hot loop takes
// no shared lock. Latencies are kept as a list, not a histogram: an HDR
// histogram is ~150 KB of counters, and hundreds of workers' histograms
// cost the generator a page fault per first touch and its GC the rest, in
// the window it measures.
type worker struct {
	lat, shedLat []time.Duration
	lateness     []time.Duration // open model
	outcomes     map[string]uint64
	seats        map[int]int64
	done, exp    uint64
	late         uint64
	last         time.Time
	windowMax    []time.Duration // slowest answer by due (open) or send (closed) window
}

func newWorker() *worker {
	return &worker{outcomes: map[string]uint64{}, seats: map[int]int64{}}
}

func (w *worker) record(a Answer, latency time.Duration, end time.Time) {
	if a.Shed {
		w.shedLat = append(w.shedLat, latency)
	} else {
		w.lat = append(w.lat, latency)
	}
	w.outcomes[a.Outcome]++
	w.done++
	if a.Expected {
		w.exp++
	}
	if a.Seats > 0 {
		w.seats[a.Zone] += int64(a.Seats)
	}
	if end.After(w.last) {
		w.last = end
	}
}

// stall keeps the slowest answer of the window in which a request was due
// (open model) or sent (closed loop), at into the run; windows bounds them (0:
// a run of a number of requests, unbounded).
func (w *worker) stall(into, latency time.Duration, windows int) {
	i := int(into / stallWindow)
	if i < 0 || windows > 0 && i >= windows {
		return
	}
	if i >= len(w.windowMax) {
		w.windowMax = append(w.windowMax, make([]time.Duration, max(windows, i+1)-len(w.windowMax))...)
	}
	w.windowMax[i] = max(w.windowMax[i], latency)
}

func merge(s *Stats, start time.Time, ws []*worker) {
	s.Latency, s.Lateness = NewHistogram(), NewHistogram()
	s.Outcomes = map[string]uint64{}
	s.Seats = map[int]int64{}
	last := start
	for _, w := range ws {
		for _, d := range w.lat {
			s.Latency.Record(d)
		}
		if len(w.shedLat) > 0 && s.ShedLatency == nil {
			s.ShedLatency = NewHistogram()
		}
		for _, d := range w.shedLat {
			s.ShedLatency.Record(d)
		}
		s.Shed += uint64(len(w.shedLat))
		for k, v := range w.outcomes {
			s.Outcomes[k] += v
		}
		for k, v := range w.seats {
			s.Seats[k] += v
		}
		s.Done += w.done
		s.Expected += w.exp
		s.Late += w.late
		for _, d := range w.lateness {
			s.Lateness.Record(d)
		}
		if w.last.After(last) {
			last = w.last
		}
	}
	s.Elapsed = last.Sub(start)
	for _, w := range ws {
		for i, m := range w.windowMax {
			if i >= len(s.WindowMax) {
				s.WindowMax = append(s.WindowMax, make([]time.Duration, i+1-len(s.WindowMax))...)
			}
			s.WindowMax[i] = max(s.WindowMax[i], m)
		}
	}
}

// stallWindow is the width of the latency windows.
const stallWindow = 100 * time.Millisecond

// Open is an open-model run: requests are due at fixed intervals (1/Rate)
// for Duration, whatever the answers do.
type Open struct {
	Rate     float64
	Duration time.Duration
	// Workers bounds the requests in flight; a request due while all are
	// busy is dropped and counted.
	Workers int
	// LateAfter is the send delay past which a request counts as late.
	LateAfter time.Duration
	// Grace is how long answers may still arrive after the last send.
	Grace time.Duration
	// FirstSeq numbers the first request (so runs on one event never reuse
	// an idempotency key).
	FirstSeq uint64
}

type job struct {
	seq uint64
	due time.Time
}

// Run drives do and returns the tally.
func (o Open) Run(ctx context.Context, do Doer) *Stats {
	if o.LateAfter == 0 {
		o.LateAfter = time.Millisecond
	}
	if o.Grace == 0 {
		o.Grace = 15 * time.Second
	}
	total := uint64(o.Rate * o.Duration.Seconds())
	interval := float64(time.Second) / o.Rate
	jobs := make(chan job) // unbuffered: a hand-off succeeds only to an idle worker
	ws := make([]*worker, o.Workers)
	windows := int(o.Duration/stallWindow) + 1
	var start time.Time   // set before the first job is sent
	var busy atomic.Int64 // requests handed to a worker and not answered
	reqCtx, cancel := context.WithTimeout(ctx, o.Duration+o.Grace)
	defer cancel()
	var wg sync.WaitGroup
	for i := range ws {
		w := newWorker()
		ws[i] = w
		wg.Go(func() {
			for j := range jobs {
				sent := time.Now()
				late := sent.Sub(j.due)
				w.lateness = append(w.lateness, max(0, late))
				if late > o.LateAfter {
					w.late++
				}
				a := do(reqCtx, j.seq)
				end := time.Now()
				busy.Add(-1)
				w.record(a, end.Sub(j.due), end)
				w.stall(j.due.Sub(start), end.Sub(j.due), windows)
			}
		})
	}
	start = time.Now()
	var dropped uint64
	for i := uint64(0); i < total; i++ {
		due := start.Add(time.Duration(float64(i) * interval))
		if d := time.Until(due); d > 0 {
			if ctx.Err() != nil {
				break
			}
			time.Sleep(d)
		}
		j := job{seq: o.FirstSeq + i, due: due}
		select {
		case jobs <- j:
			busy.Add(1)
		default:
			// No worker waiting: dropped if every one is busy with a
			// request; else one is about to wait (starting, or just done
			// and not yet scheduled), and takes it late, which its
			// latency counts from the due time.
			if busy.Load() >= int64(o.Workers) {
				dropped++
				continue
			}
			jobs <- j
			busy.Add(1)
		}
	}
	close(jobs)
	wg.Wait()
	s := &Stats{Mode: "open", Rate: o.Rate, Workers: o.Workers, Dropped: dropped, Window: stallWindow}
	merge(s, start, ws)
	return s
}

// Closed is a closed-loop run: Workers goroutines each send a request as
// soon as their previous one is answered, for Duration (as wrk -c does), or
// until Requests were sent.
type Closed struct {
	Workers int
	// Duration ends the run; 0 for none (then Requests must be set).
	Duration time.Duration
	// FirstSeq numbers the first request.
	FirstSeq uint64
	// Requests, when not 0, ends the run once requests FirstSeq to
	// FirstSeq+Requests-1 were sent: a checkout pays each hold once.
	Requests uint64
}

// Run drives do and returns the tally.
func (c Closed) Run(ctx context.Context, do Doer) *Stats {
	ws := make([]*worker, c.Workers)
	var mu sync.Mutex
	next, end := c.FirstSeq, c.FirstSeq+c.Requests
	take := func() (uint64, bool) {
		mu.Lock()
		defer mu.Unlock()
		if c.Requests > 0 && next >= end {
			return 0, false
		}
		next++
		return next - 1, true
	}
	windows := 0
	if c.Duration > 0 {
		windows = int(c.Duration/stallWindow) + 1
	}
	start := time.Now()
	deadline := start.Add(c.Duration)
	reqCtx, cancel := context.WithCancel(ctx)
	if c.Duration > 0 {
		reqCtx, cancel = context.WithTimeout(ctx, c.Duration+15*time.Second)
	}
	defer cancel()
	var wg sync.WaitGroup
	for i := range ws {
		w := newWorker()
		ws[i] = w
		wg.Go(func() {
			for ctx.Err() == nil && (c.Duration == 0 || time.Now().Before(deadline)) {
				seq, ok := take()
				if !ok {
					return
				}
				t := time.Now()
				a := do(reqCtx, seq)
				end := time.Now()
				w.record(a, end.Sub(t), end)
				w.stall(t.Sub(start), end.Sub(t), windows)
			}
		})
	}
	wg.Wait()
	s := &Stats{Mode: "closed", Workers: c.Workers, Window: stallWindow}
	merge(s, start, ws)
	return s
}
