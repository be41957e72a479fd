// Package analytics keeps per-event daily and hourly sales aggregates built from booking and payment events.
package analytics

import (
	"flag"

	"go.uber.org/fx"

	"github.com/bookingrush/rush/gen/bookingrush/analytics/v1/analyticsv1connect"
	"github.com/bookingrush/rush/services/platform/server"
)

// Config is the analytics component's configuration.
type Config struct {
	// Addr is where the AnalyticsService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
}

// RegisterFlags registers analytics.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "analytics.addr", server.DefaultAddr("analytics"), "listen address of the AnalyticsService")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	return server.ValidateAddr("analytics.addr", c.Addr)
}

// Server implements analyticsv1connect.AnalyticsServiceHandler.
type Server struct {
	analyticsv1connect.UnimplementedAnalyticsServiceHandler
}

var _ analyticsv1connect.AnalyticsServiceHandler = (*Server)(nil)

// NewServer returns the AnalyticsService handler.
func NewServer() analyticsv1connect.AnalyticsServiceHandler {
	return &Server{}
}

// Module serves the AnalyticsService on cfg.Addr.
func Module(cfg Config) fx.Option {
	return fx.Module("analytics",
		fx.Supply(cfg),
		fx.Provide(NewServer),
		server.Serve("analytics", cfg.Addr, analyticsv1connect.AnalyticsServiceName, analyticsv1connect.NewAnalyticsServiceHandler),
	)
}
