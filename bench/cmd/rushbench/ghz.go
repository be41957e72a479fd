package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bookingrush/rush/bench/internal/load"
	"github.com/bookingrush/rush/bench/internal/mesh"
)

// ghzConfig is the subset of ghz's JSON configuration the bench writes
// (bench/ghz/reserve.json is a commented example of the same shape).
type ghzConfig struct {
	Proto       string   `json:"proto"`
	ImportPaths []string `json:"import-paths"`
	Call        string   `json:"call"`
	Host        string   `json:"host"`
	Insecure    bool     `json:"insecure"`
	Concurrency int      `json:"concurrency"`
	Connections int      `json:"connections"`
	Duration    string   `json:"duration"`
	// DurationStop "wait": calls in flight at the end finish instead of
	// being cut (which ghz would count as Unavailable errors).
	DurationStop string            `json:"duration-stop"`
	Timeout      string            `json:"timeout"`
	Metadata     map[string]string `json:"metadata"`
	Data         map[string]any    `json:"data"`
	Format       string            `json:"format"`
	Output       string            `json:"output"`
}

// newGHZConfig targets host with one zone of ev and token; each call has its
// own idempotency key from ghz's template data.
func newGHZConfig(host string, ev *mesh.Event, token, keyPrefix string, quantity, conc int, d time.Duration, output string) ghzConfig {
	return ghzConfig{
		Proto:       "proto/bookingrush/booking/v1/booking.proto",
		ImportPaths: []string{"proto", "proto/vendor"},
		Call:        "bookingrush.booking.v1.BookingService.Reserve",
		Host:        host, Insecure: true,
		Concurrency: conc, Connections: 1,
		Duration: d.String(), DurationStop: "wait", Timeout: "5s",
		Metadata: map[string]string{"authorization": "Bearer " + token},
		Data: map[string]any{
			"show_id": ev.ShowID, "zone_id": ev.Zones[0], "quantity": quantity,
			"idempotency_key": keyPrefix + "{{.WorkerID}}-{{.RequestNumber}}",
		},
		Format: "json", Output: output,
	}
}

// ghzReport is the part of ghz's JSON report the bench reads.
type ghzReport struct {
	Count   uint64  `json:"count"`
	Total   int64   `json:"total"`
	Average int64   `json:"average"`
	Slowest int64   `json:"slowest"`
	RPS     float64 `json:"rps"`
	Latency []struct {
		Percentage int   `json:"percentage"`
		Latency    int64 `json:"latency"`
	} `json:"latencyDistribution"`
	Status map[string]uint64 `json:"statusCodeDistribution"`
	Errors map[string]uint64 `json:"errorDistribution"`
}

func (r *ghzReport) pct(p int) time.Duration {
	for _, l := range r.Latency {
		if l.Percentage == p {
			return time.Duration(l.Latency)
		}
	}
	return 0
}

func (r *ghzReport) summary() string {
	var st []string
	for _, k := range slices.Sorted(maps.Keys(r.Status)) {
		st = append(st, fmt.Sprintf("[%s] %d", k, r.Status[k]))
	}
	var errs []string
	for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
		errs = append(errs, fmt.Sprintf("[%s] %d", k, r.Errors[k]))
	}
	// ghz computes its percentiles from the successful calls only; the
	// average covers every call.
	note := ""
	if ok := r.Status["OK"]; ok < r.Count {
		note = fmt.Sprintf(" (percentiles of the %d OK calls only)", ok)
	}
	return fmt.Sprintf("%d calls in %.2fs = %.0f req/s; latency average %s; p50 %s p90 %s p99 %s max %s%s\n  status: %s\n  errors: %s",
		r.Count, time.Duration(r.Total).Seconds(), r.RPS, ms(time.Duration(r.Average)), ms(r.pct(50)), ms(r.pct(90)), ms(r.pct(99)), ms(time.Duration(r.Slowest)), note,
		strings.Join(st, " "), strings.Join(errs, " "))
}

func (b *bench) ghzBinary() (string, error) {
	if b.o.ghz != "" {
		return b.o.ghz, nil
	}
	if _, err := os.Stat("bin/tools/ghz"); err == nil {
		return "bin/tools/ghz", nil
	}
	p, err := exec.LookPath("ghz")
	if err != nil {
		return "", errors.New("ghz not found: make ghz (installs the pinned ghz into bin/tools), or -ghz=PATH")
	}
	return p, nil
}

