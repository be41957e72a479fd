package groupcommit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/groupcommit"
)

type call struct {
	n    int
	done chan struct{}
}

// TestEveryCallOnceWithinTheBounds: thousands of concurrent calls over a
// few keys each leave in exactly one batch of their own key, no batch is
// larger than max, no key ever has more than inflight batches under way,
// and a lone call leaves alone.
func TestEveryCallOnceWithinTheBounds(t *testing.T) {
	const max, inflight, keys, calls = 8, 2, 3, 3000
	var (
		mu      sync.Mutex
		running = map[int]int{}
		seen    = make([]atomic.Int32, calls)
		batches atomic.Int64
	)
	b := groupcommit.New(max, inflight, func(key int, batch []*call) {
		mu.Lock()
		running[key]++
		if running[key] > inflight {
			t.Errorf("key %d: %d batches under way", key, running[key])
		}
		mu.Unlock()
		if len(batch) == 0 || len(batch) > max {
			t.Errorf("a batch of %d calls", len(batch))
		}
		batches.Add(1)
		for _, c := range batch {
			if c.n%keys != key {
				t.Errorf("call %d in a batch of key %d", c.n, key)
			}
			seen[c.n].Add(1)
		}
		mu.Lock()
		running[key]--
		mu.Unlock()
		for _, c := range batch {
			close(c.done)
		}
	})

	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			c := &call{n: i, done: make(chan struct{})}
			b.Add(i%keys, c)
			<-c.done
		})
	}
	wg.Wait()
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Fatalf("call %d ran %d times", i, n)
		}
	}
	t.Logf("%d calls in %d batches", calls, batches.Load())

	// Idle: a lone call runs at once, alone, in the caller's goroutine.
	var size int
	c := &call{n: 0, done: make(chan struct{})}
	groupcommit.New(max, inflight, func(_ int, batch []*call) { size = len(batch) }).Add(0, c)
	if size != 1 {
		t.Fatalf("a lone call left in a batch of %d", size)
	}
}

// TestBoundPerKey: NewPerKey's bound is asked per key and as calls arrive:
// a key of bound 3 gets three batches under way at once, a key of bound 1
// one, and a bound lowered while calls wait takes effect as batches end.
func TestBoundPerKey(t *testing.T) {
	var bound [2]atomic.Int32
	bound[0].Store(1)
	bound[1].Store(3)
	var running, peak [2]atomic.Int32
	release := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	b := groupcommit.NewPerKey(1, func(key int) int { return int(bound[key].Load()) }, func(key int, batch []*call) {
		n := running[key].Add(1)
		for {
			p := peak[key].Load()
			if n <= p || peak[key].CompareAndSwap(p, n) {
				break
			}
		}
		<-release[key]
		running[key].Add(-1)
		for _, c := range batch {
			close(c.done)
		}
	})
	var wg sync.WaitGroup
	for key := range 2 {
		for range 6 {
			wg.Go(func() {
				c := &call{done: make(chan struct{})}
				b.Add(key, c)
				<-c.done
			})
		}
	}
	for running[0].Load() < 1 || running[1].Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond) // no fourth batch of key 1 starts
	if peak[0].Load() != 1 || peak[1].Load() != 3 {
		t.Fatalf("peaks %d and %d batches under way, want 1 and 3", peak[0].Load(), peak[1].Load())
	}
	// The replicas of key 1 went from three to one: as its three batches
	// end, one runner goes on with the three calls that wait.
	bound[1].Store(1)
	for range 3 {
		release[1] <- struct{}{}
	}
	for running[1].Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	peak[1].Store(1)
	for range 3 {
		release[1] <- struct{}{}
	}
	for range 6 {
		release[0] <- struct{}{}
	}
	wg.Wait()
	if peak[1].Load() != 1 {
		t.Errorf("%d batches of key 1 under way after its bound went down to 1", peak[1].Load())
	}
}

type ctxCall struct {
	ctx    context.Context
	failed error
}

func (c *ctxCall) Context() context.Context { return c.ctx }
func (c *ctxCall) Fail(err error)           { c.failed = err }

