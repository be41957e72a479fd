// Package breaker fails the calls to a dependency fast while it is down, and
// notices by itself when it is back: the circuit breaker that
// services/platform/redisx and services/platform/postgres put in front of
// every Redis command and Postgres query of the process.
//
// Closed (the normal state), every call goes through, and what it costs is
// one atomic load before the call and one after. After Failures consecutive
// calls failed to reach the dependency (a refused or broken connection, a
// timeout; never an answer the dependency gave, such as a constraint
// violation or a missing key), the breaker opens: every call fails at once
// with an error matching ErrOpen, which the services answer as 503
// SERVICE_UNAVAILABLE naming the dependency, in microseconds instead of after
// the client's timeouts and retries. While open, one probe call (a Ping,
// marked with Probing) runs every ProbeInterval; the first that succeeds
// closes the breaker. No request is ever used as a probe, so none waits on a
// dead dependency once the breaker is open.
package breaker

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Config is one breaker's configuration, part of its dependency's Config
// (redis.breaker.*, postgres.breaker.*).
type Config struct {
	// Failures is how many consecutive calls must fail before the breaker
	// opens; 0 turns the breaker off.
	Failures int `yaml:"failures"`
	// ProbeInterval is how often an open breaker probes the dependency
	// (and how long one probe may take).
	ProbeInterval time.Duration `yaml:"probe_interval"`
}

// RegisterFlags registers <prefix>.failures and <prefix>.probe-interval;
// what names the dependency in the help texts.
func (c *Config) RegisterFlags(f *flag.FlagSet, prefix, what string) {
	f.IntVar(&c.Failures, prefix+".failures", 5, "consecutive failed calls to "+what+" that open its circuit breaker (calls then fail at once with 503); 0: no breaker")
	f.DurationVar(&c.ProbeInterval, prefix+".probe-interval", time.Second, "how often an open breaker probes "+what+" (it closes on the first success)")
}

// Validate checks the values; prefix names the keys in the message.
func (c *Config) Validate(prefix string) error {
	if c.Failures < 0 {
		return fmt.Errorf("%s.failures: %d must not be negative (0 turns the breaker off)", prefix, c.Failures)
	}
	if c.ProbeInterval < 10*time.Millisecond || c.ProbeInterval > time.Minute {
		return fmt.Errorf("%s.probe-interval: %v is outside [10ms, 1m]", prefix, c.ProbeInterval)
	}
	return nil
}

// ErrOpen matches (errors.Is) every error an open breaker returns.
var ErrOpen = errors.New("circuit breaker open")

// OpenError is what a call refused by an open breaker returns.
type OpenError struct {
	// Dependency is the breaker's name ("redis", "postgres").
	Dependency string
}

func (e *OpenError) Error() string {
	return e.Dependency + " is unreachable (circuit breaker open; failing fast until a probe succeeds)"
}

// Is makes errors.Is(err, ErrOpen) true.
func (e *OpenError) Is(target error) bool { return target == ErrOpen }

// Outcome is what a call's error says about the dependency.
type Outcome int

// The outcomes a classifier returns.
const (
	// Success: the dependency answered (an error reply counts: it is up).
	Success Outcome = iota
	// Failure: the dependency could not be reached or did not answer.
	Failure
	// Ignore: the call says nothing about the dependency (the caller gave
	// up, the breaker itself refused it).
	Ignore
)

// open is the state word of an open breaker; a state >= 0 is a closed
// breaker's count of consecutive failures.
const open = -1

// Breaker is one dependency's circuit breaker. The zero value is not
// usable; a nil *Breaker allows everything.
type Breaker struct {
	name     string
	failures int64
	interval time.Duration
	classify func(error) Outcome
	probe    func(context.Context) error
	log      *zap.Logger
	err      *OpenError // what every refused call returns: no allocation per call

	state    atomic.Int64
	openedAt atomic.Int64 // unix ns, for the log line when it closes

	rejected prometheus.Counter
	opened   prometheus.Counter

	mu      sync.Mutex // guards stop and the prober's start
	stop    chan struct{}
	stopped bool
}

