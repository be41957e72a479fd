package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	meshv1 "github.com/bookingrush/rush/gen/bookingrush/mesh/v1"
	"github.com/bookingrush/rush/gen/bookingrush/mesh/v1/meshv1connect"
	"github.com/bookingrush/rush/services/platform/errs"
)

// failing answers every Reserve with err.
type failing struct {
	bookingv1connect.UnimplementedBookingServiceHandler
	err error
}

func (f failing) Reserve(context.Context, *connect.Request[bookingv1.ReserveRequest]) (*connect.Response[bookingv1.ReserveResponse], error) {
	return nil, f.err
}

// jsonClientError is the error a Connect client makes of a reply whose body
// is the JSON error, as the edge read every batched error before binary
// errors.
func jsonClientError(t *testing.T, r *meshv1.Reply) *connect.Error {
	t.Helper()
	hc := doer(func(req *http.Request) (*http.Response, error) { return replyResponse(req, r), nil })
	_, err := bookingv1connect.NewBookingServiceClient(hc, "http://booking", Uncompressed).Reserve(context.Background(), connect.NewRequest(&bookingv1.ReserveRequest{}))
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("the JSON reply gave %v", err)
	}
	return ce
}

type doer func(*http.Request) (*http.Response, error)

func (d doer) Do(r *http.Request) (*http.Response, error) { return d(r) }

// reserveBatches serves h and MeshService.Batch, as a component does, and
// returns a client of the batches and an empty Reserve call to put in them.
func reserveBatches(t *testing.T, h bookingv1connect.BookingServiceHandler) (meshv1connect.MeshServiceClient, *meshv1.Call) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(bookingv1connect.NewBookingServiceHandler(h, connect.WithInterceptors(batchErrors)))
	mux.Handle(meshv1connect.NewMeshServiceHandler(&batchServer{mux: mux, maxHeader: 1 << 20, workers: workers{work: make(chan func())}}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	call := &meshv1.Call{Procedure: bookingv1connect.BookingServiceReserveProcedure, Body: []byte{},
		Headers: []*meshv1.Header{{Name: "Content-Type", Values: []string{"application/proto"}}}}
	return meshv1connect.NewMeshServiceClient(srv.Client(), srv.URL), call
}

// TestBinaryBatchErrorsReadAsTheJSONOnes: a batched call's error that
// travels in binary (BatchRequest.binary_errors) reaches the caller as the
// very error a Connect client decodes from the JSON body: code, message,
// details, metadata (Connect's Trailer- fields included), from the wire;
// and the batch without the flag still answers the JSON body.
func TestBinaryBatchErrorsReadAsTheJSONOnes(t *testing.T) {
	t.Parallel()
	var domain *connect.Error
	if !errors.As(errs.Connect(errs.New(errs.InsufficientStock, "only 0 seats left", "requested", 2, "available", 0)), &domain) {
		t.Fatal("errs.Connect made no *connect.Error")
	}
	domain.Meta().Set("Retry-After", "3")
	domain.Meta().Set("Trailer-X-Seen", "yes")
	violations, _ := connect.NewErrorDetail(&validate.Violations{Violations: []*validate.Violation{{RuleId: proto.String("int32.gt"), Message: proto.String("must be greater than 0")}}})
	invalid := connect.NewError(connect.CodeInvalidArgument, errors.New("validation error"))
	invalid.AddDetail(violations)
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"domain error with details and metadata", domain},
		{"validation violations", invalid},
		{"no details", connect.NewError(connect.CodeUnauthenticated, errors.New("missing token"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mesh, call := reserveBatches(t, failing{err: tc.err})
			reply := func(binary bool) *meshv1.Reply {
				res, err := mesh.Batch(context.Background(), connect.NewRequest(&meshv1.BatchRequest{Calls: []*meshv1.Call{call}, BinaryErrors: binary}))
				if err != nil {
					t.Fatal(err)
				}
				return res.Msg.GetReplies()[0]
			}
			asJSON, asBinary := reply(false), reply(true)
			if asJSON.GetError() != nil || len(asJSON.GetBody()) == 0 {
				t.Fatalf("without binary_errors: error %v, body %q", asJSON.GetError(), asJSON.GetBody())
			}
			if asBinary.GetError() == nil || len(asBinary.GetBody()) != 0 || asBinary.GetStatus() != asJSON.GetStatus() {
				t.Fatalf("with binary_errors: error %v, body %q, status %d (JSON's %d)", asBinary.GetError(), asBinary.GetBody(), asBinary.GetStatus(), asJSON.GetStatus())
			}
			want, got := jsonClientError(t, asJSON), fromWireError(asBinary)
			if got.Code() != want.Code() || got.Message() != want.Message() || got.Error() != want.Error() || !connect.IsWireError(got) {
				t.Errorf("binary %v (wire %v), JSON %v", got, connect.IsWireError(got), want)
			}
			if len(got.Details()) != len(want.Details()) {
				t.Fatalf("%d details, JSON %d", len(got.Details()), len(want.Details()))
			}
			for i, d := range want.Details() {
				if g := got.Details()[i]; g.Type() != d.Type() || !bytes.Equal(g.Bytes(), d.Bytes()) {
					t.Errorf("detail %d: %s %x, JSON %s %x", i, g.Type(), g.Bytes(), d.Type(), d.Bytes())
				}
			}
			wantMeta, gotMeta := want.Meta().Clone(), got.Meta().Clone()
			wantMeta.Del("Content-Length") // of a body that is no longer JSON
			gotMeta.Del("Content-Length")
			for k, v := range wantMeta {
				if !slices.Equal(gotMeta[k], v) {
					t.Errorf("metadata %s: %q, JSON %q", k, gotMeta[k], v)
				}
			}
			if len(gotMeta) != len(wantMeta) {
				t.Errorf("metadata %v, JSON %v", gotMeta, wantMeta)
			}
			if e, w := errs.FromConnect(got), errs.FromConnect(want); e.Code != w.Code || e.Message != w.Message || len(e.Details) != len(w.Details) {
				t.Errorf("domain error %+v, JSON %+v", e, w)
			}
		})
	}
}

