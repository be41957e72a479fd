package main

// The seed scenario measures the seed plan's own implementation
// (github.com/nat-prohmpiriya/booking-rush-10k-rps; none of its code is in
// this repository: a human builds its two binaries from a checkout, as
// bench/README.md says, and gives their paths) under the wrk command line
// of the wrk scenario, in the same run: its Gin API gateway (its Redis rate
// limiter, the JWT check, a reverse proxy) in front of its booking service
// (an idempotency record in Redis, its reserve Lua script, the booking row
// in Postgres, an event to Kafka), on a database, a Redis database and a
// Kafka broker of its own.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/bookingrush/rush/bench/internal/mesh"
)

const (
	// seedScript drives the seed's reserve route (reserve.lua with the
	// seed's request).
	seedScript = "bench/wrk/seed-reserve.lua"
	// seedMigrations are the booking service's own migrations, under
	// -seed.dir (its database in the microservice layout).
	seedMigrations = "scripts/migrations/booking"
	// seedTopic is the topic the booking service publishes every hold to.
	// Its Kafka client does not ask the broker to create topics, so the
	// broker starts with it (else every publish fails and is logged).
	seedTopic = "booking-events"
	// seedPrice is the unit price in the body: the seed takes the client's
	// (100.00 when absent); our zones' price.
	seedPrice = 49.90
	// seedReservePath is the route the scenario drives.
	seedReservePath = "/api/v1/bookings/reserve"
)

// seedRun is the seed's deployment for one scenario: its database, its
// Redis database, its Kafka broker, its booking service and gateway, and
// the inventory loaded into its Redis.
type seedRun struct {
	b       *bench
	dbName  string
	pool    *pgxpool.Pool
	rdb     *redis.Client
	kafka   *child
	procs   []*mesh.Process // booking-service, then api-gateway
	gateway string          // http://127.0.0.1:port
	secret  string
	event   string
	show    string
	zones   []string
	seats   []int
}

