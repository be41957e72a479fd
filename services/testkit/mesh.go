// Package testkit is the one test kit of the repository: it starts (parts
// of) the rush mesh in-process the way the binary does (the configuration
// goes through the real loader, every server listens on a free loopback
// port, everything stops when the test ends), seeds a shop, and holds the
// small assertions every package's tests share (WantCode, Count, As).
//
//	m := testkit.Start(t, "-target=auth")
//	c := authv1connect.NewAuthServiceClient(server.NewClient(), m.URL(t, "auth"))
//
// Split runs every component as a process of its own, as the Helm chart
// deploys them (one metrics endpoint each, peers and Kafka shared).
//
// It sits beside services/app, above the services (it wires them through
// app.New), so only tests import it: services/testkit/imports_test.go fails
// when non-test code does. The platform's own tests use the pieces it is
// built on (platform/pgtest, mail/mailtest, faulttest), which import nothing
// above the platform.
package testkit

import (
	"context"
	"flag"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/bookingrush/rush/schema"
	"github.com/bookingrush/rush/services/app"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/redisx"
	"github.com/bookingrush/rush/services/platform/server"
)

// Secret is the jwt.secret of every mesh started here, so tokens minted by
// one test mesh verify in another.
const Secret = "test-secret-0123456789abcdef-0123456789"

// Mesh is a running in-process mesh.
type Mesh struct {
	// Registry knows where each running component listens.
	Registry *server.Registry
	// Keys issues and verifies the mesh's tokens.
	Keys *authn.Keys
	// Config is the configuration the mesh runs with.
	Config *app.Config
	// DSN is the PostgreSQL URL of the mesh's schema.
	DSN string
}

// Start runs a mesh on a fresh, migrated schema (pgtest.Migrated); args are
// rush flags such as "-target=auth" and override the defaults of Config.
func Start(t testing.TB, args ...string) *Mesh {
	t.Helper()
	dsn := pgtest.Migrated(t)
	return Run(t, Config(t, dsn, append([]string{"-postgres.migrate-on-start=false"}, args...)...))
}

// Config loads a configuration the way the binary does, without the
// environment: the database dsn, a fixed jwt.secret, warn-level logs, fresh
// Redis prefixes for auth and the revocation feed, bcrypt at its cheapest
// (auth hashes a password at start; at the production cost 12 it took over a
// second of CPU under -race, for every mesh), and every listen address on
// 127.0.0.1 port 0 (and Load's peers); args come last and win.
func Config(t testing.TB, dsn string, args ...string) *app.Config {
	t.Helper()
	// Auth's per-address limits and the token-revocation feed live in
	// Redis under fixed default prefixes: a test of its own does not share
	// them with other tests, or with its own earlier runs.
	base := append([]string{"-postgres.url=" + dsn, "-log.level=warn", "-jwt.secret=" + Secret, "-auth.bcrypt-cost=4",
		"-auth.key-prefix=" + KeyPrefix(t, redisx.DefaultURL), "-jwt.revocation-prefix=" + KeyPrefix(t, redisx.DefaultURL)}, LoopbackAddrs()...)
	return Load(t, append(base, args...)...)
}

// NoPeer is an address where nothing answers (a connection to it is
// refused): every peer of a test mesh that the test does not name.
const NoPeer = "127.0.0.1:1"

// Load reads a configuration from args alone, the way the binary does
// without its environment: the defaults, every peer at NoPeer, then args.
//
// A component a test does not run is reached at its peer address, whose
// default is the port `make run` serves it on: with the whole system
// running on the same machine, a test of auth alone had its calls to the
// gate answered by that system (401: another jwt.secret). A test that
// runs a peer elsewhere names it (-peer.<component>).
func Load(t testing.TB, args ...string) *app.Config {
	t.Helper()
	var cfg app.Config
	noEnv := func(string) (string, bool) { return "", false }
	peers := make([]string, 0, len(server.Ports)+len(args))
	for name := range server.Ports {
		peers = append(peers, "-peer."+name+"="+NoPeer)
	}
	if err := config.Load(&cfg, flag.NewFlagSet("rush", flag.ContinueOnError), append(peers, args...), noEnv); err != nil {
		t.Fatalf("testkit: config: %v", err)
	}
	return &cfg
}

// LoopbackAddrs are the flags that make every server of the binary (each
// target's and the metrics one) listen on 127.0.0.1, port 0: a free port.
func LoopbackAddrs() []string {
	var probe app.Config
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	probe.RegisterFlags(fs)
	var out []string
	for _, name := range append(app.Targets(), "metrics") {
		if fs.Lookup(name+".addr") != nil {
			out = append(out, "-"+name+".addr=127.0.0.1:0")
		}
	}
	return out
}

// Run starts cfg's targets in-process, with extra fx options (fx.Populate
// of what else the test reads, fx.Decorate...), and stops them when the
// test ends.
func Run(t testing.TB, cfg *app.Config, extra ...fx.Option) *Mesh {
	t.Helper()
	m := &Mesh{Config: cfg, DSN: cfg.Postgres.URL.Reveal()}
	a := app.New(cfg, append([]fx.Option{fx.Populate(&m.Registry, &m.Keys), fx.NopLogger}, extra...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatalf("testkit: start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := a.Stop(ctx); err != nil {
			t.Errorf("testkit: stop: %v", err)
		}
	})
	return m
}

// URL is the base URL of component name ("auth", "edge", "metrics"...);
// the test fails when it does not run in this mesh.
func (m *Mesh) URL(t testing.TB, name string) string {
	t.Helper()
	u, ok := m.Registry.URL(name)
	if !ok {
		t.Fatalf("testkit: component %s is not running", name)
	}
	return u
}

// Token issues an access token for a user of the default tenant.
func (m *Mesh) Token(t testing.TB, userID, role string) string {
	t.Helper()
	tok, _, err := m.Keys.IssueAccess(userID, role, schema.DefaultTenantID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
