package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bookingrush/rush/bench/internal/load"
	"github.com/bookingrush/rush/bench/internal/mesh"
)

// scenarioWaitlist: -waitlist.seats users each hold one seat of a zone of
// that size (sold out), twice as many join its waitlist for one seat
// (closed loop of POST /api/v1/waitlist), then every holder cancels at once
// (closed loop of POST /bookings/{id}/cancel): each cancel's seat is offered
// to the next in line in the same Lua step. The waitlist audit: offers =
// seats returned, no booking or buyer offered twice, offers in line order,
// the zone's invariant intact with the offers counted as held, and every
// offer in Postgres.
func (b *bench) scenarioWaitlist(ctx context.Context) error {
	o := b.o
	n := o.waitlistSeats
	switch {
	case n < 1 || n > 100000:
		return fmt.Errorf("-waitlist.seats=%d: one zone holds 1 to 100,000 seats", n)
	case 3*n > len(b.users):
		return fmt.Errorf("-waitlist.seats=%d needs 3 times as many users (-users=%d): holders, then twice as many waiting", n, len(b.users))
	}
	ev, err := b.event(ctx, "Waitlist "+b.run, int64(n), 10)
	if err != nil {
		return err
	}
	c := mesh.HTTPClient(o.closedConns)
	defer c.CloseIdleConnections()
	var problems []string
	check := func(what string, s *load.Stats) {
		if e := s.Errors(); e > 0 {
			problems = append(problems, fmt.Sprintf("%d unexpected %s answers", e, what))
		}
	}

	holds := make([]mesh.Hold, n)
	plan := &mesh.Plan{Event: ev, Tokens: b.tokens[:n], Quantity: 1, KeyPrefix: "bench" + b.run + "waitlist-", Expect: mesh.HoldsOnly,
		Booked: func(seq uint64, id string) { holds[seq] = mesh.Hold{BookingID: id, Token: b.tokens[seq], Seats: 1} }}
	rs := load.Closed{Workers: o.closedConns, Requests: uint64(n)}.Run(ctx, mesh.ReserveHTTP(c, b.edgeURL, plan))
	b.say("waitlist reserve (%d users, one seat each: sold out): %s", n, rs.Summary())
	check("reserve", rs)

	waiters := b.users[n : 3*n]
	places := make([]int, len(waiters))
	js := load.Closed{Workers: o.closedConns, Requests: uint64(len(waiters))}.Run(ctx, mesh.JoinWaitlistHTTP(c, b.edgeURL, ev, waiters, places))
	b.say("waitlist join (%d users, one seat each, %d connections): %s", len(waiters), o.closedConns, js.Summary())
	b.say("waitlist join: %.0f joins/s answered", js.Throughput())
	check("join", js)

	var live []mesh.Hold
	for _, h := range holds {
		if h.BookingID != "" {
			live = append(live, h)
		}
	}
	acct := b.cpu(nil)
	t0 := time.Now()
	cs := load.Closed{Workers: o.closedConns, Requests: uint64(len(live))}.Run(ctx, mesh.CancelHTTP(c, b.edgeURL, live, "cancelled"))
	b.say("waitlist cancel (%d holders at once; each seat offered to the next in line in the same step): %s", len(live), cs.Summary())
	b.say("waitlist cancel: %.0f cancels (and offers) a second; every seat offered %v after the first cancel", cs.Throughput(), time.Since(t0).Round(time.Millisecond))
	acct()
	check("cancel", cs)

	a := mesh.WaitlistAudit(ctx, b.rdb, b.db, b.prefix, ev, waiters, places, len(live), o.auditWait)
	b.say("audit waitlist:\n%s", a)
	if !a.OK() {
		b.failed = append(b.failed, "audit waitlist: "+strings.Join(a.Failed, "; "))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}
