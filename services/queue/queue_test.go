package queue_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
)

const (
	waiting  = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING
	admitted = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_ADMITTED
	expired  = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_EXPIRED
)

// TestFiveThousandJoinAndAdmissionFollowsTheRate: 5,000 buyers join a
// queued event before its sale opens (over Connect and gRPC); at the opening
// two admitter replicas together admit 200 a second; at the end every buyer
// was admitted exactly once, with a pass of their own.
func TestFiveThousandJoinAndAdmissionFollowsTheRate(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	m.startAdmitter()
	f := m.seed(eventOpts{queue: true, rate: 1, saleStart: time.Now().Add(time.Hour)})
	if s := m.setSettings(f, true, 200); !s.GetEnabled() || s.GetAdmitPerSecond() != 200 {
		t.Fatalf("settings after SetQueueSettings: %v", s)
	}

	const n = 5000
	users := make([]string, n)
	for i := range users {
		users[i] = uuid.NewString()
	}
	ctx := context.Background()
	var (
		mu       sync.Mutex
		failures []string
		maxTotal int32
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	work := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range 32 {
		wg.Go(func() {
			for i := range work {
				st, err := m.join(ctx, i%2 == 1, f, users[i])
				if err != nil {
					fail("join %d: %v", i, err)
					continue
				}
				// Before the opening: waiting, no place drawn yet, the
				// wait is at least the time to the opening.
				if st.GetStatus() != waiting || st.GetPosition() != 0 || st.GetTotal() < 1 || st.GetTotal() > n ||
					st.GetEstimatedWait().AsDuration() < 50*time.Minute || st.GetQueuePass() != "" {
					fail("join %d: %v", i, st)
				}
				mu.Lock()
				maxTotal = max(maxTotal, st.GetTotal())
				mu.Unlock()
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	t.Logf("%d joins in %v", n, time.Since(start).Round(time.Millisecond))
	if len(failures) > 0 {
		t.Fatalf("joins failed: %v", failures)
	}
	if maxTotal != n {
		t.Fatalf("the last join saw %d in the pre-queue, want %d", maxTotal, n)
	}
	// Joining again changes nothing.
	for i := range 20 {
		st, err := m.join(ctx, i%2 == 0, f, users[i])
		if err != nil || st.GetStatus() != waiting || st.GetTotal() != n {
			t.Fatalf("second join of %d: %v %v", i, st, err)
		}
	}
	if got := m.admittedCount(f); got != 0 {
		t.Fatalf("%d admitted before the sale opened", got)
	}

	m.openSale(f)
	// Sample the admission record for ~3 s from the first admission.
	var first time.Time
	var marks []int
	deadline := time.Now().Add(15 * time.Second)
	for len(marks) < 4 {
		c := m.admittedCount(f)
		now := time.Now()
		if first.IsZero() && c > 0 {
			first, marks = now, []int{c}
		} else if !first.IsZero() && now.Sub(first) >= time.Duration(len(marks))*time.Second {
			marks = append(marks, c)
		}
		if now.After(deadline) {
			t.Fatalf("admission did not start or stalled: %v", marks)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var perSecond []int
	for i := 1; i < len(marks); i++ {
		perSecond = append(perSecond, marks[i]-marks[i-1])
	}
	t.Logf("admitted per second at 200/s with two admitters: %v (%d in 3 s)", perSecond, marks[3]-marks[0])
	for _, c := range perSecond {
		if c < 160 || c > 240 {
			t.Errorf("admitted %d in one second, want 200 ± 20%%: %v", c, perSecond)
		}
	}
	if total := marks[3] - marks[0]; total < 540 || total > 660 {
		t.Errorf("admitted %d in 3 s, want 600 ± 10%%", total)
	}

	// A waiting buyer sees a drawn place and an estimate from the rate.
	for i := 0; i < 40; i++ {
		st, err := m.status(ctx, i%2 == 0, f, users[n-1-i])
		if err != nil {
			t.Fatal(err)
		}
		if st.GetStatus() == waiting {
			if st.GetPosition() < 1 || st.GetPosition() > st.GetTotal() || st.GetTotal() > n {
				t.Fatalf("waiting place: %v", st)
			}
			want := time.Duration(st.GetPosition()) * time.Second / 200
			if d := st.GetEstimatedWait().AsDuration(); d != want {
				t.Fatalf("estimated wait %v for position %d at 200/s, want %v", d, st.GetPosition(), want)
			}
		}
	}

	// Let the rest in quickly and audit the admissions.
	m.setSettings(f, true, 5000)
	for m.admittedCount(f) < n {
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatalf("only %d of %d admitted", m.admittedCount(f), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a late step of either replica would show now
	zs := m.admitted(f)
	if len(zs) != n {
		t.Fatalf("%d admission records, want %d", len(zs), n)
	}
	passes := map[string]bool{}
	for i, z := range zs {
		if int(z.Score) != i+1 {
			t.Fatalf("admission number %v at rank %d: someone was admitted twice or skipped", z.Score, i)
		}
		p, ttl := m.pass(f, z.Member.(string))
		if p == "" || ttl <= 0 || ttl > 5*time.Minute || passes[p] {
			t.Fatalf("pass of %s: %q ttl %v (duplicate %v)", z.Member, p, ttl, passes[p])
		}
		passes[p] = true
	}
	// Each buyer sees their own pass, and only theirs.
	for i := 0; i < 50; i++ {
		u := users[i*97]
		st, err := m.status(ctx, i%2 == 1, f, u)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := m.pass(f, u)
		exp := st.GetPassExpiresAt().AsTime()
		if st.GetStatus() != admitted || st.GetQueuePass() != p || st.GetPosition() != 0 ||
			!exp.After(time.Now()) || exp.After(time.Now().Add(5*time.Minute+time.Second)) {
			t.Fatalf("status of admitted %s: %v (pass in Redis %q)", u, st, p)
		}
	}
}

// TestOpeningDrawThenFirstComeFirstServed: buyers who joined before the
// opening are admitted first, in a random order, each once; buyers who join
// later follow in join order. WatchQueueStatus delivers the admission and
// ends.
func TestOpeningDrawThenFirstComeFirstServed(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{queue: true, rate: 1000, saleStart: time.Now().Add(time.Hour)})
	ctx := context.Background()
	const group = 30
	var pre, post []string
	for i := range group {
		u := uuid.NewString()
		st, err := m.join(ctx, i%2 == 0, f, u)
		if err != nil {
			t.Fatal(err)
		}
		if st.GetStatus() != waiting || st.GetPosition() != 0 || st.GetTotal() != int32(i+1) {
			t.Fatalf("pre-opening join %d: %v", i, st)
		}
		pre = append(pre, u)
	}

	// Two watchers, one per protocol, see the wait and then the admission.
	type watched struct {
		msgs []*queuev1.QueueStatus
		err  error
	}
	results := make([]watched, 2)
	var wg sync.WaitGroup
	started := make(chan struct{}, 2)
	for w := range 2 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			stream, err := m.queue(w == 1).WatchQueueStatus(ctx, as(m.token(pre[w], authn.RoleUser),
				&queuev1.WatchQueueStatusRequest{EventId: f.event}))
			if err != nil {
				results[w].err = err
				started <- struct{}{}
				return
			}
			defer stream.Close()
			for stream.Receive() {
				if len(results[w].msgs) == 0 {
					started <- struct{}{}
				}
				results[w].msgs = append(results[w].msgs, stream.Msg().GetQueueStatus())
			}
			results[w].err = stream.Err()
		})
	}
	<-started
	<-started

	m.openSale(f)
	for i := range group {
		u := uuid.NewString()
		if _, err := m.join(ctx, i%2 == 1, f, u); err != nil {
			t.Fatal(err)
		}
		post = append(post, u)
	}
	deadline := time.Now().Add(15 * time.Second)
	for m.admittedCount(f) < 2*group {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d admitted", m.admittedCount(f), 2*group)
		}
		time.Sleep(50 * time.Millisecond)
	}
	zs := m.admitted(f)
	order := make([]string, len(zs))
	for i, z := range zs {
		order[i] = z.Member.(string)
		if int(z.Score) != i+1 {
			t.Fatalf("admission numbers %v: not 1..%d", zs, 2*group)
		}
	}
	drawn, later := order[:group], order[group:]
	if !slices.Equal(later, post) {
		t.Errorf("post-opening joiners admitted as %v, joined as %v", later, post)
	}
	sortedDrawn, sortedPre := slices.Clone(drawn), slices.Clone(pre)
	slices.Sort(sortedDrawn)
	slices.Sort(sortedPre)
	if !slices.Equal(sortedDrawn, sortedPre) {
		t.Fatalf("the first %d admitted are not exactly the pre-opening group", group)
	}
	if slices.Equal(drawn, pre) {
		t.Errorf("the pre-opening group was admitted in join order: not shuffled")
	}

	wg.Wait()
	for w, r := range results {
		if r.err != nil {
			t.Fatalf("watcher %d: %v", w, r.err)
		}
		if len(r.msgs) < 2 || r.msgs[0].GetStatus() != waiting {
			t.Fatalf("watcher %d got %v, want waiting first", w, r.msgs)
		}
		last := r.msgs[len(r.msgs)-1]
		p, _ := m.pass(f, pre[w])
		if last.GetStatus() != admitted || last.GetQueuePass() == "" || last.GetQueuePass() != p || last.GetPassExpiresAt() == nil {
			t.Fatalf("watcher %d ended with %v (pass in Redis %q)", w, last, p)
		}
		for _, msg := range r.msgs[:len(r.msgs)-1] {
			if msg.GetStatus() != waiting {
				t.Fatalf("watcher %d: admission before the last message: %v", w, r.msgs)
			}
		}
	}
}

// TestReserveDemandsTheBuyersOwnLivePass: on a queued event, reserve
// answers QUEUE_PASS_REQUIRED without a pass, with another buyer's pass and
// with an expired pass; with the buyer's own live pass it holds seats.
func TestReserveDemandsTheBuyersOwnLivePass(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-queue.pass-ttl=3s")
	f := m.seed(eventOpts{queue: true, rate: 1000, users: 4})
	ctx := context.Background()
	a, b, c := f.users[0], f.users[1], f.users[2]
	for _, u := range []string{a, b, c} {
		if _, err := m.join(ctx, false, f, u); err != nil {
			t.Fatal(err)
		}
	}
	pa := m.waitAdmitted(f, a, 5*time.Second)
	pb := m.waitAdmitted(f, b, 5*time.Second)
	pc := m.waitAdmitted(f, c, 5*time.Second)
	if pa.GetQueuePass() == "" || pa.GetQueuePass() == pb.GetQueuePass() {
		t.Fatalf("passes: %q %q", pa.GetQueuePass(), pb.GetQueuePass())
	}
	if ttl := time.Until(pa.GetPassExpiresAt().AsTime()); ttl <= 0 || ttl > 3*time.Second+100*time.Millisecond {
		t.Fatalf("pass expires in %v, want within queue.pass-ttl 3s", ttl)
	}

	needsPass := func(what string, err error) {
		t.Helper()
		if connect.CodeOf(err) != connect.CodePermissionDenied || !errs.Is(err, errs.QueuePassRequired) {
			t.Errorf("%s: %v, want QUEUE_PASS_REQUIRED (permission denied)", what, err)
		}
	}
	for _, grpc := range []bool{false, true} {
		needsPass("reserve without a pass", m.reserve(grpc, f, a, ""))
		needsPass("reserve with another buyer's pass", m.reserve(grpc, f, a, pb.GetQueuePass()))
	}
	if err := m.reserve(false, f, a, pa.GetQueuePass()); err != nil {
		t.Fatalf("reserve with the own pass (header): %v", err)
	}
	req := as(m.token(b, authn.RoleUser), &bookingv1.ReserveRequest{ShowId: f.show, ZoneId: f.zone, Quantity: 1,
		QueuePass: pb.GetQueuePass(), IdempotencyKey: uuid.NewString()})
	if _, err := m.booking(true).Reserve(ctx, req); err != nil {
		t.Fatalf("reserve with the own pass (field, gRPC): %v", err)
	}

	// A pass is no login token.
	_, err := m.queue(false).GetQueueStatus(ctx, as(pa.GetQueuePass(), &queuev1.GetQueueStatusRequest{EventId: f.event}))
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("a pass as bearer token: %v, want unauthenticated", err)
	}

	// An expired pass is refused; the buyer sees "expired" and may join again.
	time.Sleep(time.Until(pc.GetPassExpiresAt().AsTime()) + 200*time.Millisecond)
	needsPass("reserve with an expired pass", m.reserve(false, f, c, pc.GetQueuePass()))
	st, err := m.status(ctx, true, f, c)
	if err != nil || st.GetStatus() != expired || st.GetQueuePass() != "" {
		t.Fatalf("status after the pass expired: %v %v", st, err)
	}
	if _, err := m.join(ctx, true, f, c); err != nil {
		t.Fatal(err)
	}
	again := m.waitAdmitted(f, c, 5*time.Second)
	if again.GetQueuePass() == pc.GetQueuePass() {
		t.Fatal("the second admission reused the expired pass")
	}
	if err := m.reserve(true, f, c, again.GetQueuePass()); err != nil {
		t.Fatalf("reserve with the new pass: %v", err)
	}

	// Bad calls.
	_, err = m.queue(false).JoinQueue(ctx, as(m.token(a, authn.RoleUser), &queuev1.JoinQueueRequest{EventId: "nope"}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("join with a bad event id: %v", err)
	}
	_, err = m.queue(true).JoinQueue(ctx, connect.NewRequest(&queuev1.JoinQueueRequest{EventId: f.event}))
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("join without a token: %v", err)
	}
	if _, err := m.join(ctx, false, fixture{event: uuid.NewString()}, a); !errs.Is(err, errs.NotFound) {
		t.Errorf("join an unknown event: %v", err)
	}
	if _, err := m.status(ctx, false, f, f.users[3]); !errs.Is(err, errs.NotFound) {
		t.Errorf("status of a buyer who never joined: %v", err)
	}
	_, err = m.queue(false).SetQueueSettings(ctx, as(m.token(f.organizer, authn.RoleOrganizer),
		&queuev1.SetQueueSettingsRequest{EventId: f.event, Enabled: false}))
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("SetQueueSettings by an organizer: %v", err)
	}
}

// TestQueueSwitch: an event without a queue admits at once and reserve
// needs no pass; switching the queue on through SetQueueSettings reaches the
// reserve script at once.
func TestQueueSwitch(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{users: 2})
	ctx := context.Background()
	d, e := f.users[0], f.users[1]
	st, err := m.join(ctx, true, f, d)
	if err != nil || st.GetStatus() != admitted || st.GetQueuePass() != "" {
		t.Fatalf("join without a queue: %v %v", st, err)
	}
	if err := m.reserve(false, f, d, ""); err != nil {
		t.Fatalf("reserve without a queue: %v", err)
	}

	if s := m.setSettings(f, true, 0); !s.GetEnabled() || s.GetAdmitPerSecond() != 100 {
		t.Fatalf("settings: %v (the rate should stay the column's 100)", s)
	}
	var enabled bool
	if err := m.db.QueryRow(`SELECT queue_enabled FROM events WHERE id = $1`, f.event).Scan(&enabled); err != nil || !enabled {
		t.Fatalf("events.queue_enabled after SetQueueSettings: %v %v", enabled, err)
	}
	if err := m.reserve(true, f, e, ""); !errs.Is(err, errs.QueuePassRequired) {
		t.Fatalf("reserve after the queue was switched on: %v", err)
	}
	if _, err := m.join(ctx, false, f, e); err != nil {
		t.Fatal(err)
	}
	pe := m.waitAdmitted(f, e, 5*time.Second)
	if err := m.reserve(true, f, e, pe.GetQueuePass()); err != nil {
		t.Fatalf("reserve with the pass: %v", err)
	}

	// Switching it off lets everyone in without a pass.
	m.setSettings(f, false, 0)
	st, err = m.status(ctx, false, f, e)
	if err != nil || st.GetStatus() != admitted || st.GetQueuePass() != "" {
		t.Fatalf("status after the queue was switched off: %v %v", st, err)
	}
	if err := m.reserve(false, f, d, ""); err != nil {
		t.Fatalf("reserve after the queue was switched off: %v", err)
	}
}
