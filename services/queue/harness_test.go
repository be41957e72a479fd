package queue_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/gen/bookingrush/queue/v1/queuev1connect"
	"github.com/bookingrush/rush/lua"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/redisx"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/platform/ticket"
	"github.com/bookingrush/rush/services/testkit"
)

// mesh is the queue, the admitter, the catalog and the booking engine running in-process
// against a fresh schema and their own Redis key prefixes.
type mesh struct {
	t          *testing.T
	dsn        string
	db         *sql.DB
	rdb        *redis.Client
	bkPrefix   string
	qPrefix    string
	keys       *authn.Keys
	queueURL   string
	bookingURL string
	client     *http.Client
	extra      []string
}

func startMesh(t *testing.T, extra ...string) *mesh {
	t.Helper()
	m := &mesh{t: t, dsn: pgtest.Migrated(t), client: server.NewClient(), extra: extra,
		bkPrefix: testkit.KeyPrefix(t, redisx.DefaultURL), qPrefix: testkit.KeyPrefix(t, redisx.DefaultURL)}
	a := m.start("queue,admitter,catalog,booking,relay,persister")
	m.keys, m.rdb = a.Keys, a.Redis
	m.queueURL, m.bookingURL = a.URL(t, "queue"), a.URL(t, "booking")
	m.db = pgtest.Open(t, m.dsn)
	return m
}

// startAdmitter runs one more admitter replica (another process in
// production) on the same database and keys.
func (m *mesh) startAdmitter() {
	m.start("admitter")
}

func (m *mesh) start(targets string) *testkit.App {
	args := append([]string{
		"-target=" + targets, "-postgres.migrate-on-start=false", "-log.level=error",
		"-booking.key-prefix=" + m.bkPrefix, "-queue.key-prefix=" + m.qPrefix, "-redis.url=" + redisx.DefaultURL,
	}, m.extra...)
	return testkit.StartApp(m.t, testkit.Config(m.t, m.dsn, args...))
}

// queue returns a QueueService client over gRPC or Connect.
func (m *mesh) queue(grpc bool) queuev1connect.QueueServiceClient {
	var opts []connect.ClientOption
	if grpc {
		opts = append(opts, connect.WithGRPC())
	}
	return queuev1connect.NewQueueServiceClient(m.client, m.queueURL, opts...)
}

// booking returns a BookingService client over gRPC or Connect.
func (m *mesh) booking(grpc bool) bookingv1connect.BookingServiceClient {
	var opts []connect.ClientOption
	if grpc {
		opts = append(opts, connect.WithGRPC())
	}
	return bookingv1connect.NewBookingServiceClient(m.client, m.bookingURL, opts...)
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
	seats, users, rate int
	saleStart, saleEnd time.Time
	queue              bool
}

