package server

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/anypb"

	meshv1 "github.com/bookingrush/rush/gen/bookingrush/mesh/v1"
	"github.com/bookingrush/rush/gen/bookingrush/mesh/v1/meshv1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/groupcommit"
)

// Batched calls. A caller's concurrent unary calls to one component travel
// together in one MeshService.Batch RPC (group commit: the first call goes
// at once, alone; the ones that arrive while BatchConfig.InFlight batches
// are under way leave together as soon as one comes back), and the
// component serves each call through its own handler stack as if it had
// come alone. What a call costs in HTTP/2 (a stream, its frames, the header
// compression, a server goroutine, the syscalls) is paid once per batch:
// the Connect hop was a third of the edge's and the booking service's CPU
// per hold (bench/RESULTS.md).

// BatchConfig sizes the batches a caller sends (peer.batch-*).
type BatchConfig struct {
	// Size is the most calls one batch carries; 0 sends every call alone.
	Size int `yaml:"size"`
	// InFlight is how many batches to each replica of a component a caller
	// keeps under way before calls queue for the next one.
	InFlight int `yaml:"in_flight"`
}

// RegisterFlags registers peer.batch-* flags.
func (c *BatchConfig) RegisterFlags(f *flag.FlagSet) {
	f.IntVar(&c.Size, "peer.batch-size", 64, "most calls the edge's hot routes (reserve, queue join) carry to a component in one batch RPC; 0 sends each call alone")
	f.IntVar(&c.InFlight, "peer.batch-in-flight", 2, "batches to each replica of a component under way at once before calls queue for the next one (the replicas are the addresses its name resolves to, peer.refresh)")
}

// Validate checks the sizes.
func (c *BatchConfig) Validate() error {
	if c.Size < 0 || c.Size > maxBatchCalls {
		return fmt.Errorf("peer.batch-size: %d is not between 0 and %d", c.Size, maxBatchCalls)
	}
	if c.InFlight < 1 || c.InFlight > 64 {
		return fmt.Errorf("peer.batch-in-flight: %d is not between 1 and 64", c.InFlight)
	}
	return nil
}

// maxBatchCalls bounds a batch well inside server.max-body-bytes: a call
// is its headers (a token, the trace context) and a small body.
const maxBatchCalls = 256

// batchServer serves MeshService.Batch: every call through mux, the
// component's own handlers and their interceptors, concurrently.
type batchServer struct {
	mux       http.Handler
	maxHeader int
	workers   workers
}

var _ meshv1connect.MeshServiceHandler = (*batchServer)(nil)

var errNestedBatch = errors.New("a batch may not carry a batch")

// Batch implements meshv1connect.MeshServiceHandler.
func (s *batchServer) Batch(ctx context.Context, req *connect.Request[meshv1.BatchRequest]) (*connect.Response[meshv1.BatchResponse], error) {
	calls := req.Msg.GetCalls()
	if len(calls) == 0 {
		return connect.NewResponse(&meshv1.BatchResponse{}), nil
	}
	if len(calls) > maxBatchCalls {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("a batch carries at most %d calls", maxBatchCalls))
	}
	for _, c := range calls {
		if c.GetProcedure() == meshv1connect.MeshServiceBatchProcedure {
			return nil, connect.NewError(connect.CodeInvalidArgument, errNestedBatch)
		}
	}
	// The calls run in a context of their own: nothing of the batch's
	// (the sender's identity, its trace) may reach them; each brings its
	// token, trace context and deadline in its headers. They stop when
	// the batch is abandoned.
	inner, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	replies := make([]*meshv1.Reply, len(calls))
	ctxs, dones := cohorts(inner, calls)
	peer := req.Peer().Addr
	var wg sync.WaitGroup
	wg.Add(len(calls) - 1)
	binary := req.Msg.GetBinaryErrors()
	for i, c := range calls[1:] {
		s.workers.run(func() {
			defer wg.Done()
			replies[i+1] = s.serve(ctxs[i+1], peer, c, binary)
			dones[i+1]()
		})
	}
	replies[0] = s.serve(ctxs[0], peer, calls[0], binary)
	dones[0]()
	wg.Wait()
	return connect.NewResponse(&meshv1.BatchResponse{Replies: replies}), nil
}

// cohortWait bounds how long the calls of one batch to one procedure wait
// for each other at a group commit (groupcommit.Cohort): their handlers run
// concurrently and reach it spread over the CPU time they take, which is
// well under this even on a busy machine.
const cohortWait = 2 * time.Millisecond

