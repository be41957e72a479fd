package analytics_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	analyticsv1 "github.com/bookingrush/rush/gen/bookingrush/analytics/v1"
	"github.com/bookingrush/rush/gen/bookingrush/analytics/v1/analyticsv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/meshtest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/server"
)

// env is (part of) the mesh in-process on a fresh schema, Redis key prefix
// and Kafka broker.
type env struct {
	*meshtest.App
	booking   bookingv1connect.BookingServiceClient
	analytics analyticsv1connect.AnalyticsServiceClient
	payment   paymentv1connect.PaymentServiceClient
}

func start(t *testing.T, targets string, args ...string) *env {
	t.Helper()
	dsn := pgtest.Migrated(t)
	prefix := meshtest.KeyPrefix(t, meshtest.Config(t, dsn).Redis.URL.Reveal())
	cfg := meshtest.Config(t, dsn, append([]string{
		"-postgres.migrate-on-start=false", "-target=" + targets, "-booking.key-prefix=" + prefix,
	}, args...)...)
	a := meshtest.StartApp(t, cfg)
	c := server.NewClient()
	e := &env{App: a,
		booking:   bookingv1connect.NewBookingServiceClient(c, a.URL(t, "booking")),
		analytics: analyticsv1connect.NewAnalyticsServiceClient(c, a.URL(t, "analytics")),
	}
	if u, ok := a.Registry.URL("payment"); ok {
		e.payment = paymentv1connect.NewPaymentServiceClient(c, u)
	}
	return e
}

// asService is a request carrying a service token, as the saga sends it.
func asService[T any](t *testing.T, e *env, msg *T) *connect.Request[T] {
	t.Helper()
	tok, _, err := e.Keys.IssueService("saga", time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	req := connect.NewRequest(msg)
	req.Header().Set("Authorization", "Bearer "+tok)
	return req
}

func (e *env) eventReport(t *testing.T, user, role, eventID string) *analyticsv1.EventAnalytics {
	t.Helper()
	res, err := e.analytics.GetEventAnalytics(context.Background(), meshtest.As(t, e.Mesh, user, role, &analyticsv1.GetEventAnalyticsRequest{EventId: eventID}))
	if err != nil {
		t.Fatalf("event analytics as %s: %v", role, err)
	}
	return res.Msg.GetAnalytics()
}

func (e *env) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func wantCode(t *testing.T, err error, code errs.Code) {
	t.Helper()
	if got := errs.FromConnect(err).Code; err == nil || got != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}