// latin1 answers every Reserve with a header and an error message that are
// not UTF-8, as a handler echoing a client's bytes would.
type latin1 struct {
	bookingv1connect.UnimplementedBookingServiceHandler
}

func (latin1) Reserve(context.Context, *connect.Request[bookingv1.ReserveRequest]) (*connect.Response[bookingv1.ReserveResponse], error) {
	err := connect.NewError(connect.CodeInvalidArgument, errors.New("key k\xffk"))
	err.Meta().Set("X-Echo", "k\xffk")
	return nil, err
}

// TestBatchRepliesThatAreNotUTF8: a reply whose header or error message is
// not UTF-8 (the batch's strings must be) is still answered, with U+FFFD
// for those bytes, and its batch-mates are answered too: before, the batch
// failed to encode and every call in it failed.
func TestBatchRepliesThatAreNotUTF8(t *testing.T) {
	t.Parallel()
	mesh, call := reserveBatches(t, latin1{})
	for _, binary := range []bool{false, true} {
		res, err := mesh.Batch(context.Background(), connect.NewRequest(&meshv1.BatchRequest{Calls: []*meshv1.Call{call, call}, BinaryErrors: binary}))
		if err != nil {
			t.Fatalf("binary errors %v: the batch failed: %v", binary, err)
		}
		for i, r := range res.Msg.GetReplies() {
			var ce *connect.Error
			if binary {
				ce = fromWireError(r)
			} else {
				ce = jsonClientError(t, r)
			}
			if ce.Code() != connect.CodeInvalidArgument || ce.Message() != "key k\uFFFDk" || ce.Meta().Get("X-Echo") != "k\uFFFDk" {
				t.Errorf("binary errors %v, reply %d: %v, X-Echo %q", binary, i, ce, ce.Meta().Get("X-Echo"))
			}
		}
	}
}
