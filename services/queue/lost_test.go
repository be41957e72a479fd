package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/faulttest"
)

// TestQueuedEventAfterRedisRestartedEmpty: a queued event on sale, nothing
// reserved yet, when Redis restarts empty. Joining the line answers "being
// prepared; retry", but nothing prepares it: the queue does not start the
// booking engine's rebuild, and a buyer without a pass never calls reserve
// (the one call that would). The line stays closed for good.
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
