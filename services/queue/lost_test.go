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
