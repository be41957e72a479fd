package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bookingrush/rush/bench/internal/load"
	"github.com/bookingrush/rush/bench/internal/mesh"
)

// scenarioWaitroom is the waiting room at scale. One event with
// -waitroom.seats seats and a queue: that many shoppers join first and are
// admitted (the cap of active shoppers holds the cursor there), then the
// crowd joins through the edge (-waitroom.joins tickets in all: join
// throughput) while admission crawls at -waitroom.rate a second; a baseline
// window measures Redis with nobody watching; -waitroom.watchers of the
// crowd open the stream (GET /api/v1/queue/events?ticket=, as EventSource
// does) and a second window measures Redis commands, the edge's CPU and its
// memory per open stream; then the shoppers reserve every seat with their
// passes (queued reserves through the edge), and the bench times the
// sold-out notice from the last hold to every watcher. Both audits run.
func (b *bench) scenarioWaitroom(ctx context.Context) error {
	o := b.o
	seats, joins, watchers := o.wrSeats, o.wrJoins, o.wrWatchers
	switch {
	case seats < 1 || seats > 100000:
		return fmt.Errorf("-waitroom.seats=%d: one zone holds 1 to 100,000 seats", seats)
	case joins > len(b.tokens):
		return fmt.Errorf("-waitroom.joins=%d needs as many users (-users=%d): one identity, one place", joins, len(b.tokens))
	case joins-seats < watchers:
		return fmt.Errorf("-waitroom.watchers=%d: only %d buyers join after the %d shoppers", watchers, joins-seats, seats)
	case b.metrics["edge"] == "":
		return errors.New("waitroom needs the edge's metrics address (-edge-metrics)")
	}
	ev, err := b.event(ctx, "Waitroom "+b.run, int64(seats), 10)
	if err != nil {
		return err
	}
	// The shoppers are admitted at once; the cap then holds the cursor on
	// them while the knobs change (the admitter reads them every 2 s).
	if err := mesh.SetQueue(ctx, b.api, b.org.Token, ev.ID, 100000, seats); err != nil {
		return err
	}
	// The mesh's own Redis work, the waiting room idle: what the booking
	// engine's relay, the token feed, the admitter's list... cost anyway.
	idle, err := b.redisWindow(ctx, o.wrWindow)
	if err != nil {
		return err
	}
	b.say("waitroom: idle mesh (the event on sale with its queue, nobody joined), %v: %s", o.wrWindow, idle)
	c := mesh.HTTPClient(o.closedConns)
	defer c.CloseIdleConnections()
	// The joins go out through a client as lean as wrk (net/http's cost the
	// generator a fifth of the machine's CPU per join).
	lc := mesh.LeanHTTPClient(o.closedConns)
	defer lc.CloseIdleConnections()
	tickets := make([]string, joins)
	sh := load.Closed{Workers: o.closedConns, Requests: uint64(seats)}.Run(ctx, mesh.JoinHTTP(lc, b.edgeURL, ev.ID, b.tokens, tickets))
	b.say("waitroom: %d shoppers joined: %s", seats, sh.Summary())
	if err := b.waitLine(ctx, ev.ID, "the shoppers admitted", func(l mesh.Line) bool { return l.AdmittedUpTo >= seats }); err != nil {
		return err
	}
	if err := mesh.SetQueue(ctx, b.api, b.org.Token, ev.ID, o.wrRate, 0); err != nil {
		return err
	}

	// The crowd.
	acct := b.cpu(nil)
	// -profile=waitroom profiles the joins, for as long as they take at
	// 3,000/s (or -profile.seconds).
	profiled := b.profiled(ctx, "waitroom", max(2*time.Second, time.Duration(joins-seats)*time.Second/3000))
	js := load.Closed{Workers: o.closedConns, Requests: uint64(joins - seats), FirstSeq: uint64(seats)}.
		Run(ctx, mesh.JoinHTTP(lc, b.edgeURL, ev.ID, b.tokens, tickets))
	b.say("waitroom: joins through the edge (POST /api/v1/queue/join, %d connections, one user each, the lean client): %s", o.closedConns, js.Summary())
	// The CPU of the joins alone: the profile may run on after them.
	use := acct()
	profiled()
	b.say("waitroom: **%.0f joins/s** (target >= 5,000/s); CPU per join: %s", js.Throughput(), perRequest(use, js.Throughput()))
	if js.Errors() > 0 {
		b.failed = append(b.failed, fmt.Sprintf("waitroom: %d joins failed: %v", js.Errors(), js.Outcomes))
	}
	line, err := mesh.GetLine(ctx, b.api, ev.ID)
	if err != nil {
		return err
	}
	b.say("waitroom: line after the joins: %d tickets, admitted up to %d, %d waiting", line.Joined, line.AdmittedUpTo, line.Waiting)

	// Nobody watching: the baseline.
	base, err := b.redisWindow(ctx, o.wrWindow)
	if err != nil {
		return err
	}
	b.say("waitroom: baseline, %d waiting, no stream open, %v: %s", line.Waiting, o.wrWindow, base)

	// The watchers: spread over the back of the crowd, far from the cursor.
	before, err := mesh.ReadGoMemory(ctx, b.metrics["edge"])
	if err != nil {
		return err
	}
	sctx, stopStreams := context.WithCancel(ctx)
	defer stopStreams()
	wc := mesh.HTTPClient(watchers)
	defer wc.CloseIdleConnections()
	crowd := joins - seats
	first := seats + crowd/5
	if crowd-crowd/5 < watchers {
		first = joins - watchers
	}
	step := max(1, (joins-first)/watchers)
	ws := make([]*mesh.Watch, 0, watchers)
	t0 := time.Now()
	for i := first; len(ws) < watchers && i < joins; i += step {
		ws = append(ws, mesh.OpenWatch(sctx, wc, b.edgeURL, tickets[i]))
	}
	open := waitAll(ws, 90*time.Second, func(w mesh.WatchRecord) bool { return !w.First.IsZero() || !w.Ended.IsZero() })
	opened, failed := 0, map[string]int{}
	var openLat []time.Duration
	for _, w := range open {
		if w.Err != nil || (!w.Ended.IsZero() && w.Final == "") {
			failed[errString(w.Err)]++
			continue
		}
		if !w.First.IsZero() {
			opened++
			openLat = append(openLat, w.First.Sub(w.Opened))
		}
	}
	b.say("waitroom: %d of %d streams opened in %.1fs (first event p50 %s p99 %s max %s); failed: %v",
		opened, len(ws), time.Since(t0).Seconds(), pct(openLat, 50), pct(openLat, 99), pct(openLat, 100), failed)
	after, err := mesh.ReadGoMemory(ctx, b.metrics["edge"])
	if err != nil {
		return err
	}
	if opened > 0 {
		per := func(a, b float64) float64 { return (b - a) / float64(opened) / 1024 }
		b.say("waitroom: edge memory per open stream (after a forced GC, %d streams): heap %.1f KiB + stacks %.1f KiB = **%.1f KiB** (target <= 20 KB); RSS %.1f KiB; %.1f goroutines",
			opened, per(before.HeapInuse, after.HeapInuse), per(before.StackInuse, after.StackInuse),
			per(before.HeapInuse+before.StackInuse, after.HeapInuse+after.StackInuse), per(before.RSS, after.RSS),
			(after.Goroutines-before.Goroutines)/float64(opened))
	}

	// Everybody watching: the steady state.
	events0 := countEvents(ws)
	acct = b.cpu(nil)
	steady, err := b.redisWindow(ctx, o.wrWindow)
	if err != nil {
		return err
	}
	u := acct()
	events := countEvents(ws) - events0
	if line, err = mesh.GetLine(ctx, b.api, ev.ID); err != nil {
		return err
	}
	b.say("waitroom: %d streams open, %d waiting, %v: %s", opened, line.Waiting, o.wrWindow, steady)
	b.say("waitroom: %d events sent to the watchers in the window (%.1f per stream a second)", events, float64(events)/float64(max(opened, 1))/o.wrWindow.Seconds())
	if line.Waiting > 0 {
		own := steady.perSecond - idle.perSecond
		b.say("waitroom: **Redis commands per second per waiting buyer: %.5f** (target <= 0.05): %.1f commands/s for %d waiting, every client of Redis counted; "+
			"the waiting room's own (above the idle mesh) %.1f commands/s = %.5f per waiting buyer, %.5f per open stream; the streams' share (above the baseline without them) %.1f commands/s",
			steady.perSecond/float64(line.Waiting), steady.perSecond, line.Waiting, own, own/float64(line.Waiting), own/float64(max(opened, 1)),
			steady.perSecond-base.perSecond)
	}
	if opened > 0 {
		b.say("waitroom: edge CPU per open stream: %.1f µs a second (edge %.3f cores for %d streams)",
			u.Groups["rush edge"]*1e6/float64(opened), u.Groups["rush edge"], opened)
	}
	ended := 0
	for _, w := range ws {
		if s := w.Snapshot(); !s.Ended.IsZero() {
			ended++
		}
	}
	b.say("waitroom: streams that ended during the windows: %d (every stream must stay open)", ended)
	if ended > 0 || opened < len(ws) {
		b.failed = append(b.failed, fmt.Sprintf("waitroom: %d of %d streams opened, %d ended early", opened, len(ws), ended))
	}

	// The shoppers buy every seat; the last hold sells the event out.
	passes := make([]string, seats)
	for i := range seats {
		st, err := mesh.GetQueueStatus(ctx, b.api, b.tokens[i], ev.ID)
		if err != nil {
			return err
		}
		passes[i] = st.QueuePass
	}
	var mu sync.Mutex
	var last time.Time
	_, r0, err := mesh.RedisCommands(ctx, b.rdb)
	if err != nil {
		return err
	}
	acct = b.cpu(nil)
	rs := load.Closed{Workers: o.closedConns, Requests: uint64(seats)}.Run(ctx,
		mesh.ReserveWithPassHTTP(c, b.edgeURL, ev, "bench"+b.run+"waitroom-", b.tokens, passes, func(_ uint64, at time.Time) {
			mu.Lock()
			if at.After(last) {
				last = at
			}
			mu.Unlock()
		}))
	u = acct()
	b.say("waitroom: the shoppers' reserves with their passes (queued, through the edge): %s", rs.Summary())
	if h := rs.Outcomes["201"]; h > 0 {
		_, r1, err := mesh.RedisCommands(ctx, b.rdb)
		if err != nil {
			return err
		}
		b.say("waitroom: Redis per queued reserve: scripts %.1f µs (EVALSHA: the reserve script with the pass check, and the edge's rate limit), redis-server CPU %.1f µs (%.3f cores)",
			float64(r1["evalsha"].Usec-r0["evalsha"].Usec)/float64(rs.Done), u.Groups["redis-server"]*rs.Elapsed.Seconds()*1e6/float64(h), u.Groups["redis-server"])
	}
	told := waitAll(ws, 10*time.Second, func(w mesh.WatchRecord) bool { return w.Final != "" || !w.Ended.IsZero() })
	var lat []time.Duration
	finals := map[string]int{}
	for _, w := range told {
		finals[w.Final]++
		if w.Final == "sold_out" {
			lat = append(lat, w.FinalAt.Sub(last))
		}
	}
	b.say("waitroom: sold-out notice, from the last hold's answer: %d of %d watchers told, p50 %s p99 %s **last %s** (target <= 1 s); final events %v",
		len(lat), len(ws), pct(lat, 50), pct(lat, 99), pct(lat, 100), finals)
	if len(lat) < len(ws) {
		b.failed = append(b.failed, fmt.Sprintf("waitroom: %d of %d watchers were not told sold out: %v", len(ws)-len(lat), len(ws), finals))
	}
	stopStreams()
	b.auditAnswered(ctx, "waitroom", ev, answered(rs, 1, 0))
	return nil
}

