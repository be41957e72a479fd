package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/bookingrush/rush/lua"
)

// TestAdmissionKeysExpireWithTheLine: the line's keys live until an hour
// after the sale ends (lines.go); the admission steps (gate:ticks) and the
// used passes (gate:used) are the line's too. A key left without expiry
// outlives the line, and a new line of the event (after the old one's keys
// expired: the organizer put the event on sale again) reads the old line's
// steps as its own.
func TestAdmissionKeysExpireWithTheLine(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{queue: true, rate: 1000, users: 1})
	ctx := context.Background()
	u := f.users[0]
	if _, err := m.join(ctx, false, f, u); err != nil {
		t.Fatal(err)
	}
	st := m.waitAdmitted(f, u, 5*time.Second)
	if err := m.reserve(false, f, u, st.GetQueuePass()); err != nil {
		t.Fatal(err)
	}
	k := lua.EventKeys(m.bkPrefix, f.event)
	for _, key := range []string{k.Gate(), k.GateTicks(), k.GateUsed()} {
		ttl, err := m.rdb.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl < 0 {
			t.Errorf("%s: no expiry (PTTL %v); the line's keys expire an hour after the sale", key, ttl)
		}
	}
}

// TestANewLineIsNotExpiredByTheOldLinesSteps: an event's line drained (the
// admitter let it go), its keys expired an hour after the sale, and the
// organizer put the event on sale again: the first buyer of the new line
// is admitted with a live pass, not expired by the old line's admission
// step left behind in gate:ticks.
func TestANewLineIsNotExpiredByTheOldLinesSteps(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-queue.pass-ttl=1s")
	f := m.seed(eventOpts{queue: true, rate: 1000, users: 2})
	ctx := context.Background()
	a, b := f.users[0], f.users[1]
	if _, err := m.join(ctx, false, f, a); err != nil {
		t.Fatal(err)
	}
	m.waitAdmitted(f, a, 5*time.Second)
	time.Sleep(1500 * time.Millisecond) // A's window ends; nobody waits, so nothing ticks

	// The line's keys expire (as they do an hour after the sale's end).
	k := lua.EventKeys(m.bkPrefix, f.event)
	for _, key := range []string{k.Gate(), lua.EventPrefix(m.qPrefix, f.event) + "tickets"} {
		if err := m.rdb.PExpire(ctx, key, time.Millisecond).Err(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(10 * time.Millisecond)

	if _, err := m.join(ctx, false, f, b); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := m.status(ctx, false, f, b)
		if err != nil {
			t.Fatal(err)
		}
		if st.GetStatus() != waiting {
			if st.GetStatus() != admitted || st.GetQueuePass() == "" {
				t.Fatalf("the new line's first buyer: %v (floor %s), want admitted with a pass", st,
					m.rdb.HGet(ctx, k.Gate(), "floor").Val())
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not admitted: %v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
