package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"go.uber.org/fx"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/bookingrush/rush/gen/bookingrush/analytics/v1/analyticsv1connect"
	authv1 "github.com/bookingrush/rush/gen/bookingrush/auth/v1"
	"github.com/bookingrush/rush/gen/bookingrush/auth/v1/authv1connect"
	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/gen/bookingrush/catalog/v1/catalogv1connect"
	commonv1 "github.com/bookingrush/rush/gen/bookingrush/common/v1"
	"github.com/bookingrush/rush/gen/bookingrush/notify/v1/notifyv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/queue/v1/queuev1connect"
	"github.com/bookingrush/rush/gen/bookingrush/saga/v1/sagav1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/mail/mailtest"
	"github.com/bookingrush/rush/services/platform/redisx"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

const testSecret = "test-secret-0123456789abcdef-0123456789"

// env is an edge started in-process (-target=edge) in front of fake
// services that record what reaches them.
type env struct {
	t      testing.TB
	base   string
	keys   *authn.Keys
	rec    *recorder
	reg    *server.Registry
	prefix string
	stack  *server.Stack
}

// start runs the edge with args on top of test defaults: loopback port 0,
// a fresh rate limit prefix, and every peer on a closed port, so only the
// fakes registered by start answer.
func start(t testing.TB, args ...string) *env {
	t.Helper()
	return startWith(t, nil, args...)
}

// startWith is start with extra fx options (fx.Decorate of the logger...).
func startWith(t testing.TB, opts []fx.Option, args ...string) *env {
	t.Helper()
	prefix := testkit.KeyPrefix(t, redisx.DefaultURL) // its keys go when the test ends, after the mesh
	base := []string{"-target=edge", "-log.level=error", "-jwt.secret=" + testSecret,
		"-metrics.addr=127.0.0.1:0", "-edge.addr=127.0.0.1:0", "-rate-limit.prefix=" + prefix}
	var stack *server.Stack
	m := testkit.Run(t, testkit.Load(t, append(base, args...)...), append([]fx.Option{fx.Populate(&stack)}, opts...)...)
	u, keys, reg := m.URL(t, "edge"), m.Keys, m.Registry
	e := &env{t: t, base: u, keys: keys, rec: &recorder{}, reg: reg, prefix: prefix, stack: stack}
	e.serveFakes(stack)
	return e
}

// recorder remembers which procedure each request id reached, with the
// headers the service saw.
type recorder struct{ m sync.Map }

type seen struct {
	procedure string
	header    http.Header
}

func (r *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.m.Store(req.Header.Get("X-Request-Id"), seen{procedure: req.URL.Path, header: req.Header.Clone()})
		h.ServeHTTP(w, req)
	})
}

func (r *recorder) get(id string) (seen, bool) {
	v, ok := r.m.Load(id)
	if !ok {
		return seen{}, false
	}
	return v.(seen), true
}

// serveFakes registers a fake for every component, mounted with the mesh's
// real handler stack (authentication, protovalidate), so validation and
// token errors are the services' own.
func (e *env) serveFakes(stack *server.Stack) {
	opts := stack.HandlerOptions(
		authv1connect.AuthServiceLoginProcedure, authv1connect.AuthServiceRegisterProcedure,
		catalogv1connect.CatalogServiceListEventsProcedure, catalogv1connect.CatalogServiceGetEventProcedure,
	)
	fakes := map[string][]func() (string, http.Handler){
		"auth": {func() (string, http.Handler) { return authv1connect.NewAuthServiceHandler(fakeAuth{}, opts...) }},
		"catalog": {func() (string, http.Handler) {
			return catalogv1connect.NewCatalogServiceHandler(fakeCatalog{}, opts...)
		}},
		"booking": {func() (string, http.Handler) {
			return bookingv1connect.NewBookingServiceHandler(fakeBooking{}, opts...)
		}},
		"payment": {func() (string, http.Handler) {
			return paymentv1connect.NewPaymentServiceHandler(paymentv1connect.UnimplementedPaymentServiceHandler{}, opts...)
		}},
		"notify": {func() (string, http.Handler) {
			return notifyv1connect.NewNotifyServiceHandler(notifyv1connect.UnimplementedNotifyServiceHandler{}, opts...)
		}},
		"queue": {func() (string, http.Handler) {
			return queuev1connect.NewQueueServiceHandler(queuev1connect.UnimplementedQueueServiceHandler{}, opts...)
		}},
		"analytics": {func() (string, http.Handler) {
			return analyticsv1connect.NewAnalyticsServiceHandler(analyticsv1connect.UnimplementedAnalyticsServiceHandler{}, opts...)
		}},
		"saga": {func() (string, http.Handler) {
			return sagav1connect.NewSagaServiceHandler(sagav1connect.UnimplementedSagaServiceHandler{}, opts...)
		}},
	}
	for name, mounts := range fakes {
		mux := http.NewServeMux()
		for _, m := range mounts {
			mux.Handle(m())
		}
		e.reg.Set(name, startH2C(e.t, e.rec.wrap(mux)).URL)
	}
}

