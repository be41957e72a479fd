package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bookingrush/rush/bench/internal/load"
	"github.com/bookingrush/rush/bench/internal/mesh"
)

// checkoutMethod is how the checkout pays hold i: a tenth declined, a tenth
// paid by a client that retries at once with the same Idempotency-Key, the
// rest paid once.
func checkoutMethod(i int) (method string, retried bool) {
	switch i % 10 {
	case 0:
		return "sim_declined", false
	case 1:
		return "sim_ok", true
	}
	return "sim_ok", false
}

// scenarioCheckout exercises the money path: -checkout.seats users each
// hold one seat of a zone of that size, then pay for it (closed loop of
// POST /api/v1/payments), the bench waits until every payment is settled
// (decided, and the saga of every succeeded one completed or compensated),
// a tenth of the confirmed bookings are cancelled by their buyers (the show
// is 30 days away: refunded in full), and both audits run.
func (b *bench) scenarioCheckout(ctx context.Context) error {
	o := b.o
	n := o.checkoutSeats
	switch {
	case n < 1 || n > 100000:
		return fmt.Errorf("-checkout.seats=%d: one zone holds 1 to 100,000 seats", n)
	case n > len(b.tokens):
		return fmt.Errorf("-checkout.seats=%d needs as many users (-users=%d): each holds one seat", n, len(b.tokens))
	}
	ev, err := b.event(ctx, "Checkout "+b.run, int64(n), 10)
	if err != nil {
		return err
	}
	var problems []string
	check := func(what string, s *load.Stats) {
		if e := s.Errors(); e > 0 {
			problems = append(problems, fmt.Sprintf("%d unexpected %s answers", e, what))
		}
	}
	c := mesh.HTTPClient(o.closedConns)
	defer c.CloseIdleConnections()

	// Each of n users holds one seat: request i is user i's.
	holds := make([]mesh.Hold, n)
	plan := &mesh.Plan{Event: ev, Tokens: b.tokens[:n], Quantity: 1, KeyPrefix: "bench" + b.run + "checkout-", Expect: mesh.HoldsOnly,
		Booked: func(seq uint64, id string) { holds[seq] = mesh.Hold{BookingID: id, Token: b.tokens[seq], Seats: 1} }}
	rs := load.Closed{Workers: o.closedConns, Requests: uint64(n)}.Run(ctx, mesh.ReserveHTTP(c, b.edgeURL, plan))
	b.say("checkout reserve (%d users, one seat each): %s", n, rs.Summary())
	check("reserve", rs)

	var pays []mesh.Payment
	for i, h := range holds {
		if h.BookingID == "" {
			continue
		}
		m, retried := checkoutMethod(i)
		pays = append(pays, mesh.Payment{Hold: h, Method: m, Retried: retried})
	}
	b.say("checkout pay: %d holds, %d connections: POST /api/v1/payments with an Idempotency-Key each; 80%% sim_ok, 10%% sim_declined, "+
		"10%% sim_ok sent twice at once with the same key (counted as one payment, its latency the slower call's)", len(pays), o.closedConns)
	acct := b.cpu(nil)
	ps := load.Closed{Workers: o.closedConns, Requests: uint64(len(pays))}.Run(ctx, mesh.PayHTTP(c, b.edgeURL, plan.KeyPrefix, pays))
	b.say("checkout pay: %s", ps.Summary())
	b.say("checkout pay: %.0f payments/s answered", ps.Throughput())
	acct()
	check("payment", ps)

	var ids []string
	for _, p := range pays {
		if p.ID != "" {
			ids = append(ids, p.ID)
		}
	}
	st, took, err := mesh.WaitSettled(ctx, b.db, ids, o.auditWait)
	if err != nil {
		return err
	}
	verdict := "settled"
	if !st.Settled() {
		verdict = "NOT settled"
	}
	b.say("checkout %s: %d payments: %d succeeded (sagas: %d completed, %d compensated, %d dead-lettered, %d running, %d not started), %d declined, %d open; "+
		"%.2fs after the last payment answer, %.2fs after the first payment was sent",
		verdict, len(ids), st.Succeeded, st.Completed, st.Compensated, st.FailedSagas, st.Running, st.Unstarted, st.Failed, st.Open,
		took.Seconds(), (ps.Elapsed + took).Seconds())
	if t, err := mesh.Sagas(ctx, b.db, ids); err == nil {
		b.say("checkout sagas: payment succeeded -> saga recorded p50 %s max %s (outbox relay, Kafka, the orchestrator's consumer); saga recorded -> ended p50 %s max %s",
			t.StartP50.Round(time.Millisecond), t.StartMax.Round(time.Millisecond), t.RunP50.Round(time.Millisecond), t.RunMax.Round(time.Millisecond))
	} else {
		b.say("checkout sagas: %v", err)
	}
	if !st.Settled() {
		problems = append(problems, fmt.Sprintf("payments not settled after %v: %d open, %d sagas running, %d dead-lettered, %d not started (payment.success not consumed)",
			o.auditWait, st.Open, st.Running, st.FailedSagas, st.Unstarted))
	}
	if st.Compensated > 0 {
		// Every hold lives 2 h: a saga that refunded instead of confirming
		// could not confirm a live, paid hold.
		problems = append(problems, fmt.Sprintf("%d sagas refunded a payment for a live hold instead of confirming it", st.Compensated))
	}

	// A tenth of the confirmed bookings are cancelled by their buyers.
	isConfirmed := map[string]bool{}
	for _, id := range st.Confirmed {
		isConfirmed[id] = true
	}
	var cancels []mesh.Hold
	confirmed := 0
	for _, p := range pays {
		if isConfirmed[p.BookingID] {
			if confirmed%10 == 0 {
				cancels = append(cancels, p.Hold)
			}
			confirmed++
		}
	}
	cs := load.Closed{Workers: o.closedConns, Requests: uint64(len(cancels))}.Run(ctx, mesh.CancelHTTP(c, b.edgeURL, cancels, "refunded"))
	b.say("checkout cancel: %d of the %d confirmed bookings, POST /api/v1/bookings/{id}/cancel by their buyers (show in 30 days: 100%% back): %s",
		len(cancels), confirmed, cs.Summary())
	check("cancel", cs)
	cancelled := make([]string, len(cancels))
	for i, h := range cancels {
		cancelled[i] = h.BookingID
	}
	full, err := mesh.RefundedInFull(ctx, b.db, cancelled)
	if err != nil {
		return err
	}
	b.say("checkout cancel: %d of the %d payments refunded in full", full, len(cancels))
	if full != len(cancels) {
		problems = append(problems, fmt.Sprintf("%d of %d cancelled bookings refunded in full, under a policy that refunds them 100%%", full, len(cancels)))
	}

	ans := answered(rs, 1, 0)
	ans.Released = cs.Seats
	b.auditAnswered(ctx, "checkout", ev, ans)
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
