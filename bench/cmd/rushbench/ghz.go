package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bojand/ghz/runner"
	"google.golang.org/grpc/metadata"

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
	DurationStop string `json:"duration-stop"`
	Timeout      string `json:"timeout"`
	// Metadata is one object: ghz's command line (v0.120) sends the same
	// metadata with every call (its template sees the request number, but
	// a token is signed and cannot be templated). The ghz scenario runs
	// ghz's runner with a metadata provider instead, which rotates.
	Metadata map[string]string `json:"metadata"`
	Data     map[string]any    `json:"data"`
	Format   string            `json:"format"`
	Output   string            `json:"output"`
}

// newGHZConfig targets host with one zone of ev and token; each call has
// its own idempotency key from ghz's template data.
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

// runGHZ runs ghz's own load engine (github.com/bojand/ghz/runner, what
// the ghz command runs) in this process with the options of a config for
// host (written next to the report, for a run by hand), every call with the
// next user's token (runner.WithMetadataProvider, round robin over tokens),
// and returns ghz's report.
func (b *bench) runGHZ(host string, plan *mesh.Plan, tokens []string, label string) (*ghzReport, error) {
	cfgFile := filepath.Join(b.dir, "ghz-"+label+".json")
	out := filepath.Join(b.dir, "ghz-"+label+"-report.json")
	cfg := newGHZConfig(host, plan.Event, tokens[0], plan.KeyPrefix+label, b.o.quantity, b.o.ghzConc, b.o.ghzDur, out)
	raw, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(cfgFile, raw, 0o644); err != nil {
		return nil, err
	}
	auth := make([]string, len(tokens))
	for i, t := range tokens {
		auth[i] = "Bearer " + t
	}
	b.say("ghz %s: ghz's runner, the options of %s, metadata rotating over %d users' tokens", label, cfgFile, len(auth))
	rep, err := runner.Run(cfg.Call, cfg.Host,
		runner.WithProtoFile(cfg.Proto, cfg.ImportPaths),
		runner.WithInsecure(cfg.Insecure),
		runner.WithConcurrency(uint(cfg.Concurrency)), runner.WithConnections(uint(cfg.Connections)),
		runner.WithRunDuration(b.o.ghzDur), runner.WithDurationStopAction(cfg.DurationStop), runner.WithTimeout(5*time.Second),
		runner.WithData(cfg.Data),
		runner.WithMetadataProvider(func(cd *runner.CallData) (*metadata.MD, error) {
			md := metadata.Pairs("authorization", auth[cd.RequestNumber%int64(len(auth))])
			return &md, nil
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("ghz: %w", err)
	}
	rep.Details = nil // one per call
	raw, err = json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(out, raw, 0o644); err != nil {
		return nil, err
	}
	r := &ghzReport{}
	if err := json.Unmarshal(raw, r); err != nil {
		return nil, fmt.Errorf("ghz report: %w", err)
	}
	return r, nil
}

// scenarioGHZ runs ghz against the booking Reserve RPC on a zone that never
// sells out, rotating over the users' tokens (runGHZ's metadata provider:
// the ghz command cannot), so every call is a real hold, then audits.
func (b *bench) scenarioGHZ(ctx context.Context) error {
	if b.bookURL == "" {
		return errors.New("no booking address (-booking-addr)")
	}
	ev, err := b.event(ctx, "ghz "+b.run, 100000, ghzMaxPerUser)
	if err != nil {
		return err
	}
	plan := b.plan(ev, "ghz", mesh.HoldsOnly)
	done := b.profiled(ctx, "ghz", b.o.ghzDur)
	acct := b.cpu(nil)
	red := b.redisUse(ctx, "ghz")
	rep, err := b.runGHZ(strings.TrimPrefix(b.bookURL, "http://"), plan, b.tokens, "booking")
	if err != nil {
		return err
	}
	b.say("ghz booking Reserve (tokens of %d users, round robin: every call a hold): %s", len(b.tokens), rep.summary())
	b.record("ghz", rep.RPS, acct())
	red(rep.Status["OK"])
	done()
	ok := rep.Status["OK"]
	s := &load.Stats{Seats: map[int]int64{0: int64(ok) * int64(b.o.quantity)}, Outcomes: map[string]uint64{"ok": ok}}
	b.audit(ctx, "ghz", ev, s)
	return nil
}

// ghzMaxPerUser is the max_per_user of the ghz scenarios' events.
const ghzMaxPerUser = 10

// ghzConfigOnly writes a ghz config for an existing deployment
// (-target-url, -booking-addr, -jwt-secret, -postgres-url): it inserts a
// user, creates an event through the API and prints the ghz command (one
// token: after the user's first 10 seats every call answers
// MAX_PER_USER_EXCEEDED; the ghz scenario rotates tokens).
func (b *bench) ghzConfigOnly(ctx context.Context) error {
	if b.o.targetURL == "" || b.o.bookingAddr == "" {
		return errors.New("ghz-config needs -target-url and -booking-addr of a running deployment (and -jwt-secret, -postgres-url, -key-prefix)")
	}
	b.o.users = 1
	if err := b.setup(ctx); err != nil {
		return err
	}
	defer b.teardown()
	ev, err := b.event(ctx, "ghz "+b.run, 100000, ghzMaxPerUser)
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
	b.say("the config carries one user's token: its first %d seats are holds, every later call answers MAX_PER_USER_EXCEEDED "+
		"(ghz's command takes one metadata object); for a hold on every call, rotating users' tokens, run rushbench -scenario=ghz with the same flags", ghzMaxPerUser)
	return nil
}
func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
