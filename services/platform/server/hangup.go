package server

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// hangupGrace is how long a stopping server leaves its HTTP/2 clients to
// read its GOAWAY before it closes their idle connections, and how long a
// connection must have been idle before it is closed.
const hangupGrace = 50 * time.Millisecond

// idleConns follows the HTTP/2 connections of a server, so that its stop
// can close the idle ones.
//
// http.Server.Shutdown closes idle HTTP/1 connections itself, but an HTTP/2
// connection stays "active" to it: the HTTP/2 server sends GOAWAY, waits for
// the connection's streams to end, then leaves the client a second to hang
// up (its goAwayTimeout) before it closes. The mesh's own clients keep a
// connection until their idle timeout, so every stop of a server took a
// second more per peer connected to it (three seconds of every test that
// stops a whole mesh). The HTTP/2 server reports a connection idle or active
// through ConnState as its streams end and begin, which is what idleConns
// reads.
//
// It reports a connection idle when its last stream closes, which is before
// the stream's last frames have left the server's write buffer: a connection
// is closed only once it has been idle for hangupGrace, or the answer of the
// request that just ended could be cut off (CI saw it: "server sent GOAWAY
// and closed the connection" where the answer was due).
type idleConns struct {
	conns sync.Map // net.Conn → *atomic.Int64 (connState)
}

// connState packs a connection's last http.ConnState (the low 3 bits) and
// when it was reported (the time since connEpoch, above them) into one
// word, so that the hook, twice per HTTP/1.1 request on the edge, stays an
// atomic store without an allocation.
type connState int64

// connEpoch is the time connState counts from.
var connEpoch = time.Now()

func newConnState(s http.ConnState, at time.Time) connState {
	return connState(int64(at.Sub(connEpoch))<<3 | int64(s))
}

func (cs connState) state() http.ConnState { return http.ConnState(cs & 7) }

func (cs connState) since() time.Time { return connEpoch.Add(time.Duration(cs >> 3)) }

// track is the server's ConnState hook.
func (ic *idleConns) track(c net.Conn, s http.ConnState) {
	switch s {
	case http.StateClosed, http.StateHijacked:
		ic.conns.Delete(c)
		return
	}
	now := int64(newConnState(s, time.Now()))
	if v, ok := ic.conns.Load(c); ok {
		v.(*atomic.Int64).Store(now)
		return
	}
	v := new(atomic.Int64)
	v.Store(now)
	ic.conns.Store(c, v)
}

// stateOf is the last state reported of a connection ic follows (a value of
// ic.conns).
func stateOf(v any) connState { return connState(v.(*atomic.Int64).Load()) }

// shutdown is srv.Shutdown(ctx) that closes the connections left idle once
// the shutdown has begun (hangupGrace after it, then hangupGrace after they
// turn idle): a connection with a stream in flight is drained as Shutdown
// drains it, and one the client has not yet seen the GOAWAY of is not cut.
func (ic *idleConns) shutdown(ctx context.Context, srv *http.Server) error {
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	grace := time.NewTimer(hangupGrace)
	defer grace.Stop()
	select {
	case err := <-done:
		return err
	case <-grace.C:
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ic.conns.Range(func(k, v any) bool {
			if cs := stateOf(v); cs.state() == http.StateIdle && time.Since(cs.since()) >= hangupGrace {
				_ = k.(net.Conn).Close()
			}
			return true
		})
		select {
		case err := <-done:
			return err
		case <-tick.C:
		}
	}
}
