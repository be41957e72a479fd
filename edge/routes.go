package edge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/vanguard"
	"google.golang.org/protobuf/reflect/protoreflect"

	analyticsv1 "github.com/bookingrush/rush/gen/bookingrush/analytics/v1"
	authv1 "github.com/bookingrush/rush/gen/bookingrush/auth/v1"
	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	gatev1 "github.com/bookingrush/rush/gen/bookingrush/gate/v1"
	notifyv1 "github.com/bookingrush/rush/gen/bookingrush/notify/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	sagav1 "github.com/bookingrush/rush/gen/bookingrush/saga/v1"
	"github.com/bookingrush/rush/services/platform/server"
)

// Services are the contracts the edge exposes; every RPC with a
// google.api.http annotation becomes a public route, the others (internal
// RPCs such as LoadInventory) are unreachable from outside. A service is
// served by the component named like its package (bookingrush.<name>.v1).
var Services = []protoreflect.ServiceDescriptor{
	authv1.File_bookingrush_auth_v1_auth_proto.Services().Get(0),
	catalogv1.File_bookingrush_catalog_v1_catalog_proto.Services().Get(0),
	bookingv1.File_bookingrush_booking_v1_booking_proto.Services().Get(0),
	paymentv1.File_bookingrush_payment_v1_payment_proto.Services().Get(0),
	notifyv1.File_bookingrush_notify_v1_notify_proto.Services().Get(0),
	queuev1.File_bookingrush_queue_v1_queue_proto.Services().Get(0),
	analyticsv1.File_bookingrush_analytics_v1_analytics_proto.Services().Get(0),
	sagav1.File_bookingrush_saga_v1_saga_proto.Services().Get(0),
	gatev1.File_bookingrush_gate_v1_gate_proto.Services().Get(0),
}

// successStatus lists the RPCs whose success is not 200 OK: creates answer
// 201, and forgot-password 202 (accepted: a mail may follow, whether or not
// the address exists).
var successStatus = map[protoreflect.FullName]int{
	"bookingrush.auth.v1.AuthService.Register":             http.StatusCreated,
	"bookingrush.auth.v1.AuthService.ForgotPassword":       http.StatusAccepted,
	"bookingrush.catalog.v1.CatalogService.CreateEvent":    http.StatusCreated,
	"bookingrush.catalog.v1.CatalogService.CreateShow":     http.StatusCreated,
	"bookingrush.catalog.v1.CatalogService.CreateZone":     http.StatusCreated,
	"bookingrush.catalog.v1.CatalogService.CreateCategory": http.StatusCreated,
	"bookingrush.booking.v1.BookingService.Reserve":        http.StatusCreated,
	"bookingrush.payment.v1.PaymentService.CreatePayment":  http.StatusCreated,
	"bookingrush.gate.v1.GateService.CreateDevice":         http.StatusCreated,
}

// routeTable is what the edge precomputes from the contracts at startup.
type routeTable struct {
	// codec writes messages the way every answer is written (the
	// server-sent events of the queue use it too).
	codec *codec
	// success maps a procedure path ("/pkg.Service/Method") to the status
	// of its successful answer, when not 200.
	success map[string]int
	// routes are the bindings of the contracts by HTTP method, checked
	// before the transcoder sees a request (request.go).
	routes map[string][]*route
}

// isAbort reports whether a recovered panic value is http.ErrAbortHandler,
// the handler's way to abort an answer on purpose.
func isAbort(p any) bool {
	err, ok := p.(error)
	return ok && errors.Is(err, http.ErrAbortHandler)
}

// newTranscoder builds the vanguard transcoder for Services: REST in,
// Connect with binary protobuf out, each service proxied through the mesh
// client to its component. traced makes upstream requests carry the edge
// span's trace context.
func newTranscoder(mesh *server.Mesh, failed func(context.Context, string, error), traced bool) (*routeTable, *vanguard.Transcoder, error) {
	rt, err := newRouteTable()
	if err != nil {
		return nil, nil, err
	}
	var services []*vanguard.Service
	for _, sd := range Services {
		component, err := componentOf(sd)
		if err != nil {
			return nil, nil, err
		}
		services = append(services, vanguard.NewServiceWithSchema(sd, newProxy(mesh, component, rt, failed, traced)))
	}
	t, err := vanguard.NewTranscoder(services,
		vanguard.WithCodec(func(vanguard.TypeResolver) vanguard.Codec { return rt.codec }),
		vanguard.WithUnknownHandler(http.HandlerFunc(notFound)),
		vanguard.WithDefaultServiceOptions(
			// The edge drops unknown query parameters itself (request.go);
			// this keeps the transcoder from failing on one if it ever
			// sees one.
			vanguard.WithRESTUnmarshalOptions(vanguard.RESTUnmarshalOptions{DiscardUnknownQueryParams: true}),
			vanguard.WithTargetProtocols(vanguard.ProtocolConnect),
			vanguard.WithTargetCodecs(vanguard.CodecProto),
			vanguard.WithNoTargetCompression(),
		),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("edge: routes from the contracts: %w", err)
	}
	return rt, t, nil
}

