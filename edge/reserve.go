package edge

import (
	"cmp"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	"google.golang.org/protobuf/proto"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/gen/bookingrush/queue/v1/queuev1connect"
	"github.com/bookingrush/rush/services/platform/audit"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/server"
)

// The flash sale's routes. POST /api/v1/bookings/reserve (the hold) and
// POST /api/v1/queue/join (the crowd's first request when the event has a
// waiting room) are served by handlers of their own instead of the
// transcoder: the same contract (the request's JSON in, the envelope out, the
// same errors), but one Connect call built directly instead of a
// REST-to-Connect transcoding and a reverse proxy, which cost a third of the
// edge's CPU per request (bench/RESULTS.md). Every other route goes through
// the transcoder.
const (
	reservePath      = "/api/v1/bookings/reserve"
	reserveProcedure = bookingv1connect.BookingServiceReserveProcedure
	joinPath         = "/api/v1/queue/join"
	joinProcedure    = queuev1connect.QueueServiceJoinQueueProcedure
)

// directRoute is a route the edge serves without the transcoder.
type directRoute struct {
	procedure string
	serve     func(ctx context.Context, w http.ResponseWriter, r *http.Request, maxBody int64)
}

// direct calls one unary procedure of upstream. It carries the caller's own
// token (no service token is ever added: an anonymous call stays anonymous)
// and the headers the proxy would forward.
type direct[Req, Res any] struct {
	call     func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error)
	upstream string // the service, as a 503 names it
	codec    *codec
	traced   bool
	status   int // of a success: 200 unless the route table says otherwise
	failed   func(context.Context, string, error)
	// seen, when set, learns of every answer (and of the request as sent
	// on, its headers too).
	seen func(req *connect.Request[Req], res *connect.Response[Res], err error)
}

func newDirect[Req, Res any](call func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
	upstream, procedure string, rt *routeTable, traced bool, failed func(context.Context, string, error)) *direct[Req, Res] {
	status := cmp.Or(rt.success[procedure], http.StatusOK)
	return &direct[Req, Res]{call: call, upstream: upstream, codec: rt.codec, traced: traced, failed: failed, status: status}
}

// newReserveRoute serves BookingService.Reserve.
func newReserveRoute(hc connect.HTTPClient, rt *routeTable, traced bool, failed func(context.Context, string, error)) *direct[bookingv1.ReserveRequest, bookingv1.ReserveResponse] {
	client := bookingv1connect.NewBookingServiceClient(hc, "http://booking", server.Uncompressed)
	return newDirect(client.Reserve, "booking", reserveProcedure, rt, traced, failed)
}

// newJoinRoute serves QueueService.JoinQueue.
func newJoinRoute(hc connect.HTTPClient, rt *routeTable, traced bool, failed func(context.Context, string, error)) *direct[queuev1.JoinQueueRequest, queuev1.JoinQueueResponse] {
	client := queuev1connect.NewQueueServiceClient(hc, "http://queue", server.Uncompressed)
	return newDirect(client.JoinQueue, "queue", joinProcedure, rt, traced, failed)
}

// forwarded are the request headers the services read: the audit log
// records the client's User-Agent with its address, as the transcoder's
// routes pass it on (else the callee would see the edge's Connect client).
var forwarded = []string{"Authorization", "X-Request-Id", "Idempotency-Key", "X-Queue-Pass", "User-Agent", audit.HeaderClientIP}