// startH2C serves h over HTTP/1.1 and cleartext HTTP/2 (what the mesh
// client speaks) until the test ends.
func startH2C(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = p
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// token issues an access token for a new user with role.
func (e *env) token(role string) (string, string) {
	id := uuid.NewString()
	tok, _, err := e.keys.IssueAccess(id, role, "", time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return tok, id
}

// reply is an answer of the edge, its envelope decoded.
type reply struct {
	status int
	header http.Header
	raw    []byte
	env    struct {
		Success bool            `json:"success"`
		Data    json.RawMessage `json:"data"`
		Meta    json.RawMessage `json:"meta"`
		Error   *struct {
			Code    string         `json:"code"`
			Message string         `json:"message"`
			Details map[string]any `json:"details"`
		} `json:"error"`
	}
}

// do sends one request; headers are name, value pairs.
func (e *env) do(method, path, body string, headers ...string) reply {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) reply {
	e.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	var r reply
	r.status, r.header = res.StatusCode, res.Header
	r.raw, _ = io.ReadAll(res.Body)
	if len(r.raw) > 0 {
		if err := json.Unmarshal(r.raw, &r.env); err != nil {
			e.t.Fatalf("%s %s: answer is not JSON: %v: %s", req.Method, req.URL.Path, err, r.raw)
		}
	}
	return r
}

// errorCode is the envelope's error code, "" for a success.
func (r reply) errorCode() string {
	if r.env.Error == nil {
		return ""
	}
	return r.env.Error.Code
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.raw)) }

var when = time.Date(2026, 12, 24, 20, 0, 0, 500_000_000, time.UTC)

// fakeCatalog answers the catalog's public reads with fixed data.
type fakeCatalog struct {
	catalogv1connect.UnimplementedCatalogServiceHandler
}

func event(slug string, status catalogv1.EventStatus) *catalogv1.Event {
	return &catalogv1.Event{
		Id: "0195f3a0-0000-7000-8000-0000000000e1", Slug: slug, Title: "Rock <Night> & more",
		Status: status, MaxPerUser: 4, QueueEnabled: true, SaleStartAt: timestamppb.New(when),
	}
}

func (fakeCatalog) ListEvents(_ context.Context, req *connect.Request[catalogv1.ListEventsRequest]) (*connect.Response[catalogv1.ListEventsResponse], error) {
	status := req.Msg.GetStatus()
	if status == catalogv1.EventStatus_EVENT_STATUS_UNSPECIFIED {
		status = catalogv1.EventStatus_EVENT_STATUS_PUBLISHED
	}
	return connect.NewResponse(&catalogv1.ListEventsResponse{
		Events: []*catalogv1.Event{event("rock-night", status), event("jazz-day", status)},
		Meta:   &commonv1.PageMeta{Page: max(req.Msg.GetPage(), 1), PerPage: 20, Total: 42},
	}), nil
}

func (fakeCatalog) GetEvent(_ context.Context, req *connect.Request[catalogv1.GetEventRequest]) (*connect.Response[catalogv1.GetEventResponse], error) {
	if req.Msg.GetSlug() == "missing" {
		return nil, errs.Connect(errs.New(errs.NotFound, "no such event"))
	}
	return connect.NewResponse(&catalogv1.GetEventResponse{Event: event(req.Msg.GetSlug(), catalogv1.EventStatus_EVENT_STATUS_PUBLISHED)}), nil
}

