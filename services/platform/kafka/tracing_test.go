package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/kafka"
)

// TestConsumerSpansContinueTheProducersTrace checks both consumer kinds: a
// Handler's ctx and a BatchHandler's MessageContext hold a consumer span
// whose parent is the span that published the message, and a failed
// attempt is recorded as an error.
func TestConsumerSpansContinueTheProducersTrace(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	cfg := kafka.DefaultConfig()
	cfg.Brokers = shared.Brokers()
	cfg.ConsumerRetryBackoff = 20 * time.Millisecond
	var (
		c *kafka.Cluster
		p *kafka.Producer
	)
	app := fxtest.New(t, kafka.Module,
		fx.Supply(cfg, zap.NewNop(), fx.Annotate(prometheus.NewRegistry(), fx.As(new(prometheus.Registerer))),
			fx.Annotate(tp, fx.As(new(trace.TracerProvider)))),
		fx.Populate(&c, &p))
	app.RequireStart()
	t.Cleanup(app.RequireStop)

	topic := name(t, "topic")
	ctx, producer := tp.Tracer("test").Start(ctxT(t, 10*time.Second), "publish")
	if err := p.Publish(ctx, topic, []byte("k"), []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	producer.End()
	want := producer.SpanContext()

	got := make(chan trace.SpanContext, 2)
	failedOnce := false
	single := c.NewRunner(name(t, "single"), []string{topic}, func(ctx context.Context, _ *sarama.ConsumerMessage) error {
		if !failedOnce {
			failedOnce = true
			return context.DeadlineExceeded // retried in place
		}
		got <- trace.SpanContextFromContext(ctx)
		return nil
	})
	batch := c.NewBatchRunner(name(t, "batch"), []string{topic}, func(ctx context.Context, msgs []*sarama.ConsumerMessage) error {
		got <- trace.SpanContextFromContext(kafka.MessageContext(ctx, msgs[0]))
		return nil
	}, kafka.BatchOptions{})
	for _, r := range []*kafka.Runner{single, batch} {
		if err := r.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Stop(context.Background()) })
	}
	for range 2 {
		select {
		case sc := <-got:
			if sc.TraceID() != want.TraceID() || sc.SpanID() == want.SpanID() {
				t.Errorf("handler span %s/%s, want a new span in trace %s", sc.TraceID(), sc.SpanID(), want.TraceID())
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the handlers did not get the message")
		}
	}
	_ = single.Stop(context.Background())
	_ = batch.Stop(context.Background())

	var ok, failed int
	for _, s := range exp.GetSpans() {
		if s.Name != topic+" process" {
			continue
		}
		if s.SpanKind != trace.SpanKindConsumer || s.Parent.SpanID() != want.SpanID() || s.SpanContext.TraceID() != want.TraceID() {
			t.Errorf("span %q kind %s parent %s, want a consumer span under %s", s.Name, s.SpanKind, s.Parent.SpanID(), want.SpanID())
		}
		if s.Status.Code == codes.Error {
			failed++
		} else {
			ok++
		}
	}
	if ok != 2 || failed != 1 {
		t.Errorf("%d ok and %d failed consumer spans, want 2 and 1", ok, failed)
	}
}
