package edge

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/durationpb"

	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/gen/bookingrush/queue/v1/queuev1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/ticket"
)

// GET /api/v1/queue/events is the waiting room's stream, in the shape a
// browser's EventSource reads: server-sent events, one `data:` line per
// message (the usual envelope, {"success":true,"data":{queue status}}),
// authenticated by the buyer's queue ticket in the query string
// (?ticket=, as POST /queue/join answered it; EventSource cannot send an
// Authorization header, and a long-lived access token never goes in a URL).
// A client that sends its bearer token instead (?event_id= and
// Authorization) gets its ticket looked up once.
//
// The edge does not ask the queue service about each buyer: it follows one
// WatchLine stream per event (the line's state as the queue service reads
// it once per tick) and computes every buyer's place in memory, from the
// ticket and the cursor. A buyer hears its place and estimate when they
// changed, at most every edge.queue-update-interval, a comment line as
// heartbeat when nothing was said for edge.queue-heartbeat, and the stream
// ends with the buyer's admission (the pass and its window), "sold_out", or
// "expired". The moment the cursor passes a ticket the buyer is told (they
// wait in a heap by sequence); all of an event's buyers are told when it
// sells out.
//
// A waiting buyer costs the edge no goroutine: once the first event is
// written, an HTTP/1.x connection is taken over from the server (hijacked,
// its buffers let go), and one goroutine per event (the line's pump) writes
// every buyer's events to the sockets directly; a client that went away is
// dropped at the first write that fails (a heartbeat at the latest). Over
// HTTP/2, which cannot be taken over, the request's goroutine stays and the
// pump writes through it.

// sseRetry is what EventSource waits before it reconnects after the stream
// ended, so that clients that do not close it on a final message come back
// slowly, not every 3 s.
const sseRetry = "retry: 30000\n\n"

// sseWriteTimeout bounds one write to a buyer: a client that cannot take a
// few hundred bytes that fast is not reading, and is dropped (the pump
// writes every buyer of an event in turn).
const sseWriteTimeout = 200 * time.Millisecond

// pumpEvery is how often a line's pump looks for buyers due a place update
// or a heartbeat.
const pumpEvery = 100 * time.Millisecond

// waitroom multiplexes the queue's line streams to this edge's watchers.
type waitroom struct {
	queue     queuev1connect.QueueServiceClient
	tickets   *ticket.Signer
	codec     *codec
	update    time.Duration
	heartbeat time.Duration
	log       *zap.Logger
	failed    logSampler
	open      atomic.Int64  // streams being served
	claims    chan struct{} // the asks for unplaced tickets under way (lostAfter)

	mu     sync.Mutex
	events map[string]*eventLine
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newWaitroom(q queuev1connect.QueueServiceClient, tickets *ticket.Signer, c *codec, cfg Config, log *zap.Logger) *waitroom {
	ctx, cancel := context.WithCancel(context.Background())
	return &waitroom{queue: q, tickets: tickets, codec: c, update: cfg.QueueUpdateInterval, heartbeat: cfg.QueueHeartbeat,
		log: log, events: map[string]*eventLine{}, ctx: ctx, cancel: cancel, claims: make(chan struct{}, maxClaims)}
}

// register exports the number of open streams and of followed lines.
func (wr *waitroom) register(reg prometheus.Registerer) error {
	return errors.Join(
		reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rush_edge_queue_streams", Help: "Waiting-room streams (GET /api/v1/queue/events) this edge serves.",
		}, func() float64 { return float64(wr.open.Load()) })),
		reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rush_edge_queue_lines", Help: "Events whose line this edge follows (one WatchLine stream each).",
		}, func() float64 { wr.mu.Lock(); defer wr.mu.Unlock(); return float64(len(wr.events)) })),
	)
}

// stop ends every stream and line (before the server drains, which would
// otherwise wait for the streams it still serves). The cancel is made
// under wr.mu, where line starts a line's goroutines: a line taken before
// is waited for, one taken after starts none.
func (wr *waitroom) stop(context.Context) error {
	wr.mu.Lock()
	wr.cancel()
	wr.mu.Unlock()
	wr.wg.Wait()
	return nil
}