// waitLine polls the event's public line until ok or a minute passed.
func (b *bench) waitLine(ctx context.Context, eventID, what string, ok func(mesh.Line) bool) error {
	deadline := time.Now().Add(time.Minute)
	for {
		l, err := mesh.GetLine(ctx, b.api, eventID)
		if err == nil && ok(l) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waitroom: %s: not after a minute (line %+v, %w)", what, l, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// redisUse is what one window measured of Redis.
type redisUse struct {
	perSecond float64
	top       []string
}

func (r redisUse) String() string {
	return fmt.Sprintf("Redis ran %.1f commands/s (INFO commandstats, every client of the server, scripts' commands included; top: %s)",
		r.perSecond, strings.Join(r.top, ", "))
}

// redisWindow counts the commands Redis runs during d.
func (b *bench) redisWindow(ctx context.Context, d time.Duration) (redisUse, error) {
	t0, c0, err := mesh.RedisCommands(ctx, b.rdb)
	if err != nil {
		return redisUse{}, err
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return redisUse{}, ctx.Err()
	case <-time.After(d):
	}
	t1, c1, err := mesh.RedisCommands(ctx, b.rdb)
	if err != nil {
		return redisUse{}, err
	}
	sec := time.Since(start).Seconds()
	type kv struct {
		k string
		v int64
	}
	var list []kv
	for k, v := range c1 {
		if dv := v.Calls - c0[k].Calls; dv > 0 {
			list = append(list, kv{k, dv})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].v > list[j].v })
	u := redisUse{perSecond: float64(t1-t0-2) / sec} // less this window's own two INFO calls
	for _, e := range list[:min(8, len(list))] {
		u.top = append(u.top, fmt.Sprintf("%s %.1f/s", e.k, float64(e.v)/sec))
	}
	return u, nil
}

// waitAll waits until done holds for every watch, or limit, and returns
// their records.
func waitAll(ws []*mesh.Watch, limit time.Duration, done func(mesh.WatchRecord) bool) []mesh.WatchRecord {
	deadline := time.Now().Add(limit)
	for {
		out := make([]mesh.WatchRecord, len(ws))
		all := true
		for i, w := range ws {
			out[i] = w.Snapshot()
			all = all && done(out[i])
		}
		if all || time.Now().After(deadline) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countEvents(ws []*mesh.Watch) int {
	n := 0
	for _, w := range ws {
		n += w.Snapshot().Events
	}
	return n
}

// pct is the p-th percentile (100: the largest) of ds.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i].Round(time.Millisecond)
}

func errString(err error) string {
	if err == nil {
		return "ended"
	}
	return err.Error()
}

// perRequest is each process group's CPU per answer, the rest of the
// machine's (others: wrk, anything else running) and the whole machine's,
// in µs ("edge 130, ... machine 330").
func perRequest(u mesh.CPUUse, rps float64) string {
	if rps <= 0 {
		return "not measured"
	}
	names := make([]string, 0, len(u.Groups))
	for g := range u.Groups {
		names = append(names, g)
	}
	sort.Strings(names)
	var out []string
	for _, g := range names {
		if us := u.Groups[g] * 1e6 / rps; us >= 1 {
			out = append(out, fmt.Sprintf("%s %.0f µs", g, us))
		}
	}
	if us := u.Others * 1e6 / rps; us >= 1 {
		out = append(out, fmt.Sprintf("others %.0f µs", us))
	}
	return strings.Join(append(out, fmt.Sprintf("machine %.0f µs", u.Busy*1e6/rps)), ", ")
}
