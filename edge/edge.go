// Package edge is the only public door of the mesh: the /api/v1 JSON API,
// transcoded by connectrpc.com/vanguard from the google.api.http annotations
// of the contracts to the internal Connect services, with the plan's JSON
// envelope and error codes, JWT checks, rate limits, request ids, security
// headers, CORS, body limits and timeouts; plus liveness and readiness for
// load balancers.
package edge

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/vanguard"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/queue/v1/queuev1connect"
	"github.com/bookingrush/rush/services/platform/audit"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/health"
	"github.com/bookingrush/rush/services/platform/logging"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/platform/telemetry"
	"github.com/bookingrush/rush/services/platform/ticket"
)

// Config is the edge's configuration.
type Config struct {
	// Addr is where the public HTTP API listens.
	Addr string `yaml:"addr"`
	// CORSOrigins are the browser origins allowed to call the API ("*" for
	// any); empty sends no CORS headers at all.
	CORSOrigins config.StringSlice `yaml:"cors_origins"`
	// TrustedProxies are the CIDRs of the load balancers in front of the
	// edge; only a request from one of them has its X-Forwarded-For read.
	TrustedProxies config.StringSlice `yaml:"trusted_proxies"`
	// MaxBodyBytes is the largest request body accepted.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// RequestTimeout bounds a whole API call, upstream included.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// Admission is the reserve route's admission control.
	Admission AdmissionConfig `yaml:"admission"`
	// PublicCache is how long shared caches may keep the public catalog
	// reads (cache.go).
	PublicCache PublicCacheConfig `yaml:"public_cache"`
	// AccessLog logs every answer at info level (method, route, status,
	// duration, request id).
	AccessLog bool `yaml:"access_log"`
	// QueueUpdateInterval is the least time between two place updates of
	// one waiting-room stream (admission and sold out are told at once).
	QueueUpdateInterval time.Duration `yaml:"queue_update_interval"`
	// QueueHeartbeat is how long a waiting-room stream may stay silent
	// before it gets a comment line, so proxies keep it open.
	QueueHeartbeat time.Duration `yaml:"queue_heartbeat"`
}

// RegisterFlags registers edge.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "edge.addr", ":8080", "listen address of the public JSON API")
	config.StringSliceVar(f, &c.CORSOrigins, "edge.cors-origins", nil, "browser origins allowed by CORS, comma-separated (* for any; empty: no CORS headers)")
	config.StringSliceVar(f, &c.TrustedProxies, "edge.trusted-proxies", nil, "CIDRs of proxies whose X-Forwarded-For names the client, comma-separated (empty: the peer address is the client)")
	f.Int64Var(&c.MaxBodyBytes, "edge.max-body-bytes", 1<<20, "largest request body (413 above)")
	f.DurationVar(&c.RequestTimeout, "edge.request-timeout", 10*time.Second, "time allowed for one API call, upstream included")
	c.Admission.RegisterFlags(f)
	c.PublicCache.RegisterFlags(f)
	f.BoolVar(&c.AccessLog, "edge.access-log", true, "log every answer at info level: method, path, route, status, duration, request id (log.level=warn silences it too)")
	f.DurationVar(&c.QueueUpdateInterval, "edge.queue-update-interval", 2*time.Second, "least time between two place updates of one waiting-room stream (admission and sold out are told at once)")
	f.DurationVar(&c.QueueHeartbeat, "edge.queue-heartbeat", 15*time.Second, "a waiting-room stream silent this long gets a comment line")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var problems []error
	if err := server.ValidateAddr("edge.addr", c.Addr); err != nil {
		problems = append(problems, err)
	}
	if _, err := parsePrefixes(c.TrustedProxies); err != nil {
		problems = append(problems, err)
	}
	for _, o := range c.CORSOrigins {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			problems = append(problems, fmt.Errorf("edge.cors-origins: %q is not * or an http(s)://host origin", o))
		}
	}
	if c.MaxBodyBytes < 1<<10 {
		problems = append(problems, fmt.Errorf("edge.max-body-bytes: %d must be at least 1024", c.MaxBodyBytes))
	}
	if c.RequestTimeout <= 0 {
		problems = append(problems, errors.New("edge.request-timeout: must be positive"))
	}
	problems = append(problems, c.Admission.Validate(), c.PublicCache.Validate())
	if c.QueueUpdateInterval < 100*time.Millisecond || c.QueueHeartbeat < c.QueueUpdateInterval {
		problems = append(problems, fmt.Errorf("edge.queue-update-interval (%v) must be at least 100ms and edge.queue-heartbeat (%v) no shorter",
			c.QueueUpdateInterval, c.QueueHeartbeat))
	}
	return errors.Join(problems...)
}

