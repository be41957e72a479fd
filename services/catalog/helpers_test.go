package catalog_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/gen/bookingrush/catalog/v1/catalogv1connect"
	"github.com/bookingrush/rush/services/app"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/redisx"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

const testSecret = "test-secret-0123456789abcdef-0123456789"

// protocols are the wire protocols every scenario runs over.
var protocols = map[string][]connect.ClientOption{
	"connect": nil,
	"grpc":    {connect.WithGRPC()},
}

// fakeBooking stands in for the booking engine (being built concurrently):
// it records LoadInventory calls, fails them for chosen events, and answers
// GetAvailability from a table.
type fakeBooking struct {
	bookingv1connect.UnimplementedBookingServiceHandler

	mu     sync.Mutex
	keys   *authn.Keys
	loads  []string // event ids, in call order
	roles  []string // the caller's role, per call (LoadInventory and GetAvailability)
	fail   map[string]bool
	avail  map[string][]*bookingv1.ZoneAvailability
	asking int // GetAvailability calls
	// reserved are zones DropZones refuses to drop (seats reserved).
	reserved map[string]bool
	dropped  []string
	// droppedOf counts the zones dropped per event: the protocols'
	// subtests share this fake and run in parallel.
	droppedOf map[string]int
	// late are events whose loads are done but answered as failed (the
	// answer came after the catalog stopped waiting); reservedIn, events
	// of which DropZones refuses every zone.
	late, reservedIn map[string]bool
	// status is the sale status each event was last loaded with.
	status map[string]string
	// snapshots are the last snapshot each event was loaded with.
	snapshots map[string]*bookingv1.LoadInventoryRequest
}

func (f *fakeBooking) DropZones(_ context.Context, req *connect.Request[bookingv1.DropZonesRequest]) (*connect.Response[bookingv1.DropZonesResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[req.Msg.GetEventId()] {
		return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("redis is having a bad day"))
	}
	for _, z := range req.Msg.GetZoneIds() {
		if f.reserved[z] || f.reservedIn[req.Msg.GetEventId()] {
			return nil, errs.Connect(errs.New(errs.Conflict, "seats of this zone were reserved, so it stays on sale", "reason", "reserved", "zone_id", z))
		}
	}
	f.dropped = append(f.dropped, req.Msg.GetZoneIds()...)
	f.droppedOf[req.Msg.GetEventId()] += len(req.Msg.GetZoneIds())
	return connect.NewResponse(&bookingv1.DropZonesResponse{}), nil
}

// ListWaitlisted answers nobody waiting (the catalog's own tests have no
// waitlist; edge/waitlist_cancel_e2e_test.go tells a real one).
func (f *fakeBooking) ListWaitlisted(context.Context, *connect.Request[bookingv1.ListWaitlistedRequest]) (*connect.Response[bookingv1.ListWaitlistedResponse], error) {
	return connect.NewResponse(&bookingv1.ListWaitlistedResponse{}), nil
}

// CloseWaitlists closes nothing.
func (f *fakeBooking) CloseWaitlists(context.Context, *connect.Request[bookingv1.CloseWaitlistsRequest]) (*connect.Response[bookingv1.CloseWaitlistsResponse], error) {
	return connect.NewResponse(&bookingv1.CloseWaitlistsResponse{}), nil
}

func (f *fakeBooking) caller(h http.Header) string {
	token, _ := authn.BearerToken(h.Get("Authorization"))
	f.mu.Lock()
	keys := f.keys
	f.mu.Unlock()
	if keys == nil {
		return "?"
	}
	p, err := keys.Verify(token, time.Now())
	if err != nil {
		return "invalid"
	}
	return p.Role
}

