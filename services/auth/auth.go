// Package auth registers users, issues and rotates JWT access and refresh tokens, resets passwords and manages roles.
//
// Sessions: an access token is a short-lived JWT (jwt.access-ttl) that every
// service verifies itself; a refresh token is an opaque random string stored
// only as its SHA-256 hash. Each Refresh retires the presented token and
// issues its successor in the same family; presenting a retired token again
// means it leaked, so the whole family (the session) is revoked. Logout
// revokes the family of the token it is given. Access tokens carry the
// user's token version (authn.Revocations): logout and password reset end
// every access token issued before, a role change gives them the new role,
// within seconds everywhere. A role change and a deletion tell the gate
// in their transaction (Gate): the check-in devices the user registered
// work only while the user may run their events.
//
// Passwords are bcrypt hashes (auth.bcrypt-cost, 12 in production). Login
// answers the same UNAUTHORIZED for an unknown e-mail and a wrong password,
// and compares against a dummy hash for unknown e-mails so both take as
// long. ForgotPassword only queues the request and answers at once; a
// background worker looks the address up and mails a single-use, expiring
// reset link, so neither the answer nor its timing tells whether the
// address has an account.
//
// Limits per target address (limits.go), on top of the edge's per client:
// sign-in attempts per e-mail (auth.login-per-email) and password-reset
// mails per e-mail (auth.reset-mails-per-email), in Redis, for known and
// unknown addresses alike. A reset request over the limit is answered like
// any other and mails nothing.
//
// Audit: register, login, failed login (e-mail masked), logout, password
// reset and role changes are recorded in the audit log in the transaction of
// the change (a failed login, which changes nothing, right after);
// ListAuditLogs reads it for admins. The component also keeps the audit
// log's monthly partitions ahead (on start and daily).
package auth

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/bookingrush/rush/gen/bookingrush/auth/v1/authv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/gate/v1/gatev1connect"
	"github.com/bookingrush/rush/gen/bookingrush/notify/v1/notifyv1connect"
	"github.com/bookingrush/rush/services/platform/audit"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/server"
)

// Config is the auth component's configuration.
type Config struct {
	// Addr is where the AuthService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
	// BcryptCost is the bcrypt work factor of new password hashes. Production
	// keeps 12; tests lower it (bcrypt's minimum is 4) because each step
	// doubles the time of every hash and every login.
	BcryptCost int `yaml:"bcrypt_cost"`
	// RefreshTTL is how long a refresh token (and so an idle session) lives.
	RefreshTTL time.Duration `yaml:"refresh_ttl"`
	// ResetTTL is how long a password-reset link works.
	ResetTTL time.Duration `yaml:"reset_ttl"`
	// ResetURL is the frontend page the reset e-mail links to, with
	// ?token=... appended.
	ResetURL string `yaml:"reset_url"`
	// KeyPrefix starts auth's Redis keys (the per-address limits).
	KeyPrefix string `yaml:"key_prefix"`
	// LoginPerEmail limits sign-in attempts per target e-mail address,
	// whichever clients they come from (the edge limits each client).
	LoginPerEmail EmailLimit `yaml:"login_per_email"`
	// ResetMailsPerEmail limits the password-reset mails one address
	// receives; requests above it are answered 202 like any other, and no
	// mail goes out.
	ResetMailsPerEmail EmailLimit `yaml:"reset_mails_per_email"`
}

// RegisterFlags registers auth.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "auth.addr", server.DefaultAddr("auth"), "listen address of the AuthService")
	f.IntVar(&c.BcryptCost, "auth.bcrypt-cost", 12, "bcrypt cost of password hashes (keep 12 in production; 4 is bcrypt's minimum, for tests)")
	f.DurationVar(&c.RefreshTTL, "auth.refresh-ttl", 30*24*time.Hour, "lifetime of refresh tokens")
	f.DurationVar(&c.ResetTTL, "auth.reset-ttl", time.Hour, "lifetime of password-reset tokens")
	f.StringVar(&c.ResetURL, "auth.reset-url", "http://localhost:3000/reset-password", "page the reset e-mail links to (?token=... is appended); the password-changed e-mail links to forgot-password beside it")
	f.StringVar(&c.KeyPrefix, "auth.key-prefix", "auth:", "prefix of auth's Redis keys (per-address limits)")
	c.LoginPerEmail.registerFlags(f, "auth.login-per-email", 10, 10, "sign-in attempts")
	c.ResetMailsPerEmail.registerFlags(f, "auth.reset-mails-per-email", 3, 3, "password-reset mails")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var problems []error
	if err := server.ValidateAddr("auth.addr", c.Addr); err != nil {
		problems = append(problems, err)
	}
	if c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost {
		problems = append(problems, fmt.Errorf("auth.bcrypt-cost: %d is outside [%d, %d] (production: 12)", c.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost))
	}
	if c.RefreshTTL < time.Minute {
		problems = append(problems, fmt.Errorf("auth.refresh-ttl: %v is shorter than a minute", c.RefreshTTL))
	}
	if c.ResetTTL < time.Second || c.ResetTTL > 7*24*time.Hour {
		problems = append(problems, fmt.Errorf("auth.reset-ttl: %v is outside [1s, 168h]", c.ResetTTL))
	}
	if u, err := url.Parse(c.ResetURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Errorf("auth.reset-url: %q is not an http(s) URL", c.ResetURL))
	}
	if c.KeyPrefix == "" {
		problems = append(problems, errors.New("auth.key-prefix: must not be empty (auth shares Redis with the booking engine)"))
	}
	for name, l := range map[string]EmailLimit{"auth.login-per-email": c.LoginPerEmail, "auth.reset-mails-per-email": c.ResetMailsPerEmail} {
		if err := l.validate(name); err != nil {
			problems = append(problems, err)
		}
	}
	return errors.Join(problems...)
}

