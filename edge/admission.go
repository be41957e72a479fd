package edge

import (
	"errors"
	"flag"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// AdmissionConfig sizes the reserve route's admission control: an adaptive
// limit on the reserves one edge replica has in flight upstream. Beyond it a
// reserve is shed at once (503 with Retry-After) instead of queueing behind
// the ones the system is still serving, so the requests it takes stay fast
// and a flash sale at twice the machine's capacity costs neither seconds of
// latency nor file descriptors.
type AdmissionConfig struct {
	// Enabled turns admission control on.
	Enabled bool `yaml:"enabled"`
	// Initial is the in-flight limit a replica starts with.
	Initial int `yaml:"initial"`
	// Min and Max bound the limit.
	Min int `yaml:"min"`
	Max int `yaml:"max"`
	// Target is the upstream latency of a reserve the limit aims under: a
	// slower answer shrinks the limit, faster ones let it grow.
	Target time.Duration `yaml:"target"`
	// RetryAfter is what a shed answer asks the client to wait (whole
	// seconds in the header).
	RetryAfter time.Duration `yaml:"retry_after"`
	// AutoQueueAfter is how long the reserves of an event must be shed
	// (more than AutoQueueRatio of them, every second) before the edge asks
	// for its waiting room (the queue service turns it on when the
	// organizer allowed it); 0 never asks.
	AutoQueueAfter time.Duration `yaml:"auto_queue_after"`
	// AutoQueueRatio is the share of an event's reserves shed in a second
	// above which that second counts as overloaded.
	AutoQueueRatio float64 `yaml:"auto_queue_ratio"`
}

// RegisterFlags registers edge.admission.* flags.
func (c *AdmissionConfig) RegisterFlags(f *flag.FlagSet) {
	f.BoolVar(&c.Enabled, "edge.admission.enabled", true, "shed reserves beyond an adaptive in-flight limit per edge replica (503 with Retry-After)")
	f.IntVar(&c.Initial, "edge.admission.initial", 64, "reserves in flight an edge replica starts admitting")
	f.IntVar(&c.Min, "edge.admission.min", 8, "lowest in-flight limit")
	f.IntVar(&c.Max, "edge.admission.max", 1024, "highest in-flight limit")
	f.DurationVar(&c.Target, "edge.admission.target", 50*time.Millisecond, "upstream latency of a reserve the limit aims under")
	f.DurationVar(&c.RetryAfter, "edge.admission.retry-after", time.Second, "how long a shed answer asks the client to wait")
	f.DurationVar(&c.AutoQueueAfter, "edge.admission.auto-queue-after", 5*time.Second, "shedding of an event sustained this long asks for its waiting room (events with queue auto); 0: never")
	f.Float64Var(&c.AutoQueueRatio, "edge.admission.auto-queue-ratio", 0.5, "share of an event's reserves shed in a second above which the second counts as overloaded")
}

// Validate checks the configuration.
func (c *AdmissionConfig) Validate() error {
	if c.Min < 1 || c.Min > c.Initial || c.Initial > c.Max {
		return fmt.Errorf("edge.admission: need 1 <= edge.admission.min (%d) <= edge.admission.initial (%d) <= edge.admission.max (%d)", c.Min, c.Initial, c.Max)
	}
	if c.Target <= 0 || c.RetryAfter < time.Second {
		return errors.New("edge.admission.target must be positive and edge.admission.retry-after at least 1s")
	}
	if c.AutoQueueAfter < 0 || c.AutoQueueRatio <= 0 || c.AutoQueueRatio >= 1 {
		return errors.New("edge.admission.auto-queue-after must not be negative and edge.admission.auto-queue-ratio must be in (0, 1)")
	}
	return nil
}

// admission is an AIMD concurrency limit (as TCP's congestion window, and
// the "vegas"/"gradient" limiters of Netflix's concurrency-limits), decided
// once per window of 2x the target: when more than 5% of the window's
// answers took longer than the target (its p95 is above it), the limit
// shrinks by a tenth; otherwise, when the limit was in use, it grows by one.
// A request that finds the limit reached is shed without waiting: a queue in
// front of an overloaded service only adds its length to everyone's latency.
// Judging a window's tail, not each answer, lets the odd slow answer (a GC
// pause, a neighbour's burst) pass without shrinking the limit, while a
// system that is really behind shrinks it within a few windows.
//
// Shedding helps only when the shed requests do not come straight back.
// Clients that retry a 503 at once, ignoring Retry-After (a closed-loop
// benchmark, a script, a proxy that retries 503s), turn each slot taken
// away into a stream of shed requests, which costs the machine more than
// serving them did: the answers it admits get slower, the limit shrinks
// again, and goodput collapses (a wrk -c64 closed loop on the bench
// machine: 75-84% shed, and 45-70% of the holds a second it makes with no
// limit; bench/RESULTS.md, 2026-12-04 evening). So a shrink is watched:
// when requests then arrive at more than 1.3x their moving average for two
// windows in a row (one window could be a burst after a stall), the shrink
// is undone and the limit does not shrink for the next 3 windows. Arrivals
// of an open crowd do not depend on the limit, so this leaves a real
// overload's shedding alone, except when a shrink meets a rise of the crowd
// itself.
type admission struct {
	cfg    AdmissionConfig
	window time.Duration

	mu       sync.Mutex
	limit    float64
	inflight int
	// The window being measured: when it started, its answers and how
	// many of them were slower than the target, and whether the limit was
	// nearly used up in it.
	start   time.Time
	n, slow int
	used    bool
	arrived int // requests that asked for a slot in the window, shed or not

	rate float64 // arrivals a second, a moving average over windows
	// The last shrink, while it is watched: the limit before it, the
	// average arrival rate when it happened, and how many windows since
	// had arrivals above 1.3x that.
	watch     bool
	limitWas  float64
	rateWas   float64
	jumps     int
	holdUntil time.Time // no shrink before (a shrink was undone)

	shed   prometheus.Counter
	undone prometheus.Counter
	limitG prometheus.GaugeFunc
	inflG  prometheus.GaugeFunc
}

func newAdmission(cfg AdmissionConfig, reg prometheus.Registerer) (*admission, error) {
	a := &admission{cfg: cfg, window: 2 * cfg.Target, limit: float64(cfg.Initial)}
	a.shed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edge_reserve_shed_total", Help: "Reserves the edge shed (503 with Retry-After) because its in-flight limit was reached.",
	})
	a.undone = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edge_reserve_limit_undone_total", Help: "Shrinks of the in-flight limit undone because the shed clients came back at once (arrivals jumped after the shrink).",
	})
	a.limitG = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "edge_reserve_concurrency_limit", Help: "The edge's current adaptive limit of reserves in flight.",
	}, func() float64 { a.mu.Lock(); defer a.mu.Unlock(); return a.limit })
	a.inflG = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "edge_reserve_inflight", Help: "Reserves the edge has in flight upstream.",
	}, func() float64 { a.mu.Lock(); defer a.mu.Unlock(); return float64(a.inflight) })
	for _, c := range []prometheus.Collector{a.shed, a.undone, a.limitG, a.inflG} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// acquire takes an in-flight slot; false means shed.
