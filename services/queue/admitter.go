package queue

import (
	"context"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/background"
	"github.com/bookingrush/rush/services/platform/errs"
)

// maxBatch bounds the buyers one admission step may admit, so one script
// never holds Redis for long; a bucket with more tokens drains over the next
// steps.
const maxBatch = 5000

// Admitter lets buyers in at each event's rate. Every replica may run one:
// queue_tick.lua refills a token bucket from Redis time, so the rate holds
// whatever the number of replicas, and the opening draw is applied once.
type Admitter struct {
	lines    *Lines
	settings *Settings
	interval time.Duration
	timeout  time.Duration
	admitted prometheus.Counter
	log      *zap.Logger

	failing bool            // the last step failed (log the first failure and the recovery only)
	idle    map[string]bool // events whose last step had nothing to admit yet (before opening)
	*background.Task
}

// NewAdmitter returns an admitter stepping every interval.
func NewAdmitter(lines *Lines, settings *Settings, interval, timeout time.Duration, reg *prometheus.Registry, log *zap.Logger) (*Admitter, error) {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "rush_queue_admitted_total", Help: "Buyers admitted from virtual queues by this process.",
	})
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	a := &Admitter{lines: lines, settings: settings, interval: interval, timeout: timeout, admitted: c, log: log.Named("admitter"),
		idle: map[string]bool{}}
	a.Task = background.New(a.loop)
	return a, nil
}

func (a *Admitter) loop(ctx context.Context) {
	t := time.NewTicker(a.interval)
	defer t.Stop()
	for background.Wait(ctx, t, nil) {
		err := a.once(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil && !a.failing:
			a.log.Warn("admission step failed; retrying every tick", zap.Error(err))
		case err == nil && a.failing:
			a.log.Info("admission steps succeed again")
		}
		a.failing = err != nil && ctx.Err() == nil
	}
}

// once runs one admission step for every event with buyers in line. A
// failing event does not hold up the others; the first failure is returned.
func (a *Admitter) once(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	events, err := a.lines.Active(ctx)
	if err != nil {
		return err
	}
	if len(a.idle) > len(events) {
		// Another replica took events off the list: forget them here too.
		for ev := range a.idle {
			if !slices.Contains(events, ev) {
				delete(a.idle, ev)
			}
		}
	}
	var first error
	for _, ev := range events {
		if err := a.step(ctx, ev); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (a *Admitter) step(ctx context.Context, ev string) error {
	rate, err := a.settings.Rate(ctx, ev)
	var e *errs.Error
	if errors.As(err, &e) && e.Code == errs.NotFound {
		return a.lines.deactivate(ctx, ev, true)
	}
	if err != nil {
		return err
	}
	// An event still waiting for its opening is probed without passes:
	// minting a batch of random passes every tick for nobody is waste. The
	// step after the probe finds the sale open brings them.
	batch := a.batch(rate)
	if a.idle[ev] {
		batch = 0
	}
	res, err := a.lines.Tick(ctx, ev, rate, batch)
	if err != nil {
		return err
	}
	a.admitted.Add(float64(res.admitted))
	a.idle[ev] = res.idle
	switch {
	case res.ended:
		delete(a.idle, ev)
		return a.lines.deactivate(ctx, ev, true)
	case res.waiting == 0:
		delete(a.idle, ev)
		return a.lines.deactivate(ctx, ev, false)
	}
	return nil
}

// batch is how many passes one step brings: twice what one interval earns,
// so a late step catches up, never more than the bucket can hold (one
// second of admissions).
func (a *Admitter) batch(rate int) int {
	n := int(math.Ceil(float64(rate)*a.interval.Seconds()*2)) + 1
	return min(n, rate, maxBatch)
}