// New returns the breaker of dependency name (closed), or nil when
// cfg.Failures is 0. classify reads a call's error; probe is the call an open
// breaker makes every cfg.ProbeInterval (it runs under Probing, so it passes
// the breaker). Metrics are registered with reg (nil: none):
//
//	rush_dependency_breaker_open{dependency}           1 while open, else 0
//	rush_dependency_breaker_opened_total{dependency}   times it opened
//	rush_dependency_breaker_rejected_total{dependency} calls it failed fast
func New(name string, cfg Config, classify func(error) Outcome, probe func(context.Context) error, log *zap.Logger, reg prometheus.Registerer) (*Breaker, error) {
	if cfg.Failures == 0 {
		return nil, nil
	}
	labels := prometheus.Labels{"dependency": name}
	b := &Breaker{
		name: name, failures: int64(cfg.Failures), interval: cfg.ProbeInterval,
		classify: classify, probe: probe, log: log.With(zap.String("dependency", name)), err: &OpenError{Dependency: name},
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "rush_dependency_breaker_rejected_total", ConstLabels: labels,
			Help: "Calls to a dependency failed at once because its circuit breaker was open."}),
		opened: prometheus.NewCounter(prometheus.CounterOpts{Name: "rush_dependency_breaker_opened_total", ConstLabels: labels,
			Help: "Times a dependency's circuit breaker opened."}),
		stop: make(chan struct{}),
	}
	gauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rush_dependency_breaker_open", ConstLabels: labels,
		Help: "1 while the dependency's circuit breaker is open (calls fail fast), 0 when closed."},
		func() float64 {
			if b.Open() {
				return 1
			}
			return 0
		})
	if reg != nil {
		for _, c := range []prometheus.Collector{gauge, b.rejected, b.opened} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("breaker %s: metrics: %w", name, err)
			}
		}
	}
	return b, nil
}

// probeKey marks the context of a breaker's own probe.
type probeKey struct{}

// Probing returns ctx marked as b's probe: an open b lets its calls through.
func Probing(ctx context.Context, b *Breaker) context.Context {
	return context.WithValue(ctx, probeKey{}, b)
}

// Open reports whether b fails calls fast now.
func (b *Breaker) Open() bool { return b != nil && b.state.Load() == open }

// Allow reports whether a call made under ctx may go to the dependency; a
// refused call is counted, and the caller returns Err() instead. Closed, it
// is one atomic load.
func (b *Breaker) Allow(ctx context.Context) bool {
	if b == nil || b.state.Load() != open {
		return true
	}
	if p, _ := ctx.Value(probeKey{}).(*Breaker); p == b {
		return true
	}
	b.rejected.Inc()
	return false
}

// Err is the error of a refused call.
func (b *Breaker) Err() error { return b.err }

// Record reports the result of a call that Allow let through. A success is
// one atomic load when there were no failures before it.
func (b *Breaker) Record(err error) {
	if b == nil {
		return
	}
	switch b.classify(err) {
	case Success:
		// Only a closed breaker's count is reset here: an open one closes
		// when its own probe succeeds, not on a late answer to a call made
		// before it opened.
		if s := b.state.Load(); s > 0 {
			b.state.CompareAndSwap(s, 0)
		}
	case Failure:
		for {
			s := b.state.Load()
			if s == open {
				return
			}
			next := s + 1
			if next >= b.failures {
				next = open
			}
			if b.state.CompareAndSwap(s, next) {
				if next == open {
					b.trip(err)
				}
				return
			}
		}
	}
}

// trip runs once per opening: it logs, counts and starts the prober.
func (b *Breaker) trip(cause error) {
	b.opened.Inc()
	b.openedAt.Store(time.Now().UnixNano())
	b.log.Error("dependency unreachable: failing its calls fast (503) until a probe succeeds",
		zap.Int64("consecutive_failures", b.failures), zap.Duration("probe_interval", b.interval), zap.Error(cause))
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return
	}
	go b.probeLoop(b.stop)
}

// probeLoop probes every interval until a probe succeeds (closing the
// breaker) or Close is called.
func (b *Breaker) probeLoop(stop <-chan struct{}) {
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(Probing(context.Background(), b), b.interval)
		err := b.probe(ctx)
		cancel()
		if err == nil {
			b.state.Store(0)
			b.log.Info("dependency answers again: circuit breaker closed",
				zap.Duration("open_for", time.Duration(time.Now().UnixNano()-b.openedAt.Load())))
			return
		}
		b.log.Debug("probe failed; breaker stays open", zap.Error(err))
	}
}

// Close stops probing (the process is stopping); b stays in its state.
func (b *Breaker) Close() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.stopped {
		b.stopped = true
		close(b.stop)
	}
}
