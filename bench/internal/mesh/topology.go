package mesh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Settings is what every process of one run shares.
type Settings struct {
	// Rush is the path of the rush binary.
	Rush string
	// OutDir receives the process logs.
	OutDir string
	// PostgresURL is the database the run's schema is created in.
	PostgresURL string
	// RedisURL is the Redis every process uses; keys carry the run's
	// prefixes, so runs never see each other's.
	RedisURL string
	// Secret is the shared JWT secret.
	Secret string
	// RateLimit keeps the edge's Redis rate limiter on, with per-user
	// buckets of RateLimitPerMin requests a minute (burst the same); false
	// turns it off.
	RateLimit       bool
	RateLimitPerMin int
	// Admission keeps the edge's admission control of the reserve route
	// on (it sheds reserves beyond an adaptive in-flight limit); false
	// starts the edge with -edge.admission.enabled=false, so that a closed
	// loop measures what the machine serves rather than what it sheds.
	Admission bool
	// Run names the schema (bench_<run>) and the key prefixes.
	Run string
	// Extra flags for every process (e.g. -redis.pool-size=128).
	Extra []string
}

// Topology is a running set of rush processes.
type Topology struct {
	Settings
	// Schema is the Postgres schema of the run; SchemaURL selects it.
	Schema, SchemaURL string
	// EdgeURL is the public API base (http://127.0.0.1:port).
	EdgeURL string
	// BookingAddr is the booking component's host:port (Connect, gRPC over h2c).
	BookingAddr string
	// PaymentAddr, SagaAddr and QueueAddr are the payment, saga and queue
	// components'.
	PaymentAddr, SagaAddr, QueueAddr string
	// KeyPrefix is the booking engine's Redis key prefix.
	KeyPrefix string
	// Metrics are the metrics.addr (pprof, readyz) of each process by name.
	Metrics map[string]string
	procs   []*Process
}

// Process is a child process of the bench, its output in a log file.
type Process struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan error
}

