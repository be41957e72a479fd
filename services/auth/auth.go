// Package auth registers users, issues and rotates JWT access and refresh tokens, resets passwords and manages roles.
package auth

import (
	"flag"

	"go.uber.org/fx"

	"github.com/bookingrush/rush/gen/bookingrush/auth/v1/authv1connect"
	"github.com/bookingrush/rush/services/platform/server"
)

// Config is the auth component's configuration.
type Config struct {
	// Addr is where the AuthService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
}

// RegisterFlags registers auth.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "auth.addr", server.DefaultAddr("auth"), "listen address of the AuthService")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	return server.ValidateAddr("auth.addr", c.Addr)
}

// Server implements authv1connect.AuthServiceHandler.
type Server struct {
	authv1connect.UnimplementedAuthServiceHandler
}

var _ authv1connect.AuthServiceHandler = (*Server)(nil)

// NewServer returns the AuthService handler.
func NewServer() authv1connect.AuthServiceHandler {
	return &Server{}
}

// Module serves the AuthService on cfg.Addr.
func Module(cfg Config) fx.Option {
	return fx.Module("auth",
		fx.Supply(cfg),
		fx.Provide(NewServer),
		server.Serve("auth", cfg.Addr, authv1connect.AuthServiceName, authv1connect.NewAuthServiceHandler,
			// Callable without a token:
			authv1connect.AuthServiceRegisterProcedure,
			authv1connect.AuthServiceLoginProcedure,
			authv1connect.AuthServiceRefreshProcedure,
			authv1connect.AuthServiceLogoutProcedure,
			authv1connect.AuthServiceForgotPasswordProcedure,
			authv1connect.AuthServiceResetPasswordProcedure,
		),
	)
}
