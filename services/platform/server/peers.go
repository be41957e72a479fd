package server

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/bookingrush/rush/services/platform/audit"
	"github.com/bookingrush/rush/services/platform/authn"
)

// Ports are the default ports of the mesh's Connect components; a
// component listens on ":<port>" and peers reach it at "127.0.0.1:<port>"
// unless configured otherwise.
var Ports = map[string]int{
	"auth": 9081, "catalog": 9082, "booking": 9083, "payment": 9084,
	"notify": 9085, "queue": 9086, "analytics": 9087, "saga": 9088, "gate": 9089,
}

// DefaultAddr is the default listen address of component name.
func DefaultAddr(name string) string { return fmt.Sprintf(":%d", Ports[name]) }

// PeersConfig says where each component is reached from other processes.
type PeersConfig struct {
	Addrs map[string]string `yaml:"addrs"`
	// Refresh is how often a peer name is resolved again to find the
	// addresses calls are spread over (balancer).
	Refresh time.Duration `yaml:"refresh"`
	// Batch sizes the batches of the edge's hot routes (batch.go).
	Batch BatchConfig `yaml:"batch"`
}

// RegisterFlags registers one peer.<component> flag per component.
func (c *PeersConfig) RegisterFlags(f *flag.FlagSet) {
	c.Addrs = map[string]string{}
	names := make([]string, 0, len(Ports))
	for n := range Ports {
		names = append(names, n)
	}
	sort.Strings(names)
	c.Batch.RegisterFlags(f)
	f.DurationVar(&c.Refresh, "peer.refresh", 5*time.Second, "how often a peer's host name is resolved again; calls are spread over every address it has (a headless Service's pods)")
	for _, n := range names {
		c.Addrs[n] = fmt.Sprintf("127.0.0.1:%d", Ports[n])
		f.Func("peer."+n, fmt.Sprintf("host:port where other processes reach the %s component (default 127.0.0.1:%d; in-process components are reached directly)", n, Ports[n]),
			func(v string) error { c.Addrs[n] = v; return nil })
	}
}

// Validate checks every address.
func (c *PeersConfig) Validate() error {
	for n, a := range c.Addrs {
		if _, ok := Ports[n]; !ok {
			return fmt.Errorf("peer: unknown component %q", n)
		}
		if err := ValidateAddr("peer."+n, a); err != nil {
			return err
		}
	}
	if c.Refresh < 100*time.Millisecond {
		return fmt.Errorf("peer.refresh: %v is shorter than 100ms", c.Refresh)
	}
	return c.Batch.Validate()
}

// Mesh is the HTTP client for calls between components. Callers address a
// component by name ("http://booking"); the client dials the component in
// this process when it runs here (the registry), else its peer address.
// Cleartext HTTP/2 only: one multiplexed connection per peer address, calls
// spread over every address a peer's name resolves to (balancer).
type Mesh struct {
	*http.Client
	keys  *authn.Keys
	otel  connect.Interceptor // nil when tracing is off
	batch BatchConfig
}

// NewMesh builds the mesh client; calls through it carry client spans from
// tp and the trace context in their headers.
func NewMesh(reg *Registry, peers PeersConfig, keys *authn.Keys, tp trace.TracerProvider) (*Mesh, error) {
	dialer := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{
		Protocols:       p,
		IdleConnTimeout: 90 * time.Second,
		// Answers inside the mesh are a few hundred bytes on loopback or a
		// LAN: gzip (which Go would otherwise ask for) costs far more CPU
		// than it saves (profiles: 12-15% of the booking service).
		DisableCompression: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			if u, ok := reg.URL(host); ok {
				return dialer.DialContext(ctx, network, strings.TrimPrefix(u, "http://"))
			}
			if a, ok := peers.Addrs[host]; ok {
				return dialer.DialContext(ctx, network, a)
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
	otelInt, err := newOtel(tp)
	if err != nil {
		return nil, err
	}
	return &Mesh{Client: &http.Client{Transport: newBalancer(tr, reg, peers.Addrs, peers.Refresh)}, keys: keys, otel: otelInt, batch: peers.Batch}, nil
}

// Batched returns the client for a caller's hot calls: its concurrent
// unary calls to one component travel together in one batch RPC
// (batch.go), unless peer.batch-size is 0. Like the mesh client itself it
// adds nothing to a call (no token, no span): the caller's own headers go
// with each call.
func (m *Mesh) Batched(caller string) connect.HTTPClient {
	if m.batch.Size == 0 {
		return m.Client
	}
	replicas := func(string) int { return 1 }
	if b, ok := m.Client.Transport.(*balancer); ok {
		replicas = b.replicas
	}
	return newBatchTransport(m.Client, m.keys, caller, m.batch, replicas)
}

// Resolver looks up the addresses of a peer's host name (the pods of a
// headless Service). The mesh uses net.DefaultResolver unless the fx graph
// supplies one: a test names two processes on one machine with it.
type Resolver func(ctx context.Context, host string) ([]string, error)

// meshDeps are NewMesh's inputs from the fx graph.
type meshDeps struct {
	fx.In
	Reg     *Registry
	Peers   PeersConfig
	Keys    *authn.Keys
	Tracing trace.TracerProvider
	Resolve Resolver `optional:"true"`
}

// provideMesh is NewMesh for fx, with the graph's Resolver when there is one.
func provideMesh(d meshDeps) (*Mesh, error) {
	m, err := NewMesh(d.Reg, d.Peers, d.Keys, d.Tracing)
	if err != nil || d.Resolve == nil {
		return m, err
	}
	m.Client.Transport.(*balancer).resolve = d.Resolve
	return m, nil
}

// Dial builds a generated Connect client for component target, called by
// component caller: traced, authenticated with the current user's token
// or caller's service token, and passing on the client the edge forwarded
// (audit.NewInterceptor).
//
//	booking := server.Dial(mesh, "catalog", "booking", bookingv1connect.NewBookingServiceClient)
func Dial[C any](m *Mesh, caller, target string, ctor func(connect.HTTPClient, string, ...connect.ClientOption) C) C {
	ics := []connect.Interceptor{authn.NewClientInterceptor(m.keys, caller), audit.NewInterceptor()}
	if m.otel != nil {
		ics = append([]connect.Interceptor{m.otel}, ics...)
	}
	return ctor(m.Client, "http://"+target, connect.WithInterceptors(ics...), Uncompressed)
}

// Uncompressed is the option of every Connect client inside the mesh: its
// calls neither compress nor ask for compression. Messages there are small
// and travel over loopback or a LAN, where gzip costs far more CPU than it
// saves; a batch's reply, larger than the servers' 4 KiB threshold
// (connect.WithCompressMinBytes), was gzipped when the client asked (2.7%
// of the queue service's CPU per join).
var Uncompressed = connect.WithAcceptCompression("gzip", nil, nil)
