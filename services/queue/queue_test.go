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
	"google.golang.org/protobuf/proto"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/testkit"
)

const (
	waiting  = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING
	admitted = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_ADMITTED
	expired  = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_EXPIRED
	soldOut  = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_SOLD_OUT
	used     = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_USED
)

// parallel runs do(i) for i in 0..n-1 on 32 workers and fails the test with
// the first errors.
func parallel(t *testing.T, n int, do func(i int) error) {
	t.Helper()
	var (
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
	)
	work := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range work {
				if err := do(i); err != nil {
					mu.Lock()
					if len(failures) < 10 {
						failures = append(failures, fmt.Sprintf("%d: %v", i, err))
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("failures: %v", failures)
	}
}

// TestFiveThousandJoinAndAdmissionFollowsTheRate: 5,000 buyers join a
// queued event before its sale opens (over Connect and gRPC), each gets a
// ticket of its own (joining again answers the same one); at the opening
// two admitter replicas together move the cursor 200 a second; every buyer
// ends admitted exactly once, with a pass whose place is the opening's
// draw: the places are a permutation of 1..5000.
func TestFiveThousandJoinAndAdmissionFollowsTheRate(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	m.startAdmitter()
	f := m.seed(eventOpts{queue: true, rate: 1, saleStart: time.Now().Add(time.Hour)})
	if s := m.setSettings(f, true, 200); !s.GetEnabled() || s.GetAdmitPerSecond() != 200 || s.GetMaxActive() != 0 {
		t.Fatalf("settings after SetQueueSettings: %v", s)
	}

	const n = 5000
	users := make([]string, n)
	tickets := make([]string, n)
	for i := range users {
		users[i] = uuid.NewString()
	}
	ctx := context.Background()
	start := time.Now()
	parallel(t, n, func(i int) error {
		st, err := m.join(ctx, i%2 == 1, f, users[i])
		if err != nil {
			return err
		}
		// Before the opening: waiting, no place drawn yet, the wait is at
		// least the time to the opening; a ticket of the pre-queue.
		tk, err := m.signer().Verify(st.GetTicket())
		if err != nil || st.GetStatus() != waiting || st.GetPosition() != 0 || st.GetTotal() < 1 || st.GetTotal() > n ||
			st.GetEstimatedWait().AsDuration() < 50*time.Minute || st.GetQueuePass() != "" ||
			!tk.Pre || tk.User != users[i] || tk.Event != f.event || tk.Number < 1 || tk.Number > n {
			return fmt.Errorf("join: %v (ticket %+v, %w)", st, tk, err)
		}
		tickets[i] = st.GetTicket()
		return nil
	})
	t.Logf("%d joins in %v", n, time.Since(start).Round(time.Millisecond))
	numbers := map[uint32]bool{}
	for _, raw := range tickets {
		numbers[m.pass(raw).Number] = true
	}
	if len(numbers) != n {
		t.Fatalf("%d distinct join numbers for %d buyers", len(numbers), n)
	}
	// Joining again changes nothing. (The total comes from the line's
	// state as last read, at most a tick old.)
	for i := range 20 {
		st, err := m.join(ctx, i%2 == 0, f, users[i])
		if err != nil || st.GetTicket() != tickets[i] || st.GetTotal() < 1 || st.GetTotal() > n {
			t.Fatalf("second join of %d: %v %v, want the ticket %s", i, st, err, tickets[i])
		}
	}
	// The line's public state is read once per tick: it catches up.
	var l *queuev1.Line
	testkit.Eventually(t, 5*time.Second, "the line counts every join", func() bool { l = m.line(f); return l.GetJoined() == n })
	if l.GetAdmittedUpTo() != 0 || l.GetOpened() || !l.GetEnabled() {
		t.Fatalf("line before the opening: %v", l)
	}

	m.openSale(f)
	// Sample the cursor for ~3 s from the first admission.
	var first time.Time
	var marks []int
	deadline := time.Now().Add(15 * time.Second)
	for len(marks) < 4 {
		c := m.cursor(f)
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

	// A waiting buyer's place is its drawn sequence less the cursor, and
	// the estimate follows from the rate.
	for i := range 40 {
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

	// Let the rest in quickly: every buyer is admitted with a pass of its
	// own whose place is the draw's, each place once.
	m.setSettings(f, true, 5000)
	testkit.Eventually(t, 30*time.Second, "everyone admitted", func() bool { return m.cursor(f) == n })
	time.Sleep(300 * time.Millisecond) // a late step of either replica would show now
	if c := m.cursor(f); c != n {
		t.Fatalf("cursor %d after everyone was admitted, want %d", c, n)
	}
	seqs := make([]uint32, n)
	parallel(t, n, func(i int) error {
		st, err := m.status(ctx, i%2 == 1, f, users[i])
		if err != nil {
			return err
		}
		p, err := m.signer().Verify(st.GetQueuePass())
		exp := st.GetPassExpiresAt().AsTime()
		if err != nil || st.GetStatus() != admitted || st.GetPosition() != 0 || p.Pre || p.User != users[i] ||
			st.GetTicket() != tickets[i] || !exp.After(time.Now()) || exp.After(time.Now().Add(10*time.Minute+time.Second)) {
			return fmt.Errorf("status of an admitted buyer: %v (pass %+v, %w)", st, p, err)
		}
		seqs[i] = p.Number
		return nil
	})
	sorted := slices.Clone(seqs)
	slices.Sort(sorted)
	for i, s := range sorted {
		if s != uint32(i+1) {
			t.Fatalf("the passes' places are not 1..%d: %d at rank %d", n, s, i)
		}
	}
	if slices.IsSorted(seqs) {
		t.Fatal("the pre-queue was admitted in join order: not drawn")
	}
}

// TestOpeningDrawThenFirstComeFirstServed: buyers who joined before the
// opening are admitted first, in a random order, each once; buyers who join
// later follow in join order. WatchQueueStatus delivers the admission, with
// the pass, and ends. A ticket of the pre-queue is not the pass.
func TestOpeningDrawThenFirstComeFirstServed(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{queue: true, rate: 1000, saleStart: time.Now().Add(time.Hour)})
	ctx := context.Background()
	const group = 30
	var pre, post []string
	preTickets := map[string]string{}
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
		preTickets[u] = st.GetTicket()
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
			stream, err := m.queue(w == 1).WatchQueueStatus(ctx, testkit.Bearer(m.token(pre[w], authn.RoleUser), &queuev1.WatchQueueStatusRequest{EventId: f.event}))
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
		st, err := m.join(ctx, i%2 == 1, f, u)
		if err != nil {
			t.Fatal(err)
		}
		if tk := m.pass(st.GetTicket()); tk.Pre || tk.Number != uint32(group+i+1) {
			t.Fatalf("post-opening join %d: ticket %+v, want place %d", i, tk, group+i+1)
		}
		post = append(post, u)
	}
	testkit.Eventually(t, 15*time.Second, "everyone admitted", func() bool { return m.cursor(f) == 2*group })
	drawn := make([]string, group)
	for _, u := range pre {
		st := m.waitAdmitted(f, u, time.Second)
		p := m.pass(st.GetQueuePass())
		if p.Pre || p.Number < 1 || p.Number > group || drawn[p.Number-1] != "" {
			t.Fatalf("pass of a pre-queue buyer: %+v", p)
		}
		drawn[p.Number-1] = u
	}
	if slices.Equal(drawn, pre) {
		t.Errorf("the pre-opening group was admitted in join order: not shuffled")
	}
	for i, u := range post {
		st := m.waitAdmitted(f, u, time.Second)
		if st.GetQueuePass() != st.GetTicket() || m.pass(st.GetQueuePass()).Number != uint32(group+i+1) {
			t.Fatalf("a post-opening buyer's pass is not its ticket: %v", st)
		}
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
		st := m.waitAdmitted(f, pre[w], time.Second)
		if last.GetStatus() != admitted || last.GetQueuePass() != st.GetQueuePass() || last.GetPassExpiresAt() == nil {
			t.Fatalf("watcher %d ended with %v (status %v)", w, last, st)
		}
		for _, msg := range r.msgs[:len(r.msgs)-1] {
			if msg.GetStatus() != waiting {
				t.Fatalf("watcher %d: admission before the last message: %v", w, r.msgs)
			}
		}
	}

	// The pre-queue ticket is not the pass; the pass is.
	u := pre[0]
	st := m.waitAdmitted(f, u, time.Second)
	if err := m.reserve(false, f, u, preTickets[u]); reason(err) != "not_drawn" {
		t.Fatalf("reserve with a pre-queue ticket: %v", err)
	}
	if err := m.reserve(true, f, u, st.GetQueuePass()); err != nil {
		t.Fatalf("reserve with the pass: %v", err)
	}
}

// TestReserveDemandsTheBuyersOwnLivePass: on a queued event, reserve
// answers QUEUE_PASS_REQUIRED without a pass, with another buyer's, a
// forged one, a used one and an expired one; with the buyer's own live pass
// it holds seats, once. Joining again after the pass was used or lapsed
// gives a new place at the end of the line.
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

	refused := func(what, why string, err error) {
		t.Helper()
		if connect.CodeOf(err) != connect.CodePermissionDenied || !errs.Is(err, errs.QueuePassRequired) || reason(err) != why {
			t.Errorf("%s: %v, want QUEUE_PASS_REQUIRED (%s)", what, err, why)
		}
	}
	forged := []byte(pa.GetQueuePass())
	forged[40] ^= 1
	for _, grpc := range []bool{false, true} {
		refused("reserve without a pass", "missing", m.reserve(grpc, f, a, ""))
		refused("reserve with another buyer's pass", "other_user", m.reserve(grpc, f, a, pb.GetQueuePass()))
		refused("reserve with a forged pass", "invalid", m.reserve(grpc, f, a, string(forged)))
	}
	if err := m.reserve(false, f, a, pa.GetQueuePass()); err != nil {
		t.Fatalf("reserve with the own pass (header): %v", err)
	}
	refused("a second reserve with the same pass", "used", m.reserve(true, f, a, pa.GetQueuePass()))
	if st, err := m.status(ctx, true, f, a); err != nil || st.GetStatus() != used {
		t.Fatalf("status after the pass was used: %v %v", st, err)
	}
	// Joining again: a new place at the end of the line, a new pass.
	again, err := m.join(ctx, false, f, a)
	if err != nil || again.GetTicket() == pa.GetTicket() || m.pass(again.GetTicket()).Number != 4 {
		t.Fatalf("join after the pass was used: %v %v", again, err)
	}
	if err := m.reserve(true, f, a, m.waitAdmitted(f, a, 5*time.Second).GetQueuePass()); err != nil {
		t.Fatalf("reserve with the second pass: %v", err)
	}
	req := testkit.Bearer(m.token(b, authn.RoleUser), &bookingv1.ReserveRequest{ShowId: f.show, ZoneId: f.zone, Quantity: 1,
		QueuePass: pb.GetQueuePass(), IdempotencyKey: uuid.NewString()})
	if _, err := m.booking(true).Reserve(ctx, req); err != nil {
		t.Fatalf("reserve with the own pass (field, gRPC): %v", err)
	}

	// A pass is no login token.
	_, err = m.queue(false).GetQueueStatus(ctx, testkit.Bearer(pa.GetQueuePass(), &queuev1.GetQueueStatusRequest{EventId: f.event}))
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("a pass as bearer token: %v, want unauthenticated", err)
	}

	// A lapsed pass is refused; the buyer sees "expired" and joins again.
	time.Sleep(time.Until(pc.GetPassExpiresAt().AsTime()) + 200*time.Millisecond)
	refused("reserve with an expired pass", "expired", m.reserve(false, f, c, pc.GetQueuePass()))
	st, err := m.status(ctx, true, f, c)
	if err != nil || st.GetStatus() != expired || st.GetQueuePass() != "" {
		t.Fatalf("status after the pass expired: %v %v", st, err)
	}
	if _, err := m.join(ctx, true, f, c); err != nil {
		t.Fatal(err)
	}
	renewed := m.waitAdmitted(f, c, 5*time.Second)
	if renewed.GetQueuePass() == pc.GetQueuePass() {
		t.Fatal("the second admission reused the expired pass")
	}
	if err := m.reserve(true, f, c, renewed.GetQueuePass()); err != nil {
		t.Fatalf("reserve with the new pass: %v", err)
	}

	// Bad calls.
	_, err = m.queue(false).JoinQueue(ctx, testkit.Bearer(m.token(a, authn.RoleUser), &queuev1.JoinQueueRequest{EventId: "nope"}))
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
	_, err = m.queue(false).GetQueueStatus(ctx, testkit.Bearer(m.token(f.users[3], authn.RoleUser), &queuev1.GetQueueStatusRequest{EventId: f.event, Ticket: pb.GetTicket()}))
	if !errs.Is(err, errs.Forbidden) {
		t.Errorf("status of another buyer's ticket: %v", err)
	}
	for _, who := range []string{authn.RoleOrganizer, authn.RoleUser} {
		_, err = m.queue(false).SetQueueSettings(ctx, testkit.Bearer(m.token(uuid.NewString(), who), &queuev1.SetQueueSettingsRequest{EventId: f.event, Enabled: proto.Bool(false)}))
		if connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("SetQueueSettings by another %s: %v", who, err)
		}
	}
}

