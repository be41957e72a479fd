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
// read its GOAWAY before it closes their idle connections.
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
type idleConns struct {
	conns sync.Map // net.Conn → *atomic.Int32 (its last http.ConnState)
}

// track is the server's ConnState hook.
func (ic *idleConns) track(c net.Conn, s http.ConnState) {
	switch s {
	case http.StateClosed, http.StateHijacked:
		ic.conns.Delete(c)
		return
	}
	if v, ok := ic.conns.Load(c); ok {
		v.(*atomic.Int32).Store(int32(s))
		return
	}
	v := new(atomic.Int32)
	v.Store(int32(s))
	ic.conns.Store(c, v)
}

// shutdown is srv.Shutdown(ctx) that closes the connections left idle once
// the shutdown has begun (hangupGrace after it, then as they turn idle): a
// connection with a stream in flight is drained as Shutdown drains it, and
// one the client has not yet seen the GOAWAY of is not cut.
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
			if http.ConnState(v.(*atomic.Int32).Load()) == http.StateIdle {
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
