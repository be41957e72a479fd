package analytics_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/IBM/sarama"

	analyticsv1 "github.com/bookingrush/rush/gen/bookingrush/analytics/v1"
	"github.com/bookingrush/rush/gen/bookingrush/analytics/v1/analyticsv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/kafka"
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

// drained waits until group has consumed everything on topics.
func (e *env) drained(t *testing.T, group string, topics ...string) {
	t.Helper()
	meshtest.Eventually(t, 20*time.Second, group+" consumed everything", func() bool {
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
// lost its acknowledgement would, and returns how many.
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
	if len(out) > 0 {
		if err := e.Producer.PublishBatch(context.Background(), out); err != nil {
			t.Fatal(err)
		}
	}
	return len(out)
}

func wantCode(t *testing.T, err error, code errs.Code) {
	t.Helper()
	if got := errs.FromConnect(err).Code; err == nil || got != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}