// TestQueueSwitch: an event without a queue admits at once and reserve
// needs no pass; switching the queue on reaches the reserve script at once;
// switching it off lets everyone in.
func TestQueueSwitch(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{users: 2})
	ctx := context.Background()
	d, e := f.users[0], f.users[1]
	st, err := m.join(ctx, true, f, d)
	if err != nil || st.GetStatus() != admitted || st.GetQueuePass() != "" || st.GetTicket() != "" {
		t.Fatalf("join without a queue: %v %v", st, err)
	}
	if err := m.reserve(false, f, d, ""); err != nil {
		t.Fatalf("reserve without a queue: %v", err)
	}

	if s := m.setSettings(f, true, 0, 50); !s.GetEnabled() || s.GetAdmitPerSecond() != 100 || s.GetMaxActive() != 50 {
		t.Fatalf("settings: %v (the rate should stay the column's 100)", s)
	}
	var enabled bool
	var maxActive int
	if err := m.db.QueryRow(`SELECT e.queue_enabled, q.max_active FROM events e JOIN queue_settings q ON q.event_id = e.id WHERE e.id = $1`, f.event).Scan(&enabled, &maxActive); err != nil || !enabled || maxActive != 50 {
		t.Fatalf("the catalog's switch and the queue's row after SetQueueSettings: %v %d %v", enabled, maxActive, err)
	}
	if s := m.setSettings(f, true, 0); s.GetMaxActive() != 50 {
		t.Fatalf("a change without max_active changed it: %v", s)
	}
	// A knob's change without the switch leaves the queue on.
	knob, err := m.queue(false).SetQueueSettings(ctx, testkit.Bearer(m.token(f.organizer, authn.RoleOrganizer),
		&queuev1.SetQueueSettingsRequest{EventId: f.event, AdmitPerSecond: 150}))
	if err != nil {
		t.Fatalf("a change of the rate alone: %v", err)
	}
	if s := knob.Msg.GetSettings(); !s.GetEnabled() || s.GetAdmitPerSecond() != 150 || s.GetMaxActive() != 50 {
		t.Fatalf("a change of the rate alone: %v", s)
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

// TestCapAndSoldOut: the cursor never leaves more than max_active admitted
// buyers with a live, unused pass; it stops when every seat is held, every
// waiting buyer is told "sold out", and it moves again when seats come
// back.
func TestCapAndSoldOut(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{queue: true, rate: 1000, seats: 3, users: 6})
	m.setSettings(f, true, 1000, 2)
	ctx := context.Background()
	tickets := make([]string, len(f.users))
	for i, u := range f.users {
		st, err := m.join(ctx, false, f, u)
		if err != nil {
			t.Fatal(err)
		}
		tickets[i] = st.GetTicket()
	}
	testkit.Eventually(t, 5*time.Second, "two admitted", func() bool { return m.cursor(f) == 2 })
	time.Sleep(500 * time.Millisecond) // steps at 1,000/s would have passed the cap by now
	if l := m.line(f); l.GetAdmittedUpTo() != 2 || l.GetActive() != 2 || l.GetMaxActive() != 2 || l.GetWaiting() != 4 || l.GetSoldOut() {
		t.Fatalf("line at the cap: %v", l)
	}
	if err := m.reserve(false, f, f.users[2], tickets[2]); reason(err) != "waiting" {
		t.Fatalf("reserve before one's turn: %v", err)
	}

	// Buyer 6 watches; the first three hold the three seats, each freeing a
	// place under the cap.
	watch := make(chan []*queuev1.QueueStatus, 1)
	go func() {
		var msgs []*queuev1.QueueStatus
		defer func() { watch <- msgs }()
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := m.queue(true).WatchQueueStatus(ctx, testkit.Bearer(m.token(f.users[5], authn.RoleUser), &queuev1.WatchQueueStatusRequest{EventId: f.event}))
		if err != nil {
			return
		}
		for s.Receive() {
			msgs = append(msgs, s.Msg().GetQueueStatus())
		}
	}()
	var holds []*bookingv1.Booking
	for i := range 3 {
		if i == 2 {
			// Two passes used, one live: the cap lets a fourth in. Wait for
			// it, or the last seat could go before the admitter's tick.
			testkit.Eventually(t, 5*time.Second, "a fourth admitted", func() bool { return m.cursor(f) == 4 })
		}
		pass := m.waitAdmitted(f, f.users[i], 5*time.Second).GetQueuePass()
		b, err := m.reserveBooking(false, f, f.users[i], pass)
		if err != nil {
			t.Fatalf("reserve %d: %v", i, err)
		}
		holds = append(holds, b)
	}
	soldAt := time.Now()
	msgs := <-watch
	t.Logf("the watcher heard sold out %v after the last seat was held", time.Since(soldAt).Round(time.Millisecond))
	if len(msgs) == 0 || msgs[len(msgs)-1].GetStatus() != soldOut {
		t.Fatalf("the watcher's messages: %v, want sold out last", msgs)
	}
	cursor := m.cursor(f)
	if l := m.line(f); !l.GetSoldOut() || cursor != 4 {
		t.Fatalf("line when sold out: %v (cursor %d, want 4: the cap let a fourth in)", l, cursor)
	}
	if st, err := m.status(ctx, false, f, f.users[4]); err != nil || st.GetStatus() != soldOut || st.GetPosition() != 1 {
		t.Fatalf("a waiting buyer when sold out: %v %v", st, err)
	}
	time.Sleep(500 * time.Millisecond)
	if c := m.cursor(f); c != cursor {
		t.Fatalf("the cursor moved from %d to %d while sold out", cursor, c)
	}

	// A hold cancelled: a seat is back, admission resumes.
	req := testkit.Bearer(m.token(f.users[0], authn.RoleUser), &bookingv1.CancelBookingRequest{BookingId: holds[0].GetId()})
	if _, err := m.booking(false).CancelBooking(ctx, req); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "admission resumed", func() bool { return m.cursor(f) == 5 })
	if st := m.waitAdmitted(f, f.users[4], time.Second); st.GetQueuePass() == "" {
		t.Fatalf("admitted after seats came back: %v", st)
	}
	if l := m.line(f); l.GetSoldOut() {
		t.Fatalf("line after a seat came back: %v", l)
	}
}

