// Command rushbench is the flash-sale benchmark of Booking Rush: it starts
// the mesh as deployed (edge and services as separate rush processes on
// loopback), creates an event through the public API, drives
// POST /api/v1/bookings/reserve open-model (constant arrival rate) or
// closed-loop with the tokens of thousands of users (the checkout scenario
// pays for holds, then cancels some), reports throughput, latency
// percentiles and errors by code, and audits the inventory and the money
// after every run (no oversell, no lost hold; Redis and Postgres agree with
// the answers; every succeeded payment ended in a ticket or a refund). It
// measures bare servers in the same run, so each figure is also a ratio to
// what the machine can do. See bench/README.md.
//
//	rushbench                                   # the default: rush + ceiling
//	rushbench -scenario=sustained,closed,ceiling -profile=closed
//	rushbench ghz-config -target-url=... -booking-addr=... -jwt-secret=...
//	rushbench breakdown bench/out/<run>/closed-edge.cpu.pprof   # CPU shares
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/bookingrush/rush/bench/internal/load"
	"github.com/bookingrush/rush/bench/internal/mesh"
)

type options struct {
	scenarios    string
	users        int
	quantity     int
	rushRate     float64
	rushDuration time.Duration
	rushSeats    int
	steps        string
	stepDuration time.Duration
	p99Target    time.Duration
	errTarget    float64
	keepStepping bool
	workers      int
	closedConns  int
	closedDur    time.Duration
	rpcConns     int
	rpcDur       time.Duration
	ghzConc      int
	ghzDur       time.Duration
	ceilingDur   time.Duration
	profile      string
	profileSec   int
	rateLimit    bool
	admission    string
	rateLimitMin int
	auditWait    time.Duration
	rush         string
	out          string
	pgURL        string
	redisURL     string
	keep         bool
	extra        string

	checkoutSeats int
	waitlistSeats int
	overloadRates string
	overloadDur   time.Duration

	scriptCalls, scriptBatch, scriptConns int

	wrJoins, wrWatchers, wrSeats, wrRate int
	wrWindow                             time.Duration

	// The seed implementation's binaries and checkout (seed scenario).
	seedGateway, seedBooking, seedDir string
	seedRedisDB                       int

	// An existing topology instead of starting one.
	targetURL, bookingAddr, secret, keyPrefix, edgeMetrics, bookingMetrics string

	child, childAddr string
}

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	var o options
	fs := flag.NewFlagSet("rushbench", flag.ContinueOnError)
	fs.StringVar(&o.scenarios, "scenario", "rush,ceiling", "comma-separated scenarios, run in this order: rush, sustained, closed, wrk, seed, rpc, ghz, checkout, waitlist, waitroom, ceiling, script")
	fs.IntVar(&o.users, "users", 50000, "users (rows inserted with COPY, tokens minted with the JWT secret); requests rotate over them")
	fs.IntVar(&o.quantity, "quantity", 1, "seats per reserve request")
	fs.Float64Var(&o.rushRate, "rush.rate", 5000, "rush: offered arrival rate, requests/s")
	fs.DurationVar(&o.rushDuration, "rush.duration", 10*time.Second, "rush: how long requests arrive")
	fs.IntVar(&o.rushSeats, "rush.seats", 1000, "rush: seats of the one zone on sale")
	fs.StringVar(&o.steps, "sustained.steps", "2000,4000,6000,8000,10000,12000", "sustained: arrival rates, requests/s, in order")
	fs.DurationVar(&o.stepDuration, "sustained.step-duration", 10*time.Second, "sustained: duration of each step")
	fs.DurationVar(&o.p99Target, "sustained.p99", 50*time.Millisecond, "sustained: a step passes with p99 below this")
	fs.Float64Var(&o.errTarget, "sustained.errors", 0.001, "sustained: ... and an error rate (dropped included) below this")
	fs.BoolVar(&o.keepStepping, "sustained.keep-going", false, "sustained: run every step even after one failed")
	fs.IntVar(&o.workers, "workers", 0, "open model: most requests in flight (connections); 0: rate/10, at least 256, so that a stall of 100 ms is measured rather than dropped (a request due while all are busy is dropped and counted as an error)")
	fs.IntVar(&o.closedConns, "closed.conns", 64, "closed loop: concurrent connections (wrk -c)")
	fs.DurationVar(&o.closedDur, "closed.duration", 10*time.Second, "closed loop: duration")
	fs.IntVar(&o.rpcConns, "rpc.conns", 64, "rpc: concurrent calls straight to BookingService.Reserve over gRPC (h2c), rotating tokens")
	fs.DurationVar(&o.rpcDur, "rpc.duration", 10*time.Second, "rpc: duration")
	fs.StringVar(&o.overloadRates, "overload.rates", "3000,6000", "overload: offered reserve rates, requests/s (2-3x what the machine serves), each run for -overload.duration")
	fs.DurationVar(&o.overloadDur, "overload.duration", 8*time.Second, "overload: duration of each rate")
	fs.IntVar(&o.waitlistSeats, "waitlist.seats", 2000, "waitlist: seats of the one zone; as many users hold them, twice as many wait, then every holder cancels")
	fs.IntVar(&o.checkoutSeats, "checkout.seats", 2000, "checkout: seats of the one zone, and users who each hold one and pay for it (-closed.conns at a time)")
	fs.IntVar(&o.wrJoins, "waitroom.joins", 100000, "waitroom: tickets issued through the edge (the shoppers included; needs as many -users)")
	fs.IntVar(&o.wrWatchers, "waitroom.watchers", 2000, "waitroom: buyers of the crowd holding the stream (GET /api/v1/queue/events)")
	fs.IntVar(&o.wrSeats, "waitroom.seats", 2000, "waitroom: seats of the event, and shoppers admitted first who buy them all (the sell-out)")
	fs.IntVar(&o.wrRate, "waitroom.rate", 2, "waitroom: admissions per second while the crowd waits")
	fs.DurationVar(&o.wrWindow, "waitroom.window", 10*time.Second, "waitroom: each measurement window (baseline, then streams open)")
	fs.StringVar(&o.seedGateway, "seed.gateway", "", "seed: the seed implementation's API gateway binary (built from its checkout as bench/README.md says); without it, -seed.booking and -seed.dir the scenario is skipped")
	fs.StringVar(&o.seedBooking, "seed.booking", "", "seed: the seed implementation's booking service binary")
	fs.StringVar(&o.seedDir, "seed.dir", "", "seed: the seed implementation's checkout (the booking service's migrations, scripts/migrations/booking)")
	fs.IntVar(&o.seedRedisDB, "seed.redis-db", 15, "seed: the database of -redis-url's server that the seed's keys (no prefix) go to")
	fs.IntVar(&o.ghzConc, "ghz.c", 64, "ghz: concurrency (-c)")
	fs.DurationVar(&o.ghzDur, "ghz.duration", 10*time.Second, "ghz: duration (-z)")
	fs.IntVar(&o.scriptCalls, "script.calls", 12000, "script: reserve.lua calls")
	fs.IntVar(&o.scriptBatch, "script.batch", 12, "script: reserves per call (the closed loop's batches hold 11-15)")
	fs.IntVar(&o.scriptConns, "script.conns", 8, "script: concurrent calls")
	fs.DurationVar(&o.ceilingDur, "ceiling.duration", 5*time.Second, "ceiling: duration of each run against the bare servers")
	fs.StringVar(&o.profile, "profile", "", "scenarios to CPU-profile (edge and booking processes, via pprof on metrics.addr), e.g. closed,rush")
	fs.IntVar(&o.profileSec, "profile.seconds", 0, "profile length; 0: the scenario's duration less a second")
	fs.BoolVar(&o.rateLimit, "rate-limit", true, "keep the edge's Redis rate limiter on (with per-user buckets of -rate-limit.per-minute); false starts the edge with -rate-limit.enabled=false")
	fs.StringVar(&o.admission, "admission", "auto", "the edge's admission control of the reserve route (it sheds beyond an adaptive in-flight limit): on, off, or auto (on when the scenarios include overload, else off so that every other scenario measures what the machine serves)")
	fs.IntVar(&o.rateLimitMin, "rate-limit.per-minute", 1000000, "per-user reserve bucket (rate per minute and burst) when -rate-limit is on")
	fs.DurationVar(&o.auditWait, "audit.wait", 3*time.Minute, "longest wait for Postgres to catch up with Redis, and for payments to settle, before the audit fails")
	fs.StringVar(&o.rush, "rush", "bin/rush", "the rush binary (make build)")
	fs.StringVar(&o.out, "out", "bench/out", "directory of logs, profiles and reports (one subdirectory per run)")
	fs.StringVar(&o.pgURL, "postgres-url", envOr("RUSH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "Postgres; each run creates (and drops) schema bench_<run>")
	fs.StringVar(&o.redisURL, "redis-url", envOr("RUSH_REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis; each run's keys start with bench:<run>: (deleted at the end)")
	fs.BoolVar(&o.keep, "keep", false, "keep the schema and Redis keys after the run")
	fs.StringVar(&o.extra, "rush-flags", "", "extra flags for every rush process, space-separated (e.g. -redis.pool-size=128)")
	fs.StringVar(&o.targetURL, "target-url", "", "an existing edge (http://host:port) instead of starting processes; needs -jwt-secret, -key-prefix, -postgres-url (with search_path) and -redis-url of that deployment")
	fs.StringVar(&o.bookingAddr, "booking-addr", "", "with -target-url: the booking component's host:port (rpc, ghz)")
	fs.StringVar(&o.secret, "jwt-secret", os.Getenv("RUSH_JWT_SECRET"), "with -target-url: the deployment's JWT secret (default $RUSH_JWT_SECRET)")
	fs.StringVar(&o.keyPrefix, "key-prefix", "bk:", "with -target-url: the deployment's booking.key-prefix")
	fs.StringVar(&o.edgeMetrics, "edge-metrics", "", "with -target-url: the edge process's metrics.addr (profiles)")
	fs.StringVar(&o.bookingMetrics, "booking-metrics", "", "with -target-url: the booking process's metrics.addr (profiles)")
	fs.StringVar(&o.child, "child", "", "internal: serve a ceiling server (http or connect)")
	fs.StringVar(&o.childAddr, "child-addr", "", "internal: the ceiling server's address")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch o.child {
	case "http":
		fmt.Fprintln(os.Stderr, serveCeilingHTTP(o.childAddr))
		return 1
	case "connect":
		fmt.Fprintln(os.Stderr, serveCeilingConnect(o.childAddr))
		return 1
	case "kafka":
		fmt.Fprintln(os.Stderr, serveSeedKafka(o.childAddr))
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{o: o}
	var err error
	switch sub {
	case "":
		err = b.main(ctx)
	case "ghz-config":
		err = b.ghzConfigOnly(ctx)
	case "breakdown":
		for _, f := range fs.Args() {
			out, e := Breakdown(f)
			if e != nil {
				err = errors.Join(err, e)
				continue
			}
			fmt.Println(out)
		}
	default:
		err = fmt.Errorf("unknown command %q (commands: ghz-config, breakdown)", sub)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rushbench:", err)
		return 1
	}
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// bench is one run.
type bench struct {
	o       options
	run     string
	dir     string
	topo    *mesh.Topology
	api     mesh.API
	db      *pgxpool.Pool
	rdb     *redis.Client
	prefix  string
	org     mesh.User
	users   []mesh.User
	tokens  []string
	report  *strings.Builder
	failed  []string
	results map[string]float64 // for the ratios at the end
	split   map[string]string  // each closed loop's CPU per answer by process (perRequest)
	edgeURL string
	bookURL string
	metrics map[string]string
}

func (b *bench) say(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	fmt.Println(s)
	b.report.WriteString(s + "\n")
}

func machine() string {
	model := "unknown"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, model, _ = strings.Cut(l, ":")
				model = strings.TrimSpace(model)
				break
			}
		}
	}
	return fmt.Sprintf("nproc %d, CPU %q, %s", runtime.NumCPU(), model, runtime.Version())
}

func loadavg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// setup starts (or connects to) the topology and inserts the users.
func (b *bench) setup(ctx context.Context) error {
	o := b.o
	b.report = &strings.Builder{}
	b.results = map[string]float64{}
	b.split = map[string]string{}
	b.run = strconv.FormatInt(time.Now().Unix()%1e8, 36) + strconv.Itoa(os.Getpid()%100)
	b.dir = filepath.Join(o.out, b.run)
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return err
	}
	b.say("# rushbench run %s", b.run)
	b.say("machine: %s; load average %s", machine(), loadavg())
	b.say("command: rushbench %s", strings.Join(os.Args[1:], " "))
	pg := o.pgURL
	if o.targetURL == "" {
		secret := mesh.RandomSecret()
		var extra []string
		if o.extra != "" {
			extra = strings.Fields(o.extra)
		}
		admission := o.admission == "on" || o.admission == "auto" && slices.Contains(strings.Split(o.scenarios, ","), "overload")
		if o.admission != "on" && o.admission != "off" && o.admission != "auto" {
			return fmt.Errorf("-admission: %q is not on, off or auto", o.admission)
		}
		t0 := time.Now()
		topo, err := mesh.Start(ctx, mesh.Settings{
			Rush: o.rush, OutDir: b.dir, PostgresURL: o.pgURL, RedisURL: o.redisURL, Secret: secret,
			RateLimit: o.rateLimit, RateLimitPerMin: o.rateLimitMin, Admission: admission, Run: b.run, Extra: extra,
		})
		if err != nil {
			return err
		}
		b.topo = topo
		o.secret, b.prefix, pg = secret, topo.KeyPrefix, topo.SchemaURL
		b.edgeURL, b.bookURL, b.metrics = topo.EdgeURL, "http://"+topo.BookingAddr, topo.Metrics
		b.say("topology: 3 processes ready in %.1fs (edge %s | booking,relay,persister + embedded Kafka %s | auth,catalog,payment,saga,queue,admitter %s; notify not deployed); schema %s; logs in %s",
			time.Since(t0).Seconds(), topo.EdgeURL, topo.BookingAddr, topo.Metrics["services"], topo.Schema, b.dir)
		if admission {
			b.say("admission control: ON (the edge sheds reserves beyond its adaptive in-flight limit: 503 + Retry-After)")
		} else {
			b.say("admission control: OFF (-edge.admission.enabled=false: nothing is shed)")
		}
		if o.rateLimit {
			b.say("rate limit: ON (token bucket per user, %d/min, burst %d, decided in the edge's memory and synced with Redis every 100 ms: every request pays it, none is refused)", o.rateLimitMin, o.rateLimitMin)
		} else {
			b.say("rate limit: OFF (-rate-limit.enabled=false)")
		}
	} else {
		if o.secret == "" {
			return errors.New("-target-url needs -jwt-secret (or RUSH_JWT_SECRET)")
		}
		b.prefix, b.edgeURL = o.keyPrefix, o.targetURL
		if o.bookingAddr != "" {
			b.bookURL = "http://" + o.bookingAddr
		}
		b.metrics = map[string]string{"edge": o.edgeMetrics, "booking": o.bookingMetrics}
		b.say("topology: existing, edge %s", o.targetURL)
	}
	b.o = o
	if o.profile != "" {
		// The generator profiles itself too: its CPU is the machine's.
		addr, err := serveProfiles()
		if err != nil {
			return err
		}
		b.metrics["generator"] = addr
	}
	var err error
	if b.db, err = pgxpool.New(ctx, pg); err != nil {
		return err
	}
	ropt, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return err
	}
	b.rdb = redis.NewClient(ropt)
	b.api = mesh.API{Base: b.edgeURL, Client: mesh.HTTPClient(4)}
	m := mesh.Minter{Secret: []byte(o.secret), Issuer: mesh.Issuer, TTL: 3 * time.Hour}
	orgs, err := mesh.InsertUsers(ctx, b.db, m, b.run, "organizer", 1)
	if err != nil {
		return err
	}
	b.org = orgs[0]
	t0 := time.Now()
	if b.users, err = mesh.InsertUsers(ctx, b.db, m, b.run, "user", o.users); err != nil {
		return err
	}
	b.tokens = make([]string, len(b.users))
	for i, u := range b.users {
		b.tokens[i] = u.Token
	}
	b.say("users: %d inserted with COPY and their tokens minted in %.1fs", len(b.users), time.Since(t0).Seconds())
	return nil
}