// newRouteTable computes from the contracts, once, what the edge needs
// besides the transcoder: the JSON plans and envelopes of every message,
// the non-200 success statuses and the routes.
func newRouteTable() (*routeTable, error) {
	p := newPlans()
	envelopes := map[protoreflect.FullName]envelope{}
	rt := &routeTable{success: map[string]int{}, routes: map[string][]*route{}}
	seen := map[protoreflect.FullName]bool{}
	for _, sd := range Services {
		methods := sd.Methods()
		for i := range methods.Len() {
			md := methods.Get(i)
			in, out := p.message(md.Input()), p.message(md.Output())
			envelopes[md.Output().FullName()] = classify(out)
			if s, ok := successStatus[md.FullName()]; ok {
				rt.success["/"+string(sd.FullName())+"/"+string(md.Name())] = s
				seen[md.FullName()] = true
			}
			bindings, err := routesOf(md, in)
			if err != nil {
				return nil, err
			}
			for _, b := range bindings {
				rt.routes[b.method] = append(rt.routes[b.method], b)
			}
		}
	}
	for name := range successStatus {
		if !seen[name] {
			return nil, fmt.Errorf("edge: success status listed for %s, which no service has", name)
		}
	}
	p.finish()
	rt.codec = newCodec(p, envelopes)
	return rt, nil
}

// componentOf names the component serving sd: bookingrush.<name>.v1.
func componentOf(sd protoreflect.ServiceDescriptor) (string, error) {
	parts := strings.Split(string(sd.ParentFile().Package()), ".")
	if len(parts) == 3 && parts[0] == "bookingrush" {
		if _, ok := server.Ports[parts[1]]; ok {
			return parts[1], nil
		}
	}
	return "", fmt.Errorf("edge: no component serves %s", sd.FullName())
}

// newProxy forwards the transcoded Connect call to component through the
// mesh client (in-process registry or peer address, cleartext HTTP/2). The
// caller's headers travel as they are: Authorization (the service verifies
// the token again), X-Request-ID, Idempotency-Key, X-Queue-Pass; the
// client's trace headers are replaced by the edge's (propagate).
//
// rt's success statuses and Cache-Controls are complete before the first
// request and read-only afterwards.
func newProxy(mesh *server.Mesh, component string, rt *routeTable, failed func(context.Context, string, error), traced bool) http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = component
			pr.Out.Host = component
			propagate(pr.Out.Context(), pr.Out.Header, traced)
			if dl, ok := pr.Out.Context().Deadline(); ok {
				// The service stops working when the edge gives up.
				if ms := time.Until(dl).Milliseconds(); ms > 0 {
					pr.Out.Header["Connect-Timeout-Ms"] = []string{strconv.FormatInt(ms, 10)}
				}
			}
		},
		Transport:  mesh.Client.Transport,
		BufferPool: bufferPool{},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			code, msg := "unavailable", component+" is unavailable"
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(r.Context().Err(), context.DeadlineExceeded) {
				code, msg = "deadline_exceeded", "the request timed out"
			} else {
				failed(r.Context(), component, err)
			}
			// A Connect error, which the transcoder turns into the envelope.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, `{"code":%q,"message":%q}`, code, msg)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st, ok := r.Context().Value(stateKey{}).(*reqState); ok {
			st.success = rt.success[r.URL.Path]
			st.procedure = r.URL.Path
		}
		defer func() {
			// ReverseProxy panics with http.ErrAbortHandler when copying
			// the service's answer fails, to cut a streamed answer short.
			// Every call here is unary and the transcoder buffers it: when
			// the request body it was feeding upstream failed to decode, it
			// has already written the 400, and an abort would only cut off
			// the end of that answer (the client read a broken chunked
			// body); an incomplete answer of the service it reports itself.
			if p := recover(); p != nil && !isAbort(p) {
				panic(p)
			}
		}()
		rp.ServeHTTP(w, r)
	})
}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// bufferPool lends the reverse proxy its copy buffers.
type bufferPool struct{}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }
