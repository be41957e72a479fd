package edge

import (
	"container/heap"
	"context"
	"errors"
	"math/rand/v2"
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
// "expired". The moment the cursor passes a ticket the buyer is told at
// once (watchers wait in a heap by sequence); so are all of an event's
// watchers when it sells out.

// sseRetry is what EventSource waits before it reconnects after the stream
// ended, so that clients that do not close it on a final message come back
// slowly, not every 3 s.
const sseRetry = "retry: 30000\n\n"

// waitroom multiplexes the queue's line streams to this edge's watchers.
type waitroom struct {
	queue     queuev1connect.QueueServiceClient
	tickets   *ticket.Signer
	codec     *codec
	update    time.Duration
	heartbeat time.Duration
	log       *zap.Logger
	failed    logSampler
	open      atomic.Int64 // streams being served

	mu     sync.Mutex
	events map[string]*eventLine
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newWaitroom(q queuev1connect.QueueServiceClient, tickets *ticket.Signer, c *codec, cfg Config, log *zap.Logger) *waitroom {
	ctx, cancel := context.WithCancel(context.Background())
	return &waitroom{queue: q, tickets: tickets, codec: c, update: cfg.QueueUpdateInterval, heartbeat: cfg.QueueHeartbeat,
		log: log, events: map[string]*eventLine{}, ctx: ctx, cancel: cancel}
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

// stop ends every stream and line follower (before the server drains, which
// would otherwise wait for the streams).
func (wr *waitroom) stop(context.Context) error {
	wr.cancel()
	wr.wg.Wait()
	return nil
}

// eventLine is one event's line as this edge follows it.
type eventLine struct {
	ev     string
	ready  chan struct{} // closed at the first state
	state  atomic.Pointer[lineState]
	cancel context.CancelFunc

	mu       sync.Mutex // guards what follows
	all      map[*watcher]struct{}
	bySeq    seqHeap               // watchers whose sequence is known, the lowest first
	undrawn  map[*watcher]struct{} // watchers of the pre-queue before the draw
	lastLeft time.Time
}

// lineState is a state of the line and its draw.
type lineState struct {
	msg  *queuev1.WatchLineResponse
	draw *ticket.Draw
}

// watcher is one stream's buyer.
type watcher struct {
	t    ticket.Ticket
	seq  uint32
	idx  int           // in bySeq, -1 when not
	wake chan struct{} // poked when the line changed for this buyer
}

func (w *watcher) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

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

// join registers w with the event's line, following the line when this
// edge did not yet.
func (wr *waitroom) join(ev string, w *watcher) *eventLine {
	wr.mu.Lock()
	l, ok := wr.events[ev]
	if !ok {
		ctx, cancel := context.WithCancel(wr.ctx)
		l = &eventLine{ev: ev, ready: make(chan struct{}), cancel: cancel, all: map[*watcher]struct{}{}, undrawn: map[*watcher]struct{}{}}
		wr.events[ev] = l
		wr.wg.Add(1)
		go wr.follow(ctx, l)
	}
	wr.mu.Unlock()
	l.mu.Lock()
	l.all[w] = struct{}{}
	l.place(w, l.state.Load())
	l.mu.Unlock()
	return l
}

// place files w by its sequence, known once the pre-queue is drawn (l.mu
// held).
func (l *eventLine) place(w *watcher, st *lineState) {
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

// leave takes w off the line; the last watcher out stops the following
// after linger.
func (wr *waitroom) leave(l *eventLine, w *watcher) {
	l.mu.Lock()
	delete(l.all, w)
	delete(l.undrawn, w)
	if w.idx >= 0 {
		heap.Remove(&l.bySeq, w.idx)
	}
	empty := len(l.all) == 0
	l.lastLeft = time.Now()
	l.mu.Unlock()
	if !empty {
		return
	}
	time.AfterFunc(linger, func() {
		wr.mu.Lock()
		defer wr.mu.Unlock()
		l.mu.Lock()
		idle := len(l.all) == 0 && time.Since(l.lastLeft) >= linger
		l.mu.Unlock()
		if idle && wr.events[l.ev] == l {
			delete(wr.events, l.ev)
			l.cancel()
		}
	})
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
				wr.publish(l, stream.Msg())
				backoff = 100 * time.Millisecond
			}
			err = stream.Err()
			_ = stream.Close()
		}
		if ctx.Err() != nil {
			return
		}
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

// publish stores a new state and pokes the watchers it concerns: all of
// them when the line changed for everybody (sold out, switched off, ended,
// reset, drawn), else those the cursor passed.
func (wr *waitroom) publish(l *eventLine, msg *queuev1.WatchLineResponse) {
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
	line := msg.GetLine()
	everyone := prev == nil || prev.draw != st.draw || prev.msg.GetEpoch() != msg.GetEpoch() || prev.msg.GetEnded() != msg.GetEnded() ||
		prev.msg.GetLine().GetEnabled() != line.GetEnabled() || prev.msg.GetLine().GetSoldOut() != line.GetSoldOut()
	l.mu.Lock()
	defer l.mu.Unlock()
	if st.draw != nil && len(l.undrawn) > 0 {
		for w := range l.undrawn {
			delete(l.undrawn, w)
			l.place(w, st)
		}
	}
	if everyone {
		for w := range l.all {
			w.poke()
		}
		return
	}
	for l.bySeq.Len() > 0 && int64(l.bySeq[0].seq) <= int64(line.GetAdmittedUpTo()) {
		heap.Pop(&l.bySeq).(*watcher).poke()
	}
}

// serveQueueEvents is GET /api/v1/queue/events. Errors before the first
// event are ordinary JSON error answers; a failure later is an
// `event: error` line.
func (e *Edge) serveQueueEvents(w *recorder, r *http.Request, p *authn.Principal) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, "use GET", nil)
		return
	}
	wr := e.waitroom
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(wr.ctx, cancel)
	defer stop()
	t, first, err := wr.resolve(ctx, r, p)
	if err != nil {
		wr.fail(w, err, false)
		return
	}
	// A stream lives as long as the buyer waits, not server.read-timeout.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	wr.open.Add(1)
	defer wr.open.Add(-1)
	s := &stream{wr: wr, w: w, raw: first.GetTicket()}
	if first != nil && first.GetStatus() != queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING {
		// A bearer caller already admitted (or without a queue): that is all.
		s.send(first)
		return
	}
	wt := &watcher{t: t, idx: -1, wake: make(chan struct{}, 1)}
	l := wr.join(t.Event, wt)
	defer wr.leave(l, wt)
	select {
	case <-l.ready:
	case <-ctx.Done():
		return
	case <-time.After(10 * time.Second):
		wr.fail(w, errs.New(errs.ServiceUnavailable, "the waiting room is not answering; retry"), false)
		return
	}
	s.run(ctx, l, wt)
}

