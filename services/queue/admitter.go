package queue

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/background"
	"github.com/bookingrush/rush/services/platform/errs"
)

// Admitter moves the cursor of every event with tickets waiting, at the
// event's rate, under its cap of active shoppers, while seats are left.
// Every replica may run one: queue_tick.lua refills a token bucket from
// Redis time, so the rate holds whatever the number of replicas, and the
// opening's draw is kept once.
//
// An event whose sale is over with tickets still waiting is not ticked but
// parked: each step reads the sale settings of the parked events (two
// reads each, whatever their lines' length) and ticks again the line of
// one the organizer extended or put on sale again, from where it stopped.
// A cancelled event, or one whose line expired, is let go.
type Admitter struct {
	lines    *Lines
	settings *Settings
	interval time.Duration
	timeout  time.Duration
	admitted prometheus.Counter
	log      *zap.Logger

	failing bool // the last step failed (log the first failure and the recovery only)
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
	a := &Admitter{lines: lines, settings: settings, interval: interval, timeout: timeout, admitted: c, log: log.Named("admitter")}
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

// once puts back the parked events on sale again, then runs one admission
// step for every event with tickets waiting. A failing event does not hold
// up the others; the first failure is returned.
func (a *Admitter) once(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	back, first := a.lines.reopen(ctx)
	for _, ev := range back {
		a.log.Info("a line parked at the sale's end moves again: the sale was extended or reopened", zap.String("event_id", ev))
	}
	events, err := a.lines.Active(ctx)
	if err != nil {
		return err
	}
	for _, ev := range events {
		if err := a.step(ctx, ev); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (a *Admitter) step(ctx context.Context, ev string) error {
	k, err := a.settings.Knobs(ctx, ev)
	if errs.Is(err, errs.NotFound) {
		return a.lines.deactivate(ctx, ev, true)
	}
	if err != nil {
		return err
	}
	res, err := a.lines.tick(ctx, ev, k.Rate, k.MaxActive)
	if err != nil {
		return err
	}
	a.admitted.Add(float64(res.admitted))
	switch {
	case res.closed:
		return a.lines.deactivate(ctx, ev, true)
	case res.ended && res.waiting > 0:
		// Those who wait keep their places: the organizer may extend the
		// sale, and reopen then puts the event back.
		return a.lines.park(ctx, ev)
	case res.waiting == 0:
		// Nobody waits (or nobody joined): the next join puts it back.
		return a.lines.deactivate(ctx, ev, false)
	}
	return nil
}