// AdminConfig is the bootstrap administrator (the top-level "admin" section:
// admin.email / admin.password, env RUSH_ADMIN_EMAIL / RUSH_ADMIN_PASSWORD).
// When Email is set, the auth component makes sure on start that this user
// exists in the default tenant with role admin: it creates it with Password,
// or promotes an existing account (whose password it leaves alone).
type AdminConfig struct {
	Email    string        `yaml:"email"`
	Password config.Secret `yaml:"password"`
}

// RegisterFlags registers admin.* flags.
func (c *AdminConfig) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Email, "admin.email", "", "e-mail of the bootstrap admin, created or promoted when auth starts; empty: none")
	config.SecretVar(f, &c.Password, "admin.password", "", "password of the bootstrap admin when it is created (8 characters to 72 bytes)")
}

// Validate checks that an admin e-mail comes with a usable password.
func (c *AdminConfig) Validate() error {
	if c.Email == "" {
		if c.Password != "" {
			return errors.New("admin.password: set without admin.email")
		}
		return nil
	}
	if at := strings.IndexByte(c.Email, '@'); at < 1 || at == len(c.Email)-1 || strings.ContainsAny(c.Email, " \t\r\n") {
		return fmt.Errorf("admin.email: %q is not an e-mail address", c.Email)
	}
	if n := len(c.Password.Reveal()); n < 8 || n > 72 {
		return errors.New("admin.password: required with admin.email, 8 to 72 bytes; set RUSH_ADMIN_PASSWORD")
	}
	return nil
}

// Module serves the AuthService on cfg.Addr. Reset e-mails go through the
// notify component (NotifyService.SendNotification, template
// password_reset), which records them and retries the SMTP relay; admin is
// created or promoted on start.
func Module(cfg Config, admin AdminConfig) fx.Option {
	return fx.Module("auth",
		fx.Supply(cfg),
		fx.Provide(
			fx.Private,
			func(mesh *server.Mesh) Bookings {
				return NewBookings(server.Dial(mesh, "auth", "booking", bookingv1connect.NewBookingServiceClient))
			},
			func(mesh *server.Mesh) notifyv1connect.NotifyServiceClient {
				return server.Dial(mesh, "auth", "notify", notifyv1connect.NewNotifyServiceClient)
			},
			func(mesh *server.Mesh) Gate {
				return NewGate(server.Dial(mesh, "auth", "gate", gatev1connect.NewGateServiceClient))
			},
			NewService,
			NewServer,
		),
		// Appended before server.Serve's hook: the admin exists and the
		// mail worker runs before the port opens.
		fx.Invoke(func(lc fx.Lifecycle, s *Service) {
			lc.Append(fx.Hook{
				OnStart: func(ctx context.Context) error {
					if err := s.BootstrapAdmin(ctx, admin); err != nil {
						return err
					}
					if err := s.EnsureServiceAccounts(ctx); err != nil {
						return err
					}
					s.StartMailer()
					return nil
				},
				OnStop: s.StopMailer,
			})
		}),
		// The audit log's monthly partitions are created ahead, on start
		// and daily after; every replica may run it (the SQL function is
		// idempotent and takes an advisory lock).
		fx.Invoke(func(lc fx.Lifecycle, pool *pgxpool.Pool, log *zap.Logger) {
			m := audit.NewMaintainer(pool, log, 24*time.Hour)
			lc.Append(fx.Hook{
				OnStart: func(ctx context.Context) error { m.Start(ctx); return nil },
				OnStop:  m.Stop,
			})
		}),
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
