package booking

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/bookingrush/rush/services/platform/groupcommit"
)

// reserveBatcher coalesces the concurrent reserves of one event into one
// reserve.lua call that decides each of them in order (group commit,
// platform/groupcommit): a reserve that finds fewer than reserveInFlight
// calls of its event under way goes at once, alone (no added wait when
// idle); the ones that arrive meanwhile queue and leave together, at most
// max to a call, as soon as a call of their event comes back. Under load
// one script call then decides dozens of holds: Redis pays the call, the
// event's reads and the clock once per batch instead of once per hold.
type reserveBatcher struct {
	eng    *Engine
	events *groupcommit.Batcher[string, *reserveCall]

	// calls and decided count script calls and the reserves they carried
	// (rush_booking_reserve_script_calls_total, ..._batched_total).
	calls, decided atomic.Int64
}

// reserveInFlight is how many script calls of one event one process keeps
// under way: two, so the next batch is on the wire while Redis runs the
// last one.
const reserveInFlight = 2

// reserveCall is one reserve waiting for its answer (a groupcommit.Caller).
type reserveCall struct {
	ctx  context.Context // the caller's: its deadline and trace
	in   ReserveInput
	tp   string
	res  []string
	err  error
	done chan struct{}
}

func (c *reserveCall) Context() context.Context { return c.ctx }

// Fail answers c unavailable: its caller gave up, nothing ran for it.
func (c *reserveCall) Fail(err error) { c.err = unavailable(err); close(c.done) }

func newReserveBatcher(eng *Engine, max int) *reserveBatcher {
	b := &reserveBatcher{eng: eng}
	b.events = groupcommit.New(max, reserveInFlight, func(_ string, batch []*reserveCall) { b.run(batch) })
	return b
}

// do decides in and returns the script's answer for it.
func (b *reserveBatcher) do(ctx context.Context, in ReserveInput) ([]string, error) {
	c := &reserveCall{ctx: ctx, in: in, tp: traceParent(ctx), done: make(chan struct{})}
	b.events.Add(in.EventID, c)
	<-c.done
	return c.res, c.err
}

// run sends one batch and answers each of its reserves. A reserve whose
// deadline passed while it waited is answered unavailable without being
// sent (nothing ran for it); the call has the earliest deadline of the
// others, and the trace of the first.
func (b *reserveBatcher) run(batch []*reserveCall) {
	live := groupcommit.Live(batch)
	if len(live) == 0 {
		return
	}
	ctx, cancel := groupcommit.Bound(context.WithoutCancel(live[0].ctx), live, true)
	defer cancel()
	b.calls.Add(1)
	b.decided.Add(int64(len(live)))
	answers, err := b.eng.reserveBatch(ctx, live)
	for i, c := range live {
		switch {
		case err != nil:
			c.err = err
		case i >= len(answers):
			c.err = fmt.Errorf("reserve.lua: %d answers for %d reserves", len(answers), len(live))
		default:
			c.res = answers[i]
		}
		close(c.done)
	}
}
