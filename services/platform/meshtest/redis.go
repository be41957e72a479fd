package meshtest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a private redis-server of one test, for faults the shared one
// must never see: frozen (SIGSTOP, as a stalled or partitioned primary),
// killed, or restarted empty (a crash without persistence). It keeps
// nothing on disk and stops with the test.
type Redis struct {
	// Addr is host:port; URL the redis:// URL for -redis.url.
	Addr, URL string
	port      int
	cmd       *exec.Cmd
}

// StartRedis starts a private redis-server on a free loopback port.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("meshtest: redis-server is not installed (apt-get install -y redis-server): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	r := &Redis{port: port, Addr: "127.0.0.1:" + strconv.Itoa(port)}
	r.URL = "redis://" + r.Addr + "/0"
	r.start(t)
	t.Cleanup(func() { r.kill() })
	return r
}

func (r *Redis) start(t testing.TB) {
	t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("meshtest: start redis-server: %v", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("meshtest: redis-server on %s did not answer", r.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *Redis) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Signal(syscall.SIGCONT) // a frozen one cannot die otherwise
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// Freeze stops the server (SIGSTOP): connections stay open, nothing is
// answered, and commands sent meanwhile run when it is thawed.
func (r *Redis) Freeze(t testing.TB) { r.signal(t, syscall.SIGSTOP) }

// Thaw lets a frozen server go on (SIGCONT).
func (r *Redis) Thaw(t testing.TB) { r.signal(t, syscall.SIGCONT) }

func (r *Redis) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("meshtest: signal redis-server: %v", err)
	}
}

// Restart kills the server and starts an empty one on the same port: what a
// crash of a Redis without persistence (or a failover to an empty replica)
// looks like to its clients.
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	r.kill()
	r.start(t)
}

// String names the server in test output.
func (r *Redis) String() string { return fmt.Sprintf("redis-server %s", r.Addr) }
