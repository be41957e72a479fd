// Package queue is the virtual waiting room: per-event lines, rate-based admission and queue passes.
package queue

import (
	"flag"

	"go.uber.org/fx"

	"github.com/bookingrush/rush/gen/bookingrush/queue/v1/queuev1connect"
	"github.com/bookingrush/rush/services/platform/server"
)

// Config is the queue component's configuration.
type Config struct {
	// Addr is where the QueueService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
}

// RegisterFlags registers queue.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "queue.addr", server.DefaultAddr("queue"), "listen address of the QueueService")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	return server.ValidateAddr("queue.addr", c.Addr)
}

// Server implements queuev1connect.QueueServiceHandler.
type Server struct {
	queuev1connect.UnimplementedQueueServiceHandler
}

var _ queuev1connect.QueueServiceHandler = (*Server)(nil)

// NewServer returns the QueueService handler.
func NewServer() queuev1connect.QueueServiceHandler {
	return &Server{}
}

// Module serves the QueueService on cfg.Addr.
func Module(cfg Config) fx.Option {
	return fx.Module("queue",
		fx.Supply(cfg),
		fx.Provide(NewServer),
		server.Serve("queue", cfg.Addr, queuev1connect.QueueServiceName, queuev1connect.NewQueueServiceHandler),
	)
}
