package edge

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracerName names the edge's instrumentation scope.
const tracerName = "github.com/bookingrush/rush/edge"

// startSpan starts the server span of one request. The edge is the public
// door: a traceparent sent by a client never becomes the parent (a client
// must not choose our trace ids or force sampling); it is kept as a link.
func (e *Edge) startSpan(r *http.Request) (*http.Request, trace.Span) {
	ctx, span := e.tracer.Start(r.Context(), r.Method, spanStart...)
	if span.IsRecording() {
		// Attributes only for sampled spans: an unsampled request pays
		// for the span context and its propagation, nothing more.
		span.SetAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path))
		if _, ok := r.Header["Traceparent"]; ok {
			remote := trace.SpanContextFromContext(otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header)))
			if remote.IsValid() {
				span.AddLink(trace.Link{SpanContext: remote})
			}
		}
	}
	return r.WithContext(ctx), span
}

// spanStart are the options of every edge span, built once.
var spanStart = []trace.SpanStartOption{trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindServer)}

// endSpan names the span after the route the request took (the procedure
// for API calls) and records the answer; 5xx answers mark it failed.
func endSpan(span trace.Span, method string, w *recorder) {
	if span.IsRecording() {
		status := w.status
		if status == 0 {
			status = http.StatusOK
		}
		if w.route != "" {
			span.SetName(method + " " + w.route)
			span.SetAttributes(attribute.String("http.route", w.route))
		}
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if id := w.Header()["X-Request-Id"]; len(id) == 1 {
			span.SetAttributes(attribute.String("http.response.header.x-request-id", id[0]))
		}
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	}
	span.End()
}

// traceHeaders are the trace headers a client may send; the edge never
// forwards them (see startSpan).
var traceHeaders = []string{"Traceparent", "Tracestate", "Baggage"}

// propagate replaces the trace headers of an upstream request by the edge
// span's context, so the service's span is its child (when traced).
func propagate(ctx context.Context, h http.Header, traced bool) {
	for _, k := range traceHeaders {
		delete(h, k)
	}
	if traced {
		otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(h))
	}
}
