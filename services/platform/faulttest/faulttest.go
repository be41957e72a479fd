// Package faulttest breaks dependencies on purpose, for tests of what the
// mesh does while one is down: a private redis-server that a test can freeze
// (SIGSTOP), thaw, kill and start again on the same port (empty, or as a
// snapshot the test took: a crash that lost the writes since), and a TCP proxy
// (to Postgres, say) that a test can cut and restore. The shared local
// servers are never touched.
//
//	r := faulttest.StartRedis(t)         // -redis.url=r.URL()
//	p := faulttest.NewProxy(t, "127.0.0.1:5432")
//	p.Cut()                               // every connection through p breaks
package faulttest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Redis is a redis-server of the test's own, on a free loopback port, with
// no persistence but the snapshots the test asks for (Save); it is killed
// when the test ends.
type Redis struct {
	t    testing.TB
	addr string
	dir  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	frozen bool
}

// StartRedis starts a private redis-server (the binary must be on PATH:
// apt-get install redis-server) and waits until it answers PING.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed (apt-get install redis-server)")
	}
	r := &Redis{t: t, addr: FreeAddr(t), dir: t.TempDir()}
	r.start()
	t.Cleanup(r.Kill)
	return r
}

// Addr is host:port of the server.
func (r *Redis) Addr() string { return r.addr }

// URL is the redis:// URL of database 0.
func (r *Redis) URL() string { return "redis://" + r.addr + "/0" }

func (r *Redis) start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--protected-mode", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("faulttest: redis-server: %v", err)
	}
	r.mu.Lock()
	r.cmd, r.frozen = cmd, false
	r.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(r.addr) == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("faulttest: redis-server on %s does not answer PING", r.addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ping sends an inline PING and expects +PONG.
func ping(addr string) error { return command(addr, "PING", 200*time.Millisecond) }

// command sends an inline command and expects a status reply (+PONG, +OK)
// within timeout.
func command(addr, cmd string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+") {
		return fmt.Errorf("%s answered %q", cmd, line)
	}
	return nil
}

func (r *Redis) signal(sig syscall.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Errorf("faulttest: signal %v to redis-server: %v", sig, err)
	}
	r.frozen = sig == syscall.SIGSTOP
}

// Freeze stops the server (SIGSTOP): connections stay open and the kernel
// still accepts new ones, but nothing is answered, as with a hung server.
func (r *Redis) Freeze() { r.signal(syscall.SIGSTOP) }

// Thaw lets a frozen server go on (SIGCONT).
func (r *Redis) Thaw() { r.signal(syscall.SIGCONT) }

// Kill ends the server (SIGKILL): connections break and new ones are
// refused. A no-op when it is not running.
func (r *Redis) Kill() {
	r.mu.Lock()
	cmd, frozen := r.cmd, r.frozen
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	if frozen {
		_ = cmd.Process.Signal(syscall.SIGCONT)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// Save writes a snapshot of the server's data now (SAVE), which the next
// Restart loads: the server then comes back as it was at this instant, as
// one that crashed and lost every write since (the last second of an
// `appendfsync everysec` AOF, a replica that had not caught up).
func (r *Redis) Save() {
	r.t.Helper()
	if err := command(r.addr, "SAVE", 10*time.Second); err != nil {
		r.t.Fatalf("faulttest: SAVE: %v", err)
	}
}

// Restart starts a killed server again on the same port: empty, or with
// the data of the last Save.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Kill()
	r.start()
}

// Proxy forwards TCP connections from a loopback port to a target until it
// is cut.
type Proxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

// NewProxy listens on a free loopback port and forwards to target
// (host:port); it closes when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{t: t, ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.Cut()
	})
	return p
}

// Addr is host:port to connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut breaks every connection through the proxy and closes each new one as
// soon as it is accepted, as a server that went away.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// Restore forwards new connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

// track remembers c for Cut; false when the proxy is cut (c is closed).
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) forward(client net.Conn) {
	if !p.track(client) {
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(server) {
		_ = client.Close()
		return
	}
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
	}
	wg.Add(2)
	go pipe(server, client)
	go pipe(client, server)
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// PostgresProxy puts a proxy in front of the server of dsn (a postgres://
// URL) and returns it with the DSN to connect through it.
func PostgresProxy(t testing.TB, dsn string) (*Proxy, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Fatalf("faulttest: %q is not a postgres:// URL with a host", dsn)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	p := NewProxy(t, target)
	u.Host = p.Addr()
	return p, u.String()
}

// FreeAddr is a loopback address whose port was free a moment ago, on
// 127.0.0.1 and on every other host given (for processes that share a port
// on two addresses, as a headless Service's pods do). The port is below the
// kernel's ephemeral range (ip_local_port_range starts at 32768 by
// default): outgoing connections and the other tests' ":0" listeners take
// ports of that range, so a port probed there and closed could be taken
// before its server listens.
func FreeAddr(t testing.TB, hosts ...string) string {
	t.Helper()
	hosts = append([]string{"127.0.0.1"}, hosts...)
	for range 100 {
		port := strconv.Itoa(20000 + rand.IntN(12000))
		free := true
		for _, host := range hosts {
			ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
			if err != nil {
				if !errors.Is(err, syscall.EADDRINUSE) {
					t.Skipf("cannot listen on %s: %v", host, err)
				}
				free = false
				break
			}
			_ = ln.Close()
		}
		if free {
			return net.JoinHostPort("127.0.0.1", port)
		}
	}
	t.Fatal("faulttest: no port free below the ephemeral range")
	return ""
}