// StartProcess starts bin with args in dir, with exactly env as its
// environment, its output to logPath.
func StartProcess(name, bin string, args, env []string, dir, logPath string) (*Process, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.Env, cmd.Dir = f, f, env, dir
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{name: name, cmd: cmd, log: f, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// Name is the process's name in reports.
func (p *Process) Name() string { return p.name }

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports an error naming the process when it has exited.
func (p *Process) Exited() error {
	select {
	case err := <-p.done:
		p.done <- err
		return fmt.Errorf("%s exited: %w; see %s", p.name, err, p.log.Name())
	default:
		return nil
	}
}

// FreePorts returns n distinct free loopback ports.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	out := make([]int, n)
	for i := range out {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out[i] = l.Addr().(*net.TCPAddr).Port
	}
	return out, nil
}

// WithSearchPath returns dsn selecting schema.
func WithSearchPath(dsn, schema string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Start creates the run's schema, migrates it and starts three processes
// as deployed: "booking" (booking, relay, persister, and the embedded Kafka
// broker on a fixed port), "services" (auth, catalog, payment with the
// simulator provider, the saga orchestrator, talking to that broker, and
// the waiting room: queue and admitter) and "edge". Notify is not deployed (see the flags below). It returns
// once every process answers /readyz.
func Start(ctx context.Context, s Settings) (*Topology, error) {
	t := &Topology{Settings: s, Schema: "bench_" + s.Run, KeyPrefix: "bench:" + s.Run + ":bk:", Metrics: map[string]string{}}
	if err := os.MkdirAll(s.OutDir, 0o755); err != nil {
		return nil, err
	}
	admin, err := pgxpool.New(ctx, s.PostgresURL)
	if err != nil {
		return nil, err
	}
	_, err = admin.Exec(ctx, "CREATE SCHEMA "+t.Schema)
	admin.Close()
	if err != nil {
		return nil, fmt.Errorf("create schema %s: %w", t.Schema, err)
	}
	if t.SchemaURL, err = WithSearchPath(s.PostgresURL, t.Schema); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, s.Rush, "migrate", "-postgres.url="+t.SchemaURL, "-log.level=warn").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("rush migrate: %w: %s", err, out)
	}
	ports, err := FreePorts(11)
	if err != nil {
		return nil, err
	}
	at := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	edge, booking, auth, catalog, kafka, payment, saga, queue := at(0), at(1), at(2), at(3), at(4), at(8), at(9), at(10)
	t.Metrics = map[string]string{"edge": at(5), "booking": at(6), "services": at(7)}
	t.EdgeURL, t.BookingAddr, t.PaymentAddr, t.SagaAddr, t.QueueAddr = "http://"+edge, booking, payment, saga, queue
	common := []string{
		"-postgres.url=" + t.SchemaURL, "-postgres.migrate-on-start=false",
		"-redis.url=" + s.RedisURL,
		"-booking.key-prefix=" + t.KeyPrefix,
		"-catalog.cache-prefix=bench:" + s.Run + ":catalog:",
		"-rate-limit.prefix=bench:" + s.Run + ":rl:",
		"-queue.key-prefix=bench:" + s.Run + ":q:",
		// Holds must outlive the run and the audit: a hold that expires
		// mid-audit would look like a lost seat.
		"-booking.hold-ttl=2h", "-booking.idempotency-ttl=2h",
		"-jwt.issuer=" + Issuer,
		"-log.level=warn", "-log.format=json",
		"-peer.booking=" + booking, "-peer.auth=" + auth, "-peer.catalog=" + catalog,
		"-peer.payment=" + payment, "-peer.saga=" + saga, "-peer.queue=" + queue,
		"-auth.addr=" + auth, "-catalog.addr=" + catalog, "-booking.addr=" + booking,
		"-payment.addr=" + payment, "-saga.addr=" + saga, "-queue.addr=" + queue,
		"-edge.addr=" + edge,
		// Notify is not deployed: it would mail every buyer through an
		// SMTP relay. Its default address may be another mesh's on this
		// machine, so calls to it go to the saga's own listener instead,
		// which does not serve NotifyService and answers Unimplemented: the
		// saga's "notify not deployed" case, the e-mail step skipped at the
		// cost of one call, as a deployed notify would cost about.
		"-peer.notify=" + saga,
	}
	if s.RateLimit {
		n := fmt.Sprint(s.RateLimitPerMin)
		common = append(common, "-rate-limit.enabled=true",
			"-rate-limit.reserve.rate="+n, "-rate-limit.reserve.burst="+n,
			"-rate-limit.general.rate="+n, "-rate-limit.general.burst="+n)
	} else {
		common = append(common, "-rate-limit.enabled=false")
	}
	common = append(common, fmt.Sprintf("-edge.admission.enabled=%t", s.Admission))
	common = append(common, s.Extra...)
	specs := []struct {
		name  string
		flags []string
	}{
		// First: it hosts the Kafka broker the others connect to.
		{"booking", []string{"-target=booking,relay,persister", "-metrics.addr=" + t.Metrics["booking"], "-kafka.embedded-addr=" + kafka}},
		// The simulator decides sim_ok and sim_declined at once and sim_slow
		// after -payment.sim-delay (3 s by default): short, so that no
		// payment of a run waits on a simulated provider.
		{"services", []string{"-target=auth,catalog,payment,saga,queue,admitter", "-metrics.addr=" + t.Metrics["services"], "-kafka.brokers=" + kafka,
			"-payment.sim-delay=100ms"}},
		{"edge", []string{"-target=edge", "-metrics.addr=" + t.Metrics["edge"]}},
	}
	for _, sp := range specs {
		p, err := t.spawn(sp.name, append(append([]string{}, common...), sp.flags...))
		if err != nil {
			_ = t.Stop()
			return nil, err
		}
		if err := p.WaitReady(ctx, "http://"+t.Metrics[sp.name]+"/readyz", 90*time.Second); err != nil {
			_ = t.Stop()
			return nil, err
		}
	}
	if err := t.procs[len(t.procs)-1].WaitReady(ctx, t.EdgeURL+"/readyz", 30*time.Second); err != nil {
		_ = t.Stop()
		return nil, err
	}
	return t, nil
}

func (t *Topology) spawn(name string, args []string) (*Process, error) {
	// The children get no RUSH_* of ours (flags say everything), and the
	// secret through the environment, not the command line.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RUSH_") {
			env = append(env, kv)
		}
	}
	env = append(env, "RUSH_JWT_SECRET="+t.Secret)
	p, err := StartProcess(name, t.Rush, args, env, "", filepath.Join(t.OutDir, name+".log"))
	if err != nil {
		return nil, err
	}
	t.procs = append(t.procs, p)
	return p, nil
}

// WaitReady polls url until it answers 200, the process exits or the time
// is up.
func (p *Process) WaitReady(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case err := <-p.done:
			p.done <- err
			return fmt.Errorf("%s exited before it was ready (%w); see %s", p.name, err, p.log.Name())
		default:
		}
		if resp, err := c.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s after %v; see %s", p.name, url, limit, p.log.Name())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Alive reports an error naming the first process that has exited.
func (t *Topology) Alive() error {
	for _, p := range t.procs {
		if err := p.Exited(); err != nil {
			return err
		}
	}
	return nil
}

// Stop ends the processes, edge first, with SIGTERM (graceful) and SIGKILL
// after 20 s.
func (t *Topology) Stop() error {
	var problems []error
	for i := len(t.procs) - 1; i >= 0; i-- {
		problems = append(problems, t.procs[i].Stop(20*time.Second))
	}
	t.procs = nil
	return errors.Join(problems...)
}

// Stop ends the process with SIGTERM (graceful), and SIGKILL when it has
// not exited after grace; an exit status other than 0 is an error.
func (p *Process) Stop(grace time.Duration) error {
	defer func() { _ = p.log.Close() }()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && ee.Exited() && ee.ExitCode() == 0) {
			return fmt.Errorf("%s stopped with %w", p.name, err)
		}
		return nil
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("%s did not stop in %v; killed", p.name, grace)
	}
}
