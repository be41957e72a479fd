package groupcommit_test

import (
	"sync"
	"sync/atomic"
	"testing"

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