func (fakeCatalog) CreateEvent(_ context.Context, req *connect.Request[catalogv1.CreateEventRequest]) (*connect.Response[catalogv1.CreateEventResponse], error) {
	ev := event("new-event", catalogv1.EventStatus_EVENT_STATUS_DRAFT)
	ev.Title, ev.MaxPerUser = req.Msg.GetTitle(), req.Msg.GetMaxPerUser()
	return connect.NewResponse(&catalogv1.CreateEventResponse{Event: ev}), nil
}

func (fakeCatalog) DeleteEvent(context.Context, *connect.Request[catalogv1.DeleteEventRequest]) (*connect.Response[catalogv1.DeleteEventResponse], error) {
	return connect.NewResponse(&catalogv1.DeleteEventResponse{}), nil
}

// fakeAuth echoes role changes.
type fakeAuth struct {
	authv1connect.UnimplementedAuthServiceHandler
}

func (fakeAuth) SetUserRole(_ context.Context, req *connect.Request[authv1.SetUserRoleRequest]) (*connect.Response[authv1.SetUserRoleResponse], error) {
	return connect.NewResponse(&authv1.SetUserRoleResponse{User: &authv1.User{Id: req.Msg.GetUserId(), Role: req.Msg.GetRole()}}), nil
}

// fakeBooking reserves from the headers it is sent; quantity 7 is sold out
// and quantity 9 takes too long.
type fakeBooking struct {
	bookingv1connect.UnimplementedBookingServiceHandler
}

func (fakeBooking) Reserve(ctx context.Context, req *connect.Request[bookingv1.ReserveRequest]) (*connect.Response[bookingv1.ReserveResponse], error) {
	switch req.Msg.GetQuantity() {
	case 7:
		return nil, errs.Connect(errs.New(errs.InsufficientStock, "not enough seats", "requested", 7, "available", 2))
	case 9:
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
		return nil, ctx.Err() // connect answers DEADLINE_EXCEEDED
	}
	key := req.Msg.GetIdempotencyKey()
	if key == "" {
		key = req.Header().Get("Idempotency-Key")
	}
	return connect.NewResponse(&bookingv1.ReserveResponse{Booking: &bookingv1.Booking{
		Id: "0195f3a0-0000-7000-8000-0000000000b1", Quantity: req.Msg.GetQuantity(), TotalAmount: "99.80",
		Status: bookingv1.BookingStatus_BOOKING_STATUS_RESERVED, IdempotencyKey: key, ExpiresAt: timestamppb.New(when),
	}}), nil
}

// startWhole starts the whole mesh (-target=all) with its mails to a test
// SMTP server, keys of the test's own in the shared Redis, an admin
// root@rush.test (password root-password-1), and
// X-Forwarded-For trusted from loopback; extra flags follow. It answers the
// app, the SMTP server and a client of the edge.
func startWhole(t *testing.T, extra ...string) (*testkit.Mesh, *mailtest.Server, *api) {
	t.Helper()
	smtp := mailtest.NewServer(t)
	args, _ := wholeArgs(t, smtp, extra...)
	m := testkit.Start(t, args...)
	return m, smtp, &api{t: t, base: m.URL(t, "edge")}
}

// wholeArgs are startWhole's flags (extra last) and the booking service's
// key prefix among them.
func wholeArgs(t *testing.T, smtp *mailtest.Server, extra ...string) (args []string, bookingPrefix string) {
	redisURL := "redis://127.0.0.1:6379/0"
	bookingPrefix = testkit.KeyPrefix(t, redisURL)
	return append([]string{"-target=all", "-smtp.addr=" + smtp.Addr,
		"-admin.email=root@rush.test", "-admin.password=root-password-1",
		"-booking.key-prefix=" + bookingPrefix, "-catalog.cache-prefix=" + testkit.KeyPrefix(t, redisURL),
		"-rate-limit.prefix=" + testkit.KeyPrefix(t, redisURL), "-queue.key-prefix=" + testkit.KeyPrefix(t, redisURL),
		"-edge.trusted-proxies=127.0.0.1/32"}, extra...), bookingPrefix
}

