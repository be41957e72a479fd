package queue

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
	"google.golang.org/protobuf/proto"

	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
)

// Hub reads the line of every event watched in this process once per tick,
// whatever the number of watchers, and hands each new state to all of them:
// the Redis work of the waiting room's streams is O(events × replicas) per
// tick. GetLine answers from it too (a state at most a tick old).
type Hub struct {
	read func(ctx context.Context, ev string) (*queuev1.WatchLineResponse, error)
	tick time.Duration
	log  *zap.Logger

	mu     sync.Mutex
	lines  map[string]*line
	reads  singleflight.Group
	failed bool // the last read failed (log the first failure and the recovery)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// line is one event's state as the hub last read it.
type line struct {
	state    *queuev1.WatchLineResponse
	at       time.Time     // when state was read
	changed  chan struct{} // closed when state changes
	watchers int
	polling  bool
}

// maxCached bounds the states kept for GetLine of events nobody watches
// here (anyone may ask for any event id).
const maxCached = 10000

// NewHub returns a hub reading lines with read every tick.
func NewHub(read func(ctx context.Context, ev string) (*queuev1.WatchLineResponse, error), tick time.Duration, log *zap.Logger) *Hub {
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{read: read, tick: tick, log: log, lines: map[string]*line{}, ctx: ctx, cancel: cancel}
}

// Stop ends the readers and waits for them. The cancel is made under h.mu,
// where Watch starts a reader: one started before is waited for, a Watch
// after starts none.
func (h *Hub) Stop(context.Context) error {
	h.mu.Lock()
	h.cancel()
	h.mu.Unlock()
	h.wg.Wait()
	return nil
}

// Watch calls fn with the event's line state as soon as there is one, then
// after every change, until ctx ends (nil) or fn fails (its error). States
// that change while fn runs are coalesced: fn always gets the latest.
func (h *Hub) Watch(ctx context.Context, ev string, fn func(*queuev1.WatchLineResponse) error) error {
	h.mu.Lock()
	if h.ctx.Err() != nil {
		h.mu.Unlock()
		return nil // stopping, as below
	}
	l := h.lineLocked(ev)
	l.watchers++
	polled := l.polling
	if !l.polling {
		l.polling = true
		h.wg.Add(1)
		go h.poll(ev, l)
	}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		l.watchers--
		h.mu.Unlock()
	}()
	// A state cached while nobody polled the line (a GetLine, a join,
	// watchers who left) is not a new watcher's first: it may say sold
	// out, ended or another epoch, each a final message. Snapshot reads it
	// again when older than a tick (once for all who ask); when that read
	// fails, the watcher gets the error (the store's SERVICE_UNAVAILABLE),
	// not the old state. A line already polled is a tick old at most, and
	// its watchers add no reads.
	if !polled {
		if _, err := h.Snapshot(ctx, ev); err != nil {
			h.mu.Lock()
			stale := l.state == nil || time.Since(l.at) >= h.tick
			h.mu.Unlock()
			if stale {
				return err
			}
		}
	}
	var last *queuev1.WatchLineResponse
	for {
		h.mu.Lock()
		st, changed := l.state, l.changed
		h.mu.Unlock()
		if st != nil && st != last {
			if err := fn(st); err != nil {
				return err
			}
			last = st
		}
		select {
		case <-ctx.Done():
			return nil
		case <-h.ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// Snapshot returns the event's line state, read at most a tick ago: one
// read per tick and event whatever the number of callers.
func (h *Hub) Snapshot(ctx context.Context, ev string) (*queuev1.WatchLineResponse, error) {
	h.mu.Lock()
	if l, ok := h.lines[ev]; ok && l.state != nil && time.Since(l.at) < h.tick {
		st := l.state
		h.mu.Unlock()
		return st, nil
	}
	h.mu.Unlock()
	v, err, _ := h.reads.Do(ev, func() (any, error) {
		st, err := h.read(context.WithoutCancel(ctx), ev)
		if err != nil {
			return nil, err
		}
		h.mu.Lock()
		h.publishLocked(h.lineLocked(ev), st)
		h.mu.Unlock()
		return st, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*queuev1.WatchLineResponse), nil
}

// Fresh forgets the event's state, so the next Snapshot reads Redis (after
// a change this process made, or a state that looked stale).
func (h *Hub) Fresh(ev string) {
	h.mu.Lock()
	if l, ok := h.lines[ev]; ok {
		l.at = time.Time{}
	}
	h.mu.Unlock()
}

// lineLocked returns the event's line, made when needed (h.mu held).
func (h *Hub) lineLocked(ev string) *line {
	if l, ok := h.lines[ev]; ok {
		return l
	}
	if len(h.lines) >= maxCached {
		for k, l := range h.lines {
			if l.watchers == 0 && !l.polling {
				delete(h.lines, k)
			}
		}
	}
	l := &line{changed: make(chan struct{})}
	h.lines[ev] = l
	return l
}

// publishLocked stores st and wakes the watchers when it differs from the
// state they have (the step's time aside).
func (h *Hub) publishLocked(l *line, st *queuev1.WatchLineResponse) {
	l.at = time.Now()
	if l.state != nil && sameLine(l.state, st) {
		return
	}
	l.state = st
	close(l.changed)
	l.changed = make(chan struct{})
}

// poll reads the event's line every tick while someone watches it.
func (h *Hub) poll(ev string, l *line) {
	defer h.wg.Done()
	t := time.NewTicker(h.tick)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(h.ctx, max(h.tick, time.Second))
		st, err := h.read(ctx, ev)
		cancel()
		h.mu.Lock()
		switch {
		case err == nil:
			h.publishLocked(l, st)
			if h.failed {
				h.failed = false
				h.log.Info("reading waiting-room lines works again")
			}
		case h.ctx.Err() == nil && !h.failed:
			h.failed = true
			h.log.Warn("cannot read a waiting-room line; watchers keep the last state, retrying every tick",
				zap.String("event_id", ev), zap.Error(err))
		}
		if l.watchers == 0 || h.ctx.Err() != nil {
			l.polling = false
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		select {
		case <-h.ctx.Done():
		case <-t.C:
		}
	}
}

// sameLine reports whether a and b say the same, whenever they were read.
func sameLine(a, b *queuev1.WatchLineResponse) bool {
	if a.GetLine() == nil || b.GetLine() == nil {
		return proto.Equal(a, b)
	}
	a, b = proto.CloneOf(a), proto.CloneOf(b)
	a.Line.UpdatedAt, b.Line.UpdatedAt = nil, nil
	return proto.Equal(a, b)
}
