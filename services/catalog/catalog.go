// Package catalog owns events, shows, seat zones and categories: organizer-owned, draft to published to cancelled, with a Redis-cached read path.
package catalog

import (
	"flag"

	"go.uber.org/fx"

	"github.com/bookingrush/rush/gen/bookingrush/catalog/v1/catalogv1connect"
	"github.com/bookingrush/rush/services/platform/server"
)

// Config is the catalog component's configuration.
type Config struct {
	// Addr is where the CatalogService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
}

// RegisterFlags registers catalog.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "catalog.addr", server.DefaultAddr("catalog"), "listen address of the CatalogService")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	return server.ValidateAddr("catalog.addr", c.Addr)
}

// Server implements catalogv1connect.CatalogServiceHandler.
type Server struct {
	catalogv1connect.UnimplementedCatalogServiceHandler
}

var _ catalogv1connect.CatalogServiceHandler = (*Server)(nil)

// NewServer returns the CatalogService handler.
func NewServer() catalogv1connect.CatalogServiceHandler {
	return &Server{}
}

// Module serves the CatalogService on cfg.Addr.
func Module(cfg Config) fx.Option {
	return fx.Module("catalog",
		fx.Supply(cfg),
		fx.Provide(NewServer),
		server.Serve("catalog", cfg.Addr, catalogv1connect.CatalogServiceName, catalogv1connect.NewCatalogServiceHandler,
			// Callable without a token:
			catalogv1connect.CatalogServiceListEventsProcedure,
			catalogv1connect.CatalogServiceGetEventProcedure,
			catalogv1connect.CatalogServiceListShowsProcedure,
			catalogv1connect.CatalogServiceListZonesProcedure,
			catalogv1connect.CatalogServiceListCategoriesProcedure,
		),
	)
}