// cohorts returns the context each call of a batch runs in, and what to
// call once it has finished: the calls of one procedure (when it has more
// than one) are a groupcommit.Cohort, so that those that meet at a group
// commit (booking's reserves of an event, the queue's joins) leave in one
// batch instead of the first alone and the rest in small batches as they
// arrive.
func cohorts(ctx context.Context, calls []*meshv1.Call) ([]context.Context, []func()) {
	ctxs, dones := make([]context.Context, len(calls)), make([]func(), len(calls))
	byProcedure := make(map[string][]int, 2)
	for i, c := range calls {
		byProcedure[c.GetProcedure()] = append(byProcedure[c.GetProcedure()], i)
	}
	for _, idx := range byProcedure {
		if len(idx) == 1 {
			ctxs[idx[0]], dones[idx[0]] = ctx, func() {}
			continue
		}
		co := groupcommit.NewCohort(len(idx), cohortWait)
		for m, i := range idx {
			ctxs[i], dones[i] = co.Member(ctx, m)
		}
	}
	return ctxs, dones
}

// workers run the calls of batches on goroutines that outlive a batch: a
// call runs deep in the handler stack, and a new goroutine would grow (copy)
// its stack on every call. A call that finds no idle worker starts one; a
// worker idle for workerIdle ends.
type workers struct {
	work chan func()
}

const workerIdle = 10 * time.Second

func (p *workers) run(f func()) {
	select {
	case p.work <- f:
	default:
		go p.loop(f)
	}
}

func (p *workers) loop(f func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		f()
		idle.Reset(workerIdle)
		select {
		case f = <-p.work:
		case <-idle.C:
			return
		}
	}
}

// serve runs one call through the component's handlers; with binary, a
// Connect error the handler returns travels in the reply's error, not as
// its JSON body (batchErrors).
func (s *batchServer) serve(ctx context.Context, peer string, c *meshv1.Call, binary bool) *meshv1.Reply {
	h := make(http.Header, len(c.GetHeaders()))
	for _, f := range c.GetHeaders() {
		h[http.CanonicalHeaderKey(f.GetName())] = f.GetValues()
	}
	w := &replyWriter{header: make(http.Header, 4)}
	if HeaderSize(h) > s.maxHeader {
		// As the component's HTTP/2 server would refuse it alone.
		w.WriteHeader(http.StatusRequestHeaderFieldsTooLarge)
		return w.reply()
	}
	r := (&http.Request{
		Method:        http.MethodPost,
		URL:           &url.URL{Path: c.GetProcedure()},
		RequestURI:    c.GetProcedure(),
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(c.GetBody())),
		ContentLength: int64(len(c.GetBody())),
		RemoteAddr:    peer,
	})
	var slot *errorSlot
	if binary {
		slot = new(errorSlot)
		ctx = context.WithValue(ctx, errorSlotKey{}, slot)
	}
	s.mux.ServeHTTP(w, r.WithContext(ctx))
	reply := w.reply()
	if slot != nil && slot.err != nil {
		reply.Body, reply.Error = nil, toWireError(slot.err)
	}
	return reply
}

// errorSlot receives the Connect error of a call whose batch asked for
// binary errors.
type errorSlot struct{ err *connect.Error }

type errorSlotKey struct{}

// batchErrors is the outermost interceptor of every handler (Stack). For
// a call of a batch that asked for binary errors, it keeps the handler's
// Connect error for the reply (every interceptor inside it saw that error)
// and lets Connect write a bare one of the same code, message and metadata:
// the details, which connect-go writes as base64 plus a protojson copy of
// each, inside JSON, travel in binary instead. Writing that JSON was 12% of
// booking's CPU on a sold-out answer, reading it 14% of the edge's
// (bench/RESULTS.md, 2026-12-05). Any other call is untouched.
var batchErrors connect.Interceptor = batchErrorInterceptor{}

type batchErrorInterceptor struct{}

func (batchErrorInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		if err == nil {
			return res, nil
		}
		slot, _ := ctx.Value(errorSlotKey{}).(*errorSlot)
		var ce *connect.Error
		if slot == nil || !errors.As(err, &ce) {
			return res, err
		}
		slot.err = ce
		bare := connect.NewError(ce.Code(), errors.New(ce.Message()))
		for k, v := range ce.Meta() {
			bare.Meta()[k] = v
		}
		return nil, bare
	}
}

