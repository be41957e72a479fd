// Package server runs the Connect servers of the mesh. Every component serves
// its handlers over Connect, gRPC and gRPC-Web (HTTP/1.1 and cleartext HTTP/2
// on one port), with gRPC health, gRPC reflection, tracing, panic recovery and
// a protovalidate interceptor, so bad input never reaches a handler.
package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/otelconnect"
	"connectrpc.com/validate"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/gen/bookingrush/mesh/v1/meshv1connect"
	"github.com/bookingrush/rush/services/platform/audit"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/breaker"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/health"
	"github.com/bookingrush/rush/services/platform/logging"
	"github.com/bookingrush/rush/services/platform/telemetry"
)

// Config holds the limits every server of this process applies.
type Config struct {
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`
	MaxBodyBytes      int           `yaml:"max_body_bytes"`
}

// RegisterFlags registers server.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.DurationVar(&c.ReadHeaderTimeout, "server.read-header-timeout", 5*time.Second, "time allowed to read request headers")
	f.DurationVar(&c.ReadTimeout, "server.read-timeout", 30*time.Second, "time allowed to read a whole request")
	f.DurationVar(&c.WriteTimeout, "server.write-timeout", 0, "time allowed to write a response (0: none, streams stay open)")
	f.DurationVar(&c.IdleTimeout, "server.idle-timeout", 120*time.Second, "keep-alive idle time")
	f.DurationVar(&c.ShutdownTimeout, "server.shutdown-timeout", 15*time.Second, "time in-flight requests get at shutdown")
	f.IntVar(&c.MaxHeaderBytes, "server.max-header-bytes", 64<<10, "largest request header block a caller may send, counted as HTTP/2 does (name + value + 32 bytes per field)")
	f.IntVar(&c.MaxBodyBytes, "server.max-body-bytes", 1<<20, "largest RPC message")
}

// Validate checks the limits.
func (c *Config) Validate() error {
	if c.ReadHeaderTimeout <= 0 || c.ShutdownTimeout <= 0 {
		return errors.New("server.read-header-timeout and server.shutdown-timeout must be positive")
	}
	if c.MaxHeaderBytes < 4<<10 || c.MaxBodyBytes < 1<<10 {
		return errors.New("server.max-header-bytes must be >= 4096 and server.max-body-bytes >= 1024")
	}
	return nil
}

// Registry maps component names to the base URLs their servers actually
// listen on in this process, so in-process callers (the edge in `all` mode,
// tests on port 0) reach the real address.
type Registry struct {
	mu   sync.RWMutex
	urls map[string]string
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{urls: map[string]string{}} }

// Set records where component name listens.
func (r *Registry) Set(name, url string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.urls[name] = url
}

// URL returns the base URL of component name if it runs in this process.
func (r *Registry) URL(name string) (string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	u, ok := r.urls[name]
	return u, ok
}

// Handler is one Connect handler, as returned by the generated
// New<Service>Handler functions.
type Handler struct {
	Path    string
	Handler http.Handler
}

// Service describes one component's server.
type Service struct {
	// Name is the component name ("booking"), also used in the registry.
	Name string
	// Addr is the listen address (":9083", "127.0.0.1:0").
	Addr string
	// Services are the fully-qualified protobuf service names served, for
	// health and reflection.
	Services []string
	// Handlers are mounted on the mux as they are.
	Handlers []Handler
}

// Deps are what Run needs from the container.
type Deps struct {
	fx.In
	Config   Config
	Log      *zap.Logger
	Health   *health.Checker
	Registry *Registry
	Stack    *Stack
}

// Stack is what every Connect handler of the mesh is built with: tracing,
// authentication, the roles each RPC's access option requires, the client
// the edge forwarded (for the audit log), the handler's own Authorizer
// check if it has one, validation (the contracts' protovalidate rules plus
// the text rule of every string, text.go), in that order, outermost first:
// a caller is authorized before the request is validated. Then panic
// recovery and the message size limit.
type Stack struct {
	otel     connect.Interceptor // nil when tracing is off
	metrics  connect.Interceptor
	logErrs  connect.Interceptor
	access   connect.Interceptor
	validate connect.Interceptor
	keys     *authn.Keys
	base     []connect.HandlerOption
}

// NewStack builds the shared handler stack. Server spans come from tp and
// continue the caller's trace (the edge, another component); without
// tracing (a noop tp) the interceptor is left out altogether.
func NewStack(cfg Config, log *zap.Logger, keys *authn.Keys, reg prometheus.Registerer, tp trace.TracerProvider) (*Stack, error) {
	otelInt, err := newOtel(tp, otelconnect.WithTrustRemote())
	if err != nil {
		return nil, err
	}
	metrics, err := newRPCMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Stack{
		otel:     otelInt,
		metrics:  metrics.interceptor(),
		logErrs:  logServerErrors(log),
		access:   authn.NewAccessInterceptor(),
		validate: validate.NewInterceptor(validate.WithValidator(newValidator())),
		keys:     keys,
		base: []connect.HandlerOption{
			connect.WithReadMaxBytes(cfg.MaxBodyBytes),
			// Small messages are never worth compressing, whatever the
			// client accepts.
			connect.WithCompressMinBytes(4 << 10),
			connect.WithRecover(func(ctx context.Context, spec connect.Spec, _ http.Header, p any) error {
				logging.Ctx(ctx, log).Error("panic in handler", zap.String("procedure", spec.Procedure), zap.Any("panic", p), zap.Stack("stack"))
				return connect.NewError(connect.CodeInternal, errors.New("internal error"))
			}),
		},
	}, nil
}

// HandlerOptions returns the options for one service's handler; the
// procedures in anonymous may be called without a token (every other call
// must carry a valid one).
func (s *Stack) HandlerOptions(anonymous ...string) []connect.HandlerOption {
	return s.HandlerOptionsFor(nil, anonymous...)
}

// HandlerOptionsFor is HandlerOptions for the handler impl: when impl is an
// Authorizer, its check runs after the role check and before validation.
func (s *Stack) HandlerOptionsFor(impl any, anonymous ...string) []connect.HandlerOption {
	// batchErrors outside everything: every other interceptor sees the
	// handler's error as it is.
	ics := make([]connect.Interceptor, 0, 10)
	ics = append(ics, batchErrors)
	if s.otel != nil {
		ics = append(ics, s.otel)
	}
	ics = append(ics, s.metrics, s.logErrs, canonicalIDs, authn.NewServerInterceptor(s.keys, anonymous...), s.access, audit.NewInterceptor())
	if a, ok := impl.(Authorizer); ok {
		ics = append(ics, authorizeInterceptor(a))
	}
	ics = append(ics, s.validate, domainErrors)
	return append([]connect.HandlerOption{connect.WithInterceptors(ics...)}, s.base...)
}

// domainErrors is the one place a handler's error becomes what the caller
// reads: a domain error (errs.Error) keeps its code and details, a
// *connect.Error passes, anything else is INTERNAL_ERROR without its text
// (errs.Connect). Handlers return their errors as they are. It runs next to
// the handler, so every interceptor outside it (metrics, error logs) sees
// the Connect code.
var domainErrors connect.Interceptor = domainErrorInterceptor{}

type domainErrorInterceptor struct{}

func (domainErrorInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		return res, errs.Connect(err)
	}
}

func (domainErrorInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (domainErrorInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return errs.Connect(next(ctx, conn))
	}
}

// transportOptions are the options of the mesh's own transport
// (MeshService): traced, measured, authenticated and role-checked like any
// RPC, but neither audited nor validated as a request of the API: the
// calls it carries are, each on its own, and the handler checks the rest.
func (s *Stack) transportOptions() []connect.HandlerOption {
	ics := make([]connect.Interceptor, 0, 5)
	if s.otel != nil {
		ics = append(ics, s.otel)
	}
	ics = append(ics, s.metrics, s.logErrs, authn.NewServerInterceptor(s.keys), s.access)
	return append([]connect.HandlerOption{connect.WithInterceptors(ics...)}, s.base...)
}

// Authorizer is implemented by a service handler that can tell from the
// ids a request carries (a route's path: /events/{event_id}) whether the
// caller may act on that resource, before the rest of the request is
// validated: another organizer's event answers FORBIDDEN (or NOT_FOUND)
// whatever the body holds, not the route's validation rules. The check must
// say nothing (nil) when it cannot tell, a malformed id or a failing store
// included: validation and the handler then decide, as before.
type Authorizer interface {
	AuthorizeRequest(ctx context.Context, procedure string, msg any) error
}

// authorizeInterceptor runs a's check on every unary call.
func authorizeInterceptor(a Authorizer) connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if !req.Spec().IsClient {
				if err := a.AuthorizeRequest(ctx, req.Spec().Procedure, req.Any()); err != nil {
					return nil, err
				}
			}
			return next(ctx, req)
		}
	})
}

// newOtel returns the otelconnect interceptor recording to tp, or nil when
// tp records nothing: with a noop provider the interceptor would still
// parse headers and build attributes on every call for spans nobody sees.
func newOtel(tp trace.TracerProvider, opts ...otelconnect.Option) (connect.Interceptor, error) {
	if !telemetry.Enabled(tp) {
		return nil, nil
	}
	return otelconnect.NewInterceptor(append(opts, otelconnect.WithTracerProvider(tp), otelconnect.WithoutMetrics())...)
}

// logServerErrors logs the answers that mean "our fault" with the cause the
// caller never sees and the request id the edge logs too: a bug (internal,
// unknown, data loss) at error level, a dependency down (unavailable) at
// warn; not those an open circuit breaker refused (it logged the outage
// once, and it refuses thousands of calls a second).
func logServerErrors(log *zap.Logger) connect.Interceptor {
	report := func(ctx context.Context, procedure, requestID string, err error) {
		if errors.Is(err, breaker.ErrOpen) {
			return
		}
		level := zap.ErrorLevel
		switch connect.CodeOf(err) {
		case connect.CodeInternal, connect.CodeUnknown, connect.CodeDataLoss:
		case connect.CodeUnavailable:
			level = zap.WarnLevel
		default:
			return
		}
		cause := errors.Unwrap(err)
		for next := errors.Unwrap(cause); next != nil; next = errors.Unwrap(next) {
			cause = next
		}
		logging.Ctx(ctx, log).Log(level, "rpc failed", zap.String("procedure", procedure), zap.String("request_id", requestID),
			zap.Error(err), zap.NamedError("cause", cause))
	}
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			res, err := next(ctx, req)
			if err != nil && !req.Spec().IsClient {
				report(ctx, req.Spec().Procedure, req.Header().Get("X-Request-Id"), err)
			}
			return res, err
		}
	})
}

// HeaderHeadroom is what every server accepts beyond server.max-header-bytes.
// The edge answers 431 itself to a caller whose headers exceed the limit, and
// forwards the others with headers of its own (X-Client-IP, the trace
// context, Connect-Timeout-Ms, the Connect protocol's): without the headroom a
// request the edge accepted near the limit would be refused by the service,
// and the caller would read a false 503.
const HeaderHeadroom = 4 << 10

// HeaderSize is the size of h as the limit counts it: HTTP/2's header list
// size (RFC 9113 §6.5.2), name and value plus 32 bytes per field, which is
// also how a service's HTTP/2 server measures what the edge forwards.
func HeaderSize(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 32
		}
	}
	return n
}

// NewHTTPServer returns an http.Server with the configured limits that speaks
// HTTP/1.1 and cleartext HTTP/2 (gRPC needs the latter).
func NewHTTPServer(cfg Config, h http.Handler, log *zap.Logger) *http.Server {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	// What net/http reports there is trouble with a connection (a bad
	// preface, a TLS handshake) or a handler bug, never routine. (The error
	// is for an invalid level only.)
	errorLog, _ := zap.NewStdLogAt(log, zap.WarnLevel)
	return &http.Server{
		Handler:           growStack(h),
		Protocols:         p,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes + HeaderHeadroom,
		ErrorLog:          errorLog,
	}
}

// Run mounts svc with health and reflection and serves it for the life of the
// fx app: the listener opens in OnStart (so a taken port fails the start with
// a clear error), and OnStop drains in-flight requests.
func Run(lc fx.Lifecycle, d Deps, svc Service) {
	mux := http.NewServeMux()
	for _, h := range svc.Handlers {
		mux.Handle(h.Path, h.Handler)
	}
	mux.Handle(meshv1connect.NewMeshServiceHandler(&batchServer{mux: mux, maxHeader: d.Config.MaxHeaderBytes + HeaderHeadroom,
		workers: workers{work: make(chan func())}}, d.Stack.transportOptions()...))
	mux.Handle(grpchealth.NewHandler(d.Health.GRPC(svc.Services...)))
	reflector := grpcreflect.NewStaticReflector(svc.Services...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	Listen(lc, d, svc.Name, svc.Addr, mux)
}

// Listen serves h on addr for the life of the fx app and records the bound
// address under name in the registry.
func Listen(lc fx.Lifecycle, d Deps, name, addr string, h http.Handler) {
	log := d.Log.With(zap.String("component", name))
	srv := NewHTTPServer(d.Config, h, log)
	var idle idleConns
	srv.ConnState = idle.track
	var done chan struct{}
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
			if err != nil {
				return fmt.Errorf("%s: listen on %s: %w", name, addr, err)
			}
			d.Registry.Set(name, "http://"+dialable(ln.Addr()))
			done = make(chan struct{})
			go func() {
				defer close(done)
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("server stopped", zap.Error(err))
				}
			}()
			log.Info("serving", zap.String("addr", ln.Addr().String()))
			return nil
		},
		OnStop: func(ctx context.Context) error {
			d.Health.SetDraining()
			ctx, cancel := context.WithTimeout(ctx, d.Config.ShutdownTimeout)
			defer cancel()
			err := idle.shutdown(ctx, srv)
			if done != nil {
				<-done
			}
			return err
		},
	})
}

// dialable turns a listen address such as [::]:9083 into one a client on this
// host can dial.
func dialable(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP == nil || tcp.IP.IsUnspecified() {
		if ok {
			return fmt.Sprintf("127.0.0.1:%d", tcp.Port)
		}
		return a.String()
	}
	return tcp.String()
}

// NewClient returns the HTTP client internal callers use: cleartext HTTP/2
// only (one multiplexed connection per service, no TLS inside the mesh), with
// timeouts so a dead peer cannot hold a caller forever.
func NewClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		Protocols:           p,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}}
}

// Module provides the *Registry, the handler *Stack and the *Mesh client.
var Module = fx.Module("server",
	fx.Provide(NewRegistry, NewStack, provideMesh),
)

// Serve is the fx option a component uses to serve its generated Connect
// handler: it takes the handler implementation H from the container, mounts it
// with the shared HandlerOptionsFor it (an Authorizer's check included) and
// runs it on addr.
//
//	server.Serve("booking", cfg.Addr, bookingv1connect.BookingServiceName, bookingv1connect.NewBookingServiceHandler)
//
// The procedures listed in anonymous may be called without a bearer token.
func Serve[H any](name, addr, service string, mount func(H, ...connect.HandlerOption) (string, http.Handler), anonymous ...string) fx.Option {
	return fx.Invoke(func(lc fx.Lifecycle, d Deps, h H) {
		path, handler := mount(h, d.Stack.HandlerOptionsFor(h, anonymous...)...)
		Run(lc, d, Service{Name: name, Addr: addr, Services: []string{service}, Handlers: []Handler{{Path: path, Handler: handler}}})
	})
}

// ValidateAddr checks that addr is a host:port listen address.
func ValidateAddr(key, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s: %q is not host:port (%w)", key, addr, err)
	}
	return nil
}
