package edge

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bookingrush/rush/gen/bookingrush/queue/v1/queuev1connect"
	"github.com/bookingrush/rush/services/platform/errs"
)

// TestALineTakenByAStreamIsNotIdled: a stream that took an event's line
// which nobody had watched for longer than linger (it waits for the first
// state, or asks the queue for its status, before its watcher is added)
// keeps the line: idling it then, as the pump's periodic look may, left
// the stream added to a line nobody follows any more, hearing nothing,
// ever. Once the stream is done with it, the line idles as before.
func TestALineTakenByAStreamIsNotIdled(t *testing.T) {
	t.Parallel()
	wr := &waitroom{events: map[string]*eventLine{}}
	cancelled := false
	l := &eventLine{ev: "ev", all: map[*watcher]struct{}{}, undrawn: map[*watcher]struct{}{},
		empty: time.Now().Add(-2 * linger), cancel: func() { cancelled = true }}
	wr.events["ev"] = l

	if got := wr.line("ev"); got != l {
		t.Fatal("line did not answer the line this edge follows")
	}
	if wr.idle(l, time.Now()) || cancelled || wr.events["ev"] != l {
		t.Fatal("a line a stream has taken, its watcher not added yet, was idled")
	}
	l.unpin()
	if !wr.idle(l, time.Now()) || !cancelled || wr.events["ev"] != nil {
		t.Fatal("a line nobody watches nor takes, empty for longer than linger, was not idled")
	}
}

// TestALineTakenAfterStopFollowsNothing: a stream that reaches the edge
// while it stops (an HTTP/2 connection still open as the server drains)
// used to start following its event's line after stop had waited for the
// lines, and waited up to 10 s for a first state; it now hears 503 at once,
// and nothing is left following the line.
func TestALineTakenAfterStopFollowsNothing(t *testing.T) {
	t.Parallel()
	q := queuev1connect.NewQueueServiceClient(http.DefaultClient, "http://127.0.0.1:1") // nothing answers
	wr := newWaitroom(q, nil, nil, Config{QueueUpdateInterval: time.Second, QueueHeartbeat: time.Second}, zap.NewNop())
	wr.line("ev").unpin()
	_ = wr.stop(context.Background())
	l := wr.line("other")
	defer l.unpin()
	began := time.Now()
	err := l.first(context.Background(), 5*time.Second)
	if !errs.Is(err, errs.ServiceUnavailable) || time.Since(began) > time.Second || wr.events["other"] != nil {
		t.Fatalf("a line taken after stop: %v after %v (followed: %v), want SERVICE_UNAVAILABLE at once and no line followed",
			err, time.Since(began).Round(time.Millisecond), wr.events["other"] != nil)
	}
}
