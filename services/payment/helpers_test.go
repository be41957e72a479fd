package payment_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/meshtest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/server"
)

// webhookSecret signs the simulator's webhooks and the tests' own.
const webhookSecret = "whsec_test_0123456789abcdef"

// env is the booking engine, payment and saga running in-process on a
// fresh schema and Redis key prefix; notify is absent (its peer address
// refuses connections), as it is until the notify service exists.
type env struct {
	*meshtest.App
	prefix  string
	booking bookingv1connect.BookingServiceClient
	payment paymentv1connect.PaymentServiceClient
}

func start(t *testing.T, args ...string) *env {
	t.Helper()
	dsn := pgtest.Migrated(t)
	prefix := meshtest.KeyPrefix(t, meshtest.Config(t, dsn).Redis.URL.Reveal())
	cfg := meshtest.Config(t, dsn, append([]string{
		"-postgres.migrate-on-start=false", "-target=auth,catalog,booking,relay,persister,payment,saga",
		"-booking.key-prefix=" + prefix, "-stripe.webhook-secret=" + webhookSecret, "-peer.notify=127.0.0.1:1",
		"-saga.retry-backoff=20ms", "-payment.outbox-poll=50ms",
	}, args...)...)
	a := meshtest.StartApp(t, cfg)
	c := server.NewClient()
	return &env{App: a, prefix: prefix,
		booking: bookingv1connect.NewBookingServiceClient(c, a.URL(t, "booking")),
		payment: paymentv1connect.NewPaymentServiceClient(c, a.URL(t, "payment")),
	}
}

func (e *env) pay(t *testing.T, user, bookingID, method string) (*paymentv1.Payment, error) {
	t.Helper()
	res, err := e.payment.CreatePayment(context.Background(), meshtest.As(t, e.Mesh, user, authn.RoleUser,
		&paymentv1.CreatePaymentRequest{BookingId: bookingID, PaymentMethod: method}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetPayment(), nil
}

func (e *env) getBooking(t *testing.T, user, id string) *bookingv1.Booking {
	t.Helper()
	res, err := e.booking.GetBooking(context.Background(), meshtest.As(t, e.Mesh, user, authn.RoleUser, &bookingv1.GetBookingRequest{BookingId: id}))
	if err != nil {
		t.Fatalf("get booking: %v", err)
	}
	return res.Msg.GetBooking()
}

func (e *env) getPayment(t *testing.T, user, id string) *paymentv1.Payment {
	t.Helper()
	res, err := e.payment.GetPayment(context.Background(), meshtest.As(t, e.Mesh, user, authn.RoleUser, &paymentv1.GetPaymentRequest{PaymentId: id}))
	if err != nil {
		t.Fatalf("get payment: %v", err)
	}
	return res.Msg.GetPayment()
}

// waitBooking waits until the booking has status.
func (e *env) waitBooking(t *testing.T, user, id string, status bookingv1.BookingStatus, within time.Duration) *bookingv1.Booking {
	t.Helper()
	var b *bookingv1.Booking
	meshtest.Eventually(t, within, "booking "+status.String(), func() bool {
		b = e.getBooking(t, user, id)
		return b.GetStatus() == status
	})
	return b
}

// waitPayment waits until the payment has status.
func (e *env) waitPayment(t *testing.T, user, id string, status paymentv1.PaymentStatus, within time.Duration) *paymentv1.Payment {
	t.Helper()
	var p *paymentv1.Payment
	meshtest.Eventually(t, within, "payment "+status.String(), func() bool {
		p = e.getPayment(t, user, id)
		return p.GetStatus() == status
	})
	return p
}

// zone reads the live counters of the shop's zone.
func (e *env) zone(t *testing.T, s meshtest.Shop) *bookingv1.ZoneAvailability {
	t.Helper()
	res, err := e.booking.GetAvailability(context.Background(), meshtest.As(t, e.Mesh, s.Organizer, authn.RoleOrganizer,
		&bookingv1.GetAvailabilityRequest{ShowId: s.Show}))
	if err != nil || len(res.Msg.GetZones()) != 1 {
		t.Fatalf("availability: %v %v", res, err)
	}
	return res.Msg.GetZones()[0]
}

// count runs a count(*) query.
func (e *env) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func code(err error) connect.Code { return connect.CodeOf(err) }