func (b *bench) teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if b.topo != nil {
		if err := b.topo.Stop(); err != nil {
			b.say("stop: %v", err)
		}
		if !b.o.keep && b.db != nil {
			if err := mesh.Cleanup(ctx, b.db, b.rdb, b.topo.Schema, b.run); err != nil {
				b.say("cleanup: %v", err)
			}
		}
	}
	if b.db != nil {
		b.db.Close()
	}
	if b.rdb != nil {
		_ = b.rdb.Close()
	}
}

func (b *bench) main(ctx context.Context) error {
	// The defaults (bin/rush, bench/out, the wrk script) are the repository
	// root's paths: run from bench/, the reports went to bench/bench/out.
	if _, err := os.Stat(wrkScript); err != nil && b.o.out == "bench/out" {
		wd, _ := os.Getwd()
		return fmt.Errorf("run rushbench from the repository's root, where %s is (or give -out): in %s", wrkScript, wd)
	}
	defer b.teardown()
	if err := b.setup(ctx); err != nil {
		return err
	}
	for _, sc := range strings.Split(b.o.scenarios, ",") {
		if ctx.Err() != nil {
			break
		}
		var err error
		b.say("\n## %s (load average %s)", sc, loadavg())
		switch strings.TrimSpace(sc) {
		case "rush":
			err = b.scenarioRush(ctx)
		case "sustained":
			err = b.scenarioSustained(ctx)
		case "closed":
			err = b.scenarioClosed(ctx)
		case "rpc":
			err = b.scenarioRPC(ctx)
		case "ghz":
			err = b.scenarioGHZ(ctx)
		case "wrk":
			err = b.scenarioWRK(ctx)
		case "seed":
			err = b.scenarioSeed(ctx)
		case "checkout":
			err = b.scenarioCheckout(ctx)
		case "overload":
			err = b.scenarioOverload(ctx)
		case "waitroom":
			err = b.scenarioWaitroom(ctx)
		case "waitlist":
			err = b.scenarioWaitlist(ctx)
		case "ceiling":
			err = b.scenarioCeiling(ctx)
		case "script":
			err = b.scenarioScript(ctx)
		default:
			err = fmt.Errorf("unknown scenario %q", sc)
		}
		if err != nil {
			b.failed = append(b.failed, sc+": "+err.Error())
			b.say("%s: ERROR %v", sc, err)
		}
		if b.topo != nil {
			if err := b.topo.Alive(); err != nil {
				b.failed = append(b.failed, err.Error())
				break
			}
		}
	}
	b.ratios()
	b.say("\nload average at the end %s", loadavg())
	_ = os.WriteFile(filepath.Join(b.dir, "report.md"), []byte(b.report.String()), 0o644)
	if len(b.failed) > 0 {
		return fmt.Errorf("%d failure(s):\n  %s", len(b.failed), strings.Join(b.failed, "\n  "))
	}
	b.say("all audits passed; report in %s", filepath.Join(b.dir, "report.md"))
	return nil
}

