package audit

import (
	"context"
	"net/netip"
	"strings"

	"connectrpc.com/connect"
)

// HeaderClientIP carries the caller's address from the edge to the
// services. The edge sets it on every API call, overwriting whatever the
// client sent, so a value here was written by the edge (or by a service
// passing it on): the services' ports are reachable only from inside the
// mesh (the Helm chart's NetworkPolicy admits only mesh pods), never from
// the internet. The exception is the integrating teams' namespaces
// (networkPolicy.internalFromNamespaces): their pods call the services
// directly and may set it too, which nothing here can tell apart.
const HeaderClientIP = "X-Client-Ip"

// maxUserAgent bounds the stored User-Agent.
const maxUserAgent = 512

// Client is where a request came from, as the edge saw it.
type Client struct {
	// IP is the client address ("" when unknown: a call from inside the
	// mesh, a background job).
	IP string
	// UserAgent is the client's User-Agent, only known with IP.
	UserAgent string
}

type clientKey struct{}

// WithClient returns ctx carrying c.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFrom returns the client of ctx (zero when none).
func ClientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}

// ClientFromHeaders reads the client the edge forwarded: X-Client-IP (which
// must parse as an address, else nothing is taken) and, with it, the
// User-Agent (trimmed to 512 bytes of valid UTF-8). A call that did not
// come through the edge carries no X-Client-IP, so its User-Agent (a
// service's Connect client) is not the client's and is ignored.
func ClientFromHeaders(h interface{ Get(string) string }) Client {
	a, err := netip.ParseAddr(strings.TrimSpace(h.Get(HeaderClientIP)))
	if err != nil {
		return Client{}
	}
	ua := strings.ToValidUTF8(strings.ReplaceAll(h.Get("User-Agent"), "\x00", ""), "")
	if len(ua) > maxUserAgent {
		ua = strings.ToValidUTF8(ua[:maxUserAgent], "")
	}
	return Client{IP: a.Unmap().String(), UserAgent: ua}
}

// NewInterceptor carries the client through the mesh: a server puts the
// forwarded client (ClientFromHeaders) into the handler's context, and a
// client call made within that context passes it on to the next service,
// so an entry recorded one hop further (a refund asked for by the booking
// service) still names the user's address.
func NewInterceptor() connect.Interceptor { return interceptor{} }

type interceptor struct{}

func (interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			forward(ctx, req.Header())
		} else if c := ClientFromHeaders(req.Header()); c.IP != "" {
			ctx = WithClient(ctx, c)
		}
		return next(ctx, req)
	}
}

func (interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		forward(ctx, conn.RequestHeader())
		return conn
	}
}

func (interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if c := ClientFromHeaders(conn.RequestHeader()); c.IP != "" {
			ctx = WithClient(ctx, c)
		}
		return next(ctx, conn)
	}
}

// forward sets the client of ctx on an outgoing call's headers.
func forward(ctx context.Context, h interface{ Set(string, string) }) {
	c := ClientFrom(ctx)
	if c.IP == "" {
		return
	}
	h.Set(HeaderClientIP, c.IP)
	if c.UserAgent != "" {
		h.Set("User-Agent", c.UserAgent)
	}
}
