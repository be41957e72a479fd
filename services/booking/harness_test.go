package booking_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/redisx"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

// mesh is the booking engine (service, sweeper, relay, persister), the
// payment service it asks whether a booking was paid and the catalog (whose
// zone counters follow booking.events), running in-process against a fresh
// schema, its own Redis key prefix and its own Kafka broker.
type mesh struct {
	t      *testing.T
	dsn    string
	db     *sql.DB
	pool   *pgxpool.Pool
	rdb    *redis.Client
	prefix string
	keys   *authn.Keys
	url    string
	client *http.Client
	reg    *prometheus.Registry
	// targets are the components the mesh runs.
	targets string
}

const testSecret = "booking-test-secret-0123456789abcdef"

func startMesh(t *testing.T, extra ...string) *mesh {
	t.Helper()
	dsn := pgtest.Migrated(t)
	prefix := "bkt:" + uuid.NewString()[:8] + ":"
	args := append([]string{
		"-target=booking,relay,persister,payment,catalog,gate", "-postgres.url=" + dsn, "-postgres.migrate-on-start=false", "-log.level=error", "-jwt.secret=" + testSecret,
		"-metrics.addr=127.0.0.1:0", "-booking.addr=127.0.0.1:0", "-booking.key-prefix=" + prefix, "-payment.addr=127.0.0.1:0",
		"-catalog.addr=127.0.0.1:0", "-catalog.cache-prefix=" + prefix + "cat:", "-gate.addr=127.0.0.1:0",
		"-redis.url=" + redisx.DefaultURL,
	}, extra...)
	m := &mesh{t: t, dsn: dsn, prefix: prefix, client: server.NewClient()}
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "-target="); ok {
			m.targets = v
		}
	}
	km := testkit.Run(t, testkit.Load(t, args...), fx.Populate(&m.pool, &m.rdb, &m.reg))
	m.keys = km.Keys
	t.Cleanup(func() { m.dropKeys() })
	m.url = km.URL(t, "booking")
	m.db = pgtest.Open(t, dsn)
	return m
}

// dropKeys deletes every key of the test's prefix.
func (m *mesh) dropKeys() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	iter := rdb.Scan(ctx, 0, m.prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if len(keys) > 0 {
		rdb.Del(ctx, keys...)
	}
}

// client returns a BookingService client for user over the named protocol.
func (m *mesh) booking(grpc bool) bookingv1connect.BookingServiceClient {
	var opts []connect.ClientOption
	if grpc {
		opts = append(opts, connect.WithGRPC())
	}
	return bookingv1connect.NewBookingServiceClient(m.client, m.url, opts...)
}

func (m *mesh) token(userID, role string) string {
	tok, _, err := m.keys.IssueAccess(userID, role, "", time.Now())
	if err != nil {
		m.t.Fatal(err)
	}
	return tok
}

// fixture is one published event with one show and one zone.
type fixture struct {
	organizer, event, show, zone string
	users                        []string
}

type eventOpts struct {
	seats, maxPerUser, users int
	saleStart, saleEnd       time.Time
	queue                    bool
	// showIn is when the show starts from now (30 days when zero; a
	// negative one has started).
	showIn time.Duration
}

// seed writes users, an event, a show and a zone straight into Postgres and
// loads the inventory through the RPC, as the catalog does on publish.
func (m *mesh) seed(o eventOpts) fixture {
	m.t.Helper()
	if o.saleStart.IsZero() {
		o.saleStart, o.saleEnd = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	}
	if o.showIn == 0 {
		o.showIn = 30 * 24 * time.Hour
	}
	var f fixture
	q := func(dst *string, query string, args ...any) {
		m.t.Helper()
		if err := m.db.QueryRow(query, args...).Scan(dst); err != nil {
			m.t.Fatalf("%s: %v", query, err)
		}
	}
	q(&f.organizer, `INSERT INTO users (tenant_id, email, password_hash, full_name, role)
		VALUES ('00000000-0000-0000-0000-000000000001', 'org-'||gen_random_uuid()||'@x.test', 'x', 'Org', 'organizer') RETURNING id`)
	q(&f.event, `INSERT INTO events (tenant_id, organizer_id, title, slug, status, sale_start_at, sale_end_at, max_per_user, queue_enabled)
		VALUES ('00000000-0000-0000-0000-000000000001', $1, 'Rush', 'rush-'||gen_random_uuid(), 'published', $2, $3, $4, $5) RETURNING id`,
		f.organizer, o.saleStart, o.saleEnd, o.maxPerUser, o.queue)
	q(&f.show, `INSERT INTO shows (event_id, show_date, total_seats, available_seats) VALUES ($1, $2, 0, 0) RETURNING id`, f.event, time.Now().Add(o.showIn))
	q(&f.zone, `INSERT INTO seat_zones (show_id, name, price, total_seats, available_seats) VALUES ($1, 'Floor', 49.90, $2, $2) RETURNING id`, f.show, o.seats)
	rows, err := m.db.Query(`INSERT INTO users (tenant_id, email, password_hash, full_name)
		SELECT '00000000-0000-0000-0000-000000000001', 'u'||i||'-'||gen_random_uuid()||'@x.test', 'x', 'U'||i
		FROM generate_series(1, $1) i RETURNING id`, o.users)
	if err != nil {
		m.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			m.t.Fatal(err)
		}
		f.users = append(f.users, id)
	}
	if err := rows.Err(); err != nil {
		m.t.Fatal(err)
	}
	m.load(f)
	return f
}