func (b *bench) scenarioSeed(ctx context.Context) error {
	o := b.o
	if o.seedGateway == "" || o.seedBooking == "" || o.seedDir == "" {
		b.say("seed: SKIPPED: give -seed.gateway, -seed.booking and -seed.dir (the seed implementation, built as bench/README.md says)")
		return nil
	}
	s := &seedRun{b: b}
	defer s.cleanup()
	if err := s.start(ctx); err != nil {
		return err
	}
	tokens, err := seedTokens([]byte(s.secret), b.users, time.Now(), 3*time.Hour)
	if err != nil {
		return err
	}
	tokensFile := filepath.Join(b.dir, "seed-tokens.txt")
	if err := os.WriteFile(tokensFile, []byte(strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	bodiesFile := filepath.Join(b.dir, "wrk-seed-bodies.txt")
	if err := os.WriteFile(bodiesFile, []byte(seedBodies(s.event, s.show, s.zones, o.quantity)), 0o644); err != nil {
		return err
	}
	acct := b.cpu(s.pids())
	red := b.redisUse(ctx, "seed")
	rep, err := b.wrk(ctx, seedScript, s.gateway, o.closedDur, "seed", tokensFile, bodiesFile, "bench"+b.run+"seed-")
	if err != nil {
		return err
	}
	b.say("wrk through the seed's gateway: %s", rep.summary())
	b.record("seed", rep.rps(), acct())
	holds := rep.Requests - rep.StatusErrors
	red(holds)
	// Stopped before the audit: each finishes the requests it has (the
	// ones wrk cut at the end) first.
	s.stop()
	if st, err := seedStatuses(filepath.Join(b.dir, "seed-gateway.log")); err != nil {
		b.say("seed: answers by status: not read (%v)", err)
	} else {
		b.say("seed: answers by status, from its gateway's access log (requests wrk cut included): %s", st)
	}
	if n := rep.StatusErrors + rep.socketErrors(); n > 0 {
		b.failed = append(b.failed, fmt.Sprintf("seed: %d answers were not holds or failed (a zone that never sells out must only answer 201)", n))
	}
	c, err := s.count(ctx)
	if err != nil {
		return fmt.Errorf("seed audit: %w", err)
	}
	c.Answers, c.Cut, c.Quantity = holds, uint64(o.closedConns), o.quantity
	text, failed := c.check()
	b.say("audit seed:\n%s", text)
	for _, f := range failed {
		b.failed = append(b.failed, "audit seed: "+f)
	}
	return nil
}

// start creates the seed's database with its migrations, starts its Kafka
// broker, booking service and gateway, and loads the inventory.
func (s *seedRun) start(ctx context.Context) error {
	b, o := s.b, s.b.o
	files, _ := filepath.Glob(filepath.Join(o.seedDir, seedMigrations, "*.up.sql"))
	if len(files) == 0 {
		return fmt.Errorf("no migrations in %s (is -seed.dir the seed's checkout?)", filepath.Join(o.seedDir, seedMigrations))
	}
	sort.Strings(files)
	commit := "unknown commit"
	if out, err := exec.CommandContext(ctx, "git", "-C", o.seedDir, "rev-parse", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
	}
	s.dbName = "seed_" + b.run
	if _, err := b.db.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.dbName}.Sanitize()); err != nil {
		s.dbName = ""
		return fmt.Errorf("create the seed's database: %w", err)
	}
	pcfg, err := pgxpool.ParseConfig(o.pgURL)
	if err != nil {
		return err
	}
	pcfg.ConnConfig.Database = s.dbName
	if s.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		return err
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if _, err := s.pool.Exec(ctx, string(raw)); err != nil {
			return fmt.Errorf("seed migration %s: %w", filepath.Base(f), err)
		}
	}
	ropt, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return err
	}
	ropt.DB = o.seedRedisDB
	s.rdb = redis.NewClient(ropt)
	redisHost, redisPort, err := net.SplitHostPort(ropt.Addr)
	if err != nil {
		return err
	}
	if s.kafka, err = startChild("kafka", filepath.Join(b.dir, "seed-kafka.log")); err != nil {
		return err
	}
	gw, bk, err := seedPorts()
	if err != nil {
		return err
	}
	s.secret = mesh.RandomSecret()
	// Exactly these variables (none of ours: the seed reads its settings
	// from the environment), and a directory without the .env it would
	// also read.
	common := []string{
		"PATH=" + os.Getenv("PATH"),
		"APP_ENVIRONMENT=production", // as its Kubernetes config map: JSON logs, Gin release mode
		"SERVER_HOST=127.0.0.1",
		"JWT_SECRET=" + s.secret,
		"OTEL_ENABLED=false", // no collector here; our mesh does not trace either
		"REDIS_HOST=" + redisHost, "REDIS_PORT=" + redisPort, "REDIS_PASSWORD=" + ropt.Password, "REDIS_DB=" + strconv.Itoa(ropt.DB),
		"KAFKA_BROKERS=" + s.kafka.addr,
	}
	sslmode := "disable"
	if u, err := url.Parse(o.pgURL); err == nil && u.Query().Get("sslmode") != "" {
		sslmode = u.Query().Get("sslmode")
	}
	cc := pcfg.ConnConfig
	booking := append(slices.Clone(common), "SERVER_PORT="+strconv.Itoa(bk),
		"BOOKING_DATABASE_HOST="+cc.Host, "BOOKING_DATABASE_PORT="+strconv.Itoa(int(cc.Port)),
		"BOOKING_DATABASE_USER="+cc.User, "BOOKING_DATABASE_PASSWORD="+cc.Password,
		"BOOKING_DATABASE_DBNAME="+s.dbName, "BOOKING_DATABASE_SSLMODE="+sslmode)
	gateway := append(slices.Clone(common), "SERVER_PORT="+strconv.Itoa(gw),
		fmt.Sprintf("BOOKING_SERVICE_URL=http://127.0.0.1:%d", bk))
	for _, p := range []struct {
		name, bin, log string
		env            []string
		port           int
	}{
		{"seed booking-service", o.seedBooking, "seed-booking.log", booking, bk},
		{"seed api-gateway", o.seedGateway, "seed-gateway.log", gateway, gw},
	} {
		proc, err := mesh.StartProcess(p.name, p.bin, nil, p.env, b.dir, filepath.Join(b.dir, p.log))
		if err != nil {
			return err
		}
		s.procs = append(s.procs, proc)
		if err := proc.WaitReady(ctx, fmt.Sprintf("http://127.0.0.1:%d/ready", p.port), 60*time.Second); err != nil {
			return err
		}
	}
	s.gateway = fmt.Sprintf("http://127.0.0.1:%d", gw)
	// The inventory as the seed's own load test loads it
	// (tests/load/seed-data/seed-redis.sh: SET zone:availability:<zone>),
	// sized as the wrk scenario's. Its ticket service, which the booking
	// service would ask for a zone it does not find, is not deployed.
	s.event, s.show = uuid.NewString(), uuid.NewString()
	s.seats = zoneSizes(o.wrkSeats())
	for range s.seats {
		s.zones = append(s.zones, uuid.NewString())
	}
	pipe := s.rdb.Pipeline()
	for i, z := range s.zones {
		pipe.Set(ctx, seedZoneKey(z), s.seats[i], 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("seed inventory: %w", err)
	}
	b.say("seed: the seed implementation (%s at %s): api-gateway %s -> booking-service 127.0.0.1:%d; database %s (its %d booking migrations), Redis %s database %d, Kafka: a kfake broker of its own %s (topic %s); APP_ENVIRONMENT=production, OTEL_ENABLED=false, every other setting its default (rate limiter: a bucket per client address, 1,000/s, burst 100; max 10 seats per user; holds of 10 min)",
		o.seedDir, commit, s.gateway, bk, s.dbName, len(files), ropt.Addr, ropt.DB, s.kafka.addr, seedTopic)
	b.say("seed: event %s, show %s: %d zone(s) of %v seats loaded into its Redis", s.event, s.show, len(s.zones), s.seats)
	return nil
}

