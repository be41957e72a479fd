package meshtest

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Redis is a private redis-server for fault tests: the shared server at
// 127.0.0.1:6379 must never be stopped, so a test that takes Redis away
// starts its own.
type Redis struct {
	// URL is redis://127.0.0.1:<port>/0.
	URL string
	cmd *exec.Cmd
	out *bytes.Buffer
}

// StartRedis runs redis-server (no persistence) on a free loopback port
// until Stop or the end of the test. The test fails when redis-server is not
// on PATH or does not answer within 5 s.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("meshtest: redis-server not on PATH (apt-get install -y redis-server): %v", err)
	}
	port := freePort(t)
	r := &Redis{URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), out: new(bytes.Buffer)}
	r.cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("meshtest: start redis-server: %v", err)
	}
	t.Cleanup(r.Stop)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("meshtest: redis-server on port %d did not answer: %v\n%s", port, err, r.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server at once (a crash, not a shutdown); a no-op the
// second time.
func (r *Redis) Stop() {
	if r.cmd.ProcessState != nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
