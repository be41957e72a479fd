// Package errs is the one error vocabulary of the mesh. A domain error carries
// a stable Code (INSUFFICIENT_STOCK); one table maps each code to a Connect
// code (what internal callers see) and one to an HTTP status (what the edge
// answers). Clients branch on codes, never on messages.
package errs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	commonv1 "github.com/bookingrush/rush/gen/bookingrush/common/v1"
)

// Code is a stable, upper-snake error code.
type Code string

// The vocabulary: docs/architecture.md, "Errors".
const (
	Validation         Code = "VALIDATION_ERROR"
	Unauthorized       Code = "UNAUTHORIZED"
	Forbidden          Code = "FORBIDDEN"
	NotFound           Code = "NOT_FOUND"
	Conflict           Code = "CONFLICT"
	InsufficientStock  Code = "INSUFFICIENT_STOCK"
	MaxPerUserExceeded Code = "MAX_PER_USER_EXCEEDED"
	SaleNotOpen        Code = "SALE_NOT_OPEN"
	QueuePassRequired  Code = "QUEUE_PASS_REQUIRED"
	ReservationExpired Code = "RESERVATION_EXPIRED"
	PaymentFailed      Code = "PAYMENT_FAILED"
	RateLimited        Code = "RATE_LIMITED"
	ServiceUnavailable Code = "SERVICE_UNAVAILABLE"
	Internal           Code = "INTERNAL_ERROR"
)

type mapping struct {
	connect connect.Code
	http    int
}

// table is the single source of both mappings.
var table = map[Code]mapping{
	Validation:         {connect.CodeInvalidArgument, http.StatusBadRequest},
	Unauthorized:       {connect.CodeUnauthenticated, http.StatusUnauthorized},
	Forbidden:          {connect.CodePermissionDenied, http.StatusForbidden},
	NotFound:           {connect.CodeNotFound, http.StatusNotFound},
	Conflict:           {connect.CodeAlreadyExists, http.StatusConflict},
	InsufficientStock:  {connect.CodeResourceExhausted, http.StatusConflict},
	MaxPerUserExceeded: {connect.CodeFailedPrecondition, http.StatusConflict},
	SaleNotOpen:        {connect.CodeFailedPrecondition, http.StatusConflict},
	QueuePassRequired:  {connect.CodePermissionDenied, http.StatusForbidden},
	ReservationExpired: {connect.CodeFailedPrecondition, http.StatusGone},
	PaymentFailed:      {connect.CodeFailedPrecondition, http.StatusPaymentRequired},
	RateLimited:        {connect.CodeResourceExhausted, http.StatusTooManyRequests},
	ServiceUnavailable: {connect.CodeUnavailable, http.StatusServiceUnavailable},
	Internal:           {connect.CodeInternal, http.StatusInternalServerError},
}

// fromConnect is the fallback when an error carries no ErrorDetail (transport
// failures, validation by the interceptor, unimplemented RPCs).
var fromConnect = map[connect.Code]Code{
	connect.CodeInvalidArgument:    Validation,
	connect.CodeUnauthenticated:    Unauthorized,
	connect.CodePermissionDenied:   Forbidden,
	connect.CodeNotFound:           NotFound,
	connect.CodeAlreadyExists:      Conflict,
	connect.CodeAborted:            Conflict,
	connect.CodeResourceExhausted:  RateLimited,
	connect.CodeFailedPrecondition: Conflict,
	connect.CodeUnavailable:        ServiceUnavailable,
	connect.CodeDeadlineExceeded:   ServiceUnavailable,
	connect.CodeCanceled:           ServiceUnavailable,
}