// TestLiveAndBound: calls whose callers gave up are answered and left out;
// a batch ends at its calls' earliest deadline, or their latest, and never
// when it is the latest and one call has none.
func TestLiveAndBound(t *testing.T) {
	now := time.Now()
	at := func(d time.Duration) *ctxCall {
		ctx, cancel := context.WithDeadline(context.Background(), now.Add(d))
		t.Cleanup(cancel)
		return &ctxCall{ctx: ctx}
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	dead := &ctxCall{ctx: gone}
	soon, later, never := at(time.Minute), at(time.Hour), &ctxCall{ctx: context.Background()}
	live := groupcommit.Live([]*ctxCall{soon, dead, later})
	if len(live) != 2 || live[0] != soon || live[1] != later || !errors.Is(dead.failed, context.Canceled) || soon.failed != nil {
		t.Fatalf("live %v, the cancelled call answered %v", live, dead.failed)
	}
	for _, tc := range []struct {
		calls    []*ctxCall
		earliest bool
		want     time.Time // zero: no deadline
	}{
		{[]*ctxCall{later, soon}, true, now.Add(time.Minute)},
		{[]*ctxCall{soon, later}, false, now.Add(time.Hour)},
		{[]*ctxCall{never, soon}, true, now.Add(time.Minute)},
		{[]*ctxCall{soon, never}, false, time.Time{}},
		{[]*ctxCall{never}, true, time.Time{}},
	} {
		ctx, cancel := groupcommit.Bound(context.Background(), tc.calls, tc.earliest)
		d, ok := ctx.Deadline()
		if ok != !tc.want.IsZero() || !d.Equal(tc.want) {
			t.Errorf("earliest %v: deadline %v %v, want %v", tc.earliest, d, ok, tc.want)
		}
		cancel()
	}
}

type memberCall struct {
	ctx  context.Context
	done chan struct{}
}

func (c *memberCall) Context() context.Context { return c.ctx }

// TestCohortLeavesTogether: the members of a cohort that reach a Batcher
// one after the other leave in one batch once the last arrives, whatever
// the bound; a member that finishes without arriving is not waited for;
// one that never does holds the others only for the cohort's wait; and a
// call outside any cohort (or arriving again) is not held.
func TestCohortLeavesTogether(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	b := groupcommit.New(64, 2, func(_ string, batch []*memberCall) {
		mu.Lock()
		sizes = append(sizes, len(batch))
		mu.Unlock()
		for _, c := range batch {
			close(c.done)
		}
	})
	batches := func() []int {
		mu.Lock()
		defer mu.Unlock()
		out := sizes
		sizes = nil
		return out
	}
	add := func(ctx context.Context) *memberCall {
		c := &memberCall{ctx: ctx, done: make(chan struct{})}
		go b.Add("ev", c)
		return c
	}
	wait := func(cs ...*memberCall) {
		t.Helper()
		for _, c := range cs {
			select {
			case <-c.done:
			case <-time.After(5 * time.Second):
				t.Fatal("a call was never answered")
			}
		}
	}

	// Five members, staggered: nothing leaves before the fifth; then one
	// batch. The fourth finishes without arriving (a handler that failed
	// before the group commit).
	co := groupcommit.NewCohort(6, time.Minute)
	var cs []*memberCall
	for i := range 5 {
		ctx, _ := co.Member(context.Background(), i)
		cs = append(cs, add(ctx))
		time.Sleep(5 * time.Millisecond)
	}
	_, done5 := co.Member(context.Background(), 5)
	if got := batches(); len(got) != 0 {
		t.Fatalf("batches before the cohort was complete: %v", got)
	}
	done5()
	wait(cs...)
	if got := batches(); len(got) != 1 || got[0] != 5 {
		t.Fatalf("the cohort left in batches %v, want [5]", got)
	}

	// A member that never arrives nor finishes holds the others for the
	// cohort's wait only.
	co = groupcommit.NewCohort(3, 50*time.Millisecond)
	start := time.Now()
	ctx0, _ := co.Member(context.Background(), 0)
	ctx1, _ := co.Member(context.Background(), 1)
	c0, c1 := add(ctx0), add(ctx1)
	wait(c0, c1)
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("left after %v, before the cohort's wait", d)
	}
	if got := batches(); len(got) != 1 || got[0] != 2 {
		t.Fatalf("batches %v, want [2]", got)
	}
	// The late member, and a member arriving again, are calls like any
	// other: no wait.
	ctx2, _ := co.Member(context.Background(), 2)
	wait(add(ctx2), add(ctx0))
	co = groupcommit.NewCohort(2, time.Minute)
	ctxA, doneA := co.Member(context.Background(), 0)
	doneA()
	wait(add(ctxA))
	wait(add(context.Background()))

	// A wait that ends at once (the timer fires before NewCohort is done)
	// lets its members go.
	for range 1000 {
		co = groupcommit.NewCohort(2, 0)
		ctx, _ := co.Member(context.Background(), 0)
		wait(add(ctx))
	}
}
