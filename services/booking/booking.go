// Package booking is the booking engine: atomic reservations in Redis, expiring holds, confirmation and cancellation.
package booking

import (
	"flag"
	"fmt"
	"time"

	"go.uber.org/fx"

	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	"github.com/bookingrush/rush/services/platform/server"
)

// Config is the booking component's configuration.
type Config struct {
	// Addr is where the BookingService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
	// HoldTTL is how long a reservation holds seats before they come back.
	HoldTTL time.Duration `yaml:"hold_ttl"`
}

// RegisterFlags registers booking.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "booking.addr", server.DefaultAddr("booking"), "listen address of the BookingService")
	f.DurationVar(&c.HoldTTL, "booking.hold-ttl", 10*time.Minute, "how long a reservation holds seats unpaid")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.HoldTTL < time.Second {
		return fmt.Errorf("booking.hold-ttl: %v is shorter than a second", c.HoldTTL)
	}
	return server.ValidateAddr("booking.addr", c.Addr)
}

// Server implements bookingv1connect.BookingServiceHandler.
type Server struct {
	bookingv1connect.UnimplementedBookingServiceHandler
}

var _ bookingv1connect.BookingServiceHandler = (*Server)(nil)

// NewServer returns the BookingService handler.
func NewServer() bookingv1connect.BookingServiceHandler {
	return &Server{}
}

// Module serves the BookingService on cfg.Addr.
func Module(cfg Config) fx.Option {
	return fx.Module("booking",
		fx.Supply(cfg),
		fx.Provide(NewServer),
		server.Serve("booking", cfg.Addr, bookingv1connect.BookingServiceName, bookingv1connect.NewBookingServiceHandler),
	)
}
