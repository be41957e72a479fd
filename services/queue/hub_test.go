package queue_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/services/queue"
)

// TestHubReadsOncePerTickWhateverTheWatchers: 1,000 watchers of one event
// cost the store one read per tick, every watcher sees the last state, and
// the reads stop when the last watcher leaves.
func TestHubReadsOncePerTickWhateverTheWatchers(t *testing.T) {
	t.Parallel()
	var reads, cursor atomic.Int32
	read := func(_ context.Context, ev string) (*queuev1.WatchLineResponse, error) {
		reads.Add(1)
		return &queuev1.WatchLineResponse{Line: &queuev1.Line{EventId: ev, AdmittedUpTo: cursor.Load()}}, nil
	}
	const tick = 20 * time.Millisecond
	h := queue.NewHub(read, tick, zap.NewNop())
	t.Cleanup(func() { _ = h.Stop(context.Background()) })

	ctx, cancel := context.WithCancel(context.Background())
	const watchers = 1000
	var wg sync.WaitGroup
	var seen [watchers]atomic.Int32
	for i := range watchers {
		wg.Go(func() {
			_ = h.Watch(ctx, "ev", func(l *queuev1.WatchLineResponse) error {
				seen[i].Store(l.GetLine().GetAdmittedUpTo())
				return nil
			})
		})
	}
	// Reads are counted from here: the watchers' first reads, while 1,000
	// goroutines start, belong to no tick of the window.
	start, before := time.Now(), reads.Load()
	for c := range int32(10) {
		cursor.Store(c + 1)
		time.Sleep(2 * tick)
	}
	time.Sleep(3 * tick)
	elapsed := time.Since(start)
	n := reads.Load() - before
	if max := int32(elapsed/tick) + 3; n > max {
		t.Errorf("%d reads in %v for %d watchers, want at most one per tick (%d)", n, elapsed.Round(time.Millisecond), watchers, max)
	}
	for i := range watchers {
		if seen[i].Load() != 10 {
			t.Fatalf("watcher %d saw cursor %d, want the last state (10)", i, seen[i].Load())
		}
	}
	cancel()
	wg.Wait()
	time.Sleep(3 * tick)
	after := reads.Load()
	time.Sleep(5 * tick)
	if reads.Load() != after {
		t.Errorf("the hub kept reading a line nobody watches")
	}

	// Snapshots of a line share one read per tick too.
	before = reads.Load()
	for range 100 {
		if _, err := h.Snapshot(context.Background(), "other"); err != nil {
			t.Fatal(err)
		}
	}
	if r := reads.Load() - before; r > 2 {
		t.Errorf("100 snapshots within a tick cost %d reads", r)
	}
}

// TestAWatchAfterStopEndsAtOnce: a line watched once the hub stopped (a
// stream still arriving as the process drains) starts no reader that
// nobody waits for, and ends at once.
func TestAWatchAfterStopEndsAtOnce(t *testing.T) {
	t.Parallel()
	var reads atomic.Int32
	read := func(_ context.Context, ev string) (*queuev1.WatchLineResponse, error) {
		reads.Add(1)
		return &queuev1.WatchLineResponse{Line: &queuev1.Line{EventId: ev}}, nil
	}
	h := queue.NewHub(read, 20*time.Millisecond, zap.NewNop())
	_ = h.Stop(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- h.Watch(context.Background(), "ev", func(*queuev1.WatchLineResponse) error { return nil })
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("a Watch after Stop: %v, want nil (as when the hub stops under it)", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a Watch after Stop did not end")
	}
	if n := reads.Load(); n != 0 {
		t.Fatalf("a Watch after Stop read the line %d times, want none", n)
	}
}
