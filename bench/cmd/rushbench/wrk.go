package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bookingrush/rush/bench/internal/load"
	"github.com/bookingrush/rush/bench/internal/mesh"
)

// wrkScript drives the reserve route (bench/wrk/reserve.lua).
const wrkScript = "bench/wrk/reserve.lua"

// wrkReport is the line bench/wrk/reserve.lua prints at the end.
type wrkReport struct {
	Requests     uint64 `json:"requests"`
	DurationUS   int64  `json:"duration_us"`
	StatusErrors uint64 `json:"status_errors"` // answers >= 400
	Connect      uint64 `json:"connect"`
	Read         uint64 `json:"read"`
	Write        uint64 `json:"write"`
	Timeout      uint64 `json:"timeout"`
	P50          int64  `json:"p50_us"`
	P90          int64  `json:"p90_us"`
	P99          int64  `json:"p99_us"`
	Max          int64  `json:"max_us"`
}

func (r *wrkReport) rps() float64 {
	if r.DurationUS <= 0 {
		return 0
	}
	return float64(r.Requests) / (float64(r.DurationUS) / 1e6)
}

func (r *wrkReport) socketErrors() uint64 { return r.Connect + r.Read + r.Write + r.Timeout }

func (r *wrkReport) summary() string {
	us := func(v int64) string { return ms(time.Duration(v) * time.Microsecond) }
	return fmt.Sprintf("%d answers in %.2fs = %.0f req/s; latency p50 %s p90 %s p99 %s max %s; answers >= 400: %d; socket errors: connect %d, read %d, write %d, timeout %d",
		r.Requests, float64(r.DurationUS)/1e6, r.rps(), us(r.P50), us(r.P90), us(r.P99), us(r.Max), r.StatusErrors, r.Connect, r.Read, r.Write, r.Timeout)
}

// wrkThreads is wrk's -t in every run.
const wrkThreads = 2

// runWRK runs wrk -t2 -c<closed.conns> with the reserve script against base
// for d, the plan's users, zones and keys.
func (b *bench) runWRK(ctx context.Context, base string, plan *mesh.Plan, d time.Duration, label string) (*wrkReport, error) {
	tokens := filepath.Join(b.dir, "wrk-tokens.txt")
	if _, err := os.Stat(tokens); err != nil {
		if err := os.WriteFile(tokens, []byte(strings.Join(plan.Tokens, "\n")+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	var bodies strings.Builder
	for _, z := range plan.Event.Zones {
		raw, _ := json.Marshal(map[string]any{"show_id": plan.Event.ShowID, "zone_id": z, "quantity": plan.Quantity})
		bodies.Write(raw)
		bodies.WriteByte('\n')
	}
	bodiesFile := filepath.Join(b.dir, "wrk-"+label+"-bodies.txt")
	if err := os.WriteFile(bodiesFile, []byte(bodies.String()), 0o644); err != nil {
		return nil, err
	}
	return b.wrk(ctx, wrkScript, base, d, label, tokens, bodiesFile, plan.KeyPrefix+label)
}

// wrk runs wrk -t2 -c<closed.conns> for d against base with script, which
// gets args and then the thread count, and reads the report line the script
// prints at the end (rushbench-wrk {json}).
func (b *bench) wrk(ctx context.Context, script, base string, d time.Duration, label string, args ...string) (*wrkReport, error) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		return nil, errors.New("wrk not found: apt-get install wrk")
	}
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("%s: %w (run rushbench from the repository root)", script, err)
	}
	args = append([]string{"-t" + strconv.Itoa(wrkThreads), "-c" + strconv.Itoa(b.o.closedConns), "-d" + strconv.Itoa(max(1, int(d.Seconds()))) + "s",
		"--timeout", "5s", "-s", script, base, "--"}, append(args, strconv.Itoa(wrkThreads))...)
	b.say("wrk %s: %s %s", label, bin, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, bin, args...)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	if st := cmd.ProcessState; st != nil {
		b.say("  wrk process used %.2f cores (counted among \"others\" below)", (st.UserTime()+st.SystemTime()).Seconds()/time.Since(t0).Seconds())
	}
	_ = os.WriteFile(filepath.Join(b.dir, "wrk-"+label+".txt"), out, 0o644)
	if err != nil {
		return nil, fmt.Errorf("wrk: %w: %s", err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "rushbench-wrk "); ok {
			rep := &wrkReport{}
			if err := json.Unmarshal([]byte(rest), rep); err != nil {
				return nil, fmt.Errorf("wrk report: %w", err)
			}
			return rep, nil
		}
	}
	return nil, fmt.Errorf("wrk printed no report: %s", out)
}

// wrkSeats are the seats of the wrk (and seed) scenarios: 40,000 holds a
// second over -closed.duration.
func (o options) wrkSeats() int64 { return int64(40000*o.closedDur.Seconds()) * int64(o.quantity) }

// scenarioWRK is the closed loop through the edge driven by wrk (-t2
// -c<closed.conns>), the tool of docs/architecture.md's target, rotating tokens; every
// 2xx answer is a hold, and the audit checks exactly those. Seats for
// 40,000 holds a second, in zones of 100,000 that wrk's requests rotate
// over (as the closed scenario's): one zone sold out in 9 s at 10,800
// holds/s on a fast machine. wrk does not say which zone a hold was in, so
// the audit holds the zones' seats together to the answers.
func (b *bench) scenarioWRK(ctx context.Context) error {
	o := b.o
	ev, err := b.event(ctx, "wrk "+b.run, o.wrkSeats(), 10)
	if err != nil {
		return err
	}
	plan := b.plan(ev, "wrk", mesh.HoldsOnly)
	done := b.profiled(ctx, "wrk", o.closedDur)
	acct := b.cpu(nil)
	red := b.redisUse(ctx, "wrk")
	rep, err := b.runWRK(ctx, b.edgeURL, plan, o.closedDur, "edge")
	if err != nil {
		return err
	}
	b.say("wrk through the edge: %s", rep.summary())
	b.record("wrk", rep.rps(), acct())
	red(rep.Requests - rep.StatusErrors)
	done()
	if n := rep.StatusErrors + rep.socketErrors(); n > 0 {
		b.failed = append(b.failed, fmt.Sprintf("wrk: %d answers were not holds or failed (a zone that never sells out must only answer 201)", n))
	}
	holds := rep.Requests - rep.StatusErrors
	s := &load.Stats{Seats: map[int]int64{mesh.AllZones: int64(holds) * int64(o.quantity)}, Outcomes: map[string]uint64{"201": holds}}
	// wrk stops with a request in flight on each connection and never
	// reports those: up to closed.conns more holds than answers are
	// expected, and the audit says how many there were.
	b.auditCut(ctx, "wrk", ev, s, uint64(o.closedConns))
	return nil
}