// people signs up <name>@rush.test (password secret-pass-1) for each name
// and answers each one's access token; those named in organizers are made
// organizers by startWhole's admin first.
func (a *api) people(names []string, organizers ...string) map[string]string {
	a.t.Helper()
	adm := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"}).str("access_token")
	out := map[string]string{}
	for _, name := range names {
		r := a.call("POST", "/api/v1/auth/register", "", map[string]any{"email": name + "@rush.test", "password": "secret-pass-1", "full_name": name})
		a.want(r, http.StatusCreated, "")
		out[name] = r.str("access_token")
		if slices.Contains(organizers, name) {
			a.want(a.call("PUT", "/api/v1/admin/users/"+r.str("user", "id")+"/role", adm, map[string]any{"role": "organizer"}), 200, "")
			out[name] = a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": name + "@rush.test", "password": "secret-pass-1"}).str("access_token")
		}
	}
	return out
}

// onSale creates, as the organizer org, an event on sale from a minute ago
// for a day (4 seats per buyer) with one show 30 days ahead and one zone
// "Floor" of seats at 25.00, publishes it, and answers their ids.
func (a *api) onSale(org, title string, seats int) (eventID, showID, zoneID string) {
	a.t.Helper()
	return a.onSaleIn(org, title, seats, 30*24*time.Hour)
}

// onSaleIn is onSale with the show showIn ahead (to the hour).
func (a *api) onSaleIn(org, title string, seats int, showIn time.Duration) (eventID, showID, zoneID string) {
	a.t.Helper()
	ev := a.call("POST", "/api/v1/events", org, map[string]any{"title": title, "venue": "Hall", "time_zone": "Europe/Paris", "max_per_user": 4,
		"sale_start_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "sale_end_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)})
	a.want(ev, 201, "")
	show := a.call("POST", "/api/v1/events/"+ev.str("id")+"/shows", org, map[string]any{"show_date": time.Now().Add(showIn).UTC().Truncate(time.Hour).Format(time.RFC3339)})
	a.want(show, 201, "")
	zone := a.call("POST", "/api/v1/shows/"+show.str("id")+"/zones", org, map[string]any{"name": "Floor", "price": "25.00", "total_seats": seats})
	a.want(zone, 201, "")
	a.want(a.call("POST", "/api/v1/events/"+ev.str("id")+"/publish", org, nil), 200, "")
	return ev.str("id"), show.str("id"), zone.str("id")
}

// seatsLeft answers the zone's available seats as the public listing of
// the show's zones says (-1 when it lists no such zone).
func (a *api) seatsLeft(showID, zoneID string) float64 {
	a.t.Helper()
	for _, z := range a.call("GET", "/api/v1/shows/"+showID+"/zones", "", nil).list() {
		if z := z.(map[string]any); z["id"] == zoneID {
			n, _ := z["available_seats"].(float64)
			return n
		}
	}
	return -1
}

// buy reserves qty seats of a zone as the buyer token, pays with the
// simulator, and answers the booking and its ticket codes once issued.
func (a *api) buy(token, showID, zoneID string, qty int) (booking string, codes []string) {
	a.t.Helper()
	r := a.call("POST", "/api/v1/bookings/reserve", token, map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": qty}, "Idempotency-Key", "buy-"+uuid.NewString())
	a.want(r, 201, "")
	booking = r.str("id")
	a.want(a.call("POST", "/api/v1/payments", token, map[string]any{"booking_id": booking, "payment_method": "sim_ok"}), 201, "")
	testkit.Eventually(a.t, 30*time.Second, "the tickets of "+booking, func() bool {
		codes = codes[:0]
		for _, tk := range ticketsOf(a.call("GET", "/api/v1/bookings/"+booking+"/tickets", token, nil)) {
			if c, _ := tk.(map[string]any)["code"].(string); c != "" {
				codes = append(codes, c)
			}
		}
		return len(codes) == qty
	})
	return booking, codes
}
