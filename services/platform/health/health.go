// Package health knows whether this process can do its work: readiness checks
// (Postgres, Redis, Kafka reachable) contributed by the components in use, and
// a draining flag set at shutdown so load balancers stop sending work before
// the servers close.
package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"go.uber.org/fx"
)

// Check is one dependency probe.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// AsCheck annotates a constructor returning a Check so fx adds it to the
// readiness group.
func AsCheck(f any) any {
	return fx.Annotate(f, fx.ResultTags(`group:"readiness"`))
}

// Checker runs the readiness checks, caching the verdict briefly so probes
// under load do not hammer dependencies.
type Checker struct {
	checks   []Check
	timeout  time.Duration
	ttl      time.Duration
	draining atomic.Bool

	mu      sync.Mutex
	checked time.Time
	last    Report
}

// Report is the outcome of one readiness evaluation, by check name.
type Report map[string]error

// Err joins the failures of a report, nil when everything is reachable.
func (r Report) Err() error {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		if r[n] != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, r[n]))
		}
	}
	return errors.Join(errs...)
}

// Params are the checks of the components wired into this process.
type Params struct {
	fx.In
	Checks []Check `group:"readiness"`
}

// NewChecker builds the process's checker; duplicate check names collapse
// (several components may each ask for Postgres).
func NewChecker(p Params) *Checker {
	seen := map[string]bool{}
	var checks []Check
	for _, c := range p.Checks {
		if c.Fn == nil || seen[c.Name] {
			continue
		}
		seen[c.Name] = true
		checks = append(checks, c)
	}
	return &Checker{checks: checks, timeout: 2 * time.Second, ttl: time.Second}
}

// SetDraining marks the process as shutting down: from now on it reports not
// ready, whatever its dependencies say.
func (c *Checker) SetDraining() { c.draining.Store(true) }

// ErrDraining is reported while the process shuts down.
var ErrDraining = errors.New("shutting down")

// Ready evaluates every check (or reuses a verdict younger than the TTL).
func (c *Checker) Ready(ctx context.Context) Report {
	if c.draining.Load() {
		return Report{"process": ErrDraining}
	}
	c.mu.Lock()
	if time.Since(c.checked) < c.ttl && c.last != nil {
		r := c.last
		c.mu.Unlock()
		return r
	}
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	r := make(Report, len(c.checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, chk := range c.checks {
		wg.Go(func() {
			err := chk.Fn(ctx)
			mu.Lock()
			r[chk.Name] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	c.mu.Lock()
	c.checked, c.last = time.Now(), r
	c.mu.Unlock()
	return r
}

// GRPC returns a grpchealth.Checker for a server that hosts the named
// services: "" (the whole process) and each of them are SERVING exactly when
// the process is ready; any other name is NOT_FOUND.
func (c *Checker) GRPC(services ...string) grpchealth.Checker {
	known := map[string]bool{"": true}
	for _, s := range services {
		known[s] = true
	}
	return grpcChecker{c: c, known: known}
}

type grpcChecker struct {
	c     *Checker
	known map[string]bool
}

func (g grpcChecker) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	if !g.known[req.Service] {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("unknown service %q", req.Service))
	}
	if g.c.Ready(ctx).Err() != nil {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
}

// Module provides *Checker.
var Module = fx.Module("health", fx.Provide(NewChecker))

// LivenessHandler answers 200 while the process runs.
func (c *Checker) LivenessHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
}

// ReadinessHandler answers 200 when every dependency of this process is
// reachable, and 503 SERVICE_UNAVAILABLE (in the edge's error envelope)
// naming the ones that are not.
func (c *Checker) ReadinessHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		report := c.Ready(r.Context())
		checks := make(map[string]string, len(report))
		for name, err := range report {
			checks[name] = "ok"
			if err != nil {
				checks[name] = err.Error()
			}
		}
		if report.Err() != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"success": false, "error": map[string]any{
				"code": "SERVICE_UNAVAILABLE", "message": "dependencies unreachable", "details": checks,
			}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": checks})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
