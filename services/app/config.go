package app

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bookingrush/rush/edge"
	"github.com/bookingrush/rush/services/analytics"
	"github.com/bookingrush/rush/services/auth"
	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/catalog"
	"github.com/bookingrush/rush/services/gate"
	"github.com/bookingrush/rush/services/notify"
	"github.com/bookingrush/rush/services/payment"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/logging"
	"github.com/bookingrush/rush/services/platform/mail"
	"github.com/bookingrush/rush/services/platform/postgres"
	"github.com/bookingrush/rush/services/platform/redisx"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/platform/telemetry"
	"github.com/bookingrush/rush/services/queue"
	"github.com/bookingrush/rush/services/saga"
)

// Config is the whole configuration tree of the rush binary; every process
// reads the same tree, whatever its targets.
type Config struct {
	Target    config.StringSlice `yaml:"target"`
	Log       logging.Config     `yaml:"log"`
	Telemetry telemetry.Config   `yaml:"telemetry"`
	Metrics   MetricsConfig      `yaml:"metrics"`
	Server    server.Config      `yaml:"server"`
	Peers     server.PeersConfig `yaml:"peers"`
	JWT       authn.Config       `yaml:"jwt"`
	Postgres  postgres.Config    `yaml:"postgres"`
	Redis     redisx.Config      `yaml:"redis"`
	Kafka     kafka.Config       `yaml:"kafka"`
	Admin     auth.AdminConfig   `yaml:"admin"`
	SMTP      mail.Config        `yaml:"smtp"`

	Edge      edge.Config          `yaml:"edge"`
	RateLimit edge.RateLimitConfig `yaml:"rate_limit"`
	Auth      auth.Config          `yaml:"auth"`
	Catalog   catalog.Config       `yaml:"catalog"`
	Booking   booking.Config       `yaml:"booking"`
	Payment   payment.Config       `yaml:"payment"`
	Stripe    payment.StripeConfig `yaml:"stripe"`
	Notify    notify.Config        `yaml:"notify"`
	Queue     queue.Config         `yaml:"queue"`
	Analytics analytics.Config     `yaml:"analytics"`
	Saga      saga.Config          `yaml:"saga"`
	Gate      gate.Config          `yaml:"gate"`
}

// MetricsConfig is the per-process operations endpoint: /metrics, /healthz,
// /readyz and /debug/pprof.
type MetricsConfig struct {
	Addr  string `yaml:"addr"`
	Pprof bool   `yaml:"pprof"`
}

func (c *Config) parts() []config.Registerer {
	return []config.Registerer{
		&c.Log, &c.Telemetry, &c.Server, &c.Peers, &c.JWT, &c.Postgres, &c.Redis, &c.Kafka, &c.Admin, &c.SMTP,
		&c.Edge, &c.RateLimit, &c.Auth, &c.Catalog, &c.Booking, &c.Payment, &c.Stripe, &c.Notify, &c.Queue, &c.Analytics, &c.Saga, &c.Gate,
	}
}

// RegisterFlags registers every flag of the tree.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	config.StringSliceVar(f, &c.Target, "target", []string{"all"},
		"components to run, comma-separated: all or any of "+strings.Join(Targets(), ", "))
	f.StringVar(&c.Metrics.Addr, "metrics.addr", ":9100", "listen address of /metrics, /healthz, /readyz and /debug/pprof")
	f.BoolVar(&c.Metrics.Pprof, "metrics.pprof", true, "serve /debug/pprof on metrics.addr")
	for _, p := range c.parts() {
		p.RegisterFlags(f)
	}
}

// Validate checks the targets and every part of the tree; it reports all
// problems at once.
func (c *Config) Validate() error {
	var errs []error
	names, err := resolve(c.Target)
	if err != nil {
		errs = append(errs, err)
	}
	if c.JWT.Secret == "" && len(names) < len(components) {
		errs = append(errs, errors.New("jwt.secret: required when the components run in separate processes (every process must verify the others' tokens); set RUSH_JWT_SECRET"))
	}
	if c.Server.ShutdownTimeout >= StopTimeout {
		errs = append(errs, fmt.Errorf("server.shutdown-timeout: %v is not shorter than the process's stop timeout (%v), which would cut the drain short; the Kubernetes grace period must exceed the preStop sleep plus %v", c.Server.ShutdownTimeout, StopTimeout, StopTimeout))
	}
	if err := server.ValidateAddr("metrics.addr", c.Metrics.Addr); err != nil {
		errs = append(errs, err)
	}
	for _, p := range c.parts() {
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, e := range c.JWT.ServiceAccounts {
		if err := ValidateServiceAccount(e); err != nil {
			errs = append(errs, fmt.Errorf("jwt.service-accounts: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ValidateServiceAccount checks a jwt.service-accounts entry as authn
// reads it, and that every service of its scope is one of the mesh's (a
// component with a Connect port): a misspelt one ("catalgo") would leave the
// account a key that every service refuses.
func ValidateServiceAccount(entry string) error {
	a, err := authn.ParseServiceAccount(entry)
	if err != nil {
		return err
	}
	for _, s := range a.Services {
		if _, ok := server.Ports[s]; !ok {
			return fmt.Errorf("service account %s: %q is no service of the mesh (%s)", a.Name, s, strings.Join(slices.Sorted(maps.Keys(server.Ports)), ", "))
		}
	}
	return nil
}

// resolve expands the target list ("all" included) into component names in
// start order, rejecting unknown names.
func resolve(targets []string) ([]string, error) {
	if len(targets) == 0 {
		return nil, errors.New("target: empty; use all or any of " + strings.Join(Targets(), ", "))
	}
	want := map[string]bool{}
	for _, t := range targets {
		if t == "all" {
			for _, c := range components {
				want[c.name] = true
			}
			continue
		}
		if _, ok := byName(t); !ok {
			return nil, fmt.Errorf("target: unknown component %q; use all or any of %s", t, strings.Join(Targets(), ", "))
		}
		want[t] = true
	}
	var out []string
	for _, c := range components {
		if want[c.name] {
			out = append(out, c.name)
		}
	}
	return out, nil
}
