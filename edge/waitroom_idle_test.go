package edge

import (
	"testing"
	"time"
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
