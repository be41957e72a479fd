package mesh

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/bookingrush/rush/lua"
	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/platform/moneyaudit"
)

// Audit is the check after a run: the inventory (RunAudit) and the money
// (CheckMoney).
type Audit struct {
	Lines []string
	// Failed lists what is wrong; empty means the audit passed.
	Failed []string
	// Converged is how long Postgres took to agree with Redis.
	Converged time.Duration
}

// OK reports whether the audit passed.
func (a *Audit) OK() bool { return len(a.Failed) == 0 }

func (a *Audit) String() string {
	var b strings.Builder
	for _, l := range a.Lines {
		b.WriteString("  " + l + "\n")
	}
	if a.OK() {
		b.WriteString("  AUDIT PASSED")
	} else {
		b.WriteString("  AUDIT FAILED:\n    " + strings.Join(a.Failed, "\n    "))
	}
	return b.String()
}

// zoneKey is the booking engine's zone hash (services/booking/engine.go
// zoneKey); booking.Reconcile reads the same key, so a change of layout
// shows up there as "not loaded in Redis" too.
func zoneKey(prefix, eventID, zoneID string) string {
	return lua.EventKeys(prefix, eventID).Zone(zoneID)
}

// Answered is what a scenario's generator was answered: what the audit
// holds Redis and Postgres to.
type Answered struct {
	// Seats are the seats of the holds answered, by zone index (or under
	// AllZones alone, by a generator that cannot tell the zones apart);
	// Holds how many holds there were, Quantity the seats each request
	// asked for.
	Seats    map[int]int64
	Holds    uint64
	Quantity int
	// Cut is how many requests the generator may have sent without reading
	// their answers (wrk stops with up to one request in flight per
	// connection and does not report them): up to Cut holds of Quantity
	// seats more than answered are then accepted, and reported; 0 for an
	// exact audit.
	Cut uint64
	// Released are the seats, by zone index, of the bookings the bench
	// cancelled (answered 200): back in Redis available, still booking rows
	// in Postgres.
	Released map[int]int64
}

// AllZones is the key of Answered.Seats that counts the seats of every zone
// together: the audit then holds the event's held+sold to it.
const AllZones = -1

