// Package logging builds the zap logger every component writes to: JSON in
// production (one object per line, for Loki and friends), console in development.
package logging

import (
	"context"
	"flag"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"
)

// Config selects the level and the encoding of log lines.
type Config struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// RegisterFlags registers log.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Level, "log.level", "info", "minimum level: debug, info, warn, error")
	f.StringVar(&c.Format, "log.format", "console", "line encoding: json (production) or console (development)")
}

// Validate checks level and format.
func (c *Config) Validate() error {
	if _, err := zapcore.ParseLevel(c.Level); err != nil {
		return fmt.Errorf("log.level: %w", err)
	}
	if c.Format != "json" && c.Format != "console" {
		return fmt.Errorf("log.format: %q is neither json nor console", c.Format)
	}
	return nil
}

// New builds the logger described by cfg, writing to stderr.
func New(cfg Config) (*zap.Logger, error) { return NewFile(cfg, os.Stderr) }

// NewFile builds the logger described by cfg, writing to out. Console lines
// colour their level only when out is a terminal: redirected to a file or a
// pipe (make run > log, CI, a container's log), they stay plain text that
// grep and editors read.
func NewFile(cfg Config, out *os.File) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.Level)
	if err != nil {
		return nil, err
	}
	zc := zap.NewProductionConfig()
	if cfg.Format == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
		if isTerminal(out) {
			zc.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
		zc.Development = false
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.Sampling = nil
	zc.DisableStacktrace = level > zapcore.DebugLevel
	zc.EncoderConfig.TimeKey = "ts"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	zc.OutputPaths, zc.ErrorOutputPaths = nil, nil
	enc := zapcore.NewConsoleEncoder(zc.EncoderConfig)
	if cfg.Format == "json" {
		enc = zapcore.NewJSONEncoder(zc.EncoderConfig)
	}
	opts := []zap.Option{zap.AddCaller(), zap.ErrorOutput(zapcore.Lock(out))}
	if !zc.DisableStacktrace {
		opts = append(opts, zap.AddStacktrace(zapcore.ErrorLevel))
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(out), zc.Level), opts...), nil
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Ctx returns log with the trace_id and span_id of the span in ctx, so a
// line logged while serving a request or a message can be found from its
// trace and the other way round. Without a valid span context (tracing off,
// or a background loop) it returns log itself, at no cost.
func Ctx(ctx context.Context, log *zap.Logger) *zap.Logger {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return log
	}
	return log.With(zap.Stringer("trace_id", sc.TraceID()), zap.Stringer("span_id", sc.SpanID()))
}

// Module provides *zap.Logger, flushed at stop, routes the third-party
// libraries' own logging through it (RouteLibraries), and makes fx log its
// own events through it at debug level (fx is chatty at info). It must be
// given to fx.New directly, not nested in another module: fx.WithLogger only
// applies to the module it appears in.
var Module = fx.Options(
	fx.Provide(func(cfg Config) (*zap.Logger, error) {
		log, err := New(cfg)
		if err != nil {
			return nil, err
		}
		RouteLibraries(log)
		return log, nil
	}),
	fx.WithLogger(func(log *zap.Logger) fxevent.Logger {
		l := &fxevent.ZapLogger{Logger: log.Named("fx")}
		l.UseLogLevel(zapcore.DebugLevel)
		return l
	}),
	fx.Invoke(func(lc fx.Lifecycle, log *zap.Logger) {
		lc.Append(fx.StopHook(func() { _ = log.Sync() }))
	}),
)
