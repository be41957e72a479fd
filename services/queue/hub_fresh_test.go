package queue_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/services/queue"
)

// TestHubWatchDoesNotStartWithAStaleState: a state the hub cached long ago
// (a GetLine, a join, or watchers who left) is not what a new watcher hears
// first: the line sold out then, seats came back since, and a buyer who
// (re)connects must not be told "sold out" (a final message: the stream
// ends) from a state older than a tick.
func TestHubWatchDoesNotStartWithAStaleState(t *testing.T) {
	t.Parallel()
	var soldOut atomic.Bool
	soldOut.Store(true)
	read := func(_ context.Context, ev string) (*queuev1.WatchLineResponse, error) {
		time.Sleep(5 * time.Millisecond) // a Redis round trip
		return &queuev1.WatchLineResponse{Line: &queuev1.Line{EventId: ev, SoldOut: soldOut.Load()}}, nil
	}
	const tick = 20 * time.Millisecond
	h := queue.NewHub(read, tick, zap.NewNop())
	t.Cleanup(func() { _ = h.Stop(context.Background()) })

	if _, err := h.Snapshot(context.Background(), "ev"); err != nil { // GetLine while sold out
		t.Fatal(err)
	}
	soldOut.Store(false) // holds expired: seats are back
	time.Sleep(10 * tick)

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var first *queuev1.WatchLineResponse
	_ = h.Watch(ctx, "ev", func(l *queuev1.WatchLineResponse) error {
		first = l
		cancel()
		return nil
	})
	if first == nil {
		t.Fatal("no state")
	}
	if first.GetLine().GetSoldOut() {
		t.Fatalf("a new watcher's first state is one cached %v ago (sold out); the line has seats now", 10*tick)
	}
}