// workersFor sizes the open-model pool.
func (b *bench) workersFor(rate float64) int {
	if b.o.workers > 0 {
		return b.o.workers
	}
	return max(256, int(rate/10))
}

// event creates a scenario's event with at least seats seats, in equal
// zones of at most 100,000 (the schema's largest zone): requests rotate
// over the zones evenly, so no zone sells out before the others.
func (b *bench) event(ctx context.Context, title string, seats int64, maxPerUser int) (*mesh.Event, error) {
	zones := zoneSizes(seats)
	t0 := time.Now()
	ev, err := mesh.CreateEvent(ctx, b.api, b.org.Token, title, maxPerUser, zones)
	if err != nil {
		return nil, err
	}
	b.say("event %s created through the API in %.2fs: %d zone(s) of %v seats, max_per_user %d", ev.ID, time.Since(t0).Seconds(), len(zones), zones, maxPerUser)
	return ev, nil
}

// zoneSizes splits seats into equal zones of at most 100,000 (the schema's
// largest zone).
func zoneSizes(seats int64) []int {
	n := (seats + 99999) / 100000
	zones := make([]int, n)
	for i := range zones {
		zones[i] = int((seats + n - 1) / n)
	}
	return zones
}

func (b *bench) plan(ev *mesh.Event, scenario string, expect mesh.Expect) *mesh.Plan {
	return &mesh.Plan{Event: ev, Tokens: b.tokens, Quantity: b.o.quantity, KeyPrefix: "bench" + b.run + scenario + "-", Expect: expect}
}

