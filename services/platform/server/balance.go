package server

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
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

	mu    sync.RWMutex
	hosts map[string]*resolved // by peer host name
	first singleflight.Group   // a name's first lookup, which callers wait for
}

// resolved is one peer name's addresses as of its last lookup.
type resolved struct {
	addrs []string
	at    time.Time
	turn  atomic.Uint64
	// refreshing is set while one lookup runs again for the name (callers
	// meanwhile use these addresses).
	refreshing atomic.Bool
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
	b.mu.RLock()
	defer b.mu.RUnlock()
	if r := b.hosts[host]; r != nil && len(r.addrs) > 1 {
		return len(r.addrs)
	}
	return 1
}

// lookup returns host's addresses. A name's first lookup is waited for
// (one at a time); after that a caller never waits for DNS: once the
// addresses are older than the refresh interval, one lookup runs again in
// the background while every call goes on with the addresses it has, and
// a failed lookup keeps them (asked again after another interval).
func (b *balancer) lookup(ctx context.Context, host string) *resolved {
	b.mu.RLock()
	r := b.hosts[host]
	b.mu.RUnlock()
	if r == nil {
		v, _, _ := b.first.Do(host, func() (any, error) {
			b.mu.RLock()
			r := b.hosts[host]
			b.mu.RUnlock()
			if r == nil {
				r = b.resolveAgain(context.WithoutCancel(ctx), host, nil)
			}
			return r, nil
		})
		r, _ = v.(*resolved)
		return r
	}
	if time.Since(r.at) >= b.refresh && r.refreshing.CompareAndSwap(false, true) {
		go b.resolveAgain(context.Background(), host, r)
	}
	return r
}

// resolveAgain looks host up (for at most a second) and records the
// answer in place of prev (nil for none); a failed lookup keeps prev's
// addresses (none for a first lookup), asked again after an interval. It
// answers what is recorded.
func (b *balancer) resolveAgain(ctx context.Context, host string, prev *resolved) *resolved {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	addrs, err := b.resolve(ctx, host)
	fresh := &resolved{addrs: addrs, at: time.Now()}
	if err != nil || len(addrs) == 0 {
		// Calls go to the transport as they are (its own dial resolves
		// the name) until a lookup after an interval answers.
		fresh.addrs = nil
		if prev != nil {
			fresh.addrs = prev.addrs
		}
	}
	if prev != nil {
		fresh.turn.Store(prev.turn.Load())
	}
	b.mu.Lock()
	b.hosts[host] = fresh
	b.mu.Unlock()
	return fresh
}
