package payment_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/fx"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/services/payment"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

// webhookSecret signs the simulator's webhooks and the tests' own.
const webhookSecret = "whsec_test_0123456789abcdef"

// env is the booking engine, payment and saga running in-process on a
// fresh schema and Redis key prefix; notify is absent (its peer address
// refuses connections), as it is until the notify service exists.
type env struct {
	*testkit.App
	prefix  string
	booking bookingv1connect.BookingServiceClient
	payment paymentv1connect.PaymentServiceClient
}

func start(t *testing.T, args ...string) *env {
	t.Helper()
	return startWith(t, nil, args...)
}

// startStripe starts the payment service with Stripe as its provider,
// reached at url (a stand-in).
func startStripe(t *testing.T, url string, args ...string) *env {
	t.Helper()
	return start(t, append([]string{"-payment.provider=stripe", "-stripe.secret-key=sk_test_123", "-stripe.api-url=" + url}, args...)...)
}

// paidAtStripe starts the service with Stripe reached at url (a stand-in)
// and args, and has a buyer pay 50.00 for two seats of a show showIn ahead
// (paidThroughStandIn): b is the booking, p its payment.
func paidAtStripe(t *testing.T, url string, showIn time.Duration, args ...string) (e *env, buyer string, b *bookingv1.Booking, p *paymentv1.Payment) {
	t.Helper()
	e = startStripe(t, url, args...)
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 4, ShowIn: showIn, Price: "25.00"})
	buyer = s.Users[0]
	b, p = e.paidThroughStandIn(t, s, buyer)
	return e, buyer, b, p
}

// startWith is start with fx options of the app's (a tracer provider).
func startWith(t *testing.T, opts []fx.Option, args ...string) *env {
	t.Helper()
	dsn := pgtest.Migrated(t)
	prefix := testkit.KeyPrefix(t, testkit.Config(t, dsn).Redis.URL.Reveal())
	cfg := testkit.Config(t, dsn, append([]string{
		"-postgres.migrate-on-start=false", "-target=auth,catalog,booking,relay,persister,payment,saga,gate",
		"-booking.key-prefix=" + prefix, "-stripe.webhook-secret=" + webhookSecret,
		"-saga.retry-backoff=20ms", "-payment.outbox-poll=50ms",
	}, args...)...)
	a := testkit.StartApp(t, cfg, opts...)
	c := server.NewClient()
	return &env{App: a, prefix: prefix,
		booking: bookingv1connect.NewBookingServiceClient(c, a.URL(t, "booking")),
		payment: paymentv1connect.NewPaymentServiceClient(c, a.URL(t, "payment")),
	}
}

func (e *env) pay(t *testing.T, user, bookingID, method string) (*paymentv1.Payment, error) {
	t.Helper()
	res, err := e.payment.CreatePayment(context.Background(), testkit.As(t, e.Mesh, user, authn.RoleUser,
		&paymentv1.CreatePaymentRequest{BookingId: bookingID, PaymentMethod: method}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetPayment(), nil
}

// paid has user reserve two seats of s and pay them with the simulator;
// it answers the booking, once confirmed, and its payment.
func (e *env) paid(t *testing.T, s testkit.Shop, user string) (*bookingv1.Booking, *paymentv1.Payment) {
	t.Helper()
	b := e.Reserve(t, s, user, 2)
	p, err := e.pay(t, user, b.GetId(), payment.SimOK)
	if err != nil {
		t.Fatal(err)
	}
	e.waitBooking(t, user, b.GetId(), bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED, 15*time.Second)
	return b, p
}

func (e *env) getPayment(t *testing.T, user, id string) *paymentv1.Payment {
	t.Helper()
	res, err := e.payment.GetPayment(context.Background(), testkit.As(t, e.Mesh, user, authn.RoleUser, &paymentv1.GetPaymentRequest{PaymentId: id}))
	if err != nil {
		t.Fatalf("get payment: %v", err)
	}
	return res.Msg.GetPayment()
}

// waitBooking waits until the booking has status.
func (e *env) waitBooking(t *testing.T, user, id string, status bookingv1.BookingStatus, within time.Duration) *bookingv1.Booking {
	t.Helper()
	var b *bookingv1.Booking
	testkit.Eventually(t, within, "booking "+status.String(), func() bool {
		b = e.Booking(t, user, id)
		return b.GetStatus() == status
	})
	return b
}

// waitPayment waits until the payment has status.
func (e *env) waitPayment(t *testing.T, user, id string, status paymentv1.PaymentStatus, within time.Duration) *paymentv1.Payment {
	t.Helper()
	var p *paymentv1.Payment
	testkit.Eventually(t, within, "payment "+status.String(), func() bool {
		p = e.getPayment(t, user, id)
		return p.GetStatus() == status
	})
	return p
}

func code(err error) connect.Code { return connect.CodeOf(err) }

// exec runs sql on the service's database.
func (e *env) exec(t *testing.T, sql string) {
	t.Helper()
	if _, err := e.Pool.Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

// failRefundRecords makes every record of a refund fail (the commit after
// the provider call) until restore.
func (e *env) failRefundRecords(t *testing.T) (restore func()) {
	t.Helper()
	e.exec(t, `CREATE FUNCTION fail_refund_record() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'the commit after the refund fails'; END $$;
		CREATE TRIGGER fail_refund_record BEFORE UPDATE ON payments FOR EACH ROW
			WHEN (OLD.refunded_at IS NULL AND NEW.refunded_at IS NOT NULL) EXECUTE FUNCTION fail_refund_record()`)
	return func() { e.exec(t, `DROP TRIGGER fail_refund_record ON payments`) }
}