func (f *fakeBooking) LoadInventory(_ context.Context, req *connect.Request[bookingv1.LoadInventoryRequest]) (*connect.Response[bookingv1.LoadInventoryResponse], error) {
	role := f.caller(req.Header())
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads = append(f.loads, req.Msg.GetEventId())
	f.roles = append(f.roles, role)
	if f.fail[req.Msg.GetEventId()] {
		return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("redis is having a bad day"))
	}
	f.status[req.Msg.GetEventId()] = req.Msg.GetSale().GetStatus()
	f.snapshots[req.Msg.GetEventId()] = req.Msg
	if f.late[req.Msg.GetEventId()] {
		return nil, connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf("loaded, but too late"))
	}
	return connect.NewResponse(&bookingv1.LoadInventoryResponse{EventId: req.Msg.GetEventId()}), nil
}

func (f *fakeBooking) GetAvailability(_ context.Context, req *connect.Request[bookingv1.GetAvailabilityRequest]) (*connect.Response[bookingv1.GetAvailabilityResponse], error) {
	role := f.caller(req.Header())
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asking++
	f.roles = append(f.roles, role)
	return connect.NewResponse(&bookingv1.GetAvailabilityResponse{Zones: f.avail[req.Msg.GetShowId()]}), nil
}

func (f *fakeBooking) loadsOf(eventID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, id := range f.loads {
		if id == eventID {
			n++
		}
	}
	return n
}

func (f *fakeBooking) statusOf(eventID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status[eventID]
}