func seedZoneKey(zone string) string { return "zone:availability:" + zone }

// pids are the seed's processes, for the CPU account.
func (s *seedRun) pids() map[string]int {
	out := map[string]int{"seed kafka (kfake)": s.kafka.cmd.Process.Pid}
	for _, p := range s.procs {
		out[p.Name()] = p.Pid()
	}
	return out
}

// stop ends the gateway, then the booking service, then the broker.
func (s *seedRun) stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		if err := s.procs[i].Stop(35 * time.Second); err != nil {
			s.b.say("seed: stop: %v", err)
		}
	}
	s.procs = nil
	if s.kafka != nil {
		s.kafka.stop()
		s.kafka = nil
	}
}

// cleanup stops what still runs, then (unless -keep) deletes the seed's
// keys and drops its database.
func (s *seedRun) cleanup() {
	s.stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if s.b.o.keep {
		s.b.say("seed: kept database %s and its keys in Redis database %d (-keep)", s.dbName, s.b.o.seedRedisDB)
	} else if s.rdb != nil {
		if err := s.deleteKeys(ctx); err != nil {
			s.b.say("seed: cleanup: %v", err)
		}
	}
	if s.pool != nil {
		s.pool.Close()
	}
	if s.rdb != nil {
		_ = s.rdb.Close()
	}
	if s.dbName != "" && !s.b.o.keep {
		if _, err := s.b.db.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{s.dbName}.Sanitize()+" WITH (FORCE)"); err != nil {
			s.b.say("seed: cleanup: %v", err)
		}
	}
}

