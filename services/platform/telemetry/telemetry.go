// Package telemetry sets up OpenTelemetry tracing (exported over OTLP when an
// endpoint is configured, otherwise recorded nowhere) and the Prometheus
// registry behind every process's /metrics.
//
// One trace follows a request: the edge's server span (a new root: a
// client's traceparent is only linked), the Connect client and server spans
// of every component (otelconnect), Redis commands and Postgres queries
// under them, and Kafka: records carry the trace context in their headers
// (the booking engine keeps it in its Redis stream entries, the outbox in
// its rows, until the relays publish them), and every consumer processes a
// message under a span continuing it. Components take the
// trace.TracerProvider from the container, never the process-wide default;
// when it is the noop provider they install no instrumentation at all.
package telemetry

import (
	"context"
	"flag"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Config chooses where traces go.
type Config struct {
	OTLPEndpoint string  `yaml:"otlp_endpoint"`
	OTLPInsecure bool    `yaml:"otlp_insecure"`
	SampleRatio  float64 `yaml:"sample_ratio"`
	ServiceName  string  `yaml:"service_name"`
}

// RegisterFlags registers telemetry.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.OTLPEndpoint, "telemetry.otlp-endpoint", "", "OTLP/gRPC collector host:port; empty turns tracing off")
	f.BoolVar(&c.OTLPInsecure, "telemetry.otlp-insecure", true, "talk plaintext to the collector")
	f.Float64Var(&c.SampleRatio, "telemetry.sample-ratio", 0.1, "fraction of new traces sampled (parent decisions are kept)")
	f.StringVar(&c.ServiceName, "telemetry.service-name", "rush", "service.name resource attribute")
}

// Validate checks the sample ratio.
func (c *Config) Validate() error {
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		return fmt.Errorf("telemetry.sample-ratio: %v is not within [0,1]", c.SampleRatio)
	}
	return nil
}

// NewTracerProvider builds the tracer provider and installs it, with the W3C
// trace-context propagator, as the process-wide default.
func NewTracerProvider(lc fx.Lifecycle, cfg Config, log *zap.Logger) (trace.TracerProvider, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if cfg.OTLPEndpoint == "" {
		tp := noop.NewTracerProvider()
		otel.SetTracerProvider(tp)
		return tp, nil
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(cfg.OTLPEndpoint)}
	if cfg.OTLPInsecure {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	exp, err := otlptracegrpc.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(cfg.ServiceName))),
	)
	otel.SetTracerProvider(tp)
	lc.Append(fx.StopHook(tp.Shutdown))
	log.Info("tracing to OTLP", zap.String("endpoint", cfg.OTLPEndpoint), zap.Float64("sample_ratio", cfg.SampleRatio))
	return tp, nil
}

// Enabled reports whether tp records anything. Instrumentation that costs
// even when no span is recorded (Redis and Postgres hooks, the edge's server
// span, the Connect interceptors) is only installed when it does, so a
// process without telemetry.otlp-endpoint pays nothing for tracing.
func Enabled(tp trace.TracerProvider) bool {
	if tp == nil {
		return false
	}
	_, off := tp.(noop.TracerProvider)
	return !off
}

// WithTracerProvider makes the application use tp instead of the one
// NewTracerProvider builds (tests record spans with the SDK's in-memory
// exporter). Everything that traces takes the provider from the container,
// never from the process-wide default, so parallel tests do not mix spans.
func WithTracerProvider(tp trace.TracerProvider) fx.Option {
	return fx.Decorate(func(trace.TracerProvider) trace.TracerProvider { return tp })
}

// ChildOnly wraps tp so that its tracers start spans only under a recording
// parent span: commands of background loops (the relay polls Redis every few
// milliseconds, pools dial and ping) then never start traces of their own,
// and an unsampled request costs no span below it.
func ChildOnly(tp trace.TracerProvider) trace.TracerProvider { return childOnly{tp: tp} }

type childOnly struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (c childOnly) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childOnlyTracer{t: c.tp.Tracer(name, opts...)}
}

type childOnlyTracer struct {
	embedded.Tracer
	t trace.Tracer
}

// Start returns the (non-recording) parent itself when there is nothing to
// record under: ending it is a no-op.
func (c childOnlyTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if parent := trace.SpanFromContext(ctx); !parent.IsRecording() {
		return ctx, parent
	}
	return c.t.Start(ctx, name, opts...)
}

// NewRegistry returns the process's Prometheus registry with the Go runtime and
// process collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// MetricsHandler serves the registry in the Prometheus exposition format.
func MetricsHandler(r *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{Registry: r})
}

// Module provides trace.TracerProvider, *prometheus.Registry and
// prometheus.Registerer.
var Module = fx.Module("telemetry",
	fx.Provide(
		NewTracerProvider,
		NewRegistry,
		func(r *prometheus.Registry) prometheus.Registerer { return r },
	),
)