func (rr *direct[Req, Res]) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, maxBody int64) {
	if !jsonBody(w, r.Header.Get("Content-Type")) {
		return
	}
	body, tooLarge, err := readBody(r, maxBody)
	switch {
	case tooLarge:
		writeError(w, http.StatusRequestEntityTooLarge, codePayloadTooLarge, "request body larger than "+strconv.FormatInt(maxBody, 10)+" bytes", nil)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, errs.Validation, "could not read the request body: "+err.Error(), nil)
		return
	}
	msg := new(Req)
	if err := rr.codec.Unmarshal(body, any(msg).(proto.Message)); err != nil {
		rr.writeError(w, err)
		return
	}
	req := connect.NewRequest(msg)
	h := req.Header()
	for _, k := range forwarded {
		if v, ok := r.Header[k]; ok {
			h[k] = v
		}
	}
	propagate(ctx, h, rr.traced)
	res, err := rr.call(ctx, req)
	if rr.seen != nil {
		rr.seen(req, res, err)
	}
	if err != nil {
		rr.writeError(w, rr.upstreamError(ctx, err))
		return
	}
	if v, ok := res.Header()["Idempotent-Replayed"]; ok {
		w.Header()["Idempotent-Replayed"] = v
	}
	b, err := rr.codec.MarshalAppend(make([]byte, 0, 640), any(res.Msg).(proto.Message))
	if err != nil {
		writeError(w, http.StatusInternalServerError, errs.Internal, "could not write the answer", nil)
		return
	}
	w.Header()["Content-Type"] = hdrJSON
	w.WriteHeader(rr.status)
	_, _ = w.Write(b)
}

// upstreamError tells an answer of the service (passed on as it is) from a
// failure to reach it: SERVICE_UNAVAILABLE, logged (sampled), or the
// request's own timeout.
func (rr *direct[Req, Res]) upstreamError(ctx context.Context, err error) error {
	if connect.IsWireError(err) {
		return err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return errs.New(errs.ServiceUnavailable, "the request timed out")
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// The client went away: nobody reads this answer, and the service
		// is not at fault (a retry of a reserve with the same
		// Idempotency-Key finds the hold if booking made one).
		return errs.New(errs.ServiceUnavailable, "the request was cancelled")
	}
	rr.failed(ctx, rr.upstream, err)
	return errs.New(errs.ServiceUnavailable, rr.upstream+" is unavailable")
}

// writeError answers err in the envelope, as the transcoder's routes do.
func (rr *direct[Req, Res]) writeError(w http.ResponseWriter, err error) {
	var e apiError
	var de *errs.Error
	var ce *connect.Error
	switch {
	case errors.As(err, &de):
		e.Error = *de
		if len(de.Details) > 0 {
			e.details, _ = detailsJSON(de.Details)
		}
	case errors.As(err, &ce):
		e = errorFromConnect(ce)
	default:
		e.Error = errs.Error{Code: errs.Internal, Message: "internal error"}
	}
	writeError(w, httpStatus(e.Code), e.Code, e.Message, e.details)
}

// jsonBody reports whether a request body of Content-Type ct is JSON the
// API reads, else answers 415 saying what to send: application/json in
// any case (media types are case-insensitive), UTF-8 (the only charset
// JSON has) or no charset, or no Content-Type at all.
func jsonBody(w http.ResponseWriter, ct string) bool {
	if ct == "application/json" || ct == "" {
		return true
	}
	mt, params, err := mime.ParseMediaType(ct)
	switch {
	case err != nil || mt != "application/json":
		writeError(w, http.StatusUnsupportedMediaType, codeUnsupportedMediaType, "the body must be JSON, sent as Content-Type: application/json", nil)
		return false
	case params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8"):
		writeError(w, http.StatusUnsupportedMediaType, codeUnsupportedMediaType, "the body must be JSON in UTF-8 (charset=utf-8 or none)", nil)
		return false
	}
	return true
}

// readBody reads r's body, at most max bytes; tooLarge when the client
// sent more. A body of known length is read into a buffer of that size
// (io.ReadAll's growing buffer cost a join a kilobyte).
func readBody(r *http.Request, max int64) (b []byte, tooLarge bool, err error) {
	body := r.Body
	if body == nil || body == http.NoBody {
		return nil, false, nil
	}
	if n := r.ContentLength; n > max {
		return nil, true, nil
	} else if n >= 0 {
		// net/http's body reader ends at Content-Length.
		b = make([]byte, n)
		if _, err := io.ReadFull(body, b); err != nil {
			return nil, false, err
		}
		return b, false, nil
	}
	b, err = io.ReadAll(io.LimitReader(body, max+1))
	if int64(len(b)) > max {
		return nil, true, nil
	}
	return b, false, err
}