// deleteKeys deletes what the seed wrote: the zones, the per-user counts
// of the event, the idempotency records of the run's keys, the rate
// limiter's buckets of the buyers' addresses (10.*) and of ours (the
// readiness checks), and the hold records
// of the bookings in Postgres (a hold without a row, if any, expires with
// its 10 min TTL).
func (s *seedRun) deleteKeys(ctx context.Context) error {
	var errs []error
	if len(s.zones) > 0 {
		keys := make([]string, len(s.zones))
		for i, z := range s.zones {
			keys[i] = seedZoneKey(z)
		}
		errs = append(errs, s.rdb.Unlink(ctx, keys...).Err())
	}
	if s.event == "" {
		return errors.Join(errs...)
	}
	for _, pattern := range []string{"user:reservations:*:" + s.event, "idempotency:bench" + s.b.run + "seed-*", "ratelimit:10.*", "ratelimit:127.0.0.1:*"} {
		errs = append(errs, mesh.DeleteKeys(ctx, s.rdb, pattern))
	}
	if s.pool != nil {
		rows, err := s.pool.Query(ctx, "SELECT 'reservation:' || id FROM bookings WHERE event_id = $1", s.event)
		if err == nil {
			var keys []string
			keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
			for len(keys) > 0 && err == nil {
				n := min(len(keys), 1000)
				err = s.rdb.Unlink(ctx, keys[:n]...).Err()
				keys = keys[n:]
			}
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// count reads what the audit compares: the zones in Redis and the event's
// bookings in Postgres.
func (s *seedRun) count(ctx context.Context) (seedCount, error) {
	c := seedCount{}
	for i, z := range s.zones {
		v, err := s.rdb.Get(ctx, seedZoneKey(z)).Int64()
		if err != nil {
			return c, err
		}
		c.Seats = append(c.Seats, int64(s.seats[i]))
		c.Available = append(c.Available, v)
	}
	err := s.pool.QueryRow(ctx, "SELECT count(*), coalesce(sum(quantity), 0) FROM bookings WHERE event_id = $1", s.event).Scan(&c.Rows, &c.RowSeats)
	return c, err
}

// seedCount is what the seed audit compares.
type seedCount struct {
	// Seats and Available are each zone's seats loaded and left in Redis.
	Seats, Available []int64
	// Rows and RowSeats are the event's bookings in Postgres and their seats.
	Rows, RowSeats int64
	// Answers are the holds answered (wrk's 2xx), Cut the requests wrk may
	// have cut in flight (one a connection), Quantity the seats of each.
	Answers, Cut uint64
	Quantity     int
}

// check holds the seed's books to the answers: no zone below 0, and
// answered seats <= seats in Postgres rows <= seats held in Redis <=
// (answers + cut) seats. The seed writes Redis, then the row, then
// answers: every answered hold has its row; a request wrk cut may hold in
// Redis and lose its row (the gateway cancels the proxied request), so
// Redis may hold up to the cut more than the rows.
func (c seedCount) check() (string, []string) {
	var held, seats int64
	var failed []string
	for i := range c.Seats {
		held += c.Seats[i] - c.Available[i]
		seats += c.Seats[i]
		if c.Available[i] < 0 {
			failed = append(failed, fmt.Sprintf("zone %d oversold: available %d", i, c.Available[i]))
		}
	}
	q := int64(c.Quantity)
	answered := int64(c.Answers) * q
	most := int64(c.Answers+c.Cut) * q
	if c.RowSeats < answered {
		failed = append(failed, fmt.Sprintf("Postgres has %d seats in bookings, fewer than the %d answered", c.RowSeats, answered))
	}
	if held < c.RowSeats {
		failed = append(failed, fmt.Sprintf("Redis holds %d seats, fewer than the %d in Postgres", held, c.RowSeats))
	}
	if held > most {
		failed = append(failed, fmt.Sprintf("Redis holds %d seats, more than the %d of the answers and the requests wrk may have cut", held, most))
	}
	verdict := "OK"
	if len(failed) > 0 {
		verdict = "FAILED: " + strings.Join(failed, "; ")
	}
	text := fmt.Sprintf("  Redis: %d seats held of %d (available %v); Postgres: %d bookings of %d seats; answered: %d holds (%d seats); wrk cut up to %d requests in flight: Redis holds %d seats more than answered, Postgres %d\n  %s",
		held, seats, c.Available, c.Rows, c.RowSeats, c.Answers, answered, c.Cut, held-answered, c.RowSeats-answered, verdict)
	return text, failed
}

// seedTokens signs an access token for each user as the seed's auth
// service does (HS256; sub and user_id, email, role, tenant_id, exp, iat).
// Its gateway reads user_id (and tenant_id, which spares the booking
// service a lookup of the show) into the headers of the proxied request.
func seedTokens(secret []byte, users []mesh.User, now time.Time, ttl time.Duration) ([]string, error) {
	out := make([]string, len(users))
	for i, u := range users {
		t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": u.ID, "user_id": u.ID,
			"email":     fmt.Sprintf("seed-user-%d@bench.invalid", i),
			"role":      "customer",
			"tenant_id": mesh.DefaultTenant,
			"exp":       now.Add(ttl).Unix(), "iat": now.Unix(),
		})
		var err error
		if out[i], err = t.SignedString(secret); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// seedBodies is one reserve body a line, one a zone, as the seed's own load
// test sends them (event_id, show_id, zone_id, quantity, unit_price).
func seedBodies(event, show string, zones []string, quantity int) string {
	var out strings.Builder
	for _, z := range zones {
		raw, _ := json.Marshal(struct {
			EventID   string  `json:"event_id"`
			ShowID    string  `json:"show_id"`
			ZoneID    string  `json:"zone_id"`
			Quantity  int     `json:"quantity"`
			UnitPrice float64 `json:"unit_price"`
		}{event, show, z, quantity, seedPrice})
		out.Write(raw)
		out.WriteByte('\n')
	}
	return out.String()
}

// seedPorts returns free loopback ports for the gateway and the booking
// service, whose pprof server also takes its port + 1000.
func seedPorts() (gateway, booking int, err error) {
	for range 100 {
		ps, err := mesh.FreePorts(2)
		if err != nil {
			return 0, 0, err
		}
		if ps[1]+1000 > 65535 {
			continue
		}
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ps[1]+1000)); err == nil {
			_ = l.Close()
			return ps[0], ps[1], nil
		}
	}
	return 0, 0, errors.New("no free port p with p+1000 free for the seed's booking service")
}

// seedStatuses counts the reserve answers by status in the gateway's log
// file (one JSON line a request).
func seedStatuses(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	counts, err := countStatuses(f, seedReservePath)
	if err != nil {
		return "", err
	}
	codes := make([]int, 0, len(counts))
	for c := range counts {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%d: %d", c, counts[c])
	}
	if len(parts) == 0 {
		return "none logged", nil
	}
	return strings.Join(parts, ", "), nil
}

// countStatuses counts the access log lines of path by status; other lines
// (the gateway also prints plain "[DEBUG] Proxying ..." lines) are skipped.
func countStatuses(r io.Reader, path string) (map[int]uint64, error) {
	counts := map[int]uint64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var l struct {
			Status int    `json:"status"`
			Path   string `json:"path"`
		}
		if json.Unmarshal(line, &l) == nil && l.Status > 0 && l.Path == path {
			counts[l.Status]++
		}
	}
	return counts, sc.Err()
}

// serveSeedKafka is the seed's Kafka broker (kfake, as our mesh's embedded
// one), with the topic its booking service publishes to.
func serveSeedKafka(addr string) error {
	_, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, addr) }),
		kfake.SeedTopics(3, seedTopic),
	)
	if err != nil {
		return err
	}
	select {} // serves until the bench stops this process
}
