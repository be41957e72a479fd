package errs_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"connectrpc.com/connect"

	"github.com/bookingrush/rush/services/platform/errs"
)

func TestDomainErrorSurvivesTheWire(t *testing.T) {
	got := overTheWire(t, errs.New(errs.InsufficientStock, "not enough seats", "requested", 5, "available", int32(2)), connect.CodeResourceExhausted)
	if got.Code != errs.InsufficientStock || got.Message != "not enough seats" {
		t.Fatalf("got %+v", got)
	}
	if got.Details["requested"] != float64(5) || got.Details["available"] != float64(2) {
		t.Fatalf("details = %#v", got.Details)
	}
	if got.Code.HTTPStatus() != http.StatusConflict {
		t.Fatalf("http status = %d", got.Code.HTTPStatus())
	}
}

func TestUnknownErrorsDoNotLeak(t *testing.T) {
	err := errs.Connect(errors.New("pq: password authentication failed for user app"))
	if connect.CodeOf(err) != connect.CodeInternal || connectMessage(err) != "internal error" {
		t.Fatalf("leaked: %v", err)
	}
}

func TestFallbackFromConnectCodes(t *testing.T) {
	for code, want := range map[connect.Code]errs.Code{
		connect.CodeInvalidArgument: errs.Validation,
		connect.CodeUnavailable:     errs.ServiceUnavailable,
		connect.CodeUnauthenticated: errs.Unauthorized,
		connect.CodeUnknown:         errs.Internal,
	} {
		if got := errs.FromConnect(connect.NewError(code, errors.New("x"))).Code; got != want {
			t.Errorf("%v -> %s, want %s", code, got, want)
		}
	}
	if got := errs.FromConnect(errors.New("dial tcp: refused")).Code; got != errs.ServiceUnavailable {
		t.Errorf("transport error -> %s", got)
	}
}

func TestEveryCodeHasBothMappings(t *testing.T) {
	for _, c := range []errs.Code{errs.Validation, errs.Unauthorized, errs.Forbidden, errs.NotFound, errs.Conflict,
		errs.InsufficientStock, errs.MaxPerUserExceeded, errs.SaleNotOpen, errs.QueuePassRequired,
		errs.ReservationExpired, errs.PaymentFailed, errs.RateLimited, errs.ServiceUnavailable, errs.Internal} {
		if c != errs.Internal && (c.HTTPStatus() == http.StatusInternalServerError || c.ConnectCode() == connect.CodeInternal) {
			t.Errorf("%s has no mapping", c)
		}
	}
}

func TestCauseStaysForLogsOnly(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.7:6379: connection refused")
	err := errs.Connect(errs.Unavailable("store unreachable", cause))
	if connectMessage(err) != "store unreachable" {
		t.Fatalf("message %q", connectMessage(err))
	}
	if !errors.Is(err, cause) {
		t.Fatal("cause not reachable for logging")
	}
	if !errors.Is(errs.Connect(cause), cause) {
		t.Fatal("cause of an internal error not reachable for logging")
	}
}

// TestContextErrorsAreTimeoutsNotBugs: a handler that gives up because its
// deadline passed answers SERVICE_UNAVAILABLE (503), never INTERNAL_ERROR.
func TestContextErrorsAreTimeoutsNotBugs(t *testing.T) {
	for err, msg := range map[error]string{
		fmt.Errorf("query: %w", context.DeadlineExceeded): "the request timed out",
		context.Canceled: "the request was cancelled",
	} {
		got := errs.FromConnect(errs.Connect(err))
		if got.Code != errs.ServiceUnavailable || got.Message != msg || got.Code.HTTPStatus() != http.StatusServiceUnavailable {
			t.Errorf("%v -> %+v", err, got)
		}
	}
}

// connectMessage is the message of the *connect.Error err is, or wraps.
func connectMessage(err error) string {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return ""
	}
	return ce.Message()
}

// An Invalid error crosses the wire in the shape of protovalidate's
// violations at the edge: details.fields with the field, what the value
// must be, and the check.
func TestInvalidNamesTheFieldAsAViolation(t *testing.T) {
	got := overTheWire(t, errs.Invalid("sale_end_at", "sale_end_at.future", "must be in the future", "max_days", 366), connect.CodeInvalidArgument)
	fields, _ := got.Details["fields"].([]any)
	if got.Code != errs.Validation || got.Message != "sale_end_at must be in the future" || len(fields) != 1 || got.Details["max_days"] != float64(366) {
		t.Fatalf("got %+v", got)
	}
	f, _ := fields[0].(map[string]any)
	if f["field"] != "sale_end_at" || f["message"] != "must be in the future" || f["rule"] != "sale_end_at.future" {
		t.Fatalf("fields[0] = %#v", f)
	}
}

// overTheWire is what a client recovers from e after a round trip: a fresh
// Connect error with the details sent; the Connect code must be want.
func overTheWire(t *testing.T, e *errs.Error, want connect.Code) *errs.Error {
	t.Helper()
	sent := errs.Connect(e)
	var ce *connect.Error
	if !errors.As(sent, &ce) || ce.Code() != want {
		t.Fatalf("connect error = %v", sent)
	}
	wire := connect.NewError(ce.Code(), errors.New(ce.Message()))
	for _, d := range ce.Details() {
		wire.AddDetail(d)
	}
	return errs.FromConnect(wire)
}

// TestFromPeer: a peer's refusal passes as the peer said it; a peer that
// could not answer is SERVICE_UNAVAILABLE naming it.
func TestFromPeer(t *testing.T) {
	refused := errs.FromPeer(connect.NewError(connect.CodeNotFound, errors.New("booking not found")), "gate", "the gate did not answer")
	if refused.Code != errs.NotFound || refused.Details["dependency"] != nil {
		t.Errorf("a refusal: %+v", refused)
	}
	down := errs.FromPeer(connect.NewError(connect.CodeUnavailable, errors.New("dial tcp: connection refused")), "gate", "the gate did not answer")
	if down.Code != errs.ServiceUnavailable || down.Message != "the gate did not answer" || down.Details["dependency"] != "gate" {
		t.Errorf("a peer down: %+v", down)
	}
}
