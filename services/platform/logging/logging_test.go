package logging_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bookingrush/rush/services/platform/logging"
)

func TestCtxAddsTraceAndSpanIDs(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	log := zap.New(core)
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)

	logging.Ctx(ctx, log).Info("in a request", zap.String("k", "v"))
	entries := logs.TakeAll()
	if len(entries) != 1 {
		t.Fatalf("%d entries, want 1", len(entries))
	}
	fields := entries[0].ContextMap()
	if fields["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || fields["span_id"] != "00f067aa0ba902b7" || fields["k"] != "v" {
		t.Errorf("fields %v, want trace_id, span_id and k", fields)
	}
}

func TestCtxWithoutSpanIsTheSameLogger(t *testing.T) {
	t.Parallel()
	log := zap.New(nil)
	if logging.Ctx(context.Background(), log) != log {
		t.Error("no span context: Ctx must return the logger itself")
	}
	// A span context that is not valid (zero ids) adds nothing either.
	ctx := trace.ContextWithSpanContext(context.Background(), trace.SpanContext{})
	if logging.Ctx(ctx, log) != log {
		t.Error("invalid span context: Ctx must return the logger itself")
	}
}

// TestConsoleToAFileIsPlain: console lines redirected to a file (make run >
// log, a pipe, CI) carry no colour escape codes.
func TestConsoleToAFileIsPlain(t *testing.T) {
	t.Parallel()
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	log, err := logging.NewFile(logging.Config{Level: "info", Format: "console"}, f)
	if err != nil {
		t.Fatal(err)
	}
	log.Warn("redirected", zap.String("k", "v"))
	_ = log.Sync()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\tWARN\t") || strings.Contains(string(b), "\x1b[") {
		t.Errorf("console line to a file %q: want a plain WARN without escape codes", b)
	}
}
