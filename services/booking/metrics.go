package booking

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/bookingrush/rush/lua"
	"github.com/bookingrush/rush/services/platform/errs"
)

// metrics are the plan's booking series (docs/architecture.md, "Observability"): reservations made, refused
// (by code: INSUFFICIENT_STOCK is a sold-out answer) and holds active.
type metrics struct {
	reservations prometheus.Counter
	failures     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, eng *Engine) (*metrics, error) {
	m := &metrics{
		reservations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "booking_reservations_total", Help: "Reservations made (seats held).",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "booking_reservation_failures_total", Help: "Reserve calls refused, by error code (INSUFFICIENT_STOCK = sold out).",
		}, []string{"code"}),
	}
	active := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "active_reservations", Help: "Holds currently waiting for payment, over every loaded event.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, _ := eng.ActiveHolds(ctx)
		return float64(n)
	})
	calls := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "rush_booking_reserve_script_calls_total", Help: "reserve.lua calls: each decides a batch of concurrent reserves of one event.",
	}, func() float64 { return float64(eng.batcher.calls.Load()) })
	batched := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "rush_booking_reserve_batched_total", Help: "Reserves decided by reserve.lua calls (divided by the calls: the mean batch).",
	}, func() float64 { return float64(eng.batcher.decided.Load()) })
	// The sold-out count starts at 0: the dashboard's "Sold-out answers"
	// shows 0 before the first, not "no data".
	m.failures.WithLabelValues(string(errs.InsufficientStock))
	for _, c := range []prometheus.Collector{m.reservations, m.failures, active, calls, batched} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(err error) {
	if err == nil {
		m.reservations.Inc()
		return
	}
	code := errs.Internal
	if e := errs.FromConnect(err); e != nil {
		code = e.Code
	}
	m.failures.WithLabelValues(string(code)).Inc()
}

// ActiveHolds counts live holds over every loaded event (meta's live, which
// every script that makes or ends a hold moves).
func (e *Engine) ActiveHolds(ctx context.Context) (int64, error) {
	return e.perEvent(ctx, func(p redis.Pipeliner, k lua.Keys) func() (int64, error) {
		return p.HGet(ctx, k.Meta(), "live").Int64
	})
}

// RelayBacklog counts the stream entries of every event the relay has still
// to publish (it deletes them once Kafka has them; StreamBacklog is one
// event's): rush_relay_backlog{relay="booking-stream"}.
func (e *Engine) RelayBacklog(ctx context.Context) (int64, error) {
	return e.perEvent(ctx, streamLen(ctx))
}

// streamLen reads an event's stream length (for perEvent and eachEvent).
func streamLen(ctx context.Context) func(redis.Pipeliner, lua.Keys) func() (int64, error) {
	return func(p redis.Pipeliner, k lua.Keys) func() (int64, error) {
		return p.XLen(ctx, k.Stream()).Result
	}
}

// perEvent sums count over every loaded event, in one pipelined round trip;
// count queues its command and returns how to read its value (a missing
// key or field counts 0).
func (e *Engine) perEvent(ctx context.Context, count func(redis.Pipeliner, lua.Keys) func() (int64, error)) (int64, error) {
	_, vals, err := e.eachEvent(ctx, count)
	var n int64
	for _, v := range vals {
		n += v
	}
	return n, err
}

// eachEvent reads count's value for every loaded event, in one pipelined
// round trip after the one that lists them, and returns the events and
// their values in the same order.
func (e *Engine) eachEvent(ctx context.Context, count func(redis.Pipeliner, lua.Keys) func() (int64, error)) ([]string, []int64, error) {
	events, err := e.Events(ctx)
	if err != nil || len(events) == 0 {
		return nil, nil, err
	}
	pipe := e.rdb.Pipeline()
	reads := make([]func() (int64, error), len(events))
	for i, ev := range events {
		reads[i] = count(pipe, e.keys(ev))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, err
	}
	vals := make([]int64, len(events))
	for i, read := range reads {
		v, err := read()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, nil, err
		}
		vals[i] = v
	}
	return events, vals, nil
}

// Backlogged lists the loaded events whose stream has entries (what the
// relay has still to publish, or published and not yet deleted).
func (e *Engine) Backlogged(ctx context.Context) ([]string, error) {
	events, n, err := e.eachEvent(ctx, streamLen(ctx))
	var out []string
	for i, ev := range events {
		if n[i] > 0 {
			out = append(out, ev)
		}
	}
	return out, err
}

// NextDeadlines returns, for every loaded event, the earliest deadline of
// its expiry set in Unix ms (math.MaxInt64 when it has none), in one
// pipelined round trip: the sweeper runs expire.lua only where one passed.
func (e *Engine) NextDeadlines(ctx context.Context) ([]string, []int64, error) {
	return e.eachEvent(ctx, func(p redis.Pipeliner, k lua.Keys) func() (int64, error) {
		first := p.ZRangeWithScores(ctx, k.Expiry(), 0, 0)
		return func() (int64, error) {
			z, err := first.Result()
			if err != nil || len(z) == 0 {
				return math.MaxInt64, err
			}
			return int64(z[0].Score), nil
		}
	})
}
