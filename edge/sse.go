package edge

import (
	"context"
	"net/http"
	"regexp"
	"time"

	"connectrpc.com/connect"

	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// sseKeepAlive is how often an idle stream gets a comment line, so proxies
// do not close it.
const sseKeepAlive = 15 * time.Second

// serveQueueEvents is GET /api/v1/queue/events?event_id=: the caller's place
// in the waiting room as server-sent events, one `data:` line (the usual
// envelope, {"success":true,"data":{queue status}}) per change, until the
// caller is admitted or the pass expired. It lives as long as the stream,
// not edge.request-timeout. Errors before the first event are ordinary JSON
// error answers; a failure later is an `event: error` line.
func (e *Edge) serveQueueEvents(w *recorder, r *http.Request, p *authn.Principal) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, "use GET", nil)
		return
	}
	if p == nil {
		writeError(w, http.StatusUnauthorized, errs.Unauthorized, "sign in first", nil)
		return
	}
	eventID := r.URL.Query().Get("event_id")
	if !uuidPattern.MatchString(eventID) {
		writeError(w, http.StatusBadRequest, errs.Validation, "event_id must be a UUID",
			[]byte(`{"fields":[{"field":"event_id","message":"value must be a valid UUID","rule":"string.uuid"}]}`))
		return
	}
	// The watch runs as the caller: the mesh client forwards the token of
	// the principal in ctx. (A stream's client interceptor sets its bearer
	// when the stream opens, before the request's own headers are added: an
	// Authorization header set on req came second, and the queue answered
	// for the edge's service identity, which is in no line.)
	ctx, cancel := context.WithCancel(authn.WithPrincipal(r.Context(), p))
	defer cancel()
	req := connect.NewRequest(&queuev1.WatchQueueStatusRequest{EventId: eventID})
	req.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
	stream, err := e.queue.WatchQueueStatus(ctx, req)
	if err != nil {
		e.streamFailed(w, err, false)
		return
	}
	defer stream.Close()

	msgs := make(chan *queuev1.WatchQueueStatusResponse)
	done := make(chan error, 1)
	go func() {
		for stream.Receive() {
			select {
			case msgs <- stream.Msg():
			case <-ctx.Done():
				return
			}
		}
		done <- stream.Err()
	}()
	started := false
	start := func() {
		if started {
			return
		}
		started = true
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
	}
	tick := time.NewTicker(sseKeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-msgs:
			b, err := e.routes.codec.MarshalAppend([]byte("data: "), m)
			if err != nil {
				e.streamFailed(w, err, started)
				return
			}
			start()
			_, _ = w.Write(append(b, '\n', '\n'))
			w.Flush()
		case <-tick.C:
			if started {
				_, _ = w.Write([]byte(": ping\n\n"))
				w.Flush()
			}
		case err := <-done:
			if err != nil {
				e.streamFailed(w, err, started)
			}
			return
		}
	}
}

// streamFailed reports a failed watch: as an error answer when nothing was
// sent yet, else as an `event: error` line.
func (e *Edge) streamFailed(w *recorder, err error, started bool) {
	de := errs.FromConnect(err)
	if connect.CodeOf(err) == connect.CodeUnimplemented {
		de = &errs.Error{Code: codeNotImplemented, Message: "queue status streaming is not available"}
	}
	if !started {
		writeError(w, httpStatus(de.Code), de.Code, de.Message, nil)
		return
	}
	b := append([]byte("event: error\ndata: "), appendErrorEnvelope(nil, de.Code, de.Message, nil)...)
	_, _ = w.Write(append(b, '\n', '\n'))
	w.Flush()
}