// RunAudit checks, per zone of ev: the seats the bench holds (the seats
// answered 201 less those it released) equal Redis held+sold, and
// available+held+sold = total with available >= 0 (no oversell, no lost
// hold); then it waits up to wait for the persister to catch up and
// requires booking's tables to agree with Redis (booking.Reconcile) and to
// hold exactly the answered bookings, and for the catalog's own counters
// (seat_zones, eventually consistent) to agree too.
func RunAudit(ctx context.Context, rdb *redis.Client, db *pgxpool.Pool, prefix string, ev *Event, ans Answered, wait time.Duration) *Audit {
	a := &Audit{}
	fail := func(format string, args ...any) { a.Failed = append(a.Failed, fmt.Sprintf(format, args...)) }
	seats, holds, quantity, cut := ans.Seats, ans.Holds, ans.Quantity, ans.Cut
	_, together := seats[AllZones]
	// check compares what Redis holds (held+sold) with the seats answered
	// and not released, of one zone or of all.
	check := func(what string, heldSold, kept int64) {
		switch extra := heldSold - kept; {
		case extra == 0:
		case extra > 0 && extra <= int64(cut)*int64(quantity):
			a.Lines = append(a.Lines, fmt.Sprintf("%s: %d seats held by requests the generator cut at the end (at most %d in flight)", what, extra, cut))
		default:
			fail("%s: Redis held+sold %d != %d seats answered 201 and not released (lost or phantom hold)", what, heldSold, kept)
		}
	}
	var allHeldSold int64
	for i, z := range ev.Zones {
		v, err := rdb.HMGet(ctx, zoneKey(prefix, ev.ID, z), "total", "available", "held", "sold").Result()
		if err != nil {
			fail("zone %d: redis: %v", i, err)
			continue
		}
		n := make([]int64, 4)
		for j, x := range v {
			s, ok := x.(string)
			if !ok {
				fail("zone %d: field %d missing in Redis", i, j)
			}
			n[j], _ = strconv.ParseInt(s, 10, 64)
		}
		total, avail, held, sold := n[0], n[1], n[2], n[3]
		kept := seats[i] - ans.Released[i]
		line := fmt.Sprintf("zone %d: Redis total %d available %d held %d sold %d", i, total, avail, held, sold)
		if !together {
			line += fmt.Sprintf("; seats in 201 answers %d", seats[i])
		}
		if ans.Released[i] > 0 {
			line += fmt.Sprintf(", %d of them released by cancels answered 200", ans.Released[i])
		}
		a.Lines = append(a.Lines, line)
		if total != int64(ev.Seats[i]) {
			fail("zone %d: Redis total %d, created with %d", i, total, ev.Seats[i])
		}
		if avail < 0 {
			fail("zone %d: OVERSELL: available %d", i, avail)
		}
		if avail+held+sold != total {
			fail("zone %d: available+held+sold = %d != total %d", i, avail+held+sold, total)
		}
		allHeldSold += held + sold
		if !together {
			check(fmt.Sprintf("zone %d", i), held+sold, kept)
		}
	}
	if together {
		a.Lines = append(a.Lines, fmt.Sprintf("all zones: Redis held+sold %d; seats in 201 answers %d", allHeldSold, seats[AllZones]))
		check("all zones", allHeldSold, seats[AllZones]-ans.Released[AllZones])
	}
	start := time.Now()
	var last []booking.Mismatch
	var lastErr error
	for {
		last, lastErr = booking.Reconcile(ctx, rdb, db, prefix, ev.ID)
		if lastErr == nil && len(last) == 0 {
			break
		}
		if time.Since(start) > wait {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	a.Converged = time.Since(start)
	switch {
	case lastErr != nil:
		fail("reconcile: %v", lastErr)
	case len(last) > 0:
		for _, m := range last {
			fail("Postgres vs Redis after %v: %s", wait, m)
		}
	default:
		a.Lines = append(a.Lines, fmt.Sprintf("Postgres agrees with Redis (booking.Reconcile) after %.1fs", a.Converged.Seconds()))
	}
	a.checkCatalog(ctx, rdb, db, prefix, ev, wait)
	var rows, qty int64
	err := db.QueryRow(ctx, `SELECT count(*), COALESCE(sum(quantity), 0) FROM bookings WHERE event_id = $1`, ev.ID).Scan(&rows, &qty)
	if err != nil {
		fail("count bookings: %v", err)
	} else {
		var want int64
		for _, s := range seats {
			want += s
		}
		a.Lines = append(a.Lines, fmt.Sprintf("Postgres: %d bookings, %d seats; answered: %d holds, %d seats", rows, qty, holds, want))
		if rows < int64(holds) || qty < want || rows > int64(holds+cut) || qty-want > int64(cut)*int64(quantity) {
			fail("Postgres has %d bookings / %d seats, the bench was answered %d holds / %d seats", rows, qty, holds, want)
		}
	}
	return a
}

// checkCatalog waits up to wait for the catalog's own zone counters
// (seat_zones, kept by its consumer of booking.events, so they lag) to equal
// Redis, and fails the audit when they do not.
func (a *Audit) checkCatalog(ctx context.Context, rdb *redis.Client, db *pgxpool.Pool, prefix string, ev *Event, wait time.Duration) {
	start := time.Now()
	var diff string
	var err error
	for {
		diff, err = catalogBehind(ctx, rdb, db, prefix, ev)
		if (err == nil && diff == "") || time.Since(start) > wait || ctx.Err() != nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	switch {
	case err != nil:
		a.Failed = append(a.Failed, fmt.Sprintf("catalog counters: %v", err))
	case diff != "":
		a.Failed = append(a.Failed, fmt.Sprintf("the catalog's seat_zones vs Redis after %v: %s", wait, diff))
	default:
		a.Lines = append(a.Lines, fmt.Sprintf("the catalog's seat_zones agree with Redis after %.1fs", time.Since(start).Seconds()))
	}
}

// catalogBehind names the first zone of ev whose seat_zones counters differ
// from Redis ("" when none does).
func catalogBehind(ctx context.Context, rdb *redis.Client, db *pgxpool.Pool, prefix string, ev *Event) (string, error) {
	for i, z := range ev.Zones {
		v, err := rdb.HMGet(ctx, zoneKey(prefix, ev.ID, z), "available", "held", "sold").Result()
		if err != nil {
			return "", err
		}
		r := make([]int64, 3)
		for j, x := range v {
			s, _ := x.(string)
			r[j], _ = strconv.ParseInt(s, 10, 64)
		}
		var avail, held, sold int64
		err = db.QueryRow(ctx, `SELECT available_seats, held_seats, sold_seats FROM seat_zones WHERE id = $1`, z).Scan(&avail, &held, &sold)
		if err != nil {
			return "", err
		}
		if avail != r[0] || held != r[1] || sold != r[2] {
			return fmt.Sprintf("zone %d: catalog available/held/sold %d/%d/%d, Redis %d/%d/%d", i, avail, held, sold, r[0], r[1], r[2]), nil
		}
	}
	return "", nil
}

// CheckMoney adds the money audit to a: moneyaudit.Check over every payment
// of the database db (the run's schema: every scenario's payments so far)
// and the live bookings in Redis under prefix. For every succeeded payment,
// exactly one of (booking confirmed, payment refunded in full), and no
// confirmed booking without its payment. A payment in flight is not settled
// yet, so the check is repeated until it passes with no payment open, for
// up to wait; then whatever is still wrong or open fails the audit.
func (a *Audit) CheckMoney(ctx context.Context, db *pgxpool.Pool, rdb *redis.Client, prefix string, wait time.Duration) {
	start := time.Now()
	var r moneyaudit.Report
	var err error
	for {
		r, err = moneyaudit.Check(ctx, db, rdb, prefix)
		if (err == nil && r.OK() && r.Open == 0) || time.Since(start) > wait || ctx.Err() != nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		a.Failed = append(a.Failed, fmt.Sprintf("money audit: %v", err))
		return
	}
	a.Lines = append(a.Lines, fmt.Sprintf("money (moneyaudit.Check over Postgres payments and bookings and Redis): %s, after %.1fs", r, time.Since(start).Seconds()))
	const most = 20
	for i, v := range r.Violations {
		if i == most {
			a.Failed = append(a.Failed, fmt.Sprintf("MONEY: and %d more violations", len(r.Violations)-most))
			break
		}
		a.Failed = append(a.Failed, "MONEY: "+v)
	}
	if r.Open > 0 {
		a.Failed = append(a.Failed, fmt.Sprintf("MONEY: %d payments still pending or processing after %v", r.Open, wait))
	}
}