// reason is the details.reason of a QUEUE_PASS_REQUIRED answer.
func reason(err error) string {
	e := errs.FromConnect(err)
	if e == nil {
		return ""
	}
	r, _ := e.Details["reason"].(string)
	return r
}

// TestExtendedSaleLineMovesAgain: buyers wait in line when an event's sale
// ends. Those who wait are told EXPIRED (a look without a ticket, and any
// join, answer SALE_NOT_OPEN) and the admitters park the line, its places
// kept. The organizer extends the sale: the same line moves again from the
// next admission step. The buyer admitted before the end reserves with the
// pass, the one who waited keeps the place (joining again answers the same
// ticket) and is admitted before a buyer who joins after the extension.
// An organizer who moves the window later instead (a new start ahead)
// keeps them waiting, in order, until that start, then they are admitted.
// Before, the admitter dropped the event at the sale's end for good, the
// line said "ended" from a flag only an admission step cleared, and a join
// woke the admitters only when nobody waited: nothing moved again.
func TestExtendedSaleLineMovesAgain(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	end := time.Now().Add(4 * time.Second)
	extended := m.seed(eventOpts{users: 3, queue: true, saleEnd: end})
	moved := m.seed(eventOpts{users: 2, queue: true, saleEnd: end})
	ctx := context.Background()
	tickets, passes := map[string]string{}, map[string]string{}
	for _, f := range []fixture{extended, moved} {
		m.setSettings(f, true, 100, 1) // one shopper at a time
		for _, u := range f.users[:2] {
			st, err := m.join(ctx, false, f, u)
			if err != nil {
				t.Fatal(err)
			}
			tickets[u] = st.GetTicket()
		}
		passes[f.users[0]] = m.waitAdmitted(f, f.users[0], 5*time.Second).GetQueuePass()
	}
	ticketStatus := func(f fixture, u string) *queuev1.QueueStatus {
		t.Helper()
		res, err := m.queue(false).GetQueueStatus(ctx, testkit.Bearer(m.token(u, authn.RoleUser),
			&queuev1.GetQueueStatusRequest{EventId: f.event, Ticket: tickets[u]}))
		if err != nil {
			t.Fatalf("status of %s's ticket: %v", u, err)
		}
		return res.Msg.GetQueueStatus()
	}

	// The sale ends with the second buyer of each event waiting.
	time.Sleep(time.Until(end))
	for _, f := range []fixture{extended, moved} {
		testkit.Eventually(t, 5*time.Second, "an admission step after the sale's end", func() bool {
			return m.line(f).GetUpdatedAt().AsTime().After(end)
		})
		if st := ticketStatus(f, f.users[1]); st.GetStatus() != expired {
			t.Fatalf("a waiting buyer after the sale's end: %v", st)
		}
		if _, err := m.status(ctx, false, f, f.users[1]); !errs.Is(err, errs.SaleNotOpen) {
			t.Fatalf("a look after the sale's end: %v", err)
		}
	}
	if _, err := m.join(ctx, false, extended, extended.users[2]); !errs.Is(err, errs.SaleNotOpen) {
		t.Fatalf("a join after the sale's end: %v", err)
	}

	// The organizer extends one sale (UpdateEvent has booking reload the
	// sale settings) and moves the other's window later.
	if _, err := m.db.Exec(`UPDATE events SET sale_end_at = now() + interval '1 hour' WHERE id = $1`, extended.event); err != nil {
		t.Fatal(err)
	}
	m.load(extended)
	start := time.Now().Add(2 * time.Second)
	if _, err := m.db.Exec(`UPDATE events SET sale_start_at = $2, sale_end_at = now() + interval '1 hour' WHERE id = $1`, moved.event, start); err != nil {
		t.Fatal(err)
	}
	m.load(moved)

	// Extended: the first buyer shops with the pass (its window is still
	// open), which frees the one place for the second, who kept the place.
	f := extended
	if err := m.reserve(false, f, f.users[0], passes[f.users[0]]); err != nil {
		t.Fatalf("reserve with the pass after the extension: %v", err)
	}
	st, err := m.join(ctx, false, f, f.users[1])
	if err != nil {
		t.Fatal(err)
	}
	if got, was := m.pass(st.GetTicket()), m.pass(tickets[f.users[1]]); got.Number != was.Number || got.Epoch != was.Epoch {
		t.Fatalf("joining again after the extension: ticket %+v, want the place kept (%+v)", got, was)
	}
	late, err := m.join(ctx, false, f, f.users[2])
	if err != nil {
		t.Fatal(err)
	}
	if n := m.pass(late.GetTicket()).Number; n != 3 {
		t.Fatalf("a join after the extension got number %d, want 3 (behind those who waited)", n)
	}
	if err := m.reserve(false, f, f.users[1], m.waitAdmitted(f, f.users[1], 5*time.Second).GetQueuePass()); err != nil {
		t.Fatalf("reserve of the buyer who waited: %v", err)
	}
	m.waitAdmitted(f, f.users[2], 5*time.Second)

	// Moved: the waiting buyer waits again, not admitted before the new
	// start (the one place is taken anyway), then in turn.
	f = moved
	testkit.Eventually(t, time.Second, "the buyer who waited waits again, first in line", func() bool {
		st := ticketStatus(f, f.users[1]) // the line's state is at most a tick old
		return st.GetStatus() == waiting && st.GetPosition() == 1
	})
	if c := m.cursor(f); c != 1 {
		t.Fatalf("cursor %d before the new start, want 1", c)
	}
	time.Sleep(time.Until(start))
	if err := m.reserve(false, f, f.users[0], passes[f.users[0]]); err != nil {
		t.Fatalf("reserve with the pass at the new start: %v", err)
	}
	m.waitAdmitted(f, f.users[1], 5*time.Second)
}