func (batchErrorInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (batchErrorInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// toWireError is ce as a reply carries it.
func toWireError(ce *connect.Error) *meshv1.Error {
	// A message that is not UTF-8 reads as connect-go's JSON error body
	// would write it (encoding/json: U+FFFD), and cannot fail the batch.
	e := &meshv1.Error{Code: int32(ce.Code()), Message: strings.ToValidUTF8(ce.Message(), "\uFFFD")}
	for _, d := range ce.Details() {
		e.Details = append(e.Details, &anypb.Any{TypeUrl: anyPrefix + d.Type(), Value: d.Bytes()})
	}
	return e
}

// anyPrefix is the type URL prefix connect-go gives a detail it decodes.
const anyPrefix = "type.googleapis.com/"

// fromWireError is the error a Connect client would have made of the reply
// had its body been the JSON error: the same code (unknown when out of
// range), message and details, marked as come from the wire, with the
// reply's headers and Connect's Trailer- fields as its metadata.
func fromWireError(r *meshv1.Reply) *connect.Error {
	e := r.GetError()
	code := connect.Code(e.GetCode())
	if code < connect.CodeCanceled || code > connect.CodeUnauthenticated {
		code = connect.CodeUnknown
	}
	ce := connect.NewWireError(code, errors.New(e.GetMessage()))
	for _, a := range e.GetDetails() {
		if d, err := connect.NewErrorDetail(a); err == nil {
			ce.AddDetail(d)
		}
	}
	meta, trailers := ce.Meta(), http.Header{}
	for _, h := range r.GetHeaders() {
		if name, ok := strings.CutPrefix(h.GetName(), "Trailer-"); ok {
			trailers[name] = h.GetValues()
			continue
		}
		meta[h.GetName()] = h.GetValues()
	}
	for k, v := range trailers {
		if len(v) > 0 {
			meta[k] = append(meta[k], v...)
		}
	}
	return ce
}

// replyWriter keeps what a handler answers.
type replyWriter struct {
	header http.Header
	status int
	body   []byte
}

func (w *replyWriter) Header() http.Header { return w.header }

func (w *replyWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *replyWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, b...)
	return len(b), nil
}

// Flush is a no-op: the reply leaves with the batch.
func (w *replyWriter) Flush() {}

func (w *replyWriter) reply() *meshv1.Reply {
	w.WriteHeader(http.StatusOK)
	if !utf8Headers(w.header) {
		// A reply is encoded with its batch: a header that is not UTF-8
		// (a handler echoing a client's bytes) must not fail the others.
		// Its bytes become U+FFFD, as they do in the JSON of an error.
		for k, vs := range w.header {
			if !utf8.ValidString(k) {
				delete(w.header, k)
				continue
			}
			valid := make([]string, len(vs)) // vs may be a slice of the request's
			for i, v := range vs {
				valid[i] = strings.ToValidUTF8(v, "\uFFFD")
			}
			w.header[k] = valid
		}
	}
	return &meshv1.Reply{Status: int32(w.status), Headers: toHeaders(w.header), Body: w.body}
}

func toHeaders(h http.Header) []*meshv1.Header {
	out := make([]*meshv1.Header, 0, len(h))
	fields := make([]meshv1.Header, len(h)) // one allocation for all
	for k, v := range h {
		if !unbatched[k] {
			f := &fields[len(out)]
			f.Name, f.Values = k, v
			out = append(out, f)
		}
	}
	return out
}

// unbatched are the headers a call or a reply leaves behind in a batch:
// the content negotiation of an HTTP exchange of its own. Nothing inside
// the mesh compresses (Uncompressed), and no component requires
// Connect-Protocol-Version. Each header is a message of the batch to
// encode and decode: these were three of a join's eleven.
var unbatched = map[string]bool{"Accept-Encoding": true, "Connect-Protocol-Version": true}

func fromHeaders(hs []*meshv1.Header) http.Header {
	h := make(http.Header, len(hs))
	for _, f := range hs {
		h[f.GetName()] = f.GetValues()
	}
	return h
}

// batchTransport is the caller's side: an HTTP client (connect.HTTPClient)
// that carries each unary POST in a batch to its component; anything else
// (a stream, a GET) goes on alone.
type batchTransport struct {
	next    *http.Client
	keys    *authn.Keys
	caller  string
	batches *groupcommit.Batcher[string, *batchCall]

	mu      sync.Mutex
	clients map[string]meshv1connect.MeshServiceClient // by component host
}

// batchCall is one call waiting for its reply.
type batchCall struct {
	ctx   context.Context
	call  *meshv1.Call
	reply *meshv1.Reply
	err   error
	alone bool // the component serves no batches: send the call alone
	done  chan struct{}
}

func (c *batchCall) Context() context.Context { return c.ctx }

// Fail answers c with err: its caller gave up, it was not sent.
func (c *batchCall) Fail(err error) { c.err = err; close(c.done) }

// newBatchTransport keeps cfg.InFlight batches under way per replica of a
// component (replicas: how many addresses its calls are balanced over).
func newBatchTransport(next *http.Client, keys *authn.Keys, caller string, cfg BatchConfig, replicas func(component string) int) *batchTransport {
	t := &batchTransport{next: next, keys: keys, caller: caller, clients: map[string]meshv1connect.MeshServiceClient{}}
	t.batches = groupcommit.NewPerKey(cfg.Size, func(host string) int {
		if name, _, err := net.SplitHostPort(host); err == nil {
			host = name
		}
		return cfg.InFlight * replicas(host)
	}, t.run)
	return t
}

// Do implements connect.HTTPClient.
func (t *batchTransport) Do(r *http.Request) (*http.Response, error) {
	if !connectUnary(r) || !utf8Headers(r.Header) {
		return t.next.Do(r)
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		// Read into a buffer of the body's size: a unary call's length is
		// known (connectUnary).
		body = make([]byte, r.ContentLength)
		_, err := io.ReadFull(r.Body, body)
		_ = r.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	c := &batchCall{
		ctx:  r.Context(),
		call: &meshv1.Call{Procedure: r.URL.Path, Headers: toHeaders(r.Header), Body: body},
		done: make(chan struct{}),
	}
	t.batches.Add(r.URL.Host, c)
	select {
	case <-c.done:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	if c.alone {
		alone := r.Clone(r.Context())
		alone.Body, alone.GetBody = io.NopCloser(bytes.NewReader(body)), nil
		return t.next.Do(alone)
	}
	if c.err != nil {
		return nil, c.err
	}
	if c.reply.GetError() != nil {
		// Connect passes a *connect.Error from its HTTP client through.
		return nil, fromWireError(c.reply)
	}
	return replyResponse(r, c.reply), nil
}

// replyResponse is reply as the HTTP response to r it stands for.
func replyResponse(r *http.Request, reply *meshv1.Reply) *http.Response {
	return &http.Response{
		Status:        http.StatusText(int(reply.GetStatus())),
		StatusCode:    int(reply.GetStatus()),
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        fromHeaders(reply.GetHeaders()),
		Body:          io.NopCloser(bytes.NewReader(reply.GetBody())),
		ContentLength: int64(len(reply.GetBody())),
		Request:       r,
	}
}

// utf8Headers reports whether every header of h is UTF-8, as a batch
// carries them (meshv1.Header's strings): a call with any other byte (a
// client's Idempotency-Key in Latin-1, say) goes alone, as HTTP carries it,
// and answers what it would unbatched. Batched, it failed to encode and
// took every call of its batch down with it (503 for all of them).
func utf8Headers(h http.Header) bool {
	for k, vs := range h {
		if !utf8.ValidString(k) {
			return false
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
}

// connectUnary reports whether r is a Connect unary call, the only kind a
// batch carries: a stream (application/connect+..., gRPC's application/grpc)
// lives longer than any batch, and its body may still be being written.
func connectUnary(r *http.Request) bool {
	if r.Method != http.MethodPost || r.ContentLength < 0 {
		return false
	}
	ct := r.Header.Get("Content-Type")
	return ct == "application/proto" || ct == "application/json"
}

// client is the MeshService client of one component.
func (t *batchTransport) client(host string) meshv1connect.MeshServiceClient {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.clients[host]
	if c == nil {
		c = meshv1connect.NewMeshServiceClient(t.next, "http://"+host,
			connect.WithInterceptors(authn.NewClientInterceptor(t.keys, t.caller)), Uncompressed)
		t.clients[host] = c
	}
	return c
}

// run sends one batch and answers its calls. A call whose caller gave up
// while it waited is not sent. The batch lives as long as its latest
// deadline: each call's own deadline travels in its headers.
func (t *batchTransport) run(host string, batch []*batchCall) {
	live := groupcommit.Live(batch)
	if len(live) == 0 {
		return
	}
	ctx, cancel := groupcommit.Bound(context.Background(), live, false)
	defer cancel()
	calls := make([]*meshv1.Call, len(live))
	for i, c := range live {
		calls[i] = c.call
	}
	res, err := t.client(host).Batch(ctx, connect.NewRequest(&meshv1.BatchRequest{Calls: calls, BinaryErrors: true}))
	alone := connect.CodeOf(err) == connect.CodeUnimplemented // a component of an older release
	for i, c := range live {
		switch {
		case alone:
			c.alone = true
		case err != nil:
			c.err = err
		case i >= len(res.Msg.GetReplies()):
			c.err = fmt.Errorf("mesh batch to %s: %d replies for %d calls", host, len(res.Msg.GetReplies()), len(live))
		default:
			c.reply = res.Msg.GetReplies()[i]
		}
		close(c.done)
	}
}
