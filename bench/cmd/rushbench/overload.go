package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bookingrush/rush/bench/internal/load"
	"github.com/bookingrush/rush/bench/internal/mesh"
)

// Overload targets (docs/architecture.md "Performance"): under an open model at 2-3x
// what the machine serves, every request is answered, the decided answers
// (a hold or "sold out") stay fast, and the shed ones are at once.
const (
	overloadDecidedP99 = 100 * time.Millisecond
	overloadShedP99    = 50 * time.Millisecond
)

// scenarioOverload offers reserves above what the machine serves, open
// model, one rate after the other, on a zone set that never sells out: the
// edge's admission control must shed what it cannot serve at once (503,
// Retry-After) and keep the requests it takes fast.
func (b *bench) scenarioOverload(ctx context.Context) error {
	o := b.o
	var rates []float64
	var planned float64
	for _, f := range strings.Split(o.overloadRates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			return fmt.Errorf("-overload.rates: %q is not a rate", f)
		}
		rates = append(rates, r)
		planned += r * (o.overloadDur.Seconds() + 1)
	}
	ev, err := b.event(ctx, "Overload "+b.run, int64(planned*1.05)*int64(o.quantity)+1000, 10)
	if err != nil {
		return err
	}
	plan := b.plan(ev, "ovl", mesh.DecidedOrShed)
	total := &load.Stats{Seats: map[int]int64{}, Outcomes: map[string]uint64{}}
	add := func(s *load.Stats) {
		for k, v := range s.Seats {
			total.Seats[k] += v
		}
		for k, v := range s.Outcomes {
			total.Outcomes[k] += v
		}
	}
	var seq uint64
	for _, r := range rates {
		if ctx.Err() != nil {
			break
		}
		w := b.workersFor(r)
		// The open models send through the lean client: net/http's
		// Transport cost the generator a fifth more of the machine at
		// these rates, taken from the servers under test.
		c := mesh.LeanHTTPClient(w)
		// A second at the rate first, not measured (but audited), as
		// sustained does: the run then measures the overload, not the
		// generator opening its connections.
		warm := load.Open{Rate: r, Duration: time.Second, Workers: w, FirstSeq: seq}.Run(ctx, mesh.ReserveHTTP(c, b.edgeURL, plan))
		seq += uint64(r) + 1
		add(warm)
		done := b.profiled(ctx, fmt.Sprintf("overload-%.0f", r), o.overloadDur)
		acct := b.cpu(nil)
		s := load.Open{Rate: r, Duration: o.overloadDur, Workers: w, FirstSeq: seq}.Run(ctx, mesh.ReserveHTTP(c, b.edgeURL, plan))
		c.CloseIdleConnections()
		seq += uint64(r*o.overloadDur.Seconds()) + 1
		offered := uint64(r * o.overloadDur.Seconds())
		decided := s.Latency.Percentile(99)
		var shed time.Duration
		if s.ShedLatency != nil {
			shed = s.ShedLatency.Percentile(99)
		}
		answered := s.Done == offered && s.Errors() == 0
		verdict := "PASS"
		if !answered || decided >= overloadDecidedP99 || shed >= overloadShedP99 {
			verdict = "FAIL"
		}
		b.say("overload %.0f/s [%s] (load average %s): %s", r, verdict, loadavg(), s.Summary())
		b.say("overload %.0f/s: %d of %d offered answered correctly (%d errors, %d dropped); served %.0f/s; p99 decided %s (target < %v), p99 shed %s (target < %v)",
			r, s.Expected, offered, s.Errors(), s.Dropped, float64(s.Done-s.Shed)/s.Elapsed.Seconds(),
			decided, overloadDecidedP99, shed, overloadShedP99)
		b.results[fmt.Sprintf("overload.%.0f.decided_p99_ms", r)] = float64(decided) / float64(time.Millisecond)
		b.results[fmt.Sprintf("overload.%.0f.shed_p99_ms", r)] = float64(shed) / float64(time.Millisecond)
		acct()
		done()
		add(s)
	}
	b.audit(ctx, "overload", ev, total)
	return nil
}
