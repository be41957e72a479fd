package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/telemetry"
	"github.com/bookingrush/rush/services/testkit"
)

// TestReserveThroughTheEdgeIsOneTrace follows one reservation made through
// the public API: the edge's server span, the booking service's RPC span
// under it, the Redis script under that, and, after the relay moved the
// stream entry to Kafka (under the relay's producer span), the persister's
// consumer span, all in one trace. Then its payment: the provider's webhook
// starts a trace of its own, linked to the payment's, and the outbox relay
// publishes payment.success under a producer span of the webhook's trace.
func TestReserveThroughTheEdgeIsOneTrace(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	dsn := pgtest.Migrated(t)
	prefix := testkit.KeyPrefix(t, testkit.Config(t, dsn).Redis.URL.Reveal())
	cfg := testkit.Config(t, dsn, "-postgres.migrate-on-start=false", "-target=catalog,booking,relay,persister,edge,payment", "-payment.sim-delay=10ms",
		"-booking.key-prefix="+prefix, "-rate-limit.prefix="+prefix+"rl:")
	a := testkit.StartApp(t, cfg, telemetry.WithTracerProvider(tp))
	shop := a.SeedShop(t, testkit.ShopOptions{})

	// A client's own traceparent must not become our trace (it is linked).
	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	body, _ := json.Marshal(map[string]any{"show_id": shop.Show, "zone_id": shop.Zone, "quantity": 2})
	req, err := http.NewRequest(http.MethodPost, a.URL(t, "edge")+"/api/v1/bookings/reserve", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.Token(t, shop.Users[0], "user"))
	req.Header.Set("Idempotency-Key", "trace-"+uuid.NewString())
	req.Header.Set("Traceparent", "00-"+clientTrace+"-00f067aa0ba902b7-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var reserved struct{ Data struct{ ID string } }
	_ = json.NewDecoder(res.Body).Decode(&reserved)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("reserve through the edge: %s", res.Status)
	}

	const reserve = "bookingrush.booking.v1.BookingService/Reserve"
	edgeSpan := one(t, exp, "edge server span", func(s tracetest.SpanStub) bool {
		return s.SpanKind == trace.SpanKindServer && s.Name == "POST /"+reserve
	})
	id := edgeSpan.SpanContext.TraceID()
	if id.String() == clientTrace || edgeSpan.Parent.IsValid() {
		t.Errorf("edge span continues the client's traceparent (trace %s, parent %v)", id, edgeSpan.Parent.SpanID())
	}
	if len(edgeSpan.Links) != 1 || edgeSpan.Links[0].SpanContext.TraceID().String() != clientTrace {
		t.Errorf("edge span links %v, want the client's trace %s", edgeSpan.Links, clientTrace)
	}
	if !hasAttr(edgeSpan, "http.response.status_code", "201") {
		t.Errorf("edge span attributes %v lack status 201", edgeSpan.Attributes)
	}
	rpc := one(t, exp, "booking RPC server span", func(s tracetest.SpanStub) bool {
		return s.SpanKind == trace.SpanKindServer && s.Name == reserve && s.SpanContext.TraceID() == id
	})
	if rpc.Parent.SpanID() != edgeSpan.SpanContext.SpanID() {
		t.Errorf("booking span's parent is %s, want the edge span %s", rpc.Parent.SpanID(), edgeSpan.SpanContext.SpanID())
	}
	// go-redis runs EVAL once when the server has not cached the script
	// yet; the EVALSHA comes first either way.
	one(t, exp, "Redis EVALSHA span under the booking span", func(s tracetest.SpanStub) bool {
		return s.SpanKind == trace.SpanKindClient && strings.EqualFold(s.Name, "evalsha") &&
			s.SpanContext.TraceID() == id && s.Parent.SpanID() == rpc.SpanContext.SpanID()
	})

	// The stream entry carries the traceparent to Kafka; the persister
	// continues the trace once the relay published it.
	isPersister := func(s tracetest.SpanStub) bool {
		return s.SpanKind == trace.SpanKindConsumer && s.Name == booking.TopicBookingEvents+" process" &&
			s.SpanContext.TraceID() == id && hasAttr(s, "messaging.consumer.group.name", booking.PersisterGroup)
	}
	testkit.Eventually(t, 20*time.Second, "the persister's span in the reservation's trace", func() bool {
		return len(find(exp, isPersister)) > 0
	})
	p := one(t, exp, "persister consumer span", isPersister)
	relay := one(t, exp, "relay producer span", func(s tracetest.SpanStub) bool {
		return s.SpanKind == trace.SpanKindProducer && s.Name == booking.TopicBookingEvents+" publish" && s.SpanContext.TraceID() == id
	})
	if relay.Parent.SpanID() != rpc.SpanContext.SpanID() || !hasAttr(relay, "rush.relay", "booking-stream") {
		t.Errorf("relay span's parent is %v, want the booking span %s", relay.Parent.SpanID(), rpc.SpanContext.SpanID())
	}
	if p.Parent.SpanID() != relay.SpanContext.SpanID() || !p.Parent.IsRemote() {
		t.Errorf("persister span's parent is %v, want the relay span %s (remote)", p.Parent.SpanID(), relay.SpanContext.SpanID())
	}
	if p.Status.Code.String() == "Error" {
		t.Errorf("persister span failed: %v", p.Status)
	}

	// The payment, and the webhook's own trace linked to it.
	payBody, _ := json.Marshal(map[string]any{"booking_id": reserved.Data.ID, "payment_method": "sim_ok"})
	req, _ = http.NewRequest(http.MethodPost, a.URL(t, "edge")+"/api/v1/payments", bytes.NewReader(payBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.Token(t, shop.Users[0], "user"))
	if res, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("payment through the edge: %s", res.Status)
	}
	create := one(t, exp, "CreatePayment server span", func(s tracetest.SpanStub) bool {
		return s.SpanKind == trace.SpanKindServer && s.Name == "bookingrush.payment.v1.PaymentService/CreatePayment"
	})
	isWebhook := func(s tracetest.SpanStub) bool {
		return s.SpanKind == trace.SpanKindServer && s.Name == "bookingrush.payment.v1.PaymentService/HandleStripeWebhook"
	}
	testkit.Eventually(t, 20*time.Second, "the webhook's span", func() bool { return len(find(exp, isWebhook)) > 0 })
	hook := one(t, exp, "webhook server span", isWebhook)
	linked := false
	for _, l := range hook.Links {
		linked = linked || l.SpanContext.SpanID() == create.SpanContext.SpanID()
	}
	if hook.SpanContext.TraceID() == create.SpanContext.TraceID() || !linked {
		t.Errorf("webhook span (trace %s) links %v, want a link to the payment's span %s", hook.SpanContext.TraceID(), hook.Links, create.SpanContext.SpanID())
	}
	isOutbox := func(s tracetest.SpanStub) bool {
		return s.SpanKind == trace.SpanKindProducer && s.Name == "payment.success publish" && s.SpanContext.TraceID() == hook.SpanContext.TraceID()
	}
	testkit.Eventually(t, 20*time.Second, "the outbox relay's span in the webhook's trace", func() bool { return len(find(exp, isOutbox)) > 0 })
	if o := one(t, exp, "outbox relay span", isOutbox); !hasAttr(o, "rush.relay", "payment-outbox") {
		t.Errorf("outbox relay span attributes %v", o.Attributes)
	}
}

func find(exp *tracetest.InMemoryExporter, match func(tracetest.SpanStub) bool) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if match(s) {
			out = append(out, s)
		}
	}
	return out
}

// one returns the one recorded span that matches, failing the test (with
// every span recorded) when there is none or more than one.
func one(t *testing.T, exp *tracetest.InMemoryExporter, what string, match func(tracetest.SpanStub) bool) tracetest.SpanStub {
	t.Helper()
	got := find(exp, match)
	if len(got) != 1 {
		var all []string
		for _, s := range exp.GetSpans() {
			all = append(all, fmt.Sprintf("%s %q trace=%s span=%s parent=%s", s.SpanKind, s.Name,
				s.SpanContext.TraceID(), s.SpanContext.SpanID(), s.Parent.SpanID()))
		}
		t.Fatalf("%s: %d matching spans, want 1; recorded:\n%s", what, len(got), strings.Join(all, "\n"))
	}
	return got[0]
}

func hasAttr(s tracetest.SpanStub, key, value string) bool {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key && kv.Value.String() == value {
			return true
		}
	}
	return false
}
