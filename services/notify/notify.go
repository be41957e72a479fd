// Package notify sends e-mails (booking confirmed, expired, cancelled, refunded, password reset) and records every message.
package notify

import (
	"flag"

	"go.uber.org/fx"

	"github.com/bookingrush/rush/gen/bookingrush/notify/v1/notifyv1connect"
	"github.com/bookingrush/rush/services/platform/server"
)

// Config is the notify component's configuration.
type Config struct {
	// Addr is where the NotifyService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
}

// RegisterFlags registers notify.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "notify.addr", server.DefaultAddr("notify"), "listen address of the NotifyService")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	return server.ValidateAddr("notify.addr", c.Addr)
}

// Server implements notifyv1connect.NotifyServiceHandler.
type Server struct {
	notifyv1connect.UnimplementedNotifyServiceHandler
}

var _ notifyv1connect.NotifyServiceHandler = (*Server)(nil)

// NewServer returns the NotifyService handler.
func NewServer() notifyv1connect.NotifyServiceHandler {
	return &Server{}
}

// Module serves the NotifyService on cfg.Addr.
func Module(cfg Config) fx.Option {
	return fx.Module("notify",
		fx.Supply(cfg),
		fx.Provide(NewServer),
		server.Serve("notify", cfg.Addr, notifyv1connect.NotifyServiceName, notifyv1connect.NewNotifyServiceHandler),
	)
}