// addShow writes another show of f's event into the catalog's tables,
// starting at, with one zone of seats, and returns f on that show and zone
// (the catalog's snapshot has it from the next load).
func (m *mesh) addShow(f fixture, at time.Time, seats int) fixture {
	m.t.Helper()
	if err := m.db.QueryRow(`INSERT INTO shows (event_id, show_date, total_seats, available_seats) VALUES ($1, $2, 0, 0) RETURNING id`,
		f.event, at).Scan(&f.show); err != nil {
		m.t.Fatal(err)
	}
	if err := m.db.QueryRow(`INSERT INTO seat_zones (show_id, name, price, total_seats, available_seats) VALUES ($1, 'Floor', 49.90, $2, $2) RETURNING id`,
		f.show, seats).Scan(&f.zone); err != nil {
		m.t.Fatal(err)
	}
	return f
}

// load sends the booking service the event's snapshot from the catalog's
// tables, as the catalog does on publish and after a change.
func (m *mesh) load(f fixture) {
	m.t.Helper()
	testkit.LoadInventory(m.t, m.db, m.booking(false), m.keys, f.event)
}

// reserve calls Reserve as user.
func (m *mesh) reserve(ctx context.Context, c bookingv1connect.BookingServiceClient, f fixture, user string, qty int, key string) (*bookingv1.Booking, error) {
	req := connect.NewRequest(&bookingv1.ReserveRequest{ShowId: f.show, ZoneId: f.zone, Quantity: int32(qty)})
	req.Header().Set("Authorization", "Bearer "+m.token(user, authn.RoleUser))
	req.Header().Set("Idempotency-Key", key)
	res, err := c.Reserve(ctx, req)
	if err != nil {
		return nil, err
	}
	return res.Msg.GetBooking(), nil
}

// as returns a request carrying user's token.
func as[T any](m *mesh, user, role string, msg *T) *connect.Request[T] {
	req := connect.NewRequest(msg)
	req.Header().Set("Authorization", "Bearer "+m.token(user, role))
	return req
}

// zone reads the zone's live counters from Redis.
func (m *mesh) zone(f fixture) map[string]int {
	m.t.Helper()
	v, err := m.rdb.HGetAll(context.Background(), fmt.Sprintf("%s{ev:%s}:zone:%s", m.prefix, f.event, f.zone)).Result()
	if err != nil {
		m.t.Fatal(err)
	}
	out := map[string]int{}
	for _, k := range []string{"total", "available", "held", "sold"} {
		var n int
		_, _ = fmt.Sscan(v[k], &n)
		out[k] = n
	}
	return out
}

// liveHolds is the event's count of live holds (meta's live).
func (m *mesh) liveHolds(f fixture) int {
	m.t.Helper()
	n, err := m.rdb.HGet(context.Background(), fmt.Sprintf("%s{ev:%s}:meta", m.prefix, f.event), "live").Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		m.t.Fatal(err)
	}
	return n
}

// checkInvariant fails when available + held + sold != total or available < 0.
func (m *mesh) checkInvariant(f fixture) map[string]int {
	m.t.Helper()
	z := m.zone(f)
	if z["available"] < 0 || z["held"] < 0 || z["sold"] < 0 || z["available"]+z["held"]+z["sold"] != z["total"] {
		m.t.Fatalf("invariant broken: %v", z)
	}
	return z
}

// watchInvariant checks the invariant over and over until the returned
// stop is called, which answers how many times it was observed.
func (m *mesh) watchInvariant(f fixture) (stop func() int64) {
	done := make(chan struct{})
	var watcher sync.WaitGroup
	var observations atomic.Int64
	watcher.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				m.checkInvariant(f)
				observations.Add(1)
			}
		}
	})
	return func() int64 {
		close(done)
		watcher.Wait()
		return observations.Load()
	}
}

// waitReconciled waits until Postgres agrees with Redis for the event:
// booking's own tables, and the catalog's zone counters (kept by its own
// consumer of booking.events) when the mesh runs the catalog.
func (m *mesh) waitReconciled(f fixture, within time.Duration) {
	m.t.Helper()
	deadline := time.Now().Add(within)
	for {
		diffs, err := booking.Reconcile(context.Background(), m.rdb, m.pool, m.prefix, f.event)
		if err == nil && len(diffs) == 0 && m.catalogAgrees(f) {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("Postgres does not match Redis after %v: %v %v", within, diffs, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// catalogAgrees reports whether the catalog's seat_zones counters of the
// fixture's zone equal Redis (or the mesh does not run the catalog).
func (m *mesh) catalogAgrees(f fixture) bool {
	m.t.Helper()
	if !strings.Contains(m.targets, "catalog") {
		return true
	}
	z := m.zone(f)
	var avail, held, sold int
	err := m.pool.QueryRow(context.Background(), `SELECT available_seats, held_seats, sold_seats FROM seat_zones WHERE id = $1`, f.zone).
		Scan(&avail, &held, &sold)
	return err == nil && avail == z["available"] && held == z["held"] && sold == z["sold"]
}

// metric sums the samples of the named series whose labels include want.
func (m *mesh) metric(name string, want map[string]string) float64 {
	m.t.Helper()
	families, err := m.reg.Gather()
	if err != nil {
		m.t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue next
				}
			}
			sum += s.GetCounter().GetValue() + s.GetGauge().GetValue()
		}
	}
	return sum
}
