package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/testkit"
)

// TestTheWaitFollowsThePaceAtTheCap: behind a full cap of active shoppers
// the line moves as fast as shoppers leave, not at the admission rate. A
// waiting buyer's estimate says so: before any departure is measured, at
// the slowest the line can go (every shopper stays to the end of their
// window), then at the pace measured. It said position / rate: 20 ms at
// 1,000/s for what took 10 s here.
func TestTheWaitFollowsThePaceAtTheCap(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-queue.pass-ttl=60s")
	const buyers = 24
	f := m.seed(eventOpts{queue: true, rate: 1000, seats: buyers, users: buyers})
	m.setSettings(f, true, 1000, 2) // two shoppers at a time
	ctx := context.Background()
	for _, u := range f.users {
		if _, err := m.join(ctx, false, f, u); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 5*time.Second, "the cap reached", func() bool { return m.cursor(f) == 2 })
	last := f.users[buyers-1]

	// Nobody has left yet: two places a minute (the cap over the window).
	st, err := m.status(ctx, false, f, last)
	if err != nil {
		t.Fatal(err)
	}
	pos := time.Duration(st.GetPosition())
	if l := m.line(f); st.GetStatus() != waiting || l.GetPace() < 2.0/60*0.99 || l.GetPace() > 2.0/60*1.01 {
		t.Fatalf("before any departure: %v, line %v, want a pace of 2 a minute", st, l)
	}
	if w := st.GetEstimatedWait().AsDuration(); w < pos*30*time.Second*9/10 {
		t.Fatalf("before any departure: estimated wait %v at position %d, want about %v", w, pos, pos*30*time.Second)
	}

	// Each admitted buyer reserves a second after their admission: about
	// two leave a second, and the estimate follows once the admission
	// steps measured it (a span of 5 s).
	admittedAt := map[int]time.Time{}
	bought := map[int]bool{}
	start := time.Now()
	for {
		cursor := m.cursor(f)
		for i := range cursor {
			if _, ok := admittedAt[i]; !ok {
				admittedAt[i] = time.Now()
			}
			if bought[i] || time.Since(admittedAt[i]) < time.Second {
				continue
			}
			pass := m.waitAdmitted(f, f.users[i], time.Second).GetQueuePass()
			if err := m.reserve(false, f, f.users[i], pass); err != nil {
				t.Fatalf("reserve of buyer %d: %v", i, err)
			}
			bought[i] = true
		}
		// The status's state of the line is read between these two (a
		// pace changes every 5 s: a read across a change is tried again).
		if l := m.line(f); l.GetPace() > 0.5 {
			st, err := m.status(ctx, false, f, last)
			if err != nil {
				t.Fatal(err)
			}
			if l2 := m.line(f); l2.GetPace() != l.GetPace() || l2.GetActive() != l.GetActive() {
				continue
			}
			// The places free under the cap go at 1,000/s, the rest at the pace.
			pos, free := time.Duration(st.GetPosition()), time.Duration(min(2-l.GetActive(), st.GetPosition()))
			want := free*time.Millisecond + time.Duration(float64(pos-free)/l.GetPace()*float64(time.Second))
			t.Logf("after %v: pace %.2f a second, position %d, estimated wait %v", time.Since(start).Round(time.Millisecond),
				l.GetPace(), pos, st.GetEstimatedWait().AsDuration())
			if l.GetPace() > 4 || st.GetStatus() != waiting {
				t.Fatalf("measured: line %v, status %v, want a pace of about 2 a second", l, st)
			}
			if w := st.GetEstimatedWait().AsDuration(); w < want*9/10 || w > want*11/10 {
				t.Fatalf("estimated wait %v at position %d and pace %.2f a second, want about %v", w, pos, l.GetPace(), want)
			}
			return
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("no pace measured after 20 s: %v", m.line(f))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