// eventLine is one event's line as this edge follows it.
type eventLine struct {
	ev      string
	ready   chan struct{} // closed at the first state
	failed  chan struct{} // closed when following the line failed (failure says why)
	failure atomic.Pointer[error]
	broke   sync.Once
	changed chan struct{} // the pump's doorbell: a new state
	state   atomic.Pointer[lineState]
	cancel  context.CancelFunc

	mu      sync.Mutex // guards what follows
	all     map[*watcher]struct{}
	bySeq   seqHeap               // watchers whose sequence is known, the lowest first
	undrawn map[*watcher]struct{} // watchers of the pre-queue before the draw
	due     []*watcher            // watchers by next periodic look, the earliest first
	empty   time.Time             // since when nobody watches (zero while somebody does)
	pins    int                   // streams that took the line and have not added their watcher yet
}

// lineState is a state of the line and its draw.
type lineState struct {
	msg  *queuev1.WatchLineResponse
	draw *ticket.Draw
}

// watcher is one buyer's stream.
type watcher struct {
	t   ticket.Ticket
	seq uint32
	idx int // in bySeq, -1 when not

	mu     sync.Mutex // one write at a time; guards what follows
	out    sink
	done   bool
	told   place // the last place written
	wrote  time.Time
	next   time.Time     // the next periodic look
	closed chan struct{} // closed when the stream is over
	since  time.Time     // when the stream began
	asked  atomic.Int64  // when the queue was last asked for the ticket's place (unix ms; lostAfter)
}

// sink is where a watcher's events go: a taken-over connection, or the
// response of a request whose goroutine waits (HTTP/2).
type sink interface {
	write(b []byte) error
	close()
}

// connSink writes to a hijacked HTTP/1.x connection.
type connSink struct{ conn net.Conn }

func (s connSink) write(b []byte) error {
	_ = s.conn.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	_, err := s.conn.Write(b)
	return err
}

func (s connSink) close() { _ = s.conn.Close() }

// respSink writes through the response while its request's goroutine
// waits for the watcher's end.
type respSink struct{ w *recorder }

func (s respSink) write(b []byte) error {
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	s.w.Flush()
	return nil
}

func (respSink) close() {}

// seqHeap orders watchers by sequence (container/heap).
type seqHeap []*watcher

func (h seqHeap) Len() int           { return len(h) }
func (h seqHeap) Less(i, j int) bool { return h[i].seq < h[j].seq }
func (h seqHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].idx = i; h[j].idx = j }
func (h *seqHeap) Push(x any)        { w := x.(*watcher); w.idx = len(*h); *h = append(*h, w) }
func (h *seqHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h, w.idx = old[:len(old)-1], -1
	return w
}

// linger is how long a line is followed after its last watcher left: a
// reconnecting buyer finds it still there.
const linger = 5 * time.Second

// line returns the event's line, following it when this edge did not yet.
func (wr *waitroom) line(ev string) *eventLine {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	l, ok := wr.events[ev]
	if !ok {
		l = &eventLine{ev: ev, ready: make(chan struct{}), failed: make(chan struct{}), changed: make(chan struct{}, 1),
			all: map[*watcher]struct{}{}, undrawn: map[*watcher]struct{}{}, empty: time.Now()}
		if wr.ctx.Err() != nil {
			// The edge is stopping: nothing follows the line, and its
			// stream hears so at once.
			err := error(errs.Unavailable("this edge is stopping; retry", nil))
			l.failure.Store(&err)
			close(l.failed)
			return l
		}
		var ctx context.Context
		ctx, l.cancel = context.WithCancel(wr.ctx)
		wr.events[ev] = l
		wr.wg.Add(2)
		go wr.follow(ctx, l)
		go wr.pump(ctx, l)
	}
	// Pinned under wr.mu: idle cannot drop the line between here and the
	// stream's add (a first state, a status call); the stream unpins it
	// when its handler ends.
	l.mu.Lock()
	l.pins++
	l.mu.Unlock()
	return l
}

// unpin releases line's pin.
func (l *eventLine) unpin() {
	l.mu.Lock()
	l.pins--
	l.mu.Unlock()
}

// add hands w to the line's pump.
func (wr *waitroom) add(l *eventLine, w *watcher) {
	wr.open.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all[w] = struct{}{}
	l.empty = time.Time{}
	l.file(w, l.state.Load())
	// The first periodic look is jittered, so that buyers who connected
	// together are not all written at once.
	w.next = time.Now().Add(wr.update/2 + rand.N(wr.update))
	l.due = append(l.due, w)
}

