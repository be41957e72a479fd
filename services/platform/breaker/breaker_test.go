package breaker_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/breaker"
)

var (
	errDown   = errors.New("connection refused")
	errAnswer = errors.New("an answer")
)

func classify(err error) breaker.Outcome {
	switch {
	case err == nil, errors.Is(err, errAnswer):
		return breaker.Success
	case errors.Is(err, context.Canceled):
		return breaker.Ignore
	}
	return breaker.Failure
}

// dependency is a fake dependency whose health the test switches.
type dependency struct{ up atomic.Bool }

func (d *dependency) call(ctx context.Context, b *breaker.Breaker) error {
	if !b.Allow(ctx) {
		return b.Err()
	}
	var err error
	if !d.up.Load() {
		err = errDown
	}
	b.Record(err)
	return err
}

func TestBreakerOpensFailsFastAndClosesOnAProbe(t *testing.T) {
	t.Parallel()
	dep := &dependency{}
	dep.up.Store(true)
	var probes atomic.Int32
	reg := prometheus.NewRegistry()
	b, err := breaker.New("store", breaker.Config{Failures: 3, ProbeInterval: 20 * time.Millisecond}, classify,
		func(ctx context.Context) error { probes.Add(1); return dep.call(ctx, nil) }, zap.NewNop(), reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ctx := context.Background()

	// Failures that are not consecutive, answers and cancellations keep it
	// closed.
	dep.up.Store(false)
	_ = dep.call(ctx, b)
	_ = dep.call(ctx, b)
	b.Record(errAnswer)
	_ = dep.call(ctx, b)
	b.Record(context.Canceled)
	_ = dep.call(ctx, b)
	if b.Open() {
		t.Fatal("opened without 3 consecutive failures")
	}
	if err := dep.call(ctx, b); !errors.Is(err, errDown) || !b.Open() {
		t.Fatalf("third consecutive failure: %v, open %v", err, b.Open())
	}

	// Open: calls fail at once, with an error naming the dependency.
	err = dep.call(ctx, b)
	if !errors.Is(err, breaker.ErrOpen) || !strings.HasPrefix(err.Error(), "store is unreachable") {
		t.Fatalf("call while open: %v", err)
	}
	if got := metric(t, reg, "rush_dependency_breaker_rejected_total"); got != 1 {
		t.Errorf("rejected = %v", got)
	}
	// A probe passes an open breaker.
	if !b.Allow(breaker.Probing(ctx, b)) {
		t.Error("the breaker refused its own probe")
	}

	// Down: probes fail and it stays open; up: the next probe closes it.
	for wait := time.Now().Add(2 * time.Second); probes.Load() < 2 && time.Now().Before(wait); {
		time.Sleep(5 * time.Millisecond)
	}
	if !b.Open() || probes.Load() < 2 {
		t.Fatalf("open %v after %d probes of a dead dependency", b.Open(), probes.Load())
	}
	dep.up.Store(true)
	deadline := time.Now().Add(2 * time.Second)
	for b.Open() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := dep.call(ctx, b); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	n := probes.Load()
	time.Sleep(60 * time.Millisecond)
	if probes.Load() != n {
		t.Error("probing went on after the breaker closed")
	}
	if got := metric(t, reg, "rush_dependency_breaker_opened_total"); got != 1 {
		t.Errorf("opened = %v", got)
	}
	want := `
# HELP rush_dependency_breaker_open 1 while the dependency's circuit breaker is open (calls fail fast), 0 when closed.
# TYPE rush_dependency_breaker_open gauge
rush_dependency_breaker_open{dependency="store"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "rush_dependency_breaker_open"); err != nil {
		t.Error(err)
	}
}

// metric is the value of the one series of name in reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestBreakerOff(t *testing.T) {
	t.Parallel()
	b, err := breaker.New("store", breaker.Config{Failures: 0, ProbeInterval: time.Second}, classify, nil, zap.NewNop(), nil)
	if err != nil || b != nil {
		t.Fatalf("failures 0: %v, %v", b, err)
	}
	for range 10 {
		b.Record(errDown)
	}
	if !b.Allow(context.Background()) || b.Open() {
		t.Error("a nil breaker refused a call")
	}
	b.Close()
}

func BenchmarkClosedBreaker(b *testing.B) {
	br, err := breaker.New("store", breaker.Config{Failures: 5, ProbeInterval: time.Second}, classify, nil, zap.NewNop(), nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if br.Allow(ctx) {
				br.Record(nil)
			}
		}
	})
}