func (f *fakeBooking) set(fn func(f *fakeBooking)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// env is one catalog process (-target=catalog, and the payment service that
// refunds a cancelled event) on a fresh schema and Redis prefix, with a fake
// booking engine as its "booking" peer and four users.
type env struct {
	dsn      string
	db       *sql.DB
	rdb      *redis.Client
	prefix   string
	base     string
	fake     *fakeBooking
	bookings *httptest.Server

	user, org1, org2, admin       string // tokens
	userID, org1ID, org2ID, admID string
}

func newEnv(t *testing.T, args ...string) *env {
	t.Helper()
	dsn := pgtest.Migrated(t)
	e := &env{dsn: dsn, fake: &fakeBooking{fail: map[string]bool{}, reserved: map[string]bool{}, late: map[string]bool{}, reservedIn: map[string]bool{}, status: map[string]string{}, droppedOf: map[string]int{}, snapshots: map[string]*bookingv1.LoadInventoryRequest{}, avail: map[string][]*bookingv1.ZoneAvailability{}}}

	// The fake booking engine: cleartext HTTP/2 (the mesh client speaks
	// only that) and HTTP/1.
	mux := http.NewServeMux()
	mux.Handle(bookingv1connect.NewBookingServiceHandler(e.fake))
	e.bookings = httptest.NewUnstartedServer(mux)
	e.bookings.Config.Protocols = new(http.Protocols)
	e.bookings.Config.Protocols.SetHTTP1(true)
	e.bookings.Config.Protocols.SetUnencryptedHTTP2(true)
	e.bookings.Start()
	t.Cleanup(e.bookings.Close)

	var b [6]byte
	_, _ = rand.Read(b[:])
	e.prefix = "test:catalog:" + hex.EncodeToString(b[:]) + ":"
	redisURL := redisx.DefaultURL
	if u := os.Getenv("RUSH_REDIS_URL"); u != "" {
		redisURL = u
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	e.rdb = redis.NewClient(opt)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := e.rdb.Scan(ctx, 0, e.prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			e.rdb.Del(ctx, iter.Val())
		}
		_ = e.rdb.Close()
	})

	cfg := loadConfig(t, dsn, append([]string{"-target=catalog,payment", "-postgres.migrate-on-start=false", "-payment.addr=127.0.0.1:0",
		"-peer.booking=" + e.bookings.Listener.Addr().String(),
		"-catalog.cache-prefix=" + e.prefix,
		"-redis.url=" + redisURL}, args...)...)
	m := testkit.Run(t, cfg)
	reg, keys := m.Registry, m.Keys
	e.fake.set(func(f *fakeBooking) { f.keys = keys })
	var ok bool
	if e.base, ok = reg.URL("catalog"); !ok {
		t.Fatal("catalog is not listening")
	}

	e.db = pgtest.Open(t, dsn)
	for _, u := range []struct {
		id, token *string
		role      string
	}{{&e.userID, &e.user, authn.RoleUser}, {&e.org1ID, &e.org1, authn.RoleOrganizer}, {&e.org2ID, &e.org2, authn.RoleOrganizer}, {&e.admID, &e.admin, authn.RoleAdmin}} {
		*u.id = uuid.NewString()
		if _, err := e.db.Exec(`INSERT INTO users (id, email, password_hash, role) VALUES ($1, $2, 'x', $3)`, *u.id, *u.id+"@example.com", u.role); err != nil {
			t.Fatal(err)
		}
		if *u.token, _, err = keys.IssueAccess(*u.id, u.role, "", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// loadConfig builds the configuration the way the binary does, on loopback
// port 0, against dsn (as services/app's tests do).
func loadConfig(t *testing.T, dsn string, extra ...string) *app.Config {
	t.Helper()
	args := []string{"-postgres.url=" + dsn, "-log.level=error", "-jwt.secret=" + testSecret, "-metrics.addr=127.0.0.1:0", "-catalog.addr=127.0.0.1:0"}
	return testkit.Load(t, append(args, extra...)...)
}

func (e *env) client(opts []connect.ClientOption) catalogv1connect.CatalogServiceClient {
	return catalogv1connect.NewCatalogServiceClient(server.NewClient(), e.base, opts...)
}

func must[T any](t *testing.T) func(*connect.Response[T], error) *T {
	return func(res *connect.Response[T], err error) *T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return res.Msg
	}
}

// newEventReq is a valid CreateEventRequest selling from now for a week.
func newEventReq(title string) *catalogv1.CreateEventRequest {
	now := time.Now()
	return &catalogv1.CreateEventRequest{
		Title: title, Venue: "Arena", Description: "loud",
		SaleStartAt: timestamppb.New(now.Add(-time.Hour)), SaleEndAt: timestamppb.New(now.Add(7 * 24 * time.Hour)),
	}
}

// readyEvent creates a draft owned by token with one show and two zones
// (VIP 10 seats at 99.50, Floor 100 seats at 25.00).
func (e *env) readyEvent(t *testing.T, c catalogv1connect.CatalogServiceClient, token, title string) (*catalogv1.Event, *catalogv1.Show, []*catalogv1.Zone) {
	t.Helper()
	ctx := context.Background()
	ev := must[catalogv1.CreateEventResponse](t)(c.CreateEvent(ctx, testkit.Bearer(token, newEventReq(title)))).GetEvent()
	sh := must[catalogv1.CreateShowResponse](t)(c.CreateShow(ctx, testkit.Bearer(token, &catalogv1.CreateShowRequest{
		EventId: ev.GetId(), ShowDate: timestamppb.New(time.Now().Add(30 * 24 * time.Hour)),
	}))).GetShow()
	var zones []*catalogv1.Zone
	for _, z := range []*catalogv1.CreateZoneRequest{
		{ShowId: sh.GetId(), Name: "VIP", Price: "99.50", TotalSeats: 10},
		{ShowId: sh.GetId(), Name: "Floor", Price: "25", TotalSeats: 100},
	} {
		zones = append(zones, must[catalogv1.CreateZoneResponse](t)(c.CreateZone(ctx, testkit.Bearer(token, z))).GetZone())
	}
	return ev, sh, zones
}

func titles(events []*catalogv1.Event) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.GetTitle()
	}
	slices.Sort(out)
	return out
}

// audit lists the audit entries about one entity, oldest first, as
// "action:actor" joined by commas.
func (e *env) audit(t *testing.T, entityType, id string) string {
	t.Helper()
	return strings.Join(pgtest.Strings(t, e.db, `SELECT action || ':' || coalesce(user_id::text, '') FROM audit_logs
		WHERE entity_type = $1 AND entity_id = $2 ORDER BY created_at, id`, entityType, id), ",")
}
