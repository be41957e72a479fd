package saga_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/saga/v1/sagav1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

// env is the booking engine, payment and saga in-process; notify is absent
// (its peer address refuses connections).
type env struct {
	*testkit.App
	dsn, prefix string
	booking     bookingv1connect.BookingServiceClient
	payment     paymentv1connect.PaymentServiceClient
	saga        sagav1connect.SagaServiceClient
}

// start runs a mesh on a fresh schema and key prefix.
func start(t *testing.T, args []string, opts ...fx.Option) *env {
	t.Helper()
	dsn := pgtest.Migrated(t)
	prefix := testkit.KeyPrefix(t, testkit.Config(t, dsn).Redis.URL.Reveal())
	return restart(t, dsn, prefix, args, opts...)
}

// restart runs a mesh on an existing schema and key prefix.
func restart(t *testing.T, dsn, prefix string, args []string, opts ...fx.Option) *env {
	t.Helper()
	cfg := testkit.Config(t, dsn, append([]string{
		"-postgres.migrate-on-start=false", "-target=auth,catalog,booking,relay,persister,payment,saga,gate",
		"-booking.key-prefix=" + prefix, "-saga.retry-backoff=20ms", "-payment.outbox-poll=50ms",
	}, args...)...)
	a := testkit.StartApp(t, cfg, opts...)
	c := server.NewClient()
	e := &env{App: a, dsn: dsn, prefix: prefix,
		booking: bookingv1connect.NewBookingServiceClient(c, a.URL(t, "booking")),
		saga:    sagav1connect.NewSagaServiceClient(c, a.URL(t, "saga")),
	}
	if u, ok := a.Registry.URL("payment"); ok {
		e.payment = paymentv1connect.NewPaymentServiceClient(c, u)
	}
	return e
}

func (e *env) pay(t *testing.T, user, bookingID, method string) *paymentv1.Payment {
	t.Helper()
	res, err := e.payment.CreatePayment(context.Background(), testkit.As(t, e.Mesh, user, authn.RoleUser,
		&paymentv1.CreatePaymentRequest{BookingId: bookingID, PaymentMethod: method}))
	if err != nil {
		t.Fatalf("create payment: %v", err)
	}
	return res.Msg.GetPayment()
}

// sagaStatus is the status of the payment's saga ("" when there is none).
func (e *env) sagaStatus(t *testing.T, paymentID string) string {
	t.Helper()
	var st string
	_ = e.Pool.QueryRow(context.Background(), `SELECT status FROM sagas WHERE payment_id = $1`, paymentID).Scan(&st)
	return st
}

func (e *env) waitSaga(t *testing.T, paymentID, status string, within time.Duration) {
	t.Helper()
	testkit.Eventually(t, within, "saga "+status, func() bool { return e.sagaStatus(t, paymentID) == status })
}
