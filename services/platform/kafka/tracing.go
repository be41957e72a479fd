package kafka

import (
	"context"
	"strconv"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/bookingrush/rush/services/platform/telemetry"
)

// tracerName names the consumer spans' instrumentation scope.
const tracerName = "github.com/bookingrush/rush/services/platform/kafka"

// setTracerProvider makes the consumers start a span per message from tp;
// with tracing off (a noop tp, or a Cluster built by New alone) they start
// none and handlers only get the producer's context (ExtractContext).
func (c *Cluster) setTracerProvider(tp trace.TracerProvider) {
	if telemetry.Enabled(tp) {
		c.tracer = tp.Tracer(tracerName)
	}
}

// msgSpans are the consumer spans of one handler call, one per message,
// each a child of the trace context its producer put in the headers.
type msgSpans struct {
	msgs  []*sarama.ConsumerMessage
	ctxs  []context.Context
	spans []trace.Span
}

type msgSpansKey struct{}

// startSpans starts the "<topic> process" span of every message of batch.
// A batch goes to the handler as one call, so each span covers that call.
func startSpans(ctx context.Context, tracer trace.Tracer, group string, batch []*sarama.ConsumerMessage) (context.Context, *msgSpans) {
	ms := &msgSpans{msgs: batch, ctxs: make([]context.Context, len(batch)), spans: make([]trace.Span, len(batch))}
	for i, m := range batch {
		ms.ctxs[i], ms.spans[i] = tracer.Start(ExtractContext(ctx, m), m.Topic+" process",
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(
				attribute.String("messaging.system", "kafka"),
				attribute.String("messaging.operation.type", "process"),
				attribute.String("messaging.destination.name", m.Topic),
				attribute.String("messaging.consumer.group.name", group),
				attribute.String("messaging.destination.partition.id", strconv.Itoa(int(m.Partition))),
				attribute.Int64("messaging.kafka.offset", m.Offset),
				attribute.Int("messaging.batch.message_count", len(batch)),
			))
	}
	return context.WithValue(ctx, msgSpansKey{}, ms), ms
}

// end ends every span, marking them failed when the handler failed (the
// batch is then retried or delivered again, under new spans).
func (ms *msgSpans) end(err error) {
	for _, s := range ms.spans {
		if err != nil {
			s.RecordError(err)
			s.SetStatus(codes.Error, "handler failed")
		}
		s.End()
	}
}

// MessageContext returns the context to process msg in: a child of ctx
// carrying msg's consumer span when the cluster traces (its trace continues
// the producer's), else ctx with the producer's trace context
// (ExtractContext). Batch handlers call it per message; a Handler's ctx
// already is its message's context.
func MessageContext(ctx context.Context, msg *sarama.ConsumerMessage) context.Context {
	ms, _ := ctx.Value(msgSpansKey{}).(*msgSpans)
	if ms == nil || len(ms.msgs) == 0 || msg == nil {
		return ExtractContext(ctx, msg)
	}
	// Messages of a batch are one partition's in offset order, usually
	// without gaps: guess the index, then look.
	if i := int(msg.Offset - ms.msgs[0].Offset); i >= 0 && i < len(ms.msgs) && ms.msgs[i] == msg {
		return ms.ctxs[i]
	}
	for i, m := range ms.msgs {
		if m == msg {
			return ms.ctxs[i]
		}
	}
	return ExtractContext(ctx, msg)
}

// RelaySpans gives each entry a relay moves to Kafka (the booking streams,
// an outbox table) a producer span: a child of the trace the entry was
// written in (its traceparent header), whose own context replaces that
// header, so the consumers' spans continue under the relay's. An entry
// written outside a trace gets none; with tracing off, nothing is started.
type RelaySpans struct {
	tracer trace.Tracer
	relay  string
}

// NewRelaySpans returns the span starter of relay ("booking-stream",
// "payment-outbox"...) from tp.
func NewRelaySpans(tp trace.TracerProvider, relay string) RelaySpans {
	r := RelaySpans{relay: relay}
	if telemetry.Enabled(tp) {
		r.tracer = tp.Tracer(tracerName)
	}
	return r
}

// Start starts the "<topic> publish" span of one entry and points headers'
// trace context at it. End it (EndSpans) once Kafka answered.
func (r RelaySpans) Start(ctx context.Context, topic string, headers map[string]string) trace.Span {
	if r.tracer == nil {
		return nil
	}
	parent := otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(headers))
	if !trace.SpanContextFromContext(parent).IsValid() {
		return nil
	}
	ctx, span := r.tracer.Start(parent, topic+" publish", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", topic),
			attribute.String("rush.relay", r.relay),
		))
	otel.GetTextMapPropagator().Inject(ctx, propagation.MapCarrier(headers))
	return span
}

// EndSpans ends the spans Start returned (nil ones skipped), failed when
// the publish failed (the entries are relayed again later, under new spans).
func EndSpans(spans []trace.Span, err error) {
	for _, s := range spans {
		if s == nil {
			continue
		}
		if err != nil {
			s.RecordError(err)
			s.SetStatus(codes.Error, "publish failed")
		}
		s.End()
	}
}
