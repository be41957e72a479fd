// Package saga orchestrates the post-payment saga: confirm the booking, notify the buyer, refund when the hold was gone.
package saga

import (
	"flag"

	"go.uber.org/fx"

	"github.com/bookingrush/rush/gen/bookingrush/saga/v1/sagav1connect"
	"github.com/bookingrush/rush/services/platform/server"
)

// Config is the saga component's configuration.
type Config struct {
	// Addr is where the SagaService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
}

// RegisterFlags registers saga.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "saga.addr", server.DefaultAddr("saga"), "listen address of the SagaService")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	return server.ValidateAddr("saga.addr", c.Addr)
}

// Server implements sagav1connect.SagaServiceHandler.
type Server struct {
	sagav1connect.UnimplementedSagaServiceHandler
}

var _ sagav1connect.SagaServiceHandler = (*Server)(nil)

// NewServer returns the SagaService handler.
func NewServer() sagav1connect.SagaServiceHandler {
	return &Server{}
}

// Module serves the SagaService on cfg.Addr.
func Module(cfg Config) fx.Option {
	return fx.Module("saga",
		fx.Supply(cfg),
		fx.Provide(NewServer),
		server.Serve("saga", cfg.Addr, sagav1connect.SagaServiceName, sagav1connect.NewSagaServiceHandler),
	)
}
