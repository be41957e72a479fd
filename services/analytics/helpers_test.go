package analytics_test

import (
	"context"
	"testing"

	analyticsv1 "github.com/bookingrush/rush/gen/bookingrush/analytics/v1"
	"github.com/bookingrush/rush/gen/bookingrush/analytics/v1/analyticsv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/redisx"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

// env is (part of) the mesh in-process on a fresh schema, Redis key prefix
// and Kafka broker.
type env struct {
	*testkit.App
	booking   bookingv1connect.BookingServiceClient
	analytics analyticsv1connect.AnalyticsServiceClient
	payment   paymentv1connect.PaymentServiceClient
}

// start runs targets on a fresh schema, Redis key prefixes and Kafka
// broker; a catalog target gets its own cache prefix.
func start(t *testing.T, targets string, args ...string) *env {
	t.Helper()
	dsn := pgtest.Migrated(t)
	cfg := testkit.Config(t, dsn, append([]string{
		"-postgres.migrate-on-start=false", "-target=" + targets, "-booking.key-prefix=" + testkit.KeyPrefix(t, redisx.DefaultURL),
		"-catalog.cache-prefix=" + testkit.KeyPrefix(t, redisx.DefaultURL),
	}, args...)...)
	a := testkit.StartApp(t, cfg)
	c := server.NewClient()
	e := &env{App: a, analytics: analyticsv1connect.NewAnalyticsServiceClient(c, a.URL(t, "analytics"))}
	if u, ok := a.Registry.URL("booking"); ok {
		e.booking = bookingv1connect.NewBookingServiceClient(c, u)
	}
	if u, ok := a.Registry.URL("payment"); ok {
		e.payment = paymentv1connect.NewPaymentServiceClient(c, u)
	}
	return e
}

func (e *env) eventReport(t *testing.T, user, role, eventID string) *analyticsv1.EventAnalytics {
	t.Helper()
	res, err := e.analytics.GetEventAnalytics(context.Background(), testkit.As(t, e.Mesh, user, role, &analyticsv1.GetEventAnalyticsRequest{EventId: eventID}))
	if err != nil {
		t.Fatalf("event analytics as %s: %v", role, err)
	}
	return res.Msg.GetAnalytics()
}