// file sorts w by its sequence, known once the pre-queue is drawn (l.mu
// held).
func (l *eventLine) file(w *watcher, st *lineState) {
	var draw *ticket.Draw
	if st != nil {
		draw = st.draw
	}
	if seq, ok := w.t.Sequence(draw); ok {
		w.seq = seq
		heap.Push(&l.bySeq, w)
		return
	}
	l.undrawn[w] = struct{}{}
}

// remove ends w's stream and takes it off the line.
func (wr *waitroom) remove(l *eventLine, w *watcher) {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return
	}
	w.done = true
	w.out.close()
	close(w.closed)
	w.mu.Unlock()
	wr.open.Add(-1)
	l.mu.Lock()
	delete(l.all, w)
	delete(l.undrawn, w)
	if w.idx >= 0 {
		heap.Remove(&l.bySeq, w.idx)
	}
	if len(l.all) == 0 {
		l.empty = time.Now()
	}
	l.mu.Unlock()
}

// follow streams the event's line from the queue service (as the edge
// itself: no buyer's token) until ctx ends, reconnecting when the stream
// breaks; watchers keep the last state meanwhile.
func (wr *waitroom) follow(ctx context.Context, l *eventLine) {
	defer wr.wg.Done()
	backoff := 100 * time.Millisecond
	for {
		stream, err := wr.queue.WatchLine(ctx, connect.NewRequest(&queuev1.WatchLineRequest{EventId: l.ev}))
		if err == nil {
			for stream.Receive() {
				l.publish(stream.Msg())
				backoff = 100 * time.Millisecond
			}
			err = stream.Err()
			_ = stream.Close()
		}
		if ctx.Err() != nil {
			return
		}
		l.fail(err)
		if wr.failed.allow() {
			wr.log.Warn("the queue's line stream broke; reconnecting", zap.String("event_id", l.ev), zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// fail records why following the line failed: a stream waiting for the
// line's first state answers it at once, instead of waiting for one.
func (l *eventLine) fail(err error) {
	if !connect.IsWireError(err) && connect.CodeOf(err) != connect.CodeUnimplemented {
		err = errs.New(errs.ServiceUnavailable, "the waiting room is unavailable; retry", "dependency", "queue")
	}
	l.failure.Store(&err)
	l.broke.Do(func() { close(l.failed) })
}

// first waits for the line's first state (nil), and answers why there is
// none when following the line failed before it, or after within.
func (l *eventLine) first(ctx context.Context, within time.Duration) error {
	select {
	case <-l.ready:
		return nil
	default:
	}
	timeout := time.NewTimer(within)
	defer timeout.Stop()
	select {
	case <-l.ready:
		return nil
	case <-l.failed:
		select {
		case <-l.ready:
			return nil
		default:
			return *l.failure.Load()
		}
	case <-ctx.Done():
		return ctx.Err()
	case <-timeout.C:
		return errs.New(errs.ServiceUnavailable, "the waiting room is not answering; retry", "dependency", "queue")
	}
}

// publish stores a new state of the line and rings the pump.
func (l *eventLine) publish(msg *queuev1.WatchLineResponse) {
	prev := l.state.Load()
	st := &lineState{msg: msg}
	if prev != nil && prev.msg.GetDraw() == msg.GetDraw() {
		st.draw = prev.draw
	} else {
		st.draw = ticket.DrawOf(msg)
	}
	l.state.Store(st)
	if prev == nil {
		close(l.ready)
	}
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// pump writes the line's events to its watchers: at once to those a new
// state concerns (all of them when the line changed for everybody: sold
// out, switched off, ended, reset, drawn; else those the cursor passed),
// and, every pumpEvery, a place update or a heartbeat to those due one. It
// stops following the line linger after its last watcher left.
func (wr *waitroom) pump(ctx context.Context, l *eventLine) {
	defer wr.wg.Done()
	t := time.NewTicker(pumpEvery)
	defer t.Stop()
	var seen *lineState
	for {
		select {
		case <-ctx.Done():
			l.mu.Lock()
			all := make([]*watcher, 0, len(l.all))
			for w := range l.all {
				all = append(all, w)
			}
			l.mu.Unlock()
			for _, w := range all {
				wr.remove(l, w)
			}
			return
		case <-l.changed:
			st := l.state.Load()
			wr.fanout(l, st, l.concerned(seen, st))
			seen = st
		case now := <-t.C:
			if st := l.state.Load(); st != nil {
				wr.fanout(l, st, l.dueBy(now, wr.update))
			}
			if wr.idle(l, now) {
				return
			}
		}
	}
}

// concerned lists the watchers a change from prev to st concerns.
func (l *eventLine) concerned(prev, st *lineState) []*watcher {
	line, msg := st.msg.GetLine(), st.msg
	everyone := prev == nil || prev.draw != st.draw || prev.msg.GetEpoch() != msg.GetEpoch() || prev.msg.GetEnded() != msg.GetEnded() ||
		prev.msg.GetLine().GetEnabled() != line.GetEnabled() || prev.msg.GetLine().GetSoldOut() != line.GetSoldOut()
	l.mu.Lock()
	defer l.mu.Unlock()
	if st.draw != nil && len(l.undrawn) > 0 {
		for w := range l.undrawn {
			delete(l.undrawn, w)
			l.file(w, st)
		}
	}
	var out []*watcher
	if everyone {
		out = make([]*watcher, 0, len(l.all))
		for w := range l.all {
			out = append(out, w)
		}
		return out
	}
	for l.bySeq.Len() > 0 && int64(l.bySeq[0].seq) <= int64(line.GetAdmittedUpTo()) {
		out = append(out, heap.Pop(&l.bySeq).(*watcher))
	}
	return out
}

// dueBy takes the watchers due a periodic look by now off the front of the
// queue and puts them back at its end, next due every.
func (l *eventLine) dueBy(now time.Time, every time.Duration) []*watcher {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for n < len(l.due) && !l.due[n].next.After(now) {
		n++
	}
	if n == 0 {
		return nil
	}
	out := make([]*watcher, 0, n)
	for _, w := range l.due[:n] {
		if _, live := l.all[w]; live {
			w.next = now.Add(every)
			out = append(out, w)
		}
	}
	l.due = append(l.due[n:], out...)
	return out
}

// idle ends the line linger after its last watcher left, and reports
// whether it did.
func (wr *waitroom) idle(l *eventLine, now time.Time) bool {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	l.mu.Lock()
	gone := len(l.all) == 0 && l.pins == 0 && !l.empty.IsZero() && now.Sub(l.empty) >= linger
	l.mu.Unlock()
	if gone && wr.events[l.ev] == l {
		delete(wr.events, l.ev)
		l.cancel()
	}
	return gone
}

// fanout tells each of ws its place in st, in a few goroutines when there
// are many (a sold-out notice to every buyer of a big event).
func (wr *waitroom) fanout(l *eventLine, st *lineState, ws []*watcher) {
	const perWorker = 2000
	if len(ws) <= perWorker {
		for _, w := range ws {
			wr.tell(l, st, w)
		}
		return
	}
	var wg sync.WaitGroup
	for chunk := range chunks(ws, perWorker) {
		wg.Go(func() {
			for _, w := range chunk {
				wr.tell(l, st, w)
			}
		})
	}
	wg.Wait()
}

// chunks cuts ws into parts of at most n.
func chunks(ws []*watcher, n int) func(func([]*watcher) bool) {
	return func(yield func([]*watcher) bool) {
		for len(ws) > 0 {
			k := min(n, len(ws))
			if !yield(ws[:k]) {
				return
			}
			ws = ws[k:]
		}
	}
}

// tell writes w's place in st when it is news (or the last event), a
// heartbeat when w was silent for edge.queue-heartbeat, and ends the
// stream after its last event or a failed write.
func (wr *waitroom) tell(l *eventLine, st *lineState, w *watcher) {
	s, final, unplaced := wr.where(w, st)
	if unplaced && lost(w.t, w.since, time.Now()) {
		wr.claim(l, w)
	}
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return
	}
	var err error
	switch {
	case final || told(s) != w.told:
		var b []byte
		if b, err = wr.event(s); err == nil {
			err = w.out.write(b)
		}
		w.told, w.wrote = told(s), time.Now()
	case time.Since(w.wrote) >= wr.heartbeat:
		err = w.out.write([]byte(": ping\n\n"))
		w.wrote = time.Now()
	}
	w.mu.Unlock()
	if final || err != nil {
		wr.remove(l, w)
	}
}

// place is what a buyer was last told: news is a change of it (the
// estimate alone follows the position).
type place struct {
	status          queuev1.QueueEntryStatus
	position, total int32
}

func told(st *queuev1.QueueStatus) place {
	return place{status: st.GetStatus(), position: st.GetPosition(), total: st.GetTotal()}
}

// where is w's place in st, and whether it is the stream's last event. A
// ticket the cursor passed while the buyer watched gets its pass, with the
// window of the line's latest admission step.
func (wr *waitroom) where(w *watcher, st *lineState) (s *queuev1.QueueStatus, final, unplaced bool) {
	pl := ticket.Where(w.t, st.msg, st.draw, time.Now())
	out := &queuev1.QueueStatus{EventId: w.t.Event, Status: pl.Status, Position: pl.Position, Total: pl.Total}
	if pl.Wait > 0 {
		out.EstimatedWait = durationpb.New(pl.Wait)
	}
	if pl.Live {
		pass := w.t
		pass.Number, pass.Pre = pl.Seq, false
		if raw, err := wr.tickets.Sign(pass); err == nil {
			out.QueuePass, out.PassExpiresAt = raw, st.msg.GetWindowEndsAt()
		}
	}
	return out, pl.Status != queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING, pl.Unplaced
}

// lostAfter: a ticket the edge's state of its line still does not count
// (ticket.Place.Unplaced) this long after it was issued, and after its
// stream began, is likely one whose join a Redis crash lost (AOF,
// appendfsync everysec: the counter went back, the entry is gone), which
// the cursor never reaches. The queue is then asked for its place (a
// status with the ticket): it reads the line again and, when the join was
// lost indeed, enters the ticket again (services/queue, reenter). A
// ticket issued moments ago is counted by the next state (a tick).
const lostAfter = 5 * time.Second

// maxClaims bounds the asks for unplaced tickets under way at once (each
// asks once per lostAfter at most): a stalled line makes every newer
// ticket look unplaced, and the queue must not get them all at once.
const maxClaims = 4

// lost reports whether an unplaced ticket t, watched since since, is old
// enough to ask the queue about (lostAfter).
func lost(t ticket.Ticket, since, now time.Time) bool {
	return now.Sub(t.IssuedAt) >= lostAfter && now.Sub(since) >= lostAfter
}

// claim asks the queue, in the background, for the place of w's ticket,
// which the line's state does not count (lost): at most once per
// lostAfter for a watcher and maxClaims at once (a full set of asks leaves
// it to a later look). The queue enters a ticket whose join Redis lost
// again: at its own number (the next state counts it, and the stream goes
// on), or at the end of the line, when its answer is another ticket: w is
// then told its status with that ticket and its stream ends (its client
// reconnects with it). An admission it answers ends the stream too.
func (wr *waitroom) claim(l *eventLine, w *watcher) {
	now := time.Now()
	if last := w.asked.Load(); now.Sub(time.UnixMilli(last)) < lostAfter || !w.asked.CompareAndSwap(last, now.UnixMilli()) {
		return
	}
	select {
	case wr.claims <- struct{}{}:
	default:
		w.asked.Store(0)
		return
	}
	wr.wg.Add(1)
	go func() {
		defer wr.wg.Done()
		defer func() { <-wr.claims }()
		ctx, cancel := context.WithTimeout(wr.ctx, 10*time.Second)
		defer cancel()
		st, nt, err := wr.statusOf(ctx, w.t)
		if err != nil {
			if wr.failed.allow() {
				wr.log.Warn("asking the queue for the place of a ticket its line does not count failed; asking again later",
					zap.String("event_id", w.t.Event), zap.Error(err))
			}
			return
		}
		moved := !sameTicket(nt, w.t)
		if !moved && st.GetStatus() == queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING {
			return // placed again at its own number: the next state says where
		}
		if moved {
			raw, err := wr.tickets.Sign(nt)
			if err != nil {
				return
			}
			st.Ticket = raw
		}
		b, err := wr.event(st)
		w.mu.Lock()
		if err == nil && !w.done {
			_ = w.out.write(b)
			w.told, w.wrote = told(st), time.Now()
		}
		w.mu.Unlock()
		wr.remove(l, w)
	}()
}

// event is st as one server-sent event.
func (wr *waitroom) event(st *queuev1.QueueStatus) ([]byte, error) {
	b, err := wr.codec.MarshalAppend([]byte("data: "), &queuev1.WatchQueueStatusResponse{QueueStatus: st})
	if err != nil {
		return nil, err
	}
	return append(b, '\n', '\n'), nil
}

// serveQueueEvents is GET /api/v1/queue/events. Errors before the first
// event are ordinary JSON error answers.
func (e *Edge) serveQueueEvents(w *recorder, r *http.Request, p *authn.Principal) {
	if r.Method != http.MethodGet {
		w.Header()["Allow"] = []string{http.MethodGet}
		writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, "use GET", nil)
		return
	}
	wr := e.waitroom
	ctx := r.Context()
	t, first, err := wr.resolve(ctx, r, p)
	if err != nil {
		wr.fail(w, err)
		return
	}
	if first != nil && first.GetStatus() != queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING {
		// A bearer caller already admitted (or without a queue): that is all.
		wr.answer(w, first)
		return
	}
	l := wr.line(t.Event)
	defer l.unpin()
	if err := l.first(ctx, 10*time.Second); err != nil {
		if ctx.Err() == nil {
			wr.fail(w, err)
		}
		return
	}
	wt := &watcher{t: t, idx: -1, closed: make(chan struct{}), since: time.Now()}
	st, final, unplaced := wr.where(wt, l.state.Load())
	moved := false
	switch {
	case final && st.GetQueuePass() != "":
		// The cursor had passed the ticket already: only the queue knows
		// whether its pass was used and when its window ends.
		if st, err = wr.status(ctx, t); err != nil {
			wr.fail(w, err)
			return
		}
	case unplaced && time.Since(t.IssuedAt) >= lostAfter:
		// The line does not count a ticket issued a while ago: the queue
		// tells where it is (claim), perhaps with another ticket.
		var nt ticket.Ticket
		if st, nt, err = wr.statusOf(ctx, t); err != nil {
			wr.fail(w, err)
			return
		}
		moved, wt.t, t = !sameTicket(nt, t), nt, nt
		final = st.GetStatus() != queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING
		wt.asked.Store(time.Now().UnixMilli())
	}
	switch {
	case first != nil && !moved:
		st.Ticket = first.GetTicket()
	case moved:
		if st.Ticket, err = wr.tickets.Sign(t); err != nil {
			wr.fail(w, err)
			return
		}
	}
	if final {
		wr.answer(w, st)
		return
	}
	b, err := wr.event(st)
	if err != nil {
		wr.fail(w, err)
		return
	}
	w.status, wt.told, wt.wrote = http.StatusOK, told(st), time.Now()
	conn, err := wr.takeOver(w, b)
	switch {
	case err == nil:
		// The server let the connection go; the pump writes to it.
		wt.out = connSink{conn: conn}
		wr.add(l, wt)
		return
	case !errors.Is(err, http.ErrNotSupported):
		return // taken over, and gone already
	}
	// HTTP/2: this goroutine stays until the stream is over.
	wr.start(w)
	if _, err := w.Write(b); err != nil {
		return
	}
	w.Flush()
	wt.out = respSink{w: w}
	wr.add(l, wt)
	select {
	case <-wt.closed:
	case <-ctx.Done():
		wr.remove(l, wt)
	}
}

// status asks the queue service where t stands (as the edge itself: the
// ticket says who).
func (wr *waitroom) status(ctx context.Context, t ticket.Ticket) (*queuev1.QueueStatus, error) {
	st, _, err := wr.statusOf(ctx, t)
	return st, err
}

// sameTicket reports whether a and b name the same place.
func sameTicket(a, b ticket.Ticket) bool {
	return a.Event == b.Event && a.User == b.User && a.Epoch == b.Epoch && a.Number == b.Number && a.Pre == b.Pre && a.IssuedAt.Equal(b.IssuedAt)
}

// statusOf is status and the ticket the queue answered it for: t, or the
// one of the place the queue gave a ticket whose join Redis lost.
func (wr *waitroom) statusOf(ctx context.Context, t ticket.Ticket) (*queuev1.QueueStatus, ticket.Ticket, error) {
	raw, err := wr.tickets.Sign(t)
	if err != nil {
		return nil, t, err
	}
	res, err := wr.queue.GetQueueStatus(ctx, connect.NewRequest(&queuev1.GetQueueStatusRequest{EventId: t.Event, Ticket: raw}))
	if err != nil {
		return nil, t, err
	}
	st := res.Msg.GetQueueStatus()
	if got := st.GetTicket(); got != "" && got != raw {
		if nt, err := wr.tickets.Verify(got); err == nil && nt.Event == t.Event && nt.User == t.User {
			t = nt
		}
	}
	st.Ticket = ""
	return st, t, nil
}

// resolve authenticates the stream: the ticket of ?ticket= (checked here,
// it is signed; a bearer token sent along must be its buyer's), or, from a
// bearer caller, its ticket of ?event_id= looked up once. first is that
// lookup's answer.
func (wr *waitroom) resolve(ctx context.Context, r *http.Request, p *authn.Principal) (t ticket.Ticket, first *queuev1.QueueStatus, err error) {
	q := r.URL.Query()
	ev := q.Get("event_id")
	if ev != "" && uuid.Validate(ev) != nil {
		return t, nil, errs.Invalid("event_id", "string.uuid", "must be a valid UUID")
	}
	raw := q.Get("ticket")
	if raw == "" {
		if p == nil {
			return t, nil, errs.New(errs.Unauthorized, "pass your queue ticket (?ticket=, as POST /api/v1/queue/join answered it)")
		}
		if ev == "" {
			return t, nil, errs.Invalid("event_id", "required", "is required")
		}
		req := connect.NewRequest(&queuev1.GetQueueStatusRequest{EventId: ev})
		req.Header()["Authorization"] = r.Header["Authorization"]
		req.Header()["X-Request-Id"] = r.Header["X-Request-Id"]
		res, err := wr.queue.GetQueueStatus(ctx, req)
		if err != nil {
			return t, nil, err
		}
		first = res.Msg.GetQueueStatus()
		if first.GetStatus() != queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING {
			return t, first, nil
		}
		raw = first.GetTicket()
	}
	if t, err = wr.tickets.Verify(raw); err != nil {
		return t, nil, errs.New(errs.Unauthorized, "not a valid queue ticket")
	}
	if ev != "" && !strings.EqualFold(ev, t.Event) {
		return t, nil, errs.Invalid("ticket", "ticket.event", "must be a ticket of event_id's event")
	}
	if p != nil && p.Role != authn.RoleService && !strings.EqualFold(p.UserID, t.User) {
		return t, nil, errs.New(errs.Forbidden, "this ticket belongs to another buyer")
	}
	return t, first, nil
}

// start writes the stream's status and headers.
func (wr *waitroom) start(w *recorder) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(sseRetry))
}

// answer is a stream of one event: st, final.
func (wr *waitroom) answer(w *recorder, st *queuev1.QueueStatus) {
	b, err := wr.event(st)
	if err != nil {
		wr.fail(w, err)
		return
	}
	wr.start(w)
	_, _ = w.Write(b)
}

// takeOver hijacks w's HTTP/1.x connection and writes the stream's status,
// the headers the edge set, and first. http.ErrNotSupported: the
// connection cannot be taken over (HTTP/2), nothing was written.
func (wr *waitroom) takeOver(w *recorder, first []byte) (net.Conn, error) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, http.ErrNotSupported
	}
	// The response is delimited by the connection's end: no chunking for
	// the pump to frame.
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\n")
	h := w.Header().Clone()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	h.Set("Connection", "close")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	_ = h.Write(&b)
	b.WriteString("\r\n" + sseRetry)
	b.Write(first)
	// What the server buffered is the connection's, and nothing else
	// comes on it: let the buffers go with rw.
	_ = rw
	_ = conn.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	if _, err := conn.Write(b.Bytes()); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
}

// fail reports err as an ordinary error answer (nothing was sent yet).
func (wr *waitroom) fail(w *recorder, err error) {
	de := errs.FromConnect(err)
	var e *errs.Error
	if errors.As(err, &e) {
		de = e
	}
	if connect.CodeOf(err) == connect.CodeUnimplemented {
		de = &errs.Error{Code: codeNotImplemented, Message: "the waiting room is not available"}
	}
	var details []byte
	if len(de.Details) > 0 {
		details, _ = detailsJSON(de.Details)
	}
	writeError(w, httpStatus(de.Code), de.Code, de.Message, details)
}
