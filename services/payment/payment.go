// Package payment takes payments for held bookings through a provider (Stripe or the simulator), records webhooks idempotently and refunds.
package payment

import (
	"flag"

	"go.uber.org/fx"

	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/services/platform/server"
)

// Config is the payment component's configuration.
type Config struct {
	// Addr is where the PaymentService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
}

// RegisterFlags registers payment.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "payment.addr", server.DefaultAddr("payment"), "listen address of the PaymentService")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	return server.ValidateAddr("payment.addr", c.Addr)
}

// Server implements paymentv1connect.PaymentServiceHandler.
type Server struct {
	paymentv1connect.UnimplementedPaymentServiceHandler
}

var _ paymentv1connect.PaymentServiceHandler = (*Server)(nil)

// NewServer returns the PaymentService handler.
func NewServer() paymentv1connect.PaymentServiceHandler {
	return &Server{}
}

// Module serves the PaymentService on cfg.Addr.
func Module(cfg Config) fx.Option {
	return fx.Module("payment",
		fx.Supply(cfg),
		fx.Provide(NewServer),
		server.Serve("payment", cfg.Addr, paymentv1connect.PaymentServiceName, paymentv1connect.NewPaymentServiceHandler,
			// Callable without a token:
			paymentv1connect.PaymentServiceHandleStripeWebhookProcedure,
		),
	)
}
