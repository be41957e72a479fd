package queue_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/lua"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/faulttest"
	"github.com/bookingrush/rush/services/testkit"
)

// TestJoinsLostInACrashShareNoPass: Redis (AOF, appendfsync everysec)
// crashes and comes back without its last second of writes: a join it had
// answered is gone, and the next join takes the same join number. Two
// buyers then hold passes of one sequence. Each reserves with their own
// pass, once; neither pass works twice, nor for another buyer. Before,
// used passes were recorded by sequence alone: the second buyer, who had
// waited in line like the first, was refused "used" and could not buy.
func TestJoinsLostInACrashShareNoPass(t *testing.T) {
	t.Parallel()
	r := faulttest.StartRedis(t)
	m := startMesh(t, "-redis.url="+r.URL(), "-booking.drain-timeout=5s")
	f := m.seed(eventOpts{queue: true, rate: 1000, users: 3})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	x, a, b := f.users[0], f.users[1], f.users[2]
	if _, err := m.join(ctx, false, f, x); err != nil { // the line starts
		t.Fatal(err)
	}
	m.waitAdmitted(f, x, 5*time.Second)
	r.Save() // what the crash comes back to

	ja, err := m.join(ctx, false, f, a)
	if err != nil {
		t.Fatal(err)
	}
	pa := m.waitAdmitted(f, a, 5*time.Second).GetQueuePass()

	r.Restart() // A's join, and the step that admitted it, are lost

	var jb *queuev1.QueueStatus
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if jb, err = m.join(ctx, false, f, b); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("joining 15 s after Redis came back: %v", err)
		}
	}
	ta, tb := m.pass(ja.GetTicket()), m.pass(jb.GetTicket())
	if ta.Epoch != tb.Epoch || ta.Number != tb.Number {
		t.Fatalf("the crash did not make two buyers share a join number: A %+v, B %+v", ta, tb)
	}
	pb := m.waitAdmitted(f, b, 5*time.Second).GetQueuePass()
	if m.pass(pa).Number != m.pass(pb).Number {
		t.Fatalf("passes of different sequences: %+v %+v", m.pass(pa), m.pass(pb))
	}

	for _, c := range []struct{ who, pass string }{{a, pa}, {b, pb}} {
		if err := m.reserve(false, f, c.who, c.pass); err != nil {
			t.Fatalf("reserve of %s with the own pass: %v", c.who, err)
		}
	}
	for _, c := range []struct {
		what, who, pass, why string
	}{
		{"A's pass again", a, pa, "used"},
		{"B's pass again", b, pb, "used"},
		{"A's pass by another buyer", x, pa, "other_user"},
		{"B's pass by the other holder of its sequence", a, pb, "other_user"},
	} {
		if err := m.reserve(true, f, c.who, c.pass); !errs.Is(err, errs.QueuePassRequired) || reason(err) != c.why {
			t.Errorf("%s: %v, want QUEUE_PASS_REQUIRED (%s)", c.what, err, c.why)
		}
	}
	for _, c := range []struct{ who, ticket string }{{a, ja.GetTicket()}, {b, jb.GetTicket()}} {
		res, err := m.queue(false).GetQueueStatus(ctx, testkit.Bearer(m.token(c.who, authn.RoleUser),
			&queuev1.GetQueueStatusRequest{EventId: f.event, Ticket: c.ticket}))
		if err != nil || res.Msg.GetQueueStatus().GetStatus() != used {
			t.Errorf("status of %s's ticket after the reserve: %v %v, want used", c.who, res, err)
		}
	}
}

// TestALineFromBeforeBoundPassesKeepsItsUsedPasses: a line started by a
// release whose reserves recorded a used pass by its sequence alone (the
// gate has no "bound") keeps doing so until it ends, so a rolling upgrade
// changes no answer: a pass an old replica used is refused here, and a
// pass used here is recorded as an old replica would refuse it.
func TestALineFromBeforeBoundPassesKeepsItsUsedPasses(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{queue: true, rate: 1000, users: 2})
	ctx := context.Background()
	a, b := f.users[0], f.users[1]
	for _, u := range []string{a, b} {
		if _, err := m.join(ctx, false, f, u); err != nil {
			t.Fatal(err)
		}
	}
	k := lua.EventKeys(m.bkPrefix, f.event)
	if err := m.rdb.HDel(ctx, k.Gate(), "bound").Err(); err != nil { // as the old release started it
		t.Fatal(err)
	}
	pa := m.waitAdmitted(f, a, 5*time.Second)
	pb := m.waitAdmitted(f, b, 5*time.Second)

	if err := m.reserve(false, f, a, pa.GetQueuePass()); err != nil {
		t.Fatal(err)
	}
	seqA := strconv.FormatUint(uint64(m.pass(pa.GetQueuePass()).Number), 10)
	if err := m.rdb.ZScore(ctx, k.GateUsed(), seqA).Err(); err != nil {
		t.Fatalf("A's used pass is not recorded by its sequence %s, as an old replica looks it up: %v (used: %v)",
			seqA, err, m.rdb.ZRange(ctx, k.GateUsed(), 0, -1).Val())
	}

	// An old replica used B's pass.
	seqB := strconv.FormatUint(uint64(m.pass(pb.GetQueuePass()).Number), 10)
	ends := pb.GetPassExpiresAt().AsTime().UnixMilli()
	if err := m.rdb.ZAdd(ctx, k.GateUsed(), redis.Z{Score: float64(ends), Member: seqB}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := m.reserve(true, f, b, pb.GetQueuePass()); !errs.Is(err, errs.QueuePassRequired) || reason(err) != "used" {
		t.Fatalf("reserve with a pass an old replica used: %v, want QUEUE_PASS_REQUIRED (used)", err)
	}
	if st, err := m.status(ctx, false, f, b); err != nil || st.GetStatus() != used {
		t.Fatalf("status of a pass an old replica used: %v %v, want used", st, err)
	}
}