// resolve authenticates the stream: the ticket of ?ticket= (checked here,
// it is signed; a bearer token sent along must be its buyer's), or, from a
// bearer caller, its ticket of ?event_id= looked up once. first is that
// lookup's answer.
func (wr *waitroom) resolve(ctx context.Context, r *http.Request, p *authn.Principal) (t ticket.Ticket, first *queuev1.QueueStatus, err error) {
	q := r.URL.Query()
	ev := q.Get("event_id")
	if ev != "" && uuid.Validate(ev) != nil {
		return t, nil, fieldError("event_id", "value must be a valid UUID", "string.uuid")
	}
	raw := q.Get("ticket")
	if raw == "" {
		if p == nil {
			return t, nil, errs.New(errs.Unauthorized, "pass your queue ticket (?ticket=, as POST /api/v1/queue/join answered it)")
		}
		if ev == "" {
			return t, nil, fieldError("event_id", "value is required", "required")
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
		return t, nil, fieldError("ticket", "the ticket is for another event", "ticket.event")
	}
	if p != nil && p.Role != authn.RoleService && !strings.EqualFold(p.UserID, t.User) {
		return t, nil, errs.New(errs.Forbidden, "this ticket belongs to another buyer")
	}
	return t, first, nil
}

// fieldError is a VALIDATION_ERROR naming one query parameter.
func fieldError(field, msg, rule string) error {
	return errs.New(errs.Validation, field+": "+msg,
		"fields", []any{map[string]any{"field": field, "message": msg, "rule": rule}})
}

// stream is one buyer's server-sent events.
type stream struct {
	wr      *waitroom
	w       *recorder
	raw     string // the ticket, sent with the first message
	started bool
	last    *queuev1.QueueStatus
	wrote   time.Time
}

// run tells the buyer its place until a final message or ctx's end.
func (s *stream) run(ctx context.Context, l *eventLine, w *watcher) {
	wr := s.wr
	st, final, err := wr.status(ctx, w, l.state.Load(), true)
	if err != nil {
		wr.fail(s.w, err, false)
		return
	}
	s.send(st)
	if final {
		return
	}
	// Place updates are spread: a jittered first period, so that the
	// watchers who connected together do not all write at once.
	next := time.NewTimer(wr.update/2 + rand.N(wr.update))
	defer next.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-next.C:
			next.Reset(wr.update)
		}
		st, final, err := wr.status(ctx, w, l.state.Load(), false)
		switch {
		case err != nil:
			wr.fail(s.w, err, true)
			return
		case final || changed(s.last, st):
			s.send(st)
		case time.Since(s.wrote) >= wr.heartbeat:
			s.write([]byte(": ping\n\n"))
		}
		if final {
			return
		}
	}
}

