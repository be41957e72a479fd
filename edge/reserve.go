package edge

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	"github.com/bookingrush/rush/services/platform/audit"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/server"
)

// The flash sale's one route. POST /api/v1/bookings/reserve is served by a
// handler of its own instead of the transcoder: the same contract (the
// ReserveRequest JSON in, the envelope out, the same errors), but one
// Connect call built directly instead of a REST-to-Connect transcoding and a
// reverse proxy, which cost a third of the edge's CPU per hold
// (bench/RESULTS.md). Every other route goes through the transcoder.
const (
	reservePath      = "/api/v1/bookings/reserve"
	reserveProcedure = bookingv1connect.BookingServiceReserveProcedure
)

// reserveRoute calls BookingService.Reserve. It carries the caller's own
// token (no service token is ever added: an anonymous call stays anonymous)
// and the headers the proxy would forward.
type reserveRoute struct {
	client bookingv1connect.BookingServiceClient
	codec  *codec
	traced bool
	status int // of a success: 201
	failed func(context.Context, string, error)
	// seen, when set, learns of every reserve booking answered: its show,
	// the hold's event ("" unless a hold), and whether the event demanded a
	// queue pass (autoQueue).
	seen func(show, event string, queued bool)
}

func newReserveRoute(mesh *server.Mesh, c *codec, traced bool, failed func(context.Context, string, error)) *reserveRoute {
	return &reserveRoute{
		client: bookingv1connect.NewBookingServiceClient(mesh.Client, "http://booking"),
		codec:  c, traced: traced, failed: failed,
		status: successStatus["bookingrush.booking.v1.BookingService.Reserve"],
	}
}

// forwarded are the request headers the booking service reads.
var forwarded = []string{"Authorization", "X-Request-Id", "Idempotency-Key", "X-Queue-Pass", audit.HeaderClientIP}

func (rr *reserveRoute) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, maxBody int64) {
	if !isJSON(r.Header.Get("Content-Type")) {
		writeError(w, http.StatusUnsupportedMediaType, codeUnsupportedMediaType, http.StatusText(http.StatusUnsupportedMediaType), nil)
		return
	}
	body, tooLarge, err := readBody(r.Body, maxBody)
	switch {
	case tooLarge:
		writeError(w, http.StatusRequestEntityTooLarge, codePayloadTooLarge, "request body larger than "+strconv.FormatInt(maxBody, 10)+" bytes", nil)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, errs.Validation, "could not read the request body: "+err.Error(), nil)
		return
	}
	msg := new(bookingv1.ReserveRequest)
	if err := rr.codec.Unmarshal(body, msg); err != nil {
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
	res, err := rr.client.Reserve(ctx, req)
	if rr.seen != nil {
		event := ""
		if err == nil {
			event = res.Msg.GetBooking().GetEventId()
		}
		rr.seen(msg.GetShowId(), event, errs.Is(err, errs.QueuePassRequired))
	}
	if err != nil {
		rr.writeError(w, rr.upstream(ctx, err))
		return
	}
	if v, ok := res.Header()["Idempotent-Replayed"]; ok {
		w.Header()["Idempotent-Replayed"] = v
	}
	b, err := rr.codec.MarshalAppend(make([]byte, 0, 640), res.Msg)
	if err != nil {
		writeError(w, http.StatusInternalServerError, errs.Internal, "could not write the answer", nil)
		return
	}
	w.Header()["Content-Type"] = hdrJSON
	w.WriteHeader(rr.status)
	_, _ = w.Write(b)
}

// upstream tells an answer of the booking service (passed on as it is) from
// a failure to reach it: SERVICE_UNAVAILABLE, logged (sampled), or the
// request's own timeout.
func (rr *reserveRoute) upstream(ctx context.Context, err error) error {
	if connect.IsWireError(err) {
		return err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return errs.New(errs.ServiceUnavailable, "the request timed out")
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// The client went away: nobody reads this answer, and booking is
		// not at fault (a retry with the same Idempotency-Key finds the hold
		// if booking made one).
		return errs.New(errs.ServiceUnavailable, "the request was cancelled")
	}
	rr.failed(ctx, "booking", err)
	return errs.New(errs.ServiceUnavailable, "booking is unavailable")
}

// writeError answers err in the envelope, as the transcoder's routes do.
func (rr *reserveRoute) writeError(w http.ResponseWriter, err error) {
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

// isJSON accepts application/json with or without parameters (charset),
// and no Content-Type at all, as the transcoder's routes do.
func isJSON(ct string) bool {
	if ct == "application/json" || ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && strings.EqualFold(mt, "application/json")
}

// readBody reads at most max bytes; tooLarge when the client sent more.
func readBody(body io.Reader, max int64) (b []byte, tooLarge bool, err error) {
	if body == nil {
		return nil, false, nil
	}
	b, err = io.ReadAll(io.LimitReader(body, max+1))
	if int64(len(b)) > max {
		return nil, true, nil
	}
	return b, false, err
}