func parsePrefixes(cidrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		if !strings.Contains(c, "/") {
			a, err := netip.ParseAddr(c)
			if err != nil {
				return nil, fmt.Errorf("edge.trusted-proxies: %q is not a CIDR or address", c)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("edge.trusted-proxies: %q is not a CIDR (%w)", c, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Deps are what the edge takes from the container.
type Deps struct {
	fx.In
	Log      *zap.Logger
	Health   *health.Checker
	Mesh     *server.Mesh
	Keys     *authn.Keys
	Redis    *redis.Client
	Registry *prometheus.Registry
	Tracing  trace.TracerProvider
	Server   server.Config
	Tickets  *ticket.Signer
}

// Edge is the public HTTP handler.
type Edge struct {
	cfg        Config
	maxHeader  int // server.max-header-bytes
	log        *zap.Logger
	keys       *authn.Keys
	ops        http.Handler // /healthz, /readyz
	transcoder *vanguard.Transcoder
	routes     *routeTable
	limiter    *limiter // nil when rate limiting is off
	cors       cors
	trusted    []netip.Prefix
	upstream   logSampler
	metrics    *httpMetrics
	waitroom   *waitroom
	reserve    *direct[bookingv1.ReserveRequest, bookingv1.ReserveResponse]
	direct     map[string]directRoute // POST routes served without the transcoder, by path
	admission  *admission             // nil when admission control is off
	autoQueue  *autoQueue             // nil when the edge never asks for a waiting room
	shedRetry  []string               // Retry-After of a shed answer
	shedDetail []byte                 // and its details
	tracer     trace.Tracer           // nil when tracing is off: no span, no cost
	openAPI    []byte                 // the OpenAPI document of /api/v1 (openapi.go)
	openAPITag string
}

// New builds the edge's handler.
func New(cfg Config, rl RateLimitConfig, d Deps) (*Edge, error) {
	trusted, err := parsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	e := &Edge{cfg: cfg, maxHeader: d.Server.MaxHeaderBytes, log: d.Log.With(zap.String("component", "edge")), keys: d.Keys, trusted: trusted, cors: newCORS(cfg.CORSOrigins)}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", d.Health.LivenessHandler())
	mux.Handle("GET /readyz", d.Health.ReadinessHandler())
	mux.HandleFunc("/", notFound)
	e.ops = mux
	if e.metrics, err = newHTTPMetrics(d.Registry); err != nil {
		return nil, err
	}
	if telemetry.Enabled(d.Tracing) {
		e.tracer = d.Tracing.Tracer(tracerName)
	}
	if e.routes, e.transcoder, err = newTranscoder(d.Mesh, e.upstreamFailed, e.tracer != nil); err != nil {
		return nil, err
	}
	e.waitroom = newWaitroom(server.Dial(d.Mesh, "edge", "queue", queuev1connect.NewQueueServiceClient), d.Tickets, e.routes.codec, cfg, e.log)
	if err := e.waitroom.register(d.Registry); err != nil {
		return nil, err
	}
	// The flash sale's two routes reach their services in batches under
	// load (peer.batch-*).
	batched := d.Mesh.Batched("edge")
	e.reserve = newReserveRoute(batched, e.routes, e.tracer != nil, e.upstreamFailed)
	e.direct = map[string]directRoute{
		reservePath: {reserveProcedure, e.reserve.serve},
		joinPath:    {joinProcedure, newJoinRoute(batched, e.routes, e.tracer != nil, e.upstreamFailed).serve},
	}
	if e.openAPI, err = e.routes.openAPI(); err != nil {
		return nil, err
	}
	e.openAPITag = etag(e.openAPI)
	if cfg.Admission.Enabled {
		if e.admission, err = newAdmission(cfg.Admission, d.Registry); err != nil {
			return nil, err
		}
		secs := strconv.Itoa(int(cfg.Admission.RetryAfter / time.Second))
		e.shedRetry, e.shedDetail = []string{secs}, []byte(`{"reason":"overloaded","retry_after":`+secs+`}`)
		if cfg.Admission.AutoQueueAfter > 0 {
			e.autoQueue = newAutoQueue(cfg.Admission.AutoQueueAfter, cfg.Admission.AutoQueueRatio, e.waitroom.queue, e.log)
			e.reserve.seen = func(req *connect.Request[bookingv1.ReserveRequest], res *connect.Response[bookingv1.ReserveResponse], err error) {
				event, open := "", false
				if err == nil {
					event = res.Msg.GetBooking().GetEventId()
					// A new hold made without a pass: the event's queue is
					// off (a replay answers before the pass is checked).
					open = req.Msg.GetQueuePass() == "" && req.Header().Get("X-Queue-Pass") == "" &&
						res.Header().Get("Idempotent-Replayed") == ""
				}
				e.autoQueue.learn(req.Msg.GetShowId(), event, errs.Is(err, errs.QueuePassRequired), open)
				e.autoQueue.observe(req.Msg.GetShowId(), false, time.Now())
			}
		}
	}
	if rl.Enabled {
		if e.limiter, err = newLimiter(rl, d.Redis, d.Registry, e.log); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Module serves the edge on cfg.Addr.
func Module(cfg Config, rl RateLimitConfig) fx.Option {
	return fx.Module("edge",
		fx.Invoke(func(lc fx.Lifecycle, sd server.Deps, d Deps) error {
			e, err := New(cfg, rl, d)
			if err != nil {
				return err
			}
			if e.limiter != nil {
				// Before the server's hook, so it runs after the drain: the
				// reserve limit's last sync counts every request.
				lc.Append(fx.StopHook(e.limiter.close))
			}
			server.Listen(lc, sd, "edge", cfg.Addr, e)
			// Appended after the server's hook, so it runs before it on
			// stop: the waiting-room streams end, and the drain does not
			// wait for them.
			lc.Append(fx.StopHook(e.waitroom.stop))
			return nil
		}),
	)
}

// Headers every answer carries (docs/architecture.md, "Edge security"), shared read-only slices so
// setting them costs no allocation.
var (
	hdrHSTS     = []string{"max-age=31536000; includeSubDomains"}
	hdrNosniff  = []string{"nosniff"}
	hdrDeny     = []string{"DENY"}
	hdrXSS      = []string{"1; mode=block"}
	hdrCSP      = []string{"default-src 'self'"}
	hdrNoStore  = []string{"no-store"}
	hdrJSON     = []string{"application/json"}
	hdrRetry1   = []string{"1"}
	queueEvents = "/api/v1/queue/events"
)

// ServeHTTP implements http.Handler.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w}
	start := time.Now()
	if e.tracer != nil && strings.HasPrefix(r.URL.Path, "/api/") {
		// Probes (/healthz, /readyz) start no traces.
		var span trace.Span
		r, span = e.startSpan(r)
		defer endSpan(span, r.Method, rec)
	}
	defer e.finish(rec, r, start)
	e.serve(rec, r)
}

// finish records the answer in the metrics and logs every answer that says
// "our bug" (500, 501...) at error level, with the request id the caller
// saw and the services logged (a 503, a dependency down, is logged where it
// is detected, sampled). A panic while serving becomes such an answer, in
// the envelope, instead of a dropped connection.
func (e *Edge) finish(rec *recorder, r *http.Request, start time.Time) {
	if p := recover(); p != nil {
		if isAbort(p) {
			panic(p) // the handler's way to abort the answer on purpose
		}
		logging.Ctx(r.Context(), e.log).Error("panic serving a request", zap.Any("panic", p), zap.Stack("stack"),
			zap.String("request_id", rec.Header().Get("X-Request-Id")))
		if rec.status == 0 {
			writeError(rec, http.StatusInternalServerError, errs.Internal, "internal error", nil)
		}
	}
	e.metrics.observe(rec, r.Method, start)
	if e.cfg.AccessLog && strings.HasPrefix(r.URL.Path, "/api/") && e.log.Core().Enabled(zapcore.InfoLevel) {
		// Probes (/healthz, /readyz every few seconds per pod) are not logged.
		logging.Ctx(r.Context(), e.log).Info("access", zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.String("route", rec.route), zap.Int("status", rec.code()), zap.Duration("duration", time.Since(start)),
			zap.String("request_id", rec.Header().Get("X-Request-Id")))
	}
	if rec.status >= 500 && rec.status != http.StatusServiceUnavailable {
		logging.Ctx(r.Context(), e.log).Error("answered a server error",
			zap.Int("status", rec.status), zap.String("request_id", rec.Header().Get("X-Request-Id")),
			zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.String("route", rec.route))
	}
}

func (e *Edge) serve(w *recorder, r *http.Request) {
	h := w.Header()
	h["Strict-Transport-Security"] = hdrHSTS
	h["X-Content-Type-Options"] = hdrNosniff
	h["X-Frame-Options"] = hdrDeny
	h["X-Xss-Protection"] = hdrXSS
	h["Content-Security-Policy"] = hdrCSP
	h["Cache-Control"] = hdrNoStore
	id := []string{requestID(r.Header["X-Request-Id"])}
	h["X-Request-Id"] = id
	r.Header["X-Request-Id"] = id // forwarded upstream
	if server.HeaderSize(r.Header) > e.maxHeader {
		// The server let it in (it allows server.HeaderHeadroom more, for
		// what the edge adds upstream); the services would refuse it.
		writeError(w, http.StatusRequestHeaderFieldsTooLarge, codeHeadersTooLarge,
			fmt.Sprintf("request headers larger than %d bytes (name + value + 32 per field)", e.maxHeader), nil)
		return
	}
	if e.cors.enabled && e.cors.handle(w, r) {
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			w.route = r.URL.Path
		}
		e.ops.ServeHTTP(w, r)
		return
	}
	if r.Method == http.MethodHead && r.URL.Path != queueEvents {
		// HEAD is GET without the body (RFC 9110, 9.3.2): net/http drops
		// what the handler writes. Not on the event stream, which would
		// never end.
		r = r.WithContext(r.Context())
		r.Method = http.MethodGet
	}
	e.serveAPI(w, r)
}

func (e *Edge) serveAPI(w *recorder, r *http.Request) {
	if r.URL.Path == openAPIPath && r.Method == http.MethodGet {
		w.route = openAPIPath
		e.serveOpenAPI(w, r)
		return
	}
	if r.ContentLength > e.cfg.MaxBodyBytes {
		writeError(w, http.StatusRequestEntityTooLarge, codePayloadTooLarge, fmt.Sprintf("request body larger than %d bytes", e.cfg.MaxBodyBytes), nil)
		return
	}
	if e.admission != nil && r.URL.Path == reservePath && r.Method == http.MethodPost {
		// First, before the token's check and the rate limit: under
		// overload most reserves are shed, and a shed reserve should cost
		// the machine nothing but this answer (in a flash sale most tokens
		// are never-seen ones, each an HMAC to check). A shed request with
		// a bad token is told 503 now and 401 on its retry.
		if !e.admission.acquire() {
			w.route = reserveProcedure
			e.shed(w, r)
			return
		}
		start := time.Now()
		defer func() {
			// A reserve the edge refused itself (token, rate limit) went
			// nowhere upstream: it frees its slot but is no sample of the
			// upstream's latency (a flood of them would raise the limit).
			end := time.Now()
			e.admission.release(end.Sub(start), end, w.status != http.StatusUnauthorized && w.status != http.StatusTooManyRequests)
		}()
	}
	var p *authn.Principal
	userID := ""
	if auth := r.Header.Get("Authorization"); auth != "" {
		token, ok := authn.BearerToken(auth)
		if !ok {
			writeError(w, http.StatusUnauthorized, errs.Unauthorized, "authorization is not a bearer token", nil)
			return
		}
		var err error
		if p, err = e.keys.Verify(token, time.Now()); err != nil {
			if errs.Is(err, errs.ServiceUnavailable) { // revocations unknown (authn.Revocations)
				w.Header()["Retry-After"] = hdrRetry1
				writeError(w, http.StatusServiceUnavailable, errs.ServiceUnavailable, "cannot check the token now; retry shortly", detailRedis)
				return
			}
			writeError(w, http.StatusUnauthorized, errs.Unauthorized, "invalid or expired token", nil)
			return
		}
	}
	if p != nil {
		userID = p.UserID
	} else if r.URL.Path == queueEvents {
		// A stream authenticated by its ticket counts against its buyer,
		// not against the address a crowd may share.
		if t, err := e.waitroom.tickets.Verify(r.URL.Query().Get("ticket")); err == nil {
			userID = t.User
		}
	}
	if e.limiter != nil && !e.limiter.allow(w, r, userID, e.clientIP) {
		return
	}
	// The services record the caller's address in the audit log: the edge
	// overwrites whatever the client sent (services trust the header because
	// only the edge is reachable from outside).
	r.Header[audit.HeaderClientIP] = []string{e.clientIP(r)}
	if r.URL.Path == queueEvents {
		w.route = queueEvents
		e.serveQueueEvents(w, r, p)
		return
	}

	if d, ok := e.direct[r.URL.Path]; ok && r.Method == http.MethodPost {
		w.route = d.procedure
		ctx, cancel := context.WithTimeout(r.Context(), e.cfg.RequestTimeout)
		defer cancel()
		d.serve(ctx, w, r, e.cfg.MaxBodyBytes)
		return
	}

	r, procedure, ok := e.routes.forTranscoder(w, r)
	if !ok {
		w.route = procedure
		return
	}
	st := &reqState{}
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), stateKey{}, st), e.cfg.RequestTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	if r.Body != nil && r.Body != http.NoBody {
		st.body = limitedBody{r: r.Body, left: e.cfg.MaxBodyBytes, st: st}
		r.Body = &st.body
	}
	// Answers are small JSON: gzip would cost more CPU than it saves on
	// the hot path (a load balancer or CDN in front may compress).
	delete(r.Header, "Accept-Encoding")
	st.answer = answer{w: w, st: st, maxBody: e.cfg.MaxBodyBytes}
	if r.Method == http.MethodGet && p == nil {
		st.answer.public, st.answer.req = &e.cfg.PublicCache, r
	}
	e.transcoder.ServeHTTP(&st.answer, r)
	st.answer.finish()
	w.route = st.procedure
}

// shed answers a reserve the admission control turned away: 503 at once,
// with Retry-After, never a wait.
func (e *Edge) shed(w http.ResponseWriter, r *http.Request) {
	w.Header()["Retry-After"] = e.shedRetry
	if e.autoQueue != nil {
		// Which event is shed (for its waiting room): the show of the body.
		if b, tooLarge, err := readBody(r, e.cfg.MaxBodyBytes); err == nil && !tooLarge {
			if ev := e.autoQueue.observe(bodyShowID(b), true, time.Now()); ev != "" {
				writeError(w, http.StatusServiceUnavailable, errs.ServiceUnavailable,
					"the sale is busier than this server can serve right now: it has a waiting room, join it (POST /api/v1/queue/join)",
					[]byte(`{"reason":"overloaded","retry_after":`+e.shedRetry[0]+`,"queue_event_id":"`+ev+`"}`))
				return
			}
		}
	}
	writeError(w, http.StatusServiceUnavailable, errs.ServiceUnavailable, "the sale is busier than this server can serve right now; retry shortly", e.shedDetail)
}

// showKeys are the two spellings protojson accepts for a reserve's show.
var showKeys = [...][]byte{[]byte(`"show_id"`), []byte(`"showId"`)}

// bodyShowID is the show a reserve's JSON body names, "" when none: found
// by its key, without decoding the body (encoding/json was nearly all a shed
// answer's own cost in the edge's profile at 6,000 reserves/s). A body it
// cannot read that way (an escaped value, the key's text elsewhere) goes to
// encoding/json. It only says which event's shed count to raise: the
// reserve is decoded for real only when it is taken.
func bodyShowID(b []byte) string {
	found := false
	for _, k := range showKeys {
		i := bytes.Index(b, k)
		if i < 0 {
			continue
		}
		found = true
		v := bytes.TrimLeft(b[i+len(k):], " \t\r\n")
		if len(v) == 0 || v[0] != ':' {
			break
		}
		v = bytes.TrimLeft(v[1:], " \t\r\n")
		if len(v) == 0 || v[0] != '"' {
			break
		}
		end := bytes.IndexByte(v[1:], '"')
		if end < 0 || bytes.IndexByte(v[1:1+end], '\\') >= 0 {
			break
		}
		return string(v[1 : 1+end])
	}
	if !found {
		return "" // protojson, which decodes a taken reserve, knows no other key
	}
	var req struct {
		ShowID  string `json:"show_id"`
		ShowID2 string `json:"showId"`
	}
	if json.Unmarshal(b, &req) != nil {
		return ""
	}
	return cmp.Or(req.ShowID, req.ShowID2)
}

// upstreamFailed logs a failed call to a service, at most once a second.
func (e *Edge) upstreamFailed(ctx context.Context, component string, err error) {
	if e.upstream.allow() {
		logging.Ctx(ctx, e.log).Warn("upstream call failed", zap.String("upstream", component), zap.Error(err))
	}
}

// requestID returns the caller's X-Request-ID when it is one value of 1 to
// 128 safe characters, else a new UUIDv7 (time-ordered, so ids sort by
// arrival in logs).
func requestID(v []string) string {
	if len(v) == 1 && validRequestID(v[0]) {
		return v[0]
	}
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// clientIP is the address rate limits key anonymous callers by (and the
// services' audit log records, as X-Client-IP): the peer,
// or, when the peer is a trusted proxy, the right-most address of
// X-Forwarded-For that is not itself a trusted proxy (addresses further left
// were written by the client and prove nothing).
func (e *Edge) clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	host = strings.Trim(host, "[]")
	if len(e.trusted) == 0 {
		return host
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !e.isTrusted(peer) {
		return host
	}
	client := host
	xff := r.Header["X-Forwarded-For"]
	for i := len(xff) - 1; i >= 0; i-- {
		list := xff[i]
		for list != "" {
			var hop string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				hop, list = list[j+1:], list[:j]
			} else {
				hop, list = list, ""
			}
			a, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				return client
			}
			client = a.Unmap().String()
			if !e.isTrusted(a) {
				return client
			}
		}
	}
	return client
}

func (e *Edge) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range e.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// cors answers browsers' cross-origin checks for the configured origins.
type cors struct {
	enabled bool
	any     bool
	origins map[string]bool
}

func newCORS(origins []string) cors {
	c := cors{enabled: len(origins) > 0, origins: map[string]bool{}}
	for _, o := range origins {
		if o == "*" {
			c.any = true
		}
		c.origins[strings.TrimSuffix(o, "/")] = true
	}
	return c
}

var (
	corsMethods = []string{"GET, POST, PUT, DELETE, OPTIONS"}
	corsHeaders = []string{"Authorization, Content-Type, Idempotency-Key, X-Queue-Pass, X-Request-ID"}
	corsExpose  = []string{"X-Request-ID, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining"}
	corsMaxAge  = []string{"600"}
	corsAny     = []string{"*"}
)

// handle adds the CORS headers for an allowed origin and answers preflight
// requests; it reports whether the request was answered.
func (c *cors) handle(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if !c.any && !c.origins[origin] {
		if preflight {
			writeError(w, http.StatusForbidden, errs.Forbidden, "origin "+origin+" may not call this API", nil)
			return true
		}
		return false // no CORS headers: the browser withholds the answer
	}
	if c.any {
		h["Access-Control-Allow-Origin"] = corsAny
	} else {
		h["Access-Control-Allow-Origin"] = []string{origin}
	}
	if !preflight {
		h["Access-Control-Expose-Headers"] = corsExpose
		return false
	}
	h["Access-Control-Allow-Methods"] = corsMethods
	h["Access-Control-Allow-Headers"] = corsHeaders
	h["Access-Control-Max-Age"] = corsMaxAge
	w.WriteHeader(http.StatusNoContent)
	return true
}

// logSampler lets one log line through per second, so a failing dependency
// under load cannot flood the logs (the metrics count every failure).
type logSampler struct{ last atomic.Int64 }

func (s *logSampler) allow() bool {
	now := time.Now().UnixNano()
	last := s.last.Load()
	return now-last >= int64(time.Second) && s.last.CompareAndSwap(last, now)
}
