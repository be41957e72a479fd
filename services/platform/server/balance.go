package server

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// balancer spreads the calls to a component in another process over every
// address its peer name resolves to (a Kubernetes headless Service lists
// each ready pod), one HTTP/2 connection per address, round robin. Without
// it every caller multiplexes all its calls over one connection to whichever
// pod its first dial reached, and new replicas get nothing from it.
// Components in this process, literal addresses and names with one address
// go straight to the transport.
type balancer struct {
	next    http.RoundTripper
	reg     *Registry
	peers   map[string]string
	refresh time.Duration
	resolve func(ctx context.Context, host string) ([]string, error)

	mu    sync.Mutex
	hosts map[string]*resolved // by peer host name
}

// resolved is one peer name's addresses as of its last lookup.
type resolved struct {
	addrs []string
	at    time.Time
	turn  atomic.Uint64
}

func newBalancer(next http.RoundTripper, reg *Registry, peers map[string]string, refresh time.Duration) *balancer {
	return &balancer{next: next, reg: reg, peers: peers, refresh: refresh,
		resolve: net.DefaultResolver.LookupHost, hosts: map[string]*resolved{}}
}

// RoundTrip implements http.RoundTripper.
func (b *balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	component := req.URL.Hostname()
	if _, local := b.reg.URL(component); local {
		return b.next.RoundTrip(req)
	}
	peer, ok := b.peers[component]
	if !ok {
		return b.next.RoundTrip(req)
	}
	host, port, err := net.SplitHostPort(peer)
	if err != nil || net.ParseIP(host) != nil {
		return b.next.RoundTrip(req)
	}
	r := b.lookup(req.Context(), host)
	if r == nil || len(r.addrs) < 2 {
		return b.next.RoundTrip(req)
	}
	addr := r.addrs[r.turn.Add(1)%uint64(len(r.addrs))]
	out := req.WithContext(req.Context()) // a shallow copy: the caller's request stays as it was
	u := *req.URL
	u.Host = net.JoinHostPort(addr, port)
	out.URL = &u
	if out.Host == "" {
		out.Host = req.URL.Host
	}
	return b.next.RoundTrip(out)
}

// replicas is how many addresses component's calls are spread over, as of
// the last lookup (1 until one was made, and for components in this
// process, literal addresses and names with one address). It never
// resolves: the batches of the mesh (batch.go) ask it on every call.
func (b *balancer) replicas(component string) int {
	if _, local := b.reg.URL(component); local {
		return 1
	}
	host, _, err := net.SplitHostPort(b.peers[component])
	if err != nil {
		return 1
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if r := b.hosts[host]; r != nil && len(r.addrs) > 1 {
		return len(r.addrs)
	}
	return 1
}

// lookup returns host's addresses, resolved again once they are older than
// the refresh interval; a failed lookup keeps the last answer.
func (b *balancer) lookup(ctx context.Context, host string) *resolved {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.hosts[host]
	if r != nil && time.Since(r.at) < b.refresh {
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	addrs, err := b.resolve(ctx, host)
	if err != nil || len(addrs) == 0 {
		if r != nil {
			r.at = time.Now() // ask again after an interval, not on every call
		}
		return r
	}
	fresh := &resolved{addrs: addrs, at: time.Now()}
	if r != nil {
		fresh.turn.Store(r.turn.Load())
	}
	b.hosts[host] = fresh
	return fresh
}
