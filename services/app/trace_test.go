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
	"github.com/bookingrush/rush/services/platform/meshtest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/telemetry"
)

// TestReserveThroughTheEdgeIsOneTrace follows one reservation made through
// the public API: the edge's server span, the booking service's RPC span
// under it, the Redis script under that, and, after the relay moved the
// stream entry to Kafka, the persister's consumer span, all in one trace.
func TestReserveThroughTheEdgeIsOneTrace(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	dsn := pgtest.Migrated(t)
	prefix := meshtest.KeyPrefix(t, meshtest.Config(t, dsn).Redis.URL.Reveal())
	cfg := meshtest.Config(t, dsn, "-postgres.migrate-on-start=false", "-target=booking,relay,persister,edge",
		"-booking.key-prefix="+prefix, "-rate-limit.prefix="+prefix+"rl:")
	a := meshtest.StartApp(t, cfg, telemetry.WithTracerProvider(tp))
	shop := a.SeedShop(t, meshtest.ShopOptions{})

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
	meshtest.Eventually(t, 20*time.Second, "the persister's span in the reservation's trace", func() bool {
		return len(find(exp, isPersister)) > 0
	})
	p := one(t, exp, "persister consumer span", isPersister)
	if p.Parent.SpanID() != rpc.SpanContext.SpanID() || !p.Parent.IsRemote() {
		t.Errorf("persister span's parent is %v, want the booking span %s (remote)", p.Parent.SpanID(), rpc.SpanContext.SpanID())
	}
	if p.Status.Code.String() == "Error" {
		t.Errorf("persister span failed: %v", p.Status)
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
		if string(kv.Key) == key && kv.Value.Emit() == value {
			return true
		}
	}
	return false
}
