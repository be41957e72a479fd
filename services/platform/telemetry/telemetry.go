// Package telemetry sets up OpenTelemetry tracing (exported over OTLP when an
// endpoint is configured, otherwise recorded nowhere) and the Prometheus
// registry behind every process's /metrics.
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
