// Package background runs the long-lived loops of the mesh (sweeper, relays,
// admitter, mail worker) for the life of an fx app: one goroutine started
// by OnStart and cancelled, then awaited, by OnStop.
package background

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Task is one background goroutine. Embed it to give a worker Start and
// Stop methods fit for fx.Hook{OnStart: w.Start, OnStop: w.Stop}.
type Task struct {
	run func(ctx context.Context)

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a task that runs run until its context is cancelled.
func New(run func(ctx context.Context)) *Task { return &Task{run: run} }

// ErrRunning is returned by Start on a task that already runs.
var ErrRunning = errors.New("background: task already running")

// Start launches the goroutine and returns at once; ctx (an fx start
// context) only bounds Start itself. A stopped task may be started again.
func (t *Task) Start(context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done != nil {
		return ErrRunning
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.cancel, t.done = cancel, done
	go func() {
		defer close(done)
		t.run(ctx)
	}()
	return nil
}

// Stop cancels the goroutine and waits for it to return, or for ctx.
func (t *Task) Stop(ctx context.Context) error {
	t.mu.Lock()
	cancel, done := t.cancel, t.done
	t.cancel, t.done = nil, nil
	t.mu.Unlock()
	if done == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Wait blocks until the next tick of t, a kick (nil: none) or the end of
// ctx; it reports false when ctx ended.
func Wait(ctx context.Context, t *time.Ticker, kick <-chan struct{}) bool {
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	case <-kick:
		return true
	}
}

// Sleep waits d or until ctx ends; it reports false when ctx ended.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