// profiled starts CPU profiles of edge, booking, the other services'
// process and the generator (this process) when scenario is in -profile;
// the returned func waits for them and prints the breakdown.
func (b *bench) profiled(ctx context.Context, scenario string, d time.Duration) func() {
	if !slices.Contains(strings.Split(b.o.profile, ","), scenario) {
		return func() {}
	}
	var names []string
	for _, n := range []string{"edge", "booking", "services", "generator"} {
		if b.metrics[n] != "" {
			names = append(names, n)
		}
	}
	sec := b.o.profileSec
	if sec == 0 {
		sec = max(1, int(d.Seconds())-1)
	}
	wait := capture(ctx, b.metrics, names, sec, b.dir, scenario)
	return func() {
		for _, f := range wait() {
			bd, err := Breakdown(f)
			if err != nil {
				b.say("profile %s: %v", f, err)
				continue
			}
			b.say("\nprofile %s", bd)
			b.say("%s", top(f, 34))
		}
	}
}

// pids are the processes whose CPU is reported: the rush processes, this
// generator, and extra (ceiling servers).
func (b *bench) pids(extra map[string]int) map[string]int {
	out := map[string]int{"rushbench (generator)": os.Getpid()}
	if b.topo != nil {
		for k, v := range b.topo.Pids() {
			out["rush "+k] = v
		}
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// cpu starts a CPU account; the returned func reports it and returns it.
func (b *bench) cpu(extra map[string]int) func() mesh.CPUUse {
	pids := b.pids(extra)
	snap := mesh.TakeCPU(pids)
	return func() mesh.CPUUse {
		u := mesh.Measure(snap, pids)
		b.say("  %s", u)
		return u
	}
}

// redisUse starts an account of the run's Redis server; the returned func
// prints its CPU and script time per hold (answers: the holds of the
// window) and records them under key. The server's own figures (INFO):
// they count every client of the server, so measure with a Redis of the
// run's own (-redis-url) for a clean figure.
func (b *bench) redisUse(ctx context.Context, key string) func(holds uint64) {
	cpu0, err0 := mesh.RedisCPU(ctx, b.rdb)
	_, cmd0, err1 := mesh.RedisCommands(ctx, b.rdb)
	return func(holds uint64) {
		cpu1, err2 := mesh.RedisCPU(ctx, b.rdb)
		_, cmd1, err3 := mesh.RedisCommands(ctx, b.rdb)
		if err := errors.Join(err0, err1, err2, err3); err != nil || holds == 0 {
			b.say("  Redis per hold: not measured (%v, %d holds)", err, holds)
			return
		}
		cpu := float64(cpu1-cpu0) / float64(holds)
		delta := func(name string) mesh.RedisStat {
			return mesh.RedisStat{Calls: cmd1[name].Calls - cmd0[name].Calls, Usec: cmd1[name].Usec - cmd0[name].Usec}
		}
		ev, plain := delta("evalsha"), delta("eval")
		calls := fmt.Sprintf("%.3f EVALSHA calls", float64(ev.Calls)/float64(holds))
		if float64(plain.Calls)/float64(holds) >= 0.0005 { // a script sent whole each time (the seed's rate limiter)
			calls = fmt.Sprintf("%.3f EVALSHA + %.3f EVAL calls", float64(ev.Calls)/float64(holds), float64(plain.Calls)/float64(holds))
		}
		b.say("  Redis per hold (INFO of the run's server, every client): CPU %.1f µs; scripts %.1f µs in %s",
			cpu, float64(ev.Usec+plain.Usec)/float64(holds), calls)
		b.results[key+".redis_us"] = cpu
	}
}

// record keeps a closed-loop result for the ratios: its throughput and the
// machine's CPU per answered request (every process on the machine, the
// generator included, so bare servers and the mesh compare on equal terms).
func (b *bench) record(key string, rps float64, u mesh.CPUUse) {
	b.results[key+".rps"] = rps
	if rps > 0 && u.Busy > 0 {
		b.results[key+".cpu_us"] = u.Busy * 1e6 / rps
		b.results["cores"] = u.Cores
		b.split[key] = perRequest(u, rps)
	}
}

func (b *bench) audit(ctx context.Context, name string, ev *mesh.Event, s *load.Stats) {
	b.auditCut(ctx, name, ev, s, 0)
}

// auditCut audits a run whose generator may have cut up to cut requests
// in flight at the end (wrk).
func (b *bench) auditCut(ctx context.Context, name string, ev *mesh.Event, s *load.Stats, cut uint64) {
	b.auditAnswered(ctx, name, ev, answered(s, b.o.quantity, cut))
}

// answered is what the holds of s leave for the audit to find.
func answered(s *load.Stats, quantity int, cut uint64) mesh.Answered {
	return mesh.Answered{Seats: s.Seats, Holds: s.Outcomes["201"] + s.Outcomes["ok"], Quantity: quantity, Cut: cut}
}

// auditAnswered runs the inventory audit of ev against ans and the money
// audit of every payment of the run, and fails the run on what they find.
func (b *bench) auditAnswered(ctx context.Context, name string, ev *mesh.Event, ans mesh.Answered) {
	a := mesh.RunAudit(ctx, b.rdb, b.db, b.prefix, ev, ans, b.o.auditWait)
	a.CheckMoney(ctx, b.db, b.rdb, b.prefix, b.o.auditWait)
	b.say("audit %s:\n%s", name, a)
	if !a.OK() {
		b.failed = append(b.failed, "audit "+name+": "+strings.Join(a.Failed, "; "))
	}
}

func (b *bench) scenarioRush(ctx context.Context) error {
	o := b.o
	ev, err := b.event(ctx, "Rush "+b.run, int64(o.rushSeats), 10)
	if err != nil {
		return err
	}
	w := b.workersFor(o.rushRate)
	b.say("rush: %d users, %.0f req/s for %v open model, %d seats per request, %d workers", len(b.tokens), o.rushRate, o.rushDuration, o.quantity, w)
	done := b.profiled(ctx, "rush", o.rushDuration)
	c := mesh.LeanHTTPClient(w)
	acct := b.cpu(nil)
	s := load.Open{Rate: o.rushRate, Duration: o.rushDuration, Workers: w}.Run(ctx, mesh.ReserveHTTP(c, b.edgeURL, b.plan(ev, "rush", mesh.HoldsOrSoldOut)))
	c.CloseIdleConnections()
	b.say("rush: %s", s.Summary())
	acct()
	b.say("rush: %d seats held of %d", s.TotalSeats(), o.rushSeats)
	b.results["rush.p99"] = float64(s.Latency.Percentile(99))
	b.results["rush.rate"] = o.rushRate
	done()
	if s.TotalSeats() < int64(o.rushSeats) && s.Done > uint64(o.rushSeats) {
		b.say("rush: NOTE the zone did not sell out")
	}
	b.audit(ctx, "rush", ev, s)
	return nil
}

func (b *bench) scenarioSustained(ctx context.Context) error {
	o := b.o
	var rates []float64
	var planned float64
	for _, f := range strings.Split(o.steps, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			return fmt.Errorf("-sustained.steps: %q is not a rate", f)
		}
		rates = append(rates, r)
		planned += r * (o.stepDuration.Seconds() + 1) // + the warm-up
	}
	seats := int64(planned*1.05)*int64(o.quantity) + 1000
	if need := int(planned/float64(10/o.quantity)) + 1; need > len(b.tokens) {
		b.say("sustained: WARNING %d requests planned over %d users hit max_per_user 10; use -users=%d", int(planned), len(b.tokens), need)
	}
	ev, err := b.event(ctx, "Sustained "+b.run, seats, 10)
	if err != nil {
		return err
	}
	plan := b.plan(ev, "sus", mesh.HoldsOnly)
	total := &load.Stats{Seats: map[int]int64{}, Outcomes: map[string]uint64{}}
	best := 0.0
	var seq uint64
	for _, r := range rates {
		if ctx.Err() != nil {
			break
		}
		w := b.workersFor(r)
		done := b.profiled(ctx, fmt.Sprintf("sustained-%.0f", r), o.stepDuration)
		c := mesh.LeanHTTPClient(w)
		// A second at the step's rate on the same connections first, not
		// measured (but audited): the step then measures the steady state,
		// not the generator opening hundreds of connections at once (the
		// rush measures a cold start).
		warm := load.Open{Rate: r, Duration: time.Second, Workers: w, FirstSeq: seq}.Run(ctx, mesh.ReserveHTTP(c, b.edgeURL, plan))
		seq += uint64(r) + 1
		b.say("sustained %.0f/s warm-up (1 s, not measured): %d answered, p99 %s, %d errors", r, warm.Done, time.Duration(warm.Latency.Percentile(99)), warm.Errors())
		for k, v := range warm.Seats {
			total.Seats[k] += v
		}
		for k, v := range warm.Outcomes {
			total.Outcomes[k] += v
		}
		acct := b.cpu(nil)
		s := load.Open{Rate: r, Duration: o.stepDuration, Workers: w, FirstSeq: seq}.Run(ctx, mesh.ReserveHTTP(c, b.edgeURL, plan))
		c.CloseIdleConnections()
		seq += uint64(r*o.stepDuration.Seconds()) + 1
		pass := s.Latency.Percentile(99) < o.p99Target && s.ErrorRate() < o.errTarget
		verdict := "PASS"
		if !pass {
			verdict = "FAIL"
		}
		b.say("sustained %.0f/s [%s] (load average %s): %s", r, verdict, loadavg(), s.Summary())
		acct()
		done()
		for k, v := range s.Seats {
			total.Seats[k] += v
		}
		for k, v := range s.Outcomes {
			total.Outcomes[k] += v
		}
		if pass {
			best = max(best, r)
		} else if !o.keepStepping {
			break
		}
	}
	b.say("sustained: highest rate with p99 < %v and errors < %.2f%%: %.0f req/s", o.p99Target, 100*o.errTarget, best)
	b.results["sustained.best"] = best
	b.audit(ctx, "sustained", ev, total)
	return nil
}

func (b *bench) scenarioClosed(ctx context.Context) error {
	o := b.o
	// Sized never to sell out at up to 40,000 requests/s.
	need := int64(40000*o.closedDur.Seconds()) * int64(o.quantity)
	ev, err := b.event(ctx, "Closed "+b.run, need, 10)
	if err != nil {
		return err
	}
	b.say("closed: %d connections for %v, rotating %d users", o.closedConns, o.closedDur, len(b.tokens))
	done := b.profiled(ctx, "closed", o.closedDur)
	c := mesh.HTTPClient(o.closedConns)
	acct := b.cpu(nil)
	red := b.redisUse(ctx, "closed")
	s := load.Closed{Workers: o.closedConns, Duration: o.closedDur}.Run(ctx, mesh.ReserveHTTP(c, b.edgeURL, b.plan(ev, "closed", mesh.HoldsOnly)))
	c.CloseIdleConnections()
	b.say("closed: %s", s.Summary())
	b.record("closed", s.Throughput(), acct())
	red(s.Outcomes["201"])
	done()
	b.audit(ctx, "closed", ev, s)
	return nil
}

func (b *bench) scenarioRPC(ctx context.Context) error {
	o := b.o
	if b.bookURL == "" {
		return errors.New("no booking address (-booking-addr)")
	}
	need := int64(40000*o.rpcDur.Seconds()) * int64(o.quantity)
	ev, err := b.event(ctx, "RPC "+b.run, need, 10)
	if err != nil {
		return err
	}
	b.say("rpc: BookingService.Reserve over gRPC (h2c, one connection) at %s, %d concurrent calls for %v, rotating %d users", b.bookURL, o.rpcConns, o.rpcDur, len(b.tokens))
	done := b.profiled(ctx, "rpc", o.rpcDur)
	acct := b.cpu(nil)
	red := b.redisUse(ctx, "rpc")
	s := load.Closed{Workers: o.rpcConns, Duration: o.rpcDur}.Run(ctx, mesh.ReserveRPC(mesh.H2CClient(), b.bookURL, b.plan(ev, "rpc", mesh.HoldsOnly)))
	b.say("rpc: %s", s.Summary())
	b.record("rpc", s.Throughput(), acct())
	red(s.Outcomes["ok"])
	done()
	b.audit(ctx, "rpc", ev, s)
	return nil
}

func (b *bench) scenarioCeiling(ctx context.Context) error {
	o := b.o
	h, err := startChild("http", filepath.Join(b.dir, "ceiling-http.log"))
	if err != nil {
		return err
	}
	defer h.stop()
	cn, err := startChild("connect", filepath.Join(b.dir, "ceiling-connect.log"))
	if err != nil {
		return err
	}
	defer cn.stop()
	// The same requests as the real runs (same plan shape, bodies and
	// headers), answered by servers that do nothing.
	fake := &mesh.Event{ID: "00000000-0000-0000-0000-000000000000", ShowID: "00000000-0000-0000-0000-000000000001", Zones: []string{"00000000-0000-0000-0000-000000000002"}, Seats: []int{0}}
	plan := b.plan(fake, "ceil", mesh.HoldsOnly)
	hp := map[string]int{"ceiling http": h.cmd.Process.Pid}
	cp := map[string]int{"ceiling connect": cn.cmd.Process.Pid}
	c := mesh.HTTPClient(o.closedConns)
	acct := b.cpu(hp)
	s := load.Closed{Workers: o.closedConns, Duration: o.ceilingDur}.Run(ctx, mesh.ReserveHTTP(c, "http://"+h.addr, plan))
	c.CloseIdleConnections()
	b.say("ceiling http (bare net/http, closed loop): %s", s.Summary())
	b.record("ceiling.http", s.Throughput(), acct())
	if b.results["wrk.rps"] > 0 || b.results["seed.rps"] > 0 {
		acct := b.cpu(hp)
		rep, err := b.runWRK(ctx, "http://"+h.addr, plan, o.ceilingDur, "ceiling")
		if err != nil {
			return err
		}
		b.say("ceiling http under wrk: %s", rep.summary())
		b.record("ceiling.wrk", rep.rps(), acct())
	}
	if r := b.results["rush.rate"]; r > 0 {
		w := b.workersFor(r)
		c := mesh.LeanHTTPClient(w)
		acct := b.cpu(hp)
		s := load.Open{Rate: r, Duration: o.ceilingDur, Workers: w}.Run(ctx, mesh.ReserveHTTP(c, "http://"+h.addr, plan))
		c.CloseIdleConnections()
		b.say("ceiling http (bare net/http, open model as the rush): %s", s.Summary())
		acct()
		b.results["ceiling.http.open.p99"] = float64(s.Latency.Percentile(99))
	}
	acct = b.cpu(cp)
	s = load.Closed{Workers: o.rpcConns, Duration: o.ceilingDur}.Run(ctx, mesh.ReserveRPC(mesh.H2CClient(), "http://"+cn.addr, plan))
	b.say("ceiling connect (bare connect-go Reserve over gRPC, closed loop): %s", s.Summary())
	b.record("ceiling.connect", s.Throughput(), acct())
	if b.results["ghz.rps"] > 0 {
		acct := b.cpu(cp)
		rep, err := b.runGHZ(cn.addr, plan, b.tokens, "ceiling")
		if err != nil {
			return err
		}
		b.say("ceiling connect under ghz: %s", rep.summary())
		b.record("ceiling.ghz", rep.RPS, acct())
	}
	return nil
}

// ratios reports every throughput as a share of the bare servers' in the
// same run, and the floor the bare servers put under a reserve.
func (b *bench) ratios() {
	r := b.results
	b.say("\n## ratios to the bare servers of this run")
	line := func(what, key, bare, target string) {
		v, c := r[key+".rps"], r[bare+".rps"]
		if v <= 0 || c <= 0 {
			return
		}
		b.say("%s: %.0f req/s = %.1f%% of %s (%.0f req/s)%s", what, v, 100*v/c, bareName[bare], c, target)
	}
	line("closed loop through the edge (rushbench c64)", "closed", "ceiling.http", "")
	line("closed loop through the edge (wrk)", "wrk", "ceiling.wrk", "; target 25%")
	line("the seed implementation through its gateway (the same wrk)", "seed", "ceiling.wrk", "")
	if w, sd := r["wrk.rps"], r["seed.rps"]; w > 0 && sd > 0 {
		b.say("closed loop through the edge (wrk) / the seed implementation under the same wrk: %.0f / %.0f req/s = %.2fx (target 3x)", w, sd, w/sd)
	}
	line("booking Reserve over gRPC (Go client, rotating tokens)", "rpc", "ceiling.connect", "")
	line("booking Reserve under ghz (rotating tokens: every call a hold)", "ghz", "ceiling.ghz", "; target 90%")
	if c := r["ceiling.http.rps"]; c > 0 {
		if v := r["sustained.best"]; v > 0 {
			b.say("sustained open model, best passing step: %.0f req/s = %.1f%% of bare HTTP closed loop (target 10,000)", v, 100*v/c)
		}
		if p := r["ceiling.http.open.p99"]; p > 0 && r["rush.p99"] > 0 {
			b.say("rush p99 %s vs bare HTTP p99 %s at the same %.0f req/s open model", time.Duration(r["rush.p99"]), time.Duration(p), r["rush.rate"])
		}
	}
	b.floor()
}

var bareName = map[string]string{
	"ceiling.http":    "bare net/http under rushbench",
	"ceiling.wrk":     "bare net/http under wrk",
	"ceiling.connect": "bare connect-go Reserve (Go client)",
	"ceiling.ghz":     "bare connect-go Reserve under ghz",
}

// floor prints the machine CPU per request of every closed-loop run, each
// split by process, and what the targets leave a reserve. The edge carries
// its calls to booking in batches (peer.batch-size), so a reserve through
// the edge pays a share of a batch's Connect call, not a bare call of its
// own: its floor is the bare HTTP request, and the profiles (-profile) say
// what the hop costs it.
func (b *bench) floor() {
	r := b.results
	cores := r["cores"]
	if cores <= 0 {
		return
	}
	b.say("\n## CPU per request (the whole machine's busy CPU / answers per second)")
	for _, k := range []struct{ key, what string }{
		{"closed", "reserve through the edge (rushbench)"},
		{"wrk", "reserve through the edge (wrk)"},
		{"seed", "the seed's reserve through its gateway (wrk)"},
		{"rpc", "Reserve straight to booking (Go client)"},
		{"ghz", "Reserve straight to booking (ghz, rotating tokens)"},
		{"ceiling.http", "bare net/http (rushbench)"},
		{"ceiling.wrk", "bare net/http (wrk)"},
		{"ceiling.connect", "bare connect-go call (Go client)"},
		{"ceiling.ghz", "bare connect-go call (ghz)"},
	} {
		if v := r[k.key+".cpu_us"]; v > 0 {
			b.say("%-42s %6.0f µs", k.what, v)
		}
	}
	for _, k := range []struct{ key, what string }{
		{"closed", "through the edge (rushbench)"},
		{"wrk", "through the edge (wrk: its own CPU is in others)"},
		{"seed", "of the seed through its gateway (wrk: in others)"},
		{"rpc", "straight to booking (Go client)"},
		{"ghz", "straight to booking (ghz)"},
	} {
		if sp := b.split[k.key]; sp != "" && r[k.key+".cpu_us"] > 0 {
			b.say("by process, a reserve %s: %s", k.what, sp)
		}
	}
	for _, t := range []struct {
		mesh, bare, what string
		share            float64
	}{
		{"wrk", "ceiling.wrk", "25% of bare net/http under wrk", 0.25},
		{"ghz", "ceiling.ghz", "90% of bare connect-go under ghz", 0.9},
	} {
		v, bare := r[t.mesh+".cpu_us"], r[t.bare+".cpu_us"]
		if v <= 0 || bare <= 0 || r[t.bare+".rps"] <= 0 {
			continue
		}
		n := math.Round(cores) // the machine's cores, all of them busy
		need := n * 1e6 / (t.share * r[t.bare+".rps"])
		b.say("%s needs <= %.0f µs of machine CPU per reserve on these %.0f cores (bare: %.0f µs per request); this run: %.0f µs", t.what, need, n, bare, v)
	}
}