// runGHZ writes a config for host and runs ghz with it.
func (b *bench) runGHZ(ctx context.Context, host string, plan *mesh.Plan, token, label string) (*ghzReport, error) {
	bin, err := b.ghzBinary()
	if err != nil {
		return nil, err
	}
	cfgFile := filepath.Join(b.dir, "ghz-"+label+".json")
	out := filepath.Join(b.dir, "ghz-"+label+"-report.json")
	cfg := newGHZConfig(host, plan.Event, token, plan.KeyPrefix+label, b.o.quantity, b.o.ghzConc, b.o.ghzDur, out)
	raw, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(cfgFile, raw, 0o644); err != nil {
		return nil, err
	}
	b.say("ghz %s: %s --config=%s", label, bin, cfgFile)
	cmd := exec.CommandContext(ctx, bin, "--config="+cfgFile)
	t0 := time.Now()
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ghz: %w: %s", err, msg)
	}
	if st := cmd.ProcessState; st != nil {
		b.say("  ghz process used %.2f cores", (st.UserTime()+st.SystemTime()).Seconds()/time.Since(t0).Seconds())
	}
	rep := &ghzReport{}
	raw, err = os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, rep); err != nil {
		return nil, fmt.Errorf("ghz report %s: %w", out, err)
	}
	return rep, nil
}

// scenarioGHZ runs ghz against the booking Reserve RPC with one user's token
// on a zone that never sells out, then audits. One token: ghz (v0.120) takes
// one metadata object, templated but not a list, and a token is signed, so
// it cannot rotate users; and an event allows at most 10 seats per user
// (catalog's max_per_user), so after the user's first 10 seats
// (max_per_user) every call answers MAX_PER_USER_EXCEEDED. That is still the
// whole hot path (token check, protovalidate, the reserve Lua script in
// Redis deciding), minus the writes of a hold; -scenario=rpc measures holds
// with rotating tokens.
func (b *bench) scenarioGHZ(ctx context.Context) error {
	if b.bookURL == "" {
		return errors.New("no booking address (-booking-addr)")
	}
	ev, err := b.event(ctx, "ghz "+b.run, 100000, 10)
	if err != nil {
		return err
	}
	plan := b.plan(ev, "ghz", mesh.HoldsOnly)
	done := b.profiled(ctx, "ghz", b.o.ghzDur)
	acct := b.cpu(nil)
	rep, err := b.runGHZ(ctx, strings.TrimPrefix(b.bookURL, "http://"), plan, b.tokens[0], "booking")
	if err != nil {
		return err
	}
	b.say("ghz booking Reserve (one token: holds up to max_per_user, then MAX_PER_USER_EXCEEDED): %s", rep.summary())
	b.record("ghz", rep.RPS, acct())
	done()
	ok := rep.Status["OK"]
	s := &load.Stats{Seats: map[int]int64{0: int64(ok) * int64(b.o.quantity)}, Outcomes: map[string]uint64{"ok": ok}}
	b.audit(ctx, "ghz", ev, s)
	return nil
}

// ghzConfigOnly writes a ghz config for an existing deployment
// (-target-url, -booking-addr, -jwt-secret, -postgres-url): it inserts a
// user, creates an event through the API and prints the ghz command.
func (b *bench) ghzConfigOnly(ctx context.Context) error {
	if b.o.targetURL == "" || b.o.bookingAddr == "" {
		return errors.New("ghz-config needs -target-url and -booking-addr of a running deployment (and -jwt-secret, -postgres-url, -key-prefix)")
	}
	b.o.users = 1
	if err := b.setup(ctx); err != nil {
		return err
	}
	defer b.teardown()
	ev, err := b.event(ctx, "ghz "+b.run, 100000, 10)
	if err != nil {
		return err
	}
	cfgFile := filepath.Join(b.dir, "ghz-reserve.json")
	cfg := newGHZConfig(b.o.bookingAddr, ev, b.tokens[0], "bench"+b.run+"ghz", b.o.quantity, b.o.ghzConc, b.o.ghzDur, filepath.Join(b.dir, "ghz-report.json"))
	raw, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(cfgFile, raw, 0o644); err != nil {
		return err
	}
	b.say("wrote %s (event %s, zone %s); run: ghz --config=%s", cfgFile, ev.ID, ev.Zones[0], cfgFile)
	return nil
}
func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
