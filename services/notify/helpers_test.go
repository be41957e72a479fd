package notify_test

import (
	"context"
	"fmt"
	"testing"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	notifyv1 "github.com/bookingrush/rush/gen/bookingrush/notify/v1"
	"github.com/bookingrush/rush/gen/bookingrush/notify/v1/notifyv1connect"
	"github.com/bookingrush/rush/services/platform/mail/mailtest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

// ticketSecret keys the e-ticket codes of every test mesh.
const ticketSecret = "notify-test-ticket-secret-0123456789"

// env is the booking engine and notify in-process on a fresh schema, Redis
// key prefix and Kafka broker, mailing to its own SMTP server.
type env struct {
	*testkit.App
	smtp    *mailtest.Server
	booking bookingv1connect.BookingServiceClient
	notify  notifyv1connect.NotifyServiceClient
}

// start runs notify with what its mails need: booking (and its workers)
// and payment, and the gate with the catalog (the confirmation's tickets).
func start(t *testing.T, smtp *mailtest.Server, args ...string) *env {
	t.Helper()
	dsn := pgtest.Migrated(t)
	prefix := testkit.KeyPrefix(t, testkit.Config(t, dsn).Redis.URL.Reveal())
	cfg := testkit.Config(t, dsn, append([]string{
		"-postgres.migrate-on-start=false", "-target=auth,catalog,booking,relay,persister,payment,notify,gate",
		"-booking.key-prefix=" + prefix, "-catalog.cache-prefix=" + testkit.KeyPrefix(t, testkit.Config(t, dsn).Redis.URL.Reveal()), "-smtp.addr=" + smtp.Addr, "-notify.ticket-secret=" + ticketSecret,
		"-notify.poll=100ms", "-notify.retry-backoff=100ms",
	}, args...)...)
	a := testkit.StartApp(t, cfg)
	c := server.NewClient()
	return &env{App: a, smtp: smtp,
		booking: bookingv1connect.NewBookingServiceClient(c, a.URL(t, "booking")),
		notify:  notifyv1connect.NewNotifyServiceClient(c, a.URL(t, "notify")),
	}
}

func (e *env) email(t *testing.T, user string) string {
	t.Helper()
	var s string
	if err := e.Pool.QueryRow(context.Background(), `SELECT email FROM users WHERE id = $1`, user).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// confirm confirms the booking as the saga's step 1 does (the system).
func (e *env) confirm(t *testing.T, b *bookingv1.Booking) {
	t.Helper()
	if _, err := e.booking.ConfirmBooking(context.Background(), testkit.AsService(t, e.Mesh, "saga", &bookingv1.ConfirmBookingRequest{BookingId: b.GetId()})); err != nil {
		t.Fatalf("confirm: %v", err)
	}
}

// sendConfirmation asks notify for the confirmation e-mail exactly as the
// saga's step 2 does.
func (e *env) sendConfirmation(t *testing.T, b *bookingv1.Booking) (*notifyv1.Notification, error) {
	t.Helper()
	res, err := e.notify.SendNotification(context.Background(), testkit.AsService(t, e.Mesh, "saga", &notifyv1.SendNotificationRequest{
		Template: notifyv1.Template_TEMPLATE_BOOKING_CONFIRMED, Recipient: e.email(t, b.GetUserId()), UserId: b.GetUserId(),
		Data: map[string]string{
			"booking_id": b.GetId(), "event_id": b.GetEventId(), "event_title": "Rush", "quantity": fmt.Sprint(b.GetQuantity()),
			"total_amount": b.GetTotalAmount(), "currency": b.GetCurrency(),
		},
		IdempotencyKey: "booking_confirmed-" + b.GetId(),
	}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetNotification(), nil
}
