package notify_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/IBM/sarama"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	notifyv1 "github.com/bookingrush/rush/gen/bookingrush/notify/v1"
	"github.com/bookingrush/rush/gen/bookingrush/notify/v1/notifyv1connect"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/mail/mailtest"
	"github.com/bookingrush/rush/services/platform/meshtest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/server"
)

// ticketSecret keys the e-ticket codes of every test mesh.
const ticketSecret = "notify-test-ticket-secret-0123456789"

// env is the booking engine and notify in-process on a fresh schema, Redis
// key prefix and Kafka broker, mailing to its own SMTP server.
type env struct {
	*meshtest.App
	smtp    *mailtest.Server
	booking bookingv1connect.BookingServiceClient
	notify  notifyv1connect.NotifyServiceClient
}

func start(t *testing.T, smtp *mailtest.Server, args ...string) *env {
	t.Helper()
	dsn := pgtest.Migrated(t)
	prefix := meshtest.KeyPrefix(t, meshtest.Config(t, dsn).Redis.URL.Reveal())
	cfg := meshtest.Config(t, dsn, append([]string{
		"-postgres.migrate-on-start=false", "-target=booking,relay,persister,notify",
		"-booking.key-prefix=" + prefix, "-smtp.addr=" + smtp.Addr, "-notify.ticket-secret=" + ticketSecret,
		"-notify.poll=100ms", "-notify.retry-backoff=100ms",
	}, args...)...)
	a := meshtest.StartApp(t, cfg)
	c := server.NewClient()
	return &env{App: a, smtp: smtp,
		booking: bookingv1connect.NewBookingServiceClient(c, a.URL(t, "booking")),
		notify:  notifyv1connect.NewNotifyServiceClient(c, a.URL(t, "notify")),
	}
}

// asService is a request carrying a service token of component, as the
// mesh client sends it for the saga or auth.
func asService[T any](t *testing.T, e *env, component string, msg *T) *connect.Request[T] {
	t.Helper()
	tok, _, err := e.Keys.IssueService(component, time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	req := connect.NewRequest(msg)
	req.Header().Set("Authorization", "Bearer "+tok)
	return req
}

func (e *env) email(t *testing.T, user string) string {
	t.Helper()
	var s string
	if err := e.Pool.QueryRow(context.Background(), `SELECT email FROM users WHERE id = $1`, user).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// sendConfirmation asks notify for the confirmation e-mail exactly as the
// saga's step 2 does.
func (e *env) sendConfirmation(t *testing.T, b *bookingv1.Booking) (*notifyv1.Notification, error) {
	t.Helper()
	res, err := e.notify.SendNotification(context.Background(), asService(t, e, "saga", &notifyv1.SendNotificationRequest{
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

// drained waits until group has consumed everything on topics.
func (e *env) drained(t *testing.T, group string, topics ...string) {
	t.Helper()
	meshtest.Eventually(t, 20*time.Second, group+" consumed "+topics[0], func() bool {
		lags, err := e.Kafka.Lag(context.Background(), group, topics...)
		if err != nil {
			return false
		}
		for _, l := range lags {
			if l.Lag > 0 {
				return false
			}
		}
		return true
	})
}

// republish publishes every message on topic once more, as a relay that
// lost its acknowledgement would.
func (e *env) republish(t *testing.T, topic string) int {
	t.Helper()
	client, err := sarama.NewClient(e.Kafka.Brokers(), e.Kafka.NewSaramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	for _, p := range parts {
		hw, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		first, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		if hw <= first {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, first)
		if err != nil {
			t.Fatal(err)
		}
		for m := range pc.Messages() {
			h := map[string]string{}
			for _, rh := range m.Headers {
				h[string(rh.Key)] = string(rh.Value)
			}
			out = append(out, kafka.Message{Topic: topic, Key: m.Key, Value: m.Value, Headers: h})
			if m.Offset >= hw-1 {
				break
			}
		}
		_ = pc.Close()
	}
	if err := e.Producer.PublishBatch(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	return len(out)
}

func wantCode(t *testing.T, err error, code errs.Code) {
	t.Helper()
	if got := errs.FromConnect(err).Code; err == nil || got != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}
