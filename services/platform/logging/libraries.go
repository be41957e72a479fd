package logging

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/go-logr/logr"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc/grpclog"
)

// Third-party libraries that log on their own write plain text to stderr by
// default (go-redis prints a line per failed dial while Redis is down), which
// breaks the one-JSON-object-per-line contract of log.format=json. Their
// hooks are process globals, so they are installed once per process and
// write to whichever logger the last RouteLibraries call named (tests start
// several meshes in one process; each swaps its own logger in, never the
// hooks themselves, so no library reads a hook while it is being replaced).
//
// Covered: go-redis (redis.SetLogger), sarama (Logger and DebugLogger), gRPC
// (grpclog, used by the OTLP exporter), OpenTelemetry (its logr logger and
// error handler) and the standard library's log package (httputil's reverse
// proxy, anything else printing through it). Elsewhere a logger is handed
// over explicitly: the HTTP servers' ErrorLog (server.NewHTTPServer), the
// embedded Kafka broker (kafka.New), fx (Module), Stripe (payment.NewStripe).
// pgx and vanguard log nothing unless given a tracer or logger.

// library is the logger the hooks write to; nil until RouteLibraries.
var library atomic.Pointer[zap.Logger]

var installHooks sync.Once

// RouteLibraries sends the logging of third-party libraries through log.
// Their lines are sampled: at most one line per distinct message and level
// a second, since a library repeats itself once per failed attempt (go-redis
// logs every failed dial of every pooled connection while Redis is down).
func RouteLibraries(log *zap.Logger) {
	library.Store(log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, time.Second, 1, 0)
	})))
	installHooks.Do(install)
}

// lib returns the library logger named name.
func lib(name string) *zap.Logger {
	l := library.Load()
	if l == nil {
		return zap.NewNop()
	}
	return l.Named(name)
}

func install() {
	redis.SetLogger(redisLogger{})
	sarama.Logger = printLogger{name: "sarama", level: zapcore.DebugLevel}
	sarama.DebugLogger = printLogger{name: "sarama", level: zapcore.DebugLevel}
	grpclog.SetLoggerV2(grpcLogger{})
	otel.SetLogger(logr.New(otelSink{}))
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		lib("otel").Warn("opentelemetry failed", zap.Error(err))
	}))
	log.SetFlags(0)
	log.SetPrefix("")
	log.SetOutput(stdlogWriter{})
}

// redisLogger is go-redis's logger. go-redis logs only trouble (failed
// dials, broken connections), hence warn.
type redisLogger struct{}

func (redisLogger) Printf(_ context.Context, format string, v ...any) {
	lib("redis").Warn(fmt.Sprintf(format, v...))
}

// printLogger is a Print-style logger (sarama's StdLogger) at one level.
type printLogger struct {
	name  string
	level zapcore.Level
}

func (p printLogger) Print(v ...any) { p.log(fmt.Sprint(v...)) }
func (p printLogger) Printf(format string, v ...any) {
	p.log(fmt.Sprintf(format, v...))
}
func (p printLogger) Println(v ...any) { p.log(fmt.Sprintln(v...)) }

func (p printLogger) log(msg string) {
	l := lib(p.name)
	if ce := l.Check(p.level, strings.TrimRight(msg, "\n")); ce != nil {
		ce.Write()
	}
}

// stdlogWriter receives what is printed through the standard log package.
// Libraries use it for trouble (httputil.ReverseProxy's copy errors), hence
// warn.
type stdlogWriter struct{}

func (stdlogWriter) Write(p []byte) (int, error) {
	lib("stdlog").Warn(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// grpcLogger is gRPC's logger. gRPC's info lines (connectivity changes)
// are chatty, so they become debug.
type grpcLogger struct{}

var _ grpclog.LoggerV2 = grpcLogger{}

func (grpcLogger) s() *zap.SugaredLogger { return lib("grpc").Sugar() }

func (g grpcLogger) Info(args ...any)                    { g.s().Debug(args...) }
func (g grpcLogger) Infoln(args ...any)                  { g.s().Debugln(args...) }
func (g grpcLogger) Infof(format string, args ...any)    { g.s().Debugf(format, args...) }
func (g grpcLogger) Warning(args ...any)                 { g.s().Warn(args...) }
func (g grpcLogger) Warningln(args ...any)               { g.s().Warnln(args...) }
func (g grpcLogger) Warningf(format string, args ...any) { g.s().Warnf(format, args...) }
func (g grpcLogger) Error(args ...any)                   { g.s().Error(args...) }
func (g grpcLogger) Errorln(args ...any)                 { g.s().Errorln(args...) }
func (g grpcLogger) Errorf(format string, args ...any)   { g.s().Errorf(format, args...) }

// Fatal logs and exits, as grpclog requires.
func (g grpcLogger) Fatal(args ...any) { g.s().Error(args...); os.Exit(1) }

// Fatalln logs and exits, as grpclog requires.
func (g grpcLogger) Fatalln(args ...any) { g.s().Errorln(args...); os.Exit(1) }

// Fatalf logs and exits, as grpclog requires.
func (g grpcLogger) Fatalf(format string, args ...any) { g.s().Errorf(format, args...); os.Exit(1) }

// V reports whether gRPC's verbosity level l is on: only level 0, and only
// when debug lines are written.
func (grpcLogger) V(l int) bool { return l <= 0 && lib("grpc").Core().Enabled(zapcore.DebugLevel) }

// otelSink is OpenTelemetry's logr sink. OpenTelemetry writes warnings at
// V(1), info at V(4) and debug at V(8): up to V(1) is warn here, the rest
// debug (its info lines describe the SDK's state, not trouble).
type otelSink struct {
	name   string
	fields []zap.Field
}

func (otelSink) Init(logr.RuntimeInfo) {}

func (s otelSink) logger() *zap.Logger { return lib("otel" + s.name).With(s.fields...) }

func (s otelSink) Enabled(level int) bool {
	return s.logger().Core().Enabled(otelLevel(level))
}

func (s otelSink) Info(level int, msg string, kv ...any) {
	if ce := s.logger().Check(otelLevel(level), msg); ce != nil {
		ce.Write(kvFields(kv)...)
	}
}

func (s otelSink) Error(err error, msg string, kv ...any) {
	s.logger().Error(msg, append(kvFields(kv), zap.Error(err))...)
}

func (s otelSink) WithValues(kv ...any) logr.LogSink {
	s.fields = append(append([]zap.Field(nil), s.fields...), kvFields(kv)...)
	return s
}

func (s otelSink) WithName(name string) logr.LogSink {
	s.name += "." + name
	return s
}

func otelLevel(v int) zapcore.Level {
	if v <= 1 {
		return zapcore.WarnLevel
	}
	return zapcore.DebugLevel
}

// kvFields turns logr's alternating keys and values into zap fields.
func kvFields(kv []any) []zap.Field {
	fields := make([]zap.Field, 0, (len(kv)+1)/2)
	for i := 0; i < len(kv); i += 2 {
		key := fmt.Sprint(kv[i])
		if i+1 == len(kv) {
			fields = append(fields, zap.Any(key, nil))
			break
		}
		fields = append(fields, zap.Any(key, kv[i+1]))
	}
	return fields
}