// seed writes users, an event, a show and a zone straight into Postgres and
// loads the inventory through the RPC, as the catalog does on publish.
func (m *mesh) seed(o eventOpts) fixture {
	m.t.Helper()
	if o.saleStart.IsZero() {
		o.saleStart = time.Now().Add(-time.Hour)
	}
	if o.saleEnd.IsZero() {
		o.saleEnd = time.Now().Add(2 * time.Hour)
	}
	if o.rate == 0 {
		o.rate = 100
	}
	if o.seats == 0 {
		o.seats = 100
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
		VALUES ('00000000-0000-0000-0000-000000000001', $1, 'Rush', 'rush-'||gen_random_uuid(), 'published', $2, $3, 4, $4) RETURNING id`,
		f.organizer, o.saleStart, o.saleEnd, o.queue)
	var ev string
	q(&ev, `INSERT INTO queue_settings (event_id, admit_per_second) VALUES ($1, $2) RETURNING event_id`, f.event, o.rate)
	q(&f.show, `INSERT INTO shows (event_id, show_date, total_seats, available_seats) VALUES ($1, now() + interval '30 days', 0, 0) RETURNING id`, f.event)
	q(&f.zone, `INSERT INTO seat_zones (show_id, name, price, total_seats, available_seats) VALUES ($1, 'Floor', 49.90, $2, $2) RETURNING id`, f.show, o.seats)
	if o.users > 0 {
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
	}
	m.load(f)
	return f
}

// load (re)loads the event's sale settings into the booking engine, as the
// catalog does after a change.
func (m *mesh) load(f fixture) {
	m.t.Helper()
	testkit.LoadInventory(m.t, m.db, m.booking(false), m.keys, f.event)
}

// openSale moves the sale start to a second ago, as an organizer would.
func (m *mesh) openSale(f fixture) {
	m.t.Helper()
	if _, err := m.db.Exec(`UPDATE events SET sale_start_at = now() - interval '1 second' WHERE id = $1`, f.event); err != nil {
		m.t.Fatal(err)
	}
	m.load(f)
}

// join calls JoinQueue as user.
func (m *mesh) join(ctx context.Context, grpc bool, f fixture, user string) (*queuev1.QueueStatus, error) {
	res, err := m.queue(grpc).JoinQueue(ctx, testkit.Bearer(m.token(user, authn.RoleUser), &queuev1.JoinQueueRequest{EventId: f.event}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetQueueStatus(), nil
}

// status calls GetQueueStatus as user.
func (m *mesh) status(ctx context.Context, grpc bool, f fixture, user string) (*queuev1.QueueStatus, error) {
	res, err := m.queue(grpc).GetQueueStatus(ctx, testkit.Bearer(m.token(user, authn.RoleUser), &queuev1.GetQueueStatusRequest{EventId: f.event}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetQueueStatus(), nil
}

// waitAdmitted polls GetQueueStatus until user is admitted.
func (m *mesh) waitAdmitted(f fixture, user string, within time.Duration) *queuev1.QueueStatus {
	m.t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := m.status(context.Background(), false, f, user)
		if err != nil {
			m.t.Fatalf("status of %s: %v", user, err)
		}
		if st.GetStatus() == queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_ADMITTED {
			return st
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("%s not admitted within %v: %v", user, within, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// setSettings calls SetQueueSettings as the event's organizer; maxActive
// nil keeps the cap.
func (m *mesh) setSettings(f fixture, enabled bool, rate int, maxActive ...int32) *queuev1.QueueSettings {
	m.t.Helper()
	req := &queuev1.SetQueueSettingsRequest{EventId: f.event, Enabled: &enabled, AdmitPerSecond: int32(rate)}
	if len(maxActive) > 0 {
		req.MaxActive = &maxActive[0]
	}
	res, err := m.queue(false).SetQueueSettings(context.Background(), testkit.Bearer(m.token(f.organizer, authn.RoleOrganizer), req))
	if err != nil {
		m.t.Fatalf("set queue settings: %v", err)
	}
	return res.Msg.GetSettings()
}

// cursor reads the event's cursor ("admitted up to") where reserve.lua
// reads it.
func (m *mesh) cursor(f fixture) int {
	m.t.Helper()
	v, err := m.rdb.HGet(context.Background(), lua.EventKeys(m.bkPrefix, f.event).Gate(), "cursor").Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		m.t.Fatal(err)
	}
	return v
}

// signer checks tickets the way every component of the mesh does.
func (m *mesh) signer() *ticket.Signer { return ticket.NewSigner(m.keys) }

// pass decodes a queue pass (or ticket).
func (m *mesh) pass(raw string) ticket.Ticket {
	m.t.Helper()
	t, err := m.signer().Verify(raw)
	if err != nil {
		m.t.Fatalf("%q is not a ticket of the mesh: %v", raw, err)
	}
	return t
}

// reserve calls Reserve as user with pass in the X-Queue-Pass header.
func (m *mesh) reserve(grpc bool, f fixture, user, pass string) error {
	_, err := m.reserveBooking(grpc, f, user, pass)
	return err
}

// reserveBooking is reserve, answering the booking.
func (m *mesh) reserveBooking(grpc bool, f fixture, user, pass string) (*bookingv1.Booking, error) {
	req := testkit.Bearer(m.token(user, authn.RoleUser), &bookingv1.ReserveRequest{ShowId: f.show, ZoneId: f.zone, Quantity: 1})
	req.Header().Set("Idempotency-Key", uuid.NewString())
	if pass != "" {
		req.Header().Set("X-Queue-Pass", pass)
	}
	res, err := m.booking(grpc).Reserve(context.Background(), req)
	if err != nil {
		return nil, err
	}
	return res.Msg.GetBooking(), nil
}

// line reads the event's public line state.
func (m *mesh) line(f fixture) *queuev1.Line {
	m.t.Helper()
	res, err := m.queue(false).GetLine(context.Background(), connect.NewRequest(&queuev1.GetLineRequest{EventId: f.event}))
	if err != nil {
		m.t.Fatalf("get line: %v", err)
	}
	return res.Msg.GetLine()
}