func (a *admission) acquire() bool {
	a.mu.Lock()
	a.arrived++
	ok := float64(a.inflight) < a.limit
	if ok {
		a.inflight++
		if float64(a.inflight) >= a.limit*0.8 {
			a.used = true
		}
	}
	a.mu.Unlock()
	if !ok {
		a.shed.Inc()
	}
	return ok
}

// release gives a slot back with the upstream latency of its request (a
// sample when counted), and moves the limit when its window is over.
func (a *admission) release(latency time.Duration, now time.Time, counted bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inflight--
	if !counted {
		return
	}
	a.n++
	if latency > a.cfg.Target {
		a.slow++
	}
	if a.start.IsZero() {
		a.start = now
	}
	if now.Sub(a.start) < a.window {
		return
	}
	rate := float64(a.arrived) / now.Sub(a.start).Seconds()
	if a.rate == 0 {
		a.rate = rate
	}
	a.rate = 0.8*a.rate + 0.2*rate
	slow := a.slow*20 > a.n
	// A shrink stays watched only while arrivals stay above 1.3x.
	a.watch = a.watch && rate > 1.3*a.rateWas
	switch {
	case a.watch:
		// The shed clients came back at once (or a burst follows a stall:
		// one more window tells them apart). Nothing else moves meanwhile.
		if a.jumps++; a.jumps >= 2 {
			a.limit, a.watch, a.holdUntil = a.limitWas, false, now.Add(3*a.window)
			a.undone.Inc()
		}
	case slow && now.Before(a.holdUntil):
	case slow:
		a.watch, a.limitWas, a.rateWas, a.jumps = true, a.limit, a.rate, 0
		a.limit = max(float64(a.cfg.Min), a.limit*0.9)
	case a.used:
		// Only a limit in use learns that it could be higher.
		a.limit = min(float64(a.cfg.Max), a.limit+1)
	}
	a.start, a.n, a.slow, a.used, a.arrived = now, 0, 0, float64(a.inflight) >= a.limit*0.8, 0
}

// current is the limit now (tests, logs).
func (a *admission) current() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.limit
}