// changed reports whether st is news after last (the estimate alone
// follows the position).
func changed(last, st *queuev1.QueueStatus) bool {
	return last.GetStatus() != st.GetStatus() || last.GetPosition() != st.GetPosition() || last.GetTotal() != st.GetTotal()
}

// status is w's place in st, and whether it is the stream's last message.
// A ticket the cursor had passed already when the stream opened (first) is
// asked of the queue service, which knows whether its pass was used; one
// passed while the buyer watched gets the pass of the line's latest window.
func (wr *waitroom) status(ctx context.Context, w *watcher, st *lineState, first bool) (*queuev1.QueueStatus, bool, error) {
	pl := ticket.Where(w.t, st.msg, st.draw, time.Now())
	out := &queuev1.QueueStatus{EventId: w.t.Event, Status: pl.Status, Position: pl.Position, Total: pl.Total}
	if pl.Wait > 0 {
		out.EstimatedWait = durationpb.New(pl.Wait)
	}
	if !pl.Live {
		return out, pl.Status != queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING, nil
	}
	if first {
		raw, err := wr.tickets.Sign(w.t)
		if err != nil {
			return nil, false, err
		}
		req := connect.NewRequest(&queuev1.GetQueueStatusRequest{EventId: w.t.Event, Ticket: raw})
		res, err := wr.queue.GetQueueStatus(ctx, req)
		if err != nil {
			return nil, false, err
		}
		out = res.Msg.GetQueueStatus()
		out.Ticket = ""
		return out, out.GetStatus() != queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING, nil
	}
	pass := w.t
	pass.Number, pass.Pre = pl.Seq, false
	raw, err := wr.tickets.Sign(pass)
	if err != nil {
		return nil, false, err
	}
	out.QueuePass, out.PassExpiresAt = raw, st.msg.GetWindowEndsAt()
	return out, true, nil
}

// send writes st as one event (the ticket with the first).
func (s *stream) send(st *queuev1.QueueStatus) {
	if !s.started && s.raw != "" {
		st.Ticket = s.raw
	}
	b, err := s.wr.codec.MarshalAppend([]byte("data: "), &queuev1.WatchQueueStatusResponse{QueueStatus: st})
	if err != nil {
		s.wr.fail(s.w, err, s.started)
		return
	}
	s.last = st
	s.write(append(b, '\n', '\n'))
}

// write starts the stream when it has not started, then writes b.
func (s *stream) write(b []byte) {
	if !s.started {
		s.started = true
		h := s.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("X-Accel-Buffering", "no")
		s.w.WriteHeader(http.StatusOK)
		_, _ = s.w.Write([]byte(sseRetry))
	}
	_, _ = s.w.Write(b)
	s.w.Flush()
	s.wrote = time.Now()
}

// fail reports err: as an error answer when nothing was sent yet, else as
// an `event: error` line.
func (wr *waitroom) fail(w *recorder, err error, started bool) {
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
	if !started {
		writeError(w, httpStatus(de.Code), de.Code, de.Message, details)
		return
	}
	b := append([]byte("event: error\ndata: "), appendErrorEnvelope(nil, de.Code, de.Message, details)...)
	_, _ = w.Write(append(b, '\n', '\n'))
	w.Flush()
}
