// Package edge is the only public door of the mesh: the /api/v1 JSON API,
// transcoded to the internal RPCs, plus liveness and readiness for load
// balancers.
package edge

import (
	"encoding/json"
	"flag"
	"net/http"

	"go.uber.org/fx"

	"github.com/bookingrush/rush/services/platform/health"
	"github.com/bookingrush/rush/services/platform/server"
)

// Config is the edge's configuration.
type Config struct {
	// Addr is where the public HTTP API listens.
	Addr string `yaml:"addr"`
}

// RegisterFlags registers edge.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "edge.addr", ":8080", "listen address of the public JSON API")
}

// Validate checks the configuration.
func (c *Config) Validate() error { return server.ValidateAddr("edge.addr", c.Addr) }

// NewHandler returns the edge's HTTP handler.
func NewHandler(checker *health.Checker) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", checker.LivenessHandler())
	mux.Handle("GET /readyz", checker.ReadinessHandler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody("NOT_FOUND", "no route for "+r.Method+" "+r.URL.Path))
	})
	return mux
}

func errorBody(code, msg string) map[string]any {
	return map[string]any{"success": false, "error": map[string]any{"code": code, "message": msg}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Module serves the edge on cfg.Addr.
func Module(cfg Config) fx.Option {
	return fx.Module("edge",
		fx.Supply(cfg),
		fx.Invoke(func(lc fx.Lifecycle, d server.Deps) {
			server.Listen(lc, d, "edge", cfg.Addr, NewHandler(d.Health))
		}),
	)
}
