// Package groupcommit coalesces concurrent calls into batches (group
// commit), one queue per key: a call that finds fewer than inflight
// batches of its key under way leaves at once, alone (no added wait when
// idle); the calls that arrive meanwhile queue and leave together, at most
// max to a batch, as soon as a batch of their key comes back. Under load a
// batch then carries dozens of calls, and what a batch costs (a script
// call, an RPC) is paid once for all of them.
//
// Booking decides an event's reserves in one Redis script call this way,
// the queue an event's joins, and the mesh carries an edge's calls to one
// component in one RPC. Their runs share Live (who still waits) and Bound
// (the batch's deadline). The calls a mesh batch carries to one procedure
// are a Cohort: they wait for each other at the batch behind them, so that
// they leave in one instead of the first alone and the rest in small ones.
package groupcommit

import (
	"context"
	"sync"
	"time"
)

// Batcher coalesces calls of type C by key K; run sends one batch and
// answers each of its calls (the calls carry their own way to answer,
// such as a channel their caller waits on).
type Batcher[K comparable, C any] struct {
	max      int
	inflight func(key K) int
	run      func(key K, batch []C)

	mu   sync.Mutex
	keys map[K]*queue[C]
}

// queue is one key's waiting calls and its batches under way.
type queue[C any] struct {
	waiting []C
	running int
}

// New returns a Batcher that keeps at most inflight batches of a key under
// way, each of at most max calls.
func New[K comparable, C any](max, inflight int, run func(key K, batch []C)) *Batcher[K, C] {
	return NewPerKey(max, func(K) int { return inflight }, run)
}

// NewPerKey is New with a bound per key, asked each time a call arrives
// (so it may change: the replicas of a component come and go); inflight is
// called with the Batcher's lock held, so it must be quick and must not
// call back into the Batcher. A bound below 1 counts as 1.
func NewPerKey[K comparable, C any](max int, inflight func(key K) int, run func(key K, batch []C)) *Batcher[K, C] {
	return &Batcher[K, C]{max: max, inflight: inflight, run: run, keys: map[K]*queue[C]{}}
}

// Add queues c under key. When fewer than inflight batches of key are
// under way, the caller runs the batch c is in before Add returns, and
// hands any calls that queued meanwhile to a goroutine; otherwise Add
// returns at once and c leaves with a later batch. Either way, c learns
// its answer from run.
//
// A call of a Cohort (its Context carries a member, Cohort.Member) starts
// no batch before its cohort is complete: it queues, and leaves with the
// cohort's last member (or a batch of its key that ends meanwhile).
func (b *Batcher[K, C]) Add(key K, c C) {
	b.mu.Lock()
	q := b.keys[key]
	if q == nil {
		q = &queue[C]{}
		b.keys[key] = q
	}
	q.waiting = append(q.waiting, c)
	if m := memberOf(c); m != nil {
		b.mu.Unlock()
		starts, held := m.arrive(keyStart[K, C]{b, key})
		if held {
			return
		}
		release(starts, keyStart[K, C]{b, key})
		return
	}
	if q.running >= max(1, b.inflight(key)) {
		b.mu.Unlock()
		return
	}
	b.launch(key, q)
}

// start runs a batch of key's waiting calls if fewer than inflight are
// under way, then the batches of any calls that queued meanwhile.
func (b *Batcher[K, C]) start(key K) {
	b.mu.Lock()
	q := b.keys[key]
	if q == nil || len(q.waiting) == 0 || q.running >= max(1, b.inflight(key)) {
		b.mu.Unlock()
		return
	}
	b.launch(key, q)
}

// launch runs a batch of q's waiting calls in this goroutine, then the
// batches of any that queue meanwhile (called with b.mu held; releases it).
func (b *Batcher[K, C]) launch(key K, q *queue[C]) {
	q.running++
	batch := b.take(q)
	b.mu.Unlock()
	b.run(key, batch)
	b.next(key, q)
}

// take removes the next batch from q's waiting calls (b.mu held).
func (b *Batcher[K, C]) take(q *queue[C]) []C {
	n := min(len(q.waiting), b.max)
	batch := q.waiting[:n:n]
	q.waiting = q.waiting[n:]
	if len(q.waiting) == 0 {
		q.waiting = nil // let the backing array go
	}
	return batch
}

// next ends a batch under way: when calls of the key wait, a goroutine
// runs their batches until none is left.
func (b *Batcher[K, C]) next(key K, q *queue[C]) {
	b.mu.Lock()
	// A bound that went down (fewer replicas) takes effect as batches end:
	// with calls waiting, running > bound >= 1 leaves another runner on.
	if len(q.waiting) == 0 || q.running > max(1, b.inflight(key)) {
		q.running--
		if q.running == 0 {
			delete(b.keys, key)
		}
		b.mu.Unlock()
		return
	}
	batch := b.take(q)
	b.mu.Unlock()
	go func() {
		b.run(key, batch)
		b.next(key, q)
	}()
}

// Caller is a call of a batch as its run sees it: the caller's context,
// and a way to answer it with an error.
type Caller interface {
	Context() context.Context
	Fail(err error)
}

// Live answers each call of batch whose caller gave up while it waited
// (its context is done) with that error, and returns the others in order:
// nothing is sent for a call nobody waits for.
func Live[C Caller](batch []C) []C {
	live := batch[:0:0]
	for _, c := range batch {
		if err := c.Context().Err(); err != nil {
			c.Fail(err)
			continue
		}
		live = append(live, c)
	}
	return live
}

// Bound bounds base, the context a batch runs in, by its calls' deadlines:
// the earliest of them when earliest is set (calls without one do not
// count); else the latest, and none when a call has none, as each answer
// is wanted for as long as its own caller waits.
func Bound[C Caller](base context.Context, calls []C, earliest bool) (context.Context, context.CancelFunc) {
	var deadline time.Time
	for _, c := range calls {
		d, ok := c.Context().Deadline()
		switch {
		case !ok && !earliest:
			return base, func() {}
		case !ok:
		case deadline.IsZero(), earliest && d.Before(deadline), !earliest && d.After(deadline):
			deadline = d
		}
	}
	if deadline.IsZero() {
		return base, func() {}
	}
	return context.WithDeadline(base, deadline)
}
