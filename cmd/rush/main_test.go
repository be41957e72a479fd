package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/faulttest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/testkit"
)

// argsEnv makes the test binary run the rush command itself (with these
// arguments, one per line), so a test can watch a real process's stderr.
const argsEnv = "RUSH_TEST_MAIN_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(argsEnv); ok {
		os.Exit(run(strings.Split(args, "\n")))
	}
	os.Exit(m.Run())
}

// TestJSONLogsStayJSONWhileRedisIsDown runs the whole mesh as a process
// with log.format=json, takes its Redis away and keeps calling the API:
// every line on stderr must still be one JSON object, including what
// go-redis, sarama and the other libraries say about the outage (go-redis
// used to print plain-text lines).
func TestJSONLogsStayJSONWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	rdb := faulttest.StartRedis(t)
	dsn := pgtest.Migrated(t)
	args := []string{"-target=all", "-log.format=json", "-log.level=info", "-postgres.url=" + dsn,
		"-postgres.migrate-on-start=false", "-redis.url=" + rdb.URL(), "-jwt.secret=" + testkit.Secret,
		"-auth.bcrypt-cost=4", "-smtp.addr=127.0.0.1:1"}
	args = append(args, testkit.LoopbackAddrs()...)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), argsEnv+"="+strings.Join(args, "\n"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		lines []string
		edge  = make(chan string, 1)
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			lines = append(lines, line)
			mu.Unlock()
			var l struct{ Msg, Component, Addr string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving" && l.Component == "edge" {
				edge <- "http://" + l.Addr
			}
		}
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(45 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = cmd.Wait()
	}
	t.Cleanup(stop)

	var base string
	select {
	case base = <-edge:
	case <-done:
		t.Fatalf("rush exited before serving:\n%s", strings.Join(lines, "\n"))
	case <-time.After(60 * time.Second):
		t.Fatal("rush did not start within 60 s")
	}

	rdb.Kill()
	client := &http.Client{Timeout: 5 * time.Second}
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		for _, req := range []struct{ method, path, body string }{
			{"GET", "/api/v1/events", ""},
			{"POST", "/api/v1/auth/login", `{"email":"a@b.test","password":"secret-pass-1"}`},
			{"POST", "/api/v1/bookings/reserve", `{}`},
			{"GET", "/readyz", ""},
		} {
			r, _ := http.NewRequest(req.method, base+req.path, strings.NewReader(req.body))
			r.Header.Set("Content-Type", "application/json")
			if res, err := client.Do(r); err == nil {
				res.Body.Close()
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()

	mu.Lock()
	defer mu.Unlock()
	fromRedis := 0
	for _, line := range lines {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Errorf("not a JSON line on stderr: %q", line)
			continue
		}
		if obj["logger"] == "redis" {
			fromRedis++
		}
	}
	if fromRedis == 0 {
		t.Errorf("no line of go-redis's own (logger \"redis\") in %d lines: its logging is lost, not routed", len(lines))
	}
}

// TestProbe: `rush probe` (the chart's helm test) passes only when every
// URL answers 200, and says what each answered.
func TestProbe(t *testing.T) {
	t.Parallel()
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"status":"ok"}`)) }))
	defer ready.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, `{"status":"redis down"}`, 503) }))
	defer down.Close()
	var out strings.Builder
	if code := probe([]string{ready.URL + "/readyz"}, &out); code != 0 {
		t.Errorf("ready: exit %d (%s)", code, out.String())
	}
	out.Reset()
	if code := probe([]string{ready.URL + "/readyz", down.URL + "/readyz"}, &out); code != 1 || !strings.Contains(out.String(), "503") || !strings.Contains(out.String(), "redis down") {
		t.Errorf("one down: exit %d, said %q", code, out.String())
	}
}

// TestMigrateStatus: `rush migrate -status` lists what is applied and what
// is pending, changes nothing, and exits 3 while something is pending
// (schema.Status existed, documented for it, and no command called it).
func TestMigrateStatus(t *testing.T) {
	t.Parallel()
	dsn, _ := pgtest.NewSchema(t)
	rush := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), argsEnv+"="+strings.Join(append(args, "-postgres.url="+dsn, "-log.level=error"), "\n"))
		out, err := cmd.Output()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return string(out), cmd.ProcessState.ExitCode()
	}
	out, code := rush("migrate", "-status")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != migrationsPending || len(lines) < 2 || !strings.HasPrefix(lines[0], "pending ") ||
		!regexp.MustCompile(`^0 applied, [1-9]\d* pending$`).MatchString(lines[len(lines)-1]) {
		t.Fatalf("an empty database: exit %d, said:\n%s", code, out)
	}
	if again, _ := rush("migrate", "-status"); again != out {
		t.Fatalf("-status changed something:\n%s\nthen\n%s", out, again)
	}
	if _, code := rush("migrate"); code != 0 {
		t.Fatalf("migrate: exit %d", code)
	}
	out, code = rush("migrate", "-status")
	if code != 0 || strings.Contains(out, "pending ") || !strings.HasSuffix(strings.TrimSpace(out), fmt.Sprintf("%d applied, 0 pending", len(lines)-1)) {
		t.Fatalf("after migrate: exit %d, said:\n%s", code, out)
	}
	// A serving process takes no -status.
	if _, code := rush("-status"); code != 2 {
		t.Fatalf("rush -status: exit %d, want 2 (no such flag)", code)
	}
}

// TestServiceAccountCommand: `rush service-account` prints a key and the
// entry that makes it valid.
func TestServiceAccountCommand(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if code := serviceAccount([]string{"partner-shop", "organizer", "catalog+booking"}, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	lines := strings.Fields(out.String())
	key, entry := lines[slices.IndexFunc(lines, func(s string) bool { return strings.HasPrefix(s, authn.KeyPrefix) })], lines[len(lines)-1]
	k, err := authn.NewKeys(authn.Config{AccessTTL: time.Minute, ServiceAccounts: []string{entry}})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := k.Verify(key, time.Now()); err != nil || p.ServiceAccount != "partner-shop" || p.Role != "organizer" {
		t.Fatalf("the printed key does not verify with the printed entry %q: %+v %v", entry, p, err)
	}
	if code := serviceAccount([]string{"partner-shop", "service"}, &out); code == 0 {
		t.Error("a service account with the mesh's service role was made")
	}
	out.Reset()
	if code := serviceAccount([]string{"partner-shop", "organizer", "catalgo+booking"}, &out); code == 0 || !strings.Contains(out.String(), `"catalgo" is no service of the mesh`) {
		t.Errorf("a misspelt service: exit %d, said %q", code, out.String())
	}
}
