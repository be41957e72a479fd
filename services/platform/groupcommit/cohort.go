package groupcommit

import (
	"context"
	"sync"
	"time"
)

// A Cohort is a set of calls known to be on their way together: the calls
// of one mesh batch to one procedure (platform/server). Each runs its
// handler on a goroutine of its own, so they reach their Batcher spread
// over the time their handlers take, and, left alone, the first would leave
// alone and the next few in small batches, each paying what a batch costs.
// A member that reaches a Batcher queues without starting a batch until
// every member has arrived at one or finished without (Member's done), or
// until wait has passed since the cohort formed; then they leave together.
// A member arriving a second time, or after the cohort let go, is a call
// like any other.
type Cohort struct {
	mu      sync.Mutex
	pending int // members that neither arrived nor finished
	members []member
	starts  []starter // the batches its arrived members wait for
	done    bool
	timer   *time.Timer
}

type member struct {
	c       *Cohort
	arrived bool // guarded by c.mu
	over    bool
}

// starter starts a batch of one key of one Batcher; comparable, so a
// cohort keeps each once.
type starter interface{ start() }

type keyStart[K comparable, C any] struct {
	b   *Batcher[K, C]
	key K
}

func (s keyStart[K, C]) start() { s.b.start(s.key) }

type memberKey struct{}

// NewCohort returns a cohort of n members that waits at most wait for them.
func NewCohort(n int, wait time.Duration) *Cohort {
	c := &Cohort{pending: n, members: make([]member, n)}
	for i := range c.members {
		c.members[i].c = c
	}
	// The timer may fire before AfterFunc returns (a short wait, a busy
	// machine): let, which stops it, waits for the assignment.
	c.mu.Lock()
	c.timer = time.AfterFunc(wait, func() { release(c.let(), nil) })
	c.mu.Unlock()
	return c
}

// Member returns ctx carrying member i of c (0 <= i < n), and done, to call
// once that member's call has finished.
func (c *Cohort) Member(ctx context.Context, i int) (context.Context, func()) {
	m := &c.members[i]
	return context.WithValue(ctx, memberKey{}, m), m.finish
}

// memberOf is the cohort member c's context carries, if any.
func memberOf[C any](c C) *member {
	cc, ok := any(c).(interface{ Context() context.Context })
	if !ok {
		return nil
	}
	m, _ := cc.Context().Value(memberKey{}).(*member)
	return m
}

// arrive records that m's call queued on s: held when the cohort still
// waits for others; else the batches to start now (s's among them).
func (m *member) arrive(s starter) (starts []starter, held bool) {
	c := m.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done || m.arrived || m.over {
		return nil, false
	}
	m.arrived = true
	c.pending--
	if !containsStarter(c.starts, s) {
		c.starts = append(c.starts, s)
	}
	if c.pending > 0 {
		return nil, true
	}
	return c.letLocked(), false
}

// finish records that m's call finished: when it never arrived, the cohort
// waits for one member less.
func (m *member) finish() {
	c := m.c
	c.mu.Lock()
	var starts []starter
	if !c.done && !m.arrived && !m.over {
		c.pending--
		if c.pending == 0 {
			starts = c.letLocked()
		}
	}
	m.over = true
	c.mu.Unlock()
	release(starts, nil)
}

// let ends the wait, once: the batches to start.
func (c *Cohort) let() []starter {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.letLocked()
}

// letLocked is let with c.mu held.
func (c *Cohort) letLocked() []starter {
	if c.done {
		return nil
	}
	c.done = true
	c.timer.Stop()
	starts := c.starts
	c.starts = nil
	return starts
}

// release starts each batch: own (the caller's) in this goroutine, the
// others on goroutines of their own (a batch runs until its answer is
// back); with no own, the last in this goroutine.
func release(starts []starter, own starter) {
	if own == nil && len(starts) > 0 {
		own = starts[len(starts)-1]
	}
	for _, s := range starts {
		if s != own {
			go s.start()
		}
	}
	if own != nil {
		own.start()
	}
}

func containsStarter(ss []starter, s starter) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
