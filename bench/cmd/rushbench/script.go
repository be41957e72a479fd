package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/lua"
)

// scenarioScript measures reserve.lua alone: Redis's CPU per hold when the
// booking engine's batches reach it straight, without the mesh's HTTP,
// Kafka and Postgres work competing for the machine's cores (issue 15's
// "Redis CPU per hold", the one figure of it that does not depend on what
// else the machine runs). Each call decides -script.batch reserves of one
// event and zone, every one a new user, key and booking with a trace
// context, laid out as the engine sends them (reserve.lua's header). The
// keys live under bench:<run>:script:, which no relay or sweeper of the run
// reads, and go with the run's other keys at the end. Use a Redis of the
// run's own (-redis-url): the figure is the server's INFO.
func (b *bench) scenarioScript(ctx context.Context) error {
	o := b.o
	if o.scriptCalls < 1 || o.scriptBatch < 1 || o.scriptConns < 1 {
		return fmt.Errorf("-script.calls, -script.batch and -script.conns must be at least 1")
	}
	event, show, zone := uuid.NewString(), uuid.NewString(), uuid.NewString()
	k := lua.EventKeys("bench:"+b.run+":script:", event)
	seats := int64(o.scriptCalls) * int64(o.scriptBatch) * int64(o.quantity)
	now := time.Now()
	if err := b.rdb.HSet(ctx, k.Meta(), "status", "published", "sale_start", now.Add(-time.Hour).UnixMilli(),
		"sale_end", now.Add(24*time.Hour).UnixMilli(), "max_per_user", 10, "queue", "0", "live", 0).Err(); err != nil {
		return err
	}
	if err := b.rdb.HSet(ctx, k.Zone(zone), "total", seats, "available", seats, "held", 0, "sold", 0,
		"price", "4990", "show", show, "ver", 0, "starts", now.Add(30*24*time.Hour).UnixMilli()).Err(); err != nil {
		return err
	}
	script := lua.Script("reserve.lua")
	if err := script.Load(ctx, b.rdb).Err(); err != nil {
		return err
	}
	const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	qty := strconv.Itoa(o.quantity)
	fp := "bench-fingerprint-" + qty
	b.say("script: %d calls of %d reserves (quantity %d) from %d goroutines, straight to reserve.lua", o.scriptCalls, o.scriptBatch, o.quantity, o.scriptConns)

	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		failed  error
		answers = map[string]int{}
	)
	red := b.redisUse(ctx, "script")
	t0 := time.Now()
	for w := range o.scriptConns {
		calls := o.scriptCalls / o.scriptConns
		if w < o.scriptCalls%o.scriptConns {
			calls++
		}
		wg.Go(func() {
			mine := map[string]int{}
			for range calls {
				keys := []string{k.Meta(), k.Expiry(), k.Stream(), k.Gate(), k.GateTicks(), k.GateUsed()}
				args := []any{event, (15 * time.Minute).Milliseconds(), 86400}
				for range o.scriptBatch {
					user, id, key := uuid.NewString(), uuid.NewString(), uuid.NewString()
					keys = append(keys, k.Zone(zone), k.User(user), k.Idem(user, key), k.Hold(id))
					args = append(args, id, user, show, zone, qty, key, fp, "", traceparent)
				}
				raw, err := script.EvalSha(ctx, b.rdb, keys, args...).Slice()
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
				for _, a := range lua.Answers(raw) {
					if len(a) > 0 {
						mine[a[0]]++
					}
				}
			}
			mu.Lock()
			for s, n := range mine {
				answers[s] += n
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if failed != nil {
		return failed
	}
	el := time.Since(t0)
	holds := answers["OK"]
	b.say("script: %d holds in %.2fs = %.0f holds/s; answers %v", holds, el.Seconds(), float64(holds)/el.Seconds(), answers)
	red(uint64(holds))

	// The audit: every reserve held, the zone counts them, one stream entry a call.
	z, err := b.rdb.HMGet(ctx, k.Zone(zone), "available", "held").Result()
	if err != nil {
		return err
	}
	avail, _ := strconv.ParseInt(fmt.Sprint(z[0]), 10, 64)
	held, _ := strconv.ParseInt(fmt.Sprint(z[1]), 10, 64)
	entries, err := b.rdb.XLen(ctx, k.Stream()).Result()
	if err != nil {
		return err
	}
	want := o.scriptCalls * o.scriptBatch
	b.say("audit script: zone available %d held %d of %d; %d stream entries for %d calls", avail, held, seats, entries, o.scriptCalls)
	if holds != want || held != int64(holds)*int64(o.quantity) || avail+held != seats || entries != int64(o.scriptCalls) {
		return fmt.Errorf("audit: %d of %d reserves held, zone available %d held %d of %d, %d stream entries for %d calls",
			holds, want, avail, held, seats, entries, o.scriptCalls)
	}
	b.say("  AUDIT PASSED")
	return nil
}
