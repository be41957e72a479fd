package queue_test

import (
	"context"
	"testing"
	"time"

	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/faulttest"
	"github.com/bookingrush/rush/services/testkit"
)

// TestQueuedEventAfterRedisRestartedEmpty: a queued event on sale, nothing
// reserved yet, when Redis restarts empty. Joining the line answers "being
// prepared; retry" until the booking engine rebuilt the event's inventory
// (its lost-inventory watcher: the queue does not start the rebuild, and a
// buyer without a pass never calls reserve, the one call that would), then
// it works. Before that watcher rebuilt events without holds, the line
// stayed closed for good.
func TestQueuedEventAfterRedisRestartedEmpty(t *testing.T) {
	t.Parallel()
	r := faulttest.StartRedis(t)
	m := startMesh(t, "-redis.url="+r.URL(), "-booking.drain-timeout=5s")
	f := m.seed(eventOpts{queue: true, rate: 1000, users: 2})
	ctx := context.Background()
	if _, err := m.join(ctx, false, f, f.users[0]); err != nil {
		t.Fatal(err)
	}

	r.Restart()

	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := m.join(ctx, false, f, f.users[1])
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("joining the line 15 s after Redis restarted: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestALostLineIsNotTakenForNoQueue: buyers wait in a queued event's line
// when Redis restarts empty (no persistence). Until the booking engine has
// rebuilt the event's inventory, the line's state has no sale settings;
// then it has them, and no line. A waiting buyer is told the place is void
// (EXPIRED: join again), never ADMITTED without a pass. Before, the state
// without sale settings read as "this event has no queue": every waiting
// buyer's stream ended with "admitted" and no pass, and the whole crowd was
// sent to reserve at once, the moment Redis came back.
func TestALostLineIsNotTakenForNoQueue(t *testing.T) {
	t.Parallel()
	r := faulttest.StartRedis(t)
	m := startMesh(t, "-redis.url="+r.URL(), "-booking.drain-timeout=5s")
	f := m.seed(eventOpts{queue: true, rate: 1000, users: 2})
	m.setSettings(f, true, 1000, 1) // one shopper at a time: the second waits
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, u := range f.users {
		if _, err := m.join(ctx, false, f, u); err != nil {
			t.Fatal(err)
		}
	}
	m.waitAdmitted(f, f.users[0], 5*time.Second)
	stream, err := m.queue(true).WatchQueueStatus(ctx, testkit.Bearer(m.token(f.users[1], authn.RoleUser),
		&queuev1.WatchQueueStatusRequest{EventId: f.event}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if !stream.Receive() || stream.Msg().GetQueueStatus().GetStatus() != waiting {
		t.Fatalf("first message: %v %v", stream.Msg(), stream.Err())
	}

	r.Restart()

	var msgs []*queuev1.QueueStatus
	for stream.Receive() {
		msgs = append(msgs, stream.Msg().GetQueueStatus())
	}
	if len(msgs) == 0 {
		t.Fatalf("the watch ended without a message: %v", stream.Err())
	}
	if last := msgs[len(msgs)-1]; last.GetStatus() != expired {
		t.Fatalf("a waiting buyer once Redis lost the line: %v, want expired (void: join again)", msgs)
	}
}

// TestPreQueueJoinsACrashLostAreAdmitted: Redis (AOF, appendfsync
// everysec) crashes before the sale opens and comes back without its last
// second of writes: two pre-queue joins it had answered are gone (the
// counter went back, their entries too), and no join follows before the
// opening, whose draw then covers the one join Redis still knows. Their
// buyers hold signed tickets: one watches it (WatchQueueStatus), one polls
// its status with it. Each is admitted and reserves with the pass.
// Before, the draw did not cover their numbers: both were told "waiting",
// position 0, for as long as the sale lasted, and never got a pass.
func TestPreQueueJoinsACrashLostAreAdmitted(t *testing.T) {
	t.Parallel()
	r := faulttest.StartRedis(t)
	m := startMesh(t, "-redis.url="+r.URL(), "-booking.drain-timeout=5s")
	f := m.seed(eventOpts{queue: true, rate: 1000, users: 3, saleStart: time.Now().Add(time.Hour)})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	x, a, b := f.users[0], f.users[1], f.users[2]
	if _, err := m.join(ctx, false, f, x); err != nil {
		t.Fatal(err)
	}
	r.Save() // what the crash comes back to
	ja, err := m.join(ctx, false, f, a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := m.join(ctx, false, f, b)
	if err != nil {
		t.Fatal(err)
	}
	if ta, tb := m.pass(ja.GetTicket()), m.pass(jb.GetTicket()); !ta.Pre || !tb.Pre || ta.Number < 2 || tb.Number < 2 {
		t.Fatalf("pre-queue tickets after the first join: %+v %+v", ta, tb)
	}

	r.Restart() // A's and B's joins are lost
	testkit.Eventually(t, 15*time.Second, "Redis answers again", func() bool {
		_, err := m.status(ctx, false, f, x)
		return err == nil
	})
	m.openSale(f)
	m.waitAdmitted(f, x, 10*time.Second)

	// A watches with the ticket.
	watched := make(chan *queuev1.QueueStatus, 1)
	go func() {
		defer close(watched)
		stream, err := m.queue(true).WatchQueueStatus(ctx, testkit.Bearer(m.token(a, authn.RoleUser),
			&queuev1.WatchQueueStatusRequest{EventId: f.event, Ticket: ja.GetTicket()}))
		if err != nil {
			t.Errorf("watch of A: %v", err)
			return
		}
		var last *queuev1.QueueStatus
		for stream.Receive() {
			last = stream.Msg().GetQueueStatus()
		}
		if err := stream.Err(); err != nil && ctx.Err() == nil {
			t.Errorf("watch of A: %v", err)
		}
		watched <- last
	}()

	// B polls with the ticket.
	var sb *queuev1.QueueStatus
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := m.queue(false).GetQueueStatus(ctx, testkit.Bearer(m.token(b, authn.RoleUser),
			&queuev1.GetQueueStatusRequest{EventId: f.event, Ticket: jb.GetTicket()}))
		if err != nil {
			t.Fatalf("status of B's ticket: %v", err)
		}
		if sb = res.Msg.GetQueueStatus(); sb.GetStatus() == admitted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B, whose join the crash lost, is not admitted 10 s after the opening: %v", sb)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var sa *queuev1.QueueStatus
	select {
	case sa = <-watched:
	case <-time.After(10 * time.Second):
		t.Fatal("A, whose join the crash lost, is not admitted 10 s after B")
	}
	if sa.GetStatus() != admitted {
		t.Fatalf("A's watch ended with %v, want admitted", sa)
	}
	for _, c := range []struct {
		who string
		st  *queuev1.QueueStatus
	}{{a, sa}, {b, sb}} {
		if c.st.GetQueuePass() == "" {
			t.Fatalf("admitted without a pass: %v", c.st)
		}
		if err := m.reserve(false, f, c.who, c.st.GetQueuePass()); err != nil {
			t.Fatalf("reserve of %s with the pass: %v", c.who, err)
		}
	}
	// The line knows their places again: a status without the ticket finds them.
	for _, who := range []string{a, b} {
		if st, err := m.status(ctx, false, f, who); err != nil || st.GetStatus() != used {
			t.Errorf("status of %s without the ticket: %v %v, want used", who, st, err)
		}
	}
}