// Codes is the whole vocabulary, sorted (the edge's OpenAPI document lists
// it by HTTP status).
func Codes() []Code {
	out := make([]Code, 0, len(table))
	for c := range table {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// ConnectCode is the Connect code that carries c.
func (c Code) ConnectCode() connect.Code {
	if m, ok := table[c]; ok {
		return m.connect
	}
	return connect.CodeInternal
}

// HTTPStatus is the edge's HTTP status for c.
func (c Code) HTTPStatus() int {
	if m, ok := table[c]; ok {
		return m.http
	}
	return http.StatusInternalServerError
}

// Error is a domain error.
type Error struct {
	Code    Code
	Message string
	Details map[string]any
	// Cause is the failure behind the error, for logs only: it never
	// reaches a caller.
	Cause error
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Unavailable is a SERVICE_UNAVAILABLE error caused by a failing dependency.
func Unavailable(msg string, cause error, details ...any) *Error {
	e := New(ServiceUnavailable, msg, details...)
	e.Cause = cause
	return e
}

// hidden is what crosses the wire in place of an error: the public message,
// with the cause still reachable through errors.Unwrap for logging.
type hidden struct {
	msg   string
	cause error
}

func (h *hidden) Error() string { return h.msg }
func (h *hidden) Unwrap() error { return h.cause }

// New returns a domain error; details are key/value pairs
// ("requested", 5, "available", 2).
func New(code Code, msg string, details ...any) *Error {
	e := &Error{Code: code, Message: msg}
	if len(details) > 0 {
		e.Details = make(map[string]any, len(details)/2)
		for i := 0; i+1 < len(details); i += 2 {
			e.Details[fmt.Sprint(details[i])] = details[i+1]
		}
	}
	return e
}

// Invalid is a VALIDATION_ERROR about one field, shaped as protovalidate's
// violations reach the public API: details.fields = [{"field", "message",
// "rule"}] (then the extra key/value pairs), where message says what the
// value must be ("must be in the future") and rule names the check
// ("sale_end_at.future"); the error's message is the field and that
// ("sale_end_at must be in the future").
func Invalid(field, rule, must string, extra ...any) *Error {
	return New(Validation, field+" "+must, append([]any{"fields",
		[]any{map[string]any{"field": field, "message": must, "rule": rule}}}, extra...)...)
}

// Connect turns err into the *connect.Error a handler returns: domain errors
// keep their code and details (as a commonv1.ErrorDetail), connect errors
// pass through, and anything else becomes INTERNAL_ERROR without leaking its
// text to the caller.
func Connect(err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	var de *Error
	switch {
	case errors.As(err, &de):
	case errors.Is(err, context.DeadlineExceeded):
		// The call's deadline passed (the edge's timeout, or a client's
		// Connect-Timeout-Ms): a dependency too slow, not a bug.
		de = &Error{Code: ServiceUnavailable, Message: "the request timed out", Cause: err}
	case errors.Is(err, context.Canceled):
		de = &Error{Code: ServiceUnavailable, Message: "the request was cancelled", Cause: err}
	default:
		return connect.NewError(connect.CodeInternal, &hidden{msg: "internal error", cause: err})
	}
	out := connect.NewError(de.Code.ConnectCode(), &hidden{msg: de.Message, cause: de.Cause})
	detail := &commonv1.ErrorDetail{Code: string(de.Code)}
	if len(de.Details) > 0 {
		if s, serr := structpb.NewStruct(normalize(de.Details)); serr == nil {
			detail.Details = s
		}
	}
	if d, derr := connect.NewErrorDetail(detail); derr == nil {
		out.AddDetail(d)
	}
	return out
}

// FromConnect recovers the domain error from what a client received: the
// ErrorDetail when present, otherwise a code derived from the Connect code.
func FromConnect(err error) *Error {
	if err == nil {
		return nil
	}
	var de *Error
	if errors.As(err, &de) {
		return de
	}
	ce := new(connect.Error)
	if !errors.As(err, &ce) {
		return &Error{Code: ServiceUnavailable, Message: "upstream unavailable"}
	}
	for _, d := range ce.Details() {
		v, verr := d.Value()
		if verr != nil {
			continue
		}
		if ed, ok := v.(*commonv1.ErrorDetail); ok {
			out := &Error{Code: Code(ed.GetCode()), Message: ce.Message()}
			if ed.GetDetails() != nil {
				out.Details = ed.GetDetails().AsMap()
			}
			return out
		}
	}
	code, ok := fromConnect[ce.Code()]
	if !ok {
		code = Internal
	}
	msg := ce.Message()
	if code == Internal {
		msg = "internal error"
	}
	return &Error{Code: code, Message: msg}
}

// FromPeer is FromConnect for a call to another service of the mesh: the
// peer's own refusal as it said it, and, when the peer could not answer
// (SERVICE_UNAVAILABLE), msg naming it as the failing dependency.
func FromPeer(err error, peer, msg string) *Error {
	e := FromConnect(err)
	if e == nil || e.Code != ServiceUnavailable {
		return e
	}
	return Unavailable(msg, err, "dependency", peer)
}

// Is reports whether err carries the domain code c.
func Is(err error, c Code) bool {
	e := FromConnect(err)
	return e != nil && e.Code == c
}

// normalize converts integer types structpb does not take into float64/int.
func normalize(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case int32:
			out[k] = int64(x)
		case uint32:
			out[k] = int64(x)
		case int16:
			out[k] = int64(x)
		default:
			out[k] = v
		}
	}
	return out
}
