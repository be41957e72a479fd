package authn

import (
	"context"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/bookingrush/rush/services/platform/errs"
)

// serverInterceptor authenticates every call to a service.
type serverInterceptor struct {
	keys      *Keys
	anonymous map[string]bool
}

// NewServerInterceptor authenticates every call: a bearer token, when sent,
// must verify (else UNAUTHORIZED); a call without one is refused unless its
// procedure is listed in anonymous (register, login, public catalog reads).
// Deny by default, so a handler cannot forget to check.
func NewServerInterceptor(k *Keys, anonymous ...string) connect.Interceptor {
	m := make(map[string]bool, len(anonymous))
	for _, p := range anonymous {
		m[p] = true
	}
	return &serverInterceptor{keys: k, anonymous: m}
}

func (i *serverInterceptor) authenticate(ctx context.Context, procedure, authorization string) (context.Context, error) {
	token, ok := BearerToken(authorization)
	if !ok {
		if authorization != "" {
			return nil, errs.Connect(ErrInvalidToken)
		}
		if i.anonymous[procedure] {
			return ctx, nil
		}
		return nil, errs.Connect(errs.New(errs.Unauthorized, "missing bearer token"))
	}
	p, err := i.keys.Verify(token, time.Now())
	if err != nil {
		return nil, errs.Connect(err)
	}
	if err := p.checkScope(procedure); err != nil {
		return nil, errs.Connect(err)
	}
	return WithPrincipal(ctx, p), nil
}

func (i *serverInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		ctx, err := i.authenticate(ctx, req.Spec().Procedure, req.Header().Get("Authorization"))
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (i *serverInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *serverInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := i.authenticate(ctx, conn.Spec().Procedure, conn.RequestHeader().Get("Authorization"))
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// clientInterceptor puts a bearer token on outgoing calls.
type clientInterceptor struct {
	keys      *Keys
	component string

	mu      sync.Mutex
	token   string
	renewAt time.Time
}

// NewClientInterceptor is for internal callers: a call made while serving a
// user forwards that user's token (the callee sees the same principal; a
// service account's key becomes an access token of the account); a call
// made by the system itself (a consumer, the saga) carries a short-lived
// service token of component.
func NewClientInterceptor(k *Keys, component string) connect.Interceptor {
	return &clientInterceptor{keys: k, component: component}
}

func (i *clientInterceptor) bearer(ctx context.Context) (string, error) {
	if p := FromContext(ctx); p != nil && p.ServiceAccount != "" {
		// The key stays at the service it called: a call made on the
		// account's behalf carries a short access token of the same
		// identity and role, so the account's scope (the services its
		// key may call) limits what it calls, not what they call for it.
		t, _, err := i.keys.IssueAccess(p.UserID, p.Role, p.TenantID, time.Now())
		return t, err
	} else if p != nil && p.Token != "" {
		return p.Token, nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	now := time.Now()
	if i.token == "" || now.After(i.renewAt) {
		const ttl = 10 * time.Minute
		t, _, err := i.keys.IssueService(i.component, now, ttl)
		if err != nil {
			return "", err
		}
		i.token, i.renewAt = t, now.Add(ttl/2)
	}
	return i.token, nil
}

func (i *clientInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient && req.Header().Get("Authorization") == "" {
			t, err := i.bearer(ctx)
			if err != nil {
				return nil, err
			}
			req.Header().Set("Authorization", "Bearer "+t)
		}
		return next(ctx, req)
	}
}

func (i *clientInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		return &bearerConn{StreamingClientConn: next(ctx, spec), ctx: ctx, i: i}
	}
}

// bearerConn puts the bearer token on a streaming call when its headers
// leave, not when the connection is made: connect-go merges the caller's
// request headers (req.Header() of a server stream) into the connection
// after the interceptors built it. A token set at creation came first, so
// the callee read the component's service token instead of the caller's
// (the edge's queue stream saw the edge, not the buyer).
type bearerConn struct {
	connect.StreamingClientConn
	ctx  context.Context
	i    *clientInterceptor
	done bool
}

// authorize sets the token once, before the headers are sent (with the
// first message, or when the request side closes without one).
func (c *bearerConn) authorize() error {
	if c.done {
		return nil
	}
	c.done = true
	h := c.RequestHeader()
	if h.Get("Authorization") != "" {
		return nil
	}
	t, err := c.i.bearer(c.ctx)
	if err != nil {
		return err
	}
	h.Set("Authorization", "Bearer "+t)
	return nil
}

func (c *bearerConn) Send(msg any) error {
	if err := c.authorize(); err != nil {
		return err
	}
	return c.StreamingClientConn.Send(msg)
}

func (c *bearerConn) CloseRequest() error {
	if err := c.authorize(); err != nil {
		return err
	}
	return c.StreamingClientConn.CloseRequest()
}

func (i *clientInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
