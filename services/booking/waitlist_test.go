package booking_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/redisx"
	"github.com/bookingrush/rush/services/testkit"
)

func (m *mesh) join(f fixture, user string, qty int) (*bookingv1.WaitlistEntry, error) {
	res, err := m.booking(false).JoinWaitlist(context.Background(),
		as(m, user, authn.RoleUser, &bookingv1.JoinWaitlistRequest{ShowId: f.show, ZoneId: f.zone, Quantity: int32(qty)}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetEntry(), nil
}

// offers reads the live waitlist offers of the event from Redis: booking id
// -> its hold fields.
func (m *mesh) offers(f fixture) map[string]map[string]string {
	m.t.Helper()
	ctx := context.Background()
	out := map[string]map[string]string{}
	iter := m.rdb.Scan(ctx, 0, fmt.Sprintf("%s{ev:%s}:hold:*", m.prefix, f.event), 1000).Iterator()
	for iter.Next(ctx) {
		h, err := m.rdb.HGetAll(ctx, iter.Val()).Result()
		if err != nil {
			m.t.Fatal(err)
		}
		if h["wl"] == "1" {
			out[h["id"]] = h
		}
	}
	return out
}

// TestWaitlistOffersReturnedSeatsInLineOrder: a sold-out zone's waitlist
// gets the seats that come back, in line order, each entry its whole
// quantity (an entry that does not fit keeps its place and the next that
// fits is served); an offer is a hold (counted as held) for its buyer, and
// a lapsed offer passes on.
func TestWaitlistOffersReturnedSeatsInLineOrder(t *testing.T) {
	t.Parallel()
	// The offers live 3 s: carol's must still be live when it is confirmed
	// below, after a few calls that a loaded CI machine (-race, parallel
	// packages) once stretched past 1 s.
	m := startMesh(t, "-booking.waitlist-offer-ttl=3s", "-booking.sweep-interval=100ms")
	f := m.seed(eventOpts{seats: 4, maxPerUser: 4, users: 5})
	alice, bob, carol, dave, erin := f.users[0], f.users[1], f.users[2], f.users[3], f.users[4]
	c := m.booking(true)

	// Seats are available: no waiting.
	if _, err := m.join(f, bob, 2); !errs.Is(err, errs.InsufficientStock) {
		t.Fatalf("join with seats available: %v", err)
	}
	held, err := m.reserve(context.Background(), c, f, alice, 4, "alice-wl-01")
	if err != nil {
		t.Fatal(err)
	}
	// Sold out: bob (2), carol (1), dave (3) line up; erin asks above the limit.
	for i, w := range []struct {
		user string
		qty  int
	}{{bob, 2}, {carol, 1}, {dave, 3}} {
		e, err := m.join(f, w.user, w.qty)
		if err != nil || e.GetPosition() != int32(i+1) || e.GetWaiting() != int32(i+1) || e.GetQuantity() != int32(w.qty) {
			t.Fatalf("join %d: %v %v", i, e, err)
		}
	}
	if _, err := m.join(f, erin, 5); err == nil {
		t.Fatal("join for more than the per-user limit succeeded")
	}
	// Joining again answers the place held.
	if e, err := m.join(f, carol, 1); err != nil || e.GetPosition() != 2 || e.GetWaiting() != 3 {
		t.Fatalf("join again: %v %v", e, err)
	}
	got, err := c.GetWaitlistEntry(context.Background(), as(m, dave, authn.RoleUser, &bookingv1.GetWaitlistEntryRequest{ZoneId: f.zone}))
	if err != nil || got.Msg.GetEntry().GetPosition() != 3 || got.Msg.GetEntry().GetEventId() != f.event {
		t.Fatalf("dave's place: %v %v", got, err)
	}
	// erin joins and leaves; her place is gone.
	if _, err := m.join(f, erin, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LeaveWaitlist(context.Background(), as(m, erin, authn.RoleUser, &bookingv1.LeaveWaitlistRequest{ZoneId: f.zone})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetWaitlistEntry(context.Background(), as(m, erin, authn.RoleUser, &bookingv1.GetWaitlistEntryRequest{ZoneId: f.zone})); !errs.Is(err, errs.NotFound) {
		t.Fatalf("erin after leaving: %v", err)
	}

	// alice cancels: 4 seats come back; bob gets 2, carol 1, dave (3)
	// does not fit the 1 left and keeps his place.
	if _, err := c.CancelBooking(context.Background(), as(m, alice, authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: held.GetId()})); err != nil {
		t.Fatal(err)
	}
	if z := m.checkInvariant(f); z["available"] != 1 || z["held"] != 3 {
		t.Fatalf("zone after the return: %v", z)
	}
	offers := m.offers(f)
	byUser := map[string]map[string]string{}
	for _, o := range offers {
		byUser[o["user"]] = o
	}
	if len(offers) != 2 || byUser[bob]["qty"] != "2" || byUser[carol]["qty"] != "1" {
		t.Fatalf("offers after the return: %v", offers)
	}
	if got, err := c.GetWaitlistEntry(context.Background(), as(m, dave, authn.RoleUser, &bookingv1.GetWaitlistEntryRequest{ZoneId: f.zone})); err != nil || got.Msg.GetEntry().GetPosition() != 1 {
		t.Fatalf("dave's place after the offers: %v %v", got, err)
	}
	// The offer is bob's booking, a hold marked as an offer.
	b, err := c.GetBooking(context.Background(), as(m, bob, authn.RoleUser, &bookingv1.GetBookingRequest{BookingId: byUser[bob]["id"]}))
	if err != nil || !b.Msg.GetBooking().GetWaitlistOffer() || b.Msg.GetBooking().GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_RESERVED ||
		b.Msg.GetBooking().GetTotalAmount() != "99.80" {
		t.Fatalf("bob's offer: %v %v", b, err)
	}
	// carol's offer is confirmed (paid); bob's lapses (3 s): his 2 seats
	// and the 1 left go to dave (3).
	if _, err := c.ConfirmBooking(context.Background(), as(m, "saga", authn.RoleService, &bookingv1.ConfirmBookingRequest{BookingId: byUser[carol]["id"]})); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		z := m.checkInvariant(f)
		if z["available"] == 0 && z["held"] == 3 && z["sold"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lapsed offer did not pass to dave: %v %v", z, m.offers(f))
		}
		time.Sleep(20 * time.Millisecond)
	}
	offers = m.offers(f)
	var daves int
	for _, o := range offers {
		if o["user"] == dave && o["status"] == "reserved" && o["qty"] == "3" {
			daves++
		}
	}
	if daves != 1 {
		t.Fatalf("dave's offers: %v", offers)
	}
	m.waitReconciled(f, 10*time.Second)
}

// TestWaitlistConcurrentReturnsNeverDoubleOffer: 60 holders give their seats
// back (30 cancel at once, 30 expire) while 100 buyers wait and 20 more
// join meanwhile. Every returned seat is offered at most once, no entry
// gets two offers, the invariant holds at every observation, and Postgres
// ends equal to Redis.
func TestWaitlistConcurrentReturnsNeverDoubleOffer(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-booking.hold-ttl=3s", "-booking.sweep-interval=100ms", "-booking.waitlist-offer-ttl=5m")
	f := m.seed(eventOpts{seats: 60, maxPerUser: 2, users: 180})
	holders, waiters, late := f.users[:60], f.users[60:160], f.users[160:]
	c := m.booking(false)

	holds := make([]*bookingv1.Booking, len(holders))
	var wg sync.WaitGroup
	for i, u := range holders {
		wg.Go(func() {
			b, err := m.reserve(context.Background(), c, f, u, 1, fmt.Sprintf("hold-%04d", i))
			if err != nil {
				t.Errorf("reserve %d: %v", i, err)
			}
			holds[i] = b
		})
	}
	wg.Wait()
	want := map[string]int{}
	for i, u := range waiters {
		want[u] = 1 + i%2
		qty := want[u]
		wg.Go(func() {
			if _, err := m.join(f, u, qty); err != nil {
				t.Errorf("join %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	stop := m.watchInvariant(f)
	for i := range 30 {
		wg.Go(func() {
			if _, err := c.CancelBooking(context.Background(), as(m, holders[i], authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: holds[i].GetId()})); err != nil {
				t.Errorf("cancel %d: %v", i, err)
			}
		})
	}
	for i, u := range late {
		wg.Go(func() {
			_, err := m.join(f, u, 1)
			if err != nil && !errs.Is(err, errs.InsufficientStock) { // seats no entry fitted: reserve instead
				t.Errorf("late join %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	// The 30 others expire (3 s hold, 100 ms sweeps).
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := m.liveHolds(f)
		offers := m.offers(f)
		if int(n) == len(offers) { // only offers are live holds now
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("holds not all returned: %d live holds, %d offers", n, len(offers))
		}
		time.Sleep(50 * time.Millisecond)
	}
	observations := stop()

	z := m.checkInvariant(f)
	offers := m.offers(f)
	seats, users := 0, map[string]bool{}
	for id, o := range offers {
		if users[o["user"]] {
			t.Errorf("user %s got two offers", o["user"])
		}
		users[o["user"]] = true
		q := 0
		if _, err := fmt.Sscan(o["qty"], &q); err != nil {
			t.Errorf("offer %s: qty %q: %v", id, o["qty"], err)
		}
		if w, ok := want[o["user"]]; ok && w != q { // late joiners wanted 1
			t.Errorf("offer %s: %d seats for an entry of %d", id, q, w)
		}
		seats += q
	}
	// 60 seats came back: offered once each, or left available only when
	// no entry fitted (at most one seat, since entries of 1 wait).
	if seats+z["available"] != 60 || z["held"] != seats || z["available"] > 1 || z["sold"] != 0 {
		t.Fatalf("offered %d seats in %d offers, zone %v", seats, len(offers), z)
	}
	if observations < 10 {
		t.Fatalf("the invariant was observed only %d times", observations)
	}
	m.waitReconciled(f, 20*time.Second)
	// Every offer reaches Postgres as a hold of its buyer (partitions are
	// persisted independently: wait for the last).
	deadline = time.Now().Add(20 * time.Second)
	for {
		var persisted, persistedSeats int
		err := m.db.QueryRow(`SELECT count(*), COALESCE(sum(quantity), 0) FROM bookings
			WHERE event_id = $1 AND reservation_id LIKE 'waitlist-%' AND status = 'reserved'`, f.event).Scan(&persisted, &persistedSeats)
		if err == nil && persisted == len(offers) && persistedSeats == seats {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Postgres has %d offers of %d seats, Redis %d of %d (%v)", persisted, persistedSeats, len(offers), seats, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWaitlistOfAQueuedEvent: the waitlist of an event with a waiting room
// needs no queue pass, and seats that come back go to it, not back on sale
// (available stays 0, so the waiting room stays closed).
func TestWaitlistOfAQueuedEvent(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 2, maxPerUser: 2, users: 2, queue: true})
	holder, waiter := f.users[0], f.users[1]
	c := m.booking(false)
	// Without a pass, nobody reserves.
	if _, err := m.reserve(context.Background(), c, f, waiter, 1, "no-pass-0001"); !errs.Is(err, errs.QueuePassRequired) {
		t.Fatalf("reserve without a pass: %v", err)
	}
	// The holder's seats, put there as the reserve with a pass would.
	if _, err := m.rdb.HSet(context.Background(), fmt.Sprintf("%s{ev:%s}:zone:%s", m.prefix, f.event, f.zone), "available", 0, "held", 2).Result(); err != nil {
		t.Fatal(err)
	}
	hold := fmt.Sprintf("%s{ev:%s}:hold:%s", m.prefix, f.event, "00000000-0000-4000-8000-000000000001")
	m.rdb.HSet(context.Background(), hold, "id", "00000000-0000-4000-8000-000000000001", "user", holder, "event", f.event, "show", f.show,
		"zone", f.zone, "qty", 2, "unit", 4990, "status", "reserved", "exp", time.Now().Add(time.Hour).UnixMilli(),
		"created", time.Now().UnixMilli(), "idem", "queued-hold-1", "ver", 1)
	m.rdb.Set(context.Background(), fmt.Sprintf("%s{ev:%s}:user:%s", m.prefix, f.event, holder), 2, 0)
	if e, err := m.join(f, waiter, 2); err != nil || e.GetPosition() != 1 {
		t.Fatalf("join a queued event's waitlist without a pass: %v %v", e, err)
	}
	if _, err := c.CancelBooking(context.Background(), as(m, holder, authn.RoleUser,
		&bookingv1.CancelBookingRequest{BookingId: "00000000-0000-4000-8000-000000000001"})); err != nil {
		t.Fatal(err)
	}
	z := m.checkInvariant(f)
	offers := m.offers(f)
	if z["available"] != 0 || z["held"] != 2 || len(offers) != 1 {
		t.Fatalf("after the return: zone %v, offers %v", z, offers)
	}
	for _, o := range offers {
		if o["user"] != waiter || o["qty"] != "2" {
			t.Fatalf("offer %v", o)
		}
	}
}

// TestWaitlistOfAStartedShow: joining the waitlist of a started show's
// zone answers SALE_NOT_OPEN with details.reason "show_started"; seats that
// come back while the event's sale has not opened, or once the zone's show
// started, are offered to nobody (as reserve would sell them to nobody):
// they return to available. Before the sale the line keeps its place; once
// the show started, a place read answers show_started and the line closes.
func TestWaitlistOfAStartedShow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := startMesh(t, "-target=booking")
	past := m.seed(eventOpts{seats: 2, maxPerUser: 4, users: 1, showIn: -time.Hour})
	_, err := m.join(past, past.users[0], 1)
	m.wantShowStarted(past, err)

	f := m.seed(eventOpts{seats: 2, maxPerUser: 4, users: 3})
	alice, bob, carol := f.users[0], f.users[1], f.users[2]
	c := m.booking(false)
	var holds []string
	for i, u := range []string{alice, carol} {
		b, err := m.reserve(ctx, c, f, u, 1, fmt.Sprintf("wl-started-%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		holds = append(holds, b.GetId())
	}
	if e, err := m.join(f, bob, 1); err != nil || e.GetPosition() != 1 {
		t.Fatalf("join a sold-out zone: %v %v", e, err)
	}
	meta := fmt.Sprintf("%s{ev:%s}:meta", m.prefix, f.event)
	zone := fmt.Sprintf("%s{ev:%s}:zone:%s", m.prefix, f.event, f.zone)
	start, err := m.rdb.HGet(ctx, meta, "sale_start").Result()
	if err != nil {
		t.Fatal(err)
	}
	cancel := func(user, id string) {
		t.Helper()
		if _, err := c.CancelBooking(ctx, as(m, user, authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: id})); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		name       string
		key, field string
		value      any
		user, hold string
		held       int
	}{
		// The sale is moved to open later (as a load of new sale settings would).
		{"before the sale opens", meta, "sale_start", time.Now().Add(time.Hour).UnixMilli(), alice, holds[0], 1},
		// The show starts (the zone's start, as a load writes it, is passed).
		{"once the show started", zone, "starts", time.Now().Add(-time.Second).UnixMilli(), carol, holds[1], 0},
	} {
		if err := m.rdb.HSet(ctx, step.key, step.field, step.value).Err(); err != nil {
			t.Fatal(err)
		}
		cancel(step.user, step.hold)
		if z := m.checkInvariant(f); z["held"] != step.held || z["available"] != 2-step.held || len(m.offers(f)) != 0 {
			t.Fatalf("%s: zone %v, offers %v", step.name, z, m.offers(f))
		}
		got, err := c.GetWaitlistEntry(ctx, as(m, bob, authn.RoleUser, &bookingv1.GetWaitlistEntryRequest{ZoneId: f.zone}))
		if step.key == zone {
			// The show started: the line closed, for everyone in it.
			if !errs.Is(err, errs.SaleNotOpen) || errs.FromConnect(err).Details["reason"] != booking.ReasonShowStarted {
				t.Fatalf("%s: bob's place %v %v, want SALE_NOT_OPEN show_started", step.name, got, err)
			}
			if n := m.rdb.Exists(ctx, fmt.Sprintf("%s{ev:%s}:wl:%s", m.prefix, f.event, f.zone), fmt.Sprintf("%s{ev:%s}:wlq:%s", m.prefix, f.event, f.zone)).Val(); n != 0 {
				t.Fatalf("%s: %d waitlist keys left", step.name, n)
			}
			if _, err := c.GetWaitlistEntry(ctx, as(m, bob, authn.RoleUser, &bookingv1.GetWaitlistEntryRequest{ZoneId: f.zone})); !errs.Is(err, errs.NotFound) {
				t.Fatalf("%s: bob's place once the line closed: %v, want NOT_FOUND", step.name, err)
			}
		} else if err != nil || got.Msg.GetEntry().GetPosition() != 1 {
			t.Fatalf("%s: bob's place %v %v", step.name, got, err)
		}
		if err := m.rdb.HSet(ctx, meta, "sale_start", start).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if z := m.checkInvariant(f); z["available"] != 2 {
		t.Fatalf("zone at the end: %v", z)
	}
}

// TestForgetUser: an account being deleted leaves every waitlist, so the
// seats that come back go to the next in line; a hold booking's records do
// not show yet (no persister runs here) refuses; only services may ask.
func TestForgetUser(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-target=booking", "-booking.hold-ttl=3s", "-booking.sweep-interval=100ms")
	f := m.seed(eventOpts{seats: 2, maxPerUser: 2, users: 3})
	alice, bob, carol := f.users[0], f.users[1], f.users[2]
	c := m.booking(false)
	ctx := context.Background()
	if _, err := m.reserve(ctx, c, f, alice, 2, "alice-forget-1"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{bob, carol} {
		if _, err := m.join(f, u, 1); err != nil {
			t.Fatal(err)
		}
	}
	forget := func(user, role string) (*bookingv1.ForgetUserResponse, error) {
		res, err := c.ForgetUser(ctx, as(m, user, role, &bookingv1.ForgetUserRequest{UserId: user}))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}
	if _, err := forget(bob, authn.RoleUser); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("a user forgets itself: %v", err)
	}
	if _, err := forget(alice, authn.RoleService); !errs.Is(err, errs.Conflict) {
		t.Fatalf("forgetting alice, whose hold Postgres does not know: %v", err)
	}
	if res, err := forget(bob, authn.RoleService); err != nil || res.GetWaitlistsLeft() != 1 {
		t.Fatalf("forgetting bob: %v %v", res, err)
	}
	if res, err := forget(bob, authn.RoleService); err != nil || res.GetWaitlistsLeft() != 0 {
		t.Fatalf("forgetting bob again: %v %v", res, err)
	}
	if e, err := c.GetWaitlistEntry(ctx, as(m, carol, authn.RoleUser, &bookingv1.GetWaitlistEntryRequest{ZoneId: f.zone})); err != nil || e.Msg.GetEntry().GetPosition() != 1 {
		t.Fatalf("carol's place: %v %v", e, err)
	}
	// alice's hold expires: its seat is offered to carol, not to bob.
	deadline := time.Now().Add(15 * time.Second)
	for {
		offers := m.offers(f)
		if len(offers) > 0 {
			for _, o := range offers {
				if o["user"] != carol {
					t.Fatalf("an offer to %s, want carol only: %v", o["user"], offers)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no offer after alice's hold expired")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCancelledEventClosesItsWaitlists: a place in line for more seats
// than the zone has is refused. When the event is cancelled, its lines
// take nobody and a place answers NOT_FOUND, but the buyers stay listed
// (ListWaitlisted, paged, nobody skipped when someone leaves between two
// pages) for the catalog to tell them, until it closes
// the lines (CloseWaitlists, a cancelled event's only): then the keys are
// gone too.
func TestCancelledEventClosesItsWaitlists(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 2, maxPerUser: 4, users: 4})
	alice, bob, carol, dan := f.users[0], f.users[1], f.users[2], f.users[3]
	ctx := context.Background()
	c := m.booking(false)
	if _, err := m.reserve(ctx, m.booking(true), f, alice, 2, "alice-cancel-wl"); err != nil {
		t.Fatal(err)
	}
	// More than the zone's 2 seats in all (the per-user limit allows 4):
	// a place no return could ever serve is refused.
	if _, err := m.join(f, bob, 3); !errs.Is(err, errs.InsufficientStock) || !strings.Contains(err.Error(), "2 seats in all") {
		t.Fatalf("a place in line for more than the zone holds: %v", err)
	}
	for i, u := range []string{bob, carol, dan} {
		if _, err := m.join(f, u, 1+i%2); err != nil {
			t.Fatal(err)
		}
	}
	closeLines := func(role string) error {
		_, err := c.CloseWaitlists(ctx, as(m, "catalog", role, &bookingv1.CloseWaitlistsRequest{EventId: f.event}))
		return err
	}
	if err := closeLines(authn.RoleService); !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("closing the lines of an event on sale: %v", err)
	}
	if _, err := m.db.Exec(`UPDATE events SET status = 'cancelled', cancelled_at = now() WHERE id = $1`, f.event); err != nil {
		t.Fatal(err)
	}
	testkit.LoadInventory(t, m.db, m.booking(false), m.keys, f.event)
	if _, err := m.booking(true).GetWaitlistEntry(ctx, as(m, bob, authn.RoleUser, &bookingv1.GetWaitlistEntryRequest{ZoneId: f.zone})); !errs.Is(err, errs.NotFound) {
		t.Fatalf("bob's place after the cancellation: %v", err)
	}
	if _, err := m.join(f, alice, 1); !errs.Is(err, errs.SaleNotOpen) {
		t.Fatalf("joining a cancelled event's waitlist: %v", err)
	}
	// The catalog reads who waits, two at a time; a buyer cannot.
	if _, err := c.ListWaitlisted(ctx, as(m, bob, authn.RoleAdmin, &bookingv1.ListWaitlistedRequest{EventId: f.event})); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("an admin lists who waits: %v", err)
	}
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		res, err := c.ListWaitlisted(ctx, as(m, "catalog", authn.RoleService, &bookingv1.ListWaitlistedRequest{EventId: f.event, PageSize: 2, PageToken: token}))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range res.Msg.GetBuyers() {
			e := b.GetEntry()
			got = append(got, fmt.Sprintf("%s:%d@%d/%d", b.GetUserId(), e.GetQuantity(), e.GetPosition(), e.GetWaiting()))
			if e.GetZoneId() != f.zone || e.GetShowId() != f.show || e.GetEventId() != f.event {
				t.Fatalf("a waiting buyer's place: %v", e)
			}
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			break
		}
		if pages == 0 {
			// Someone of the first page leaves before the second is read:
			// nobody of the next pages is skipped.
			if _, err := c.LeaveWaitlist(ctx, as(m, bob, authn.RoleUser, &bookingv1.LeaveWaitlistRequest{ZoneId: f.zone})); err != nil {
				t.Fatal(err)
			}
		}
		if pages > 3 {
			t.Fatal("the pages never end")
		}
	}
	want := []string{bob + ":1@1/3", carol + ":2@2/3", dan + ":1@2/2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("who waits: %v, want %v", got, want)
	}
	if _, err := c.ListWaitlisted(ctx, as(m, "catalog", authn.RoleService, &bookingv1.ListWaitlistedRequest{EventId: f.event, PageToken: "not-a-token"})); !errs.Is(err, errs.Validation) {
		t.Fatalf("a token never answered: %v", err)
	}
	if err := closeLines(authn.RoleService); err != nil {
		t.Fatal(err)
	}
	if err := closeLines(authn.RoleService); err != nil {
		t.Fatalf("closing twice: %v", err)
	}
	if n, err := m.rdb.Exists(ctx, fmt.Sprintf("%s{ev:%s}:wl:%s", m.prefix, f.event, f.zone), fmt.Sprintf("%s{ev:%s}:wlq:%s", m.prefix, f.event, f.zone)).Result(); err != nil || n != 0 {
		t.Fatalf("waitlist keys after the lines closed: %d %v", n, err)
	}
	res, err := c.ListWaitlisted(ctx, as(m, "catalog", authn.RoleService, &bookingv1.ListWaitlistedRequest{EventId: f.event}))
	if err != nil || len(res.Msg.GetBuyers()) != 0 || res.Msg.GetNextPageToken() != "" {
		t.Fatalf("who waits after the lines closed: %v %v", res, err)
	}
	if z := m.checkInvariant(f); z["held"] != 0 || z["available"] != 2 {
		t.Fatalf("zone after the cancellation: %v", z)
	}
}

// dropEvent deletes every Redis key of f's event, as a Redis that lost them.
func (m *mesh) dropEvent(f fixture) {
	m.t.Helper()
	ctx := context.Background()
	keys, err := m.rdb.Keys(ctx, fmt.Sprintf("%s{ev:%s}:*", m.prefix, f.event)).Result()
	if err != nil || len(keys) == 0 {
		m.t.Fatalf("the event's keys: %v %v", keys, err)
	}
	if err := m.rdb.Del(ctx, keys...).Err(); err != nil {
		m.t.Fatal(err)
	}
}

// rejoinThenRebuild has user join f's line again for 1 seat (second in
// line), then, once Postgres agrees with Redis, has Redis lose the event
// (loseEvent: by's reserve starts the rebuild) and checks the rebuilt line
// is want (waiting's "<user>:<seats>@<position>/<waiting>").
func (m *mesh) rejoinThenRebuild(f fixture, user, by string, want ...string) {
	m.t.Helper()
	if e, err := m.join(f, user, 1); err != nil || e.GetPosition() != 2 {
		m.t.Fatalf("%s joins again: %v %v", user, e, err)
	}
	m.waitReconciled(f, 10*time.Second)
	m.loseEvent(f, by)
	if got := m.waiting(f); fmt.Sprint(got) != fmt.Sprint(want) {
		m.t.Fatalf("after a rebuild: %v, want %v", got, want)
	}
}

// loseEvent drops f's event's keys (dropEvent) and waits until a reserve
// (which finds the inventory gone and starts the fenced rebuild) is
// answered by the rebuilt inventory.
func (m *mesh) loseEvent(f fixture, user string) {
	m.t.Helper()
	ctx := context.Background()
	m.dropEvent(f)
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		_, err := m.reserve(ctx, m.booking(false), f, user, 1, fmt.Sprintf("after-loss-%s-%d", user[:8], i))
		if !errs.Is(err, errs.ServiceUnavailable) {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("the event was not rebuilt: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waiting lists f's event's waiting buyers as ListWaitlisted answers them:
// "<user>:<quantity>@<place>/<line's length>", in line order.
func (m *mesh) waiting(f fixture) []string {
	m.t.Helper()
	res, err := m.booking(false).ListWaitlisted(context.Background(), as(m, "catalog", authn.RoleService,
		&bookingv1.ListWaitlistedRequest{EventId: f.event}))
	if err != nil {
		m.t.Fatal(err)
	}
	var out []string
	for _, b := range res.Msg.GetBuyers() {
		e := b.GetEntry()
		out = append(out, fmt.Sprintf("%s:%d@%d/%d", b.GetUserId(), e.GetQuantity(), e.GetPosition(), e.GetWaiting()))
	}
	return out
}

// waitWaiting waits until f's event's waiting buyers (waiting) are want:
// an offer ends its buyer's place in booking's records once the persister
// wrote it.
func (m *mesh) waitWaiting(f fixture, want []string, when string) {
	m.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := m.waiting(f)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("%s: %v, want %v", when, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWaitlistSurvivesARebuild: Redis loses a sold-out event whose zone
// has buyers waiting; after the rebuild from Postgres, exactly the buyers
// who were waiting wait again, in the same order, each for the same
// quantity (not the one who left, nor the one offered seats), a new join
// takes its place behind them, and the next seats that come back go to the
// head of the line.
func TestWaitlistSurvivesARebuild(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-booking.waitlist-offer-ttl=5m")
	f := m.seed(eventOpts{seats: 4, maxPerUser: 4, users: 7})
	alice, zed, bob, carol, dave, erin, frank := f.users[0], f.users[1], f.users[2], f.users[3], f.users[4], f.users[5], f.users[6]
	ctx := context.Background()
	c := m.booking(false)
	var holds []*bookingv1.Booking
	for i, u := range []string{alice, zed} {
		b, err := m.reserve(ctx, c, f, u, 2, fmt.Sprintf("wl-rebuild-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		holds = append(holds, b)
	}
	for i, w := range []struct {
		user string
		qty  int
	}{{bob, 2}, {carol, 1}, {dave, 2}, {erin, 1}, {frank, 1}} {
		if e, err := m.join(f, w.user, w.qty); err != nil || e.GetPosition() != int32(i+1) {
			t.Fatalf("join %d: %v %v", i, e, err)
		}
	}
	// carol leaves; alice's 2 seats come back and are offered to bob.
	if _, err := c.LeaveWaitlist(ctx, as(m, carol, authn.RoleUser, &bookingv1.LeaveWaitlistRequest{ZoneId: f.zone})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CancelBooking(ctx, as(m, alice, authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: holds[0].GetId()})); err != nil {
		t.Fatal(err)
	}
	offers := m.offers(f)
	if len(offers) != 1 {
		t.Fatalf("offers after alice's cancel: %v", offers)
	}
	for _, o := range offers {
		if o["user"] != bob || o["qty"] != "2" {
			t.Fatalf("offer %v, want bob's for 2", o)
		}
	}
	want := []string{dave + ":2@1/3", erin + ":1@2/3", frank + ":1@3/3"}
	m.waitWaiting(f, want, "before the loss")
	m.waitReconciled(f, 10*time.Second)

	m.loseEvent(f, zed)
	if got := m.waiting(f); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the rebuild: %v, want %v", got, want)
	}
	for _, u := range []string{bob, carol} {
		if _, err := c.GetWaitlistEntry(ctx, as(m, u, authn.RoleUser, &bookingv1.GetWaitlistEntryRequest{ZoneId: f.zone})); !errs.Is(err, errs.NotFound) {
			t.Fatalf("%s's place after the rebuild: %v, want NOT_FOUND", u, err)
		}
	}
	if got, err := c.GetWaitlistEntry(ctx, as(m, erin, authn.RoleUser, &bookingv1.GetWaitlistEntryRequest{ZoneId: f.zone})); err != nil ||
		got.Msg.GetEntry().GetPosition() != 2 || got.Msg.GetEntry().GetQuantity() != 1 {
		t.Fatalf("erin's place after the rebuild: %v %v", got, err)
	}
	// A new join goes behind them: the join numbers go on from the old ones.
	if e, err := m.join(f, carol, 1); err != nil || e.GetPosition() != 4 || e.GetWaiting() != 4 {
		t.Fatalf("carol joins again after the rebuild: %v %v", e, err)
	}
	// zed's 2 seats come back: dave, first in line, is offered them.
	if _, err := c.CancelBooking(ctx, as(m, zed, authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: holds[1].GetId()})); err != nil {
		t.Fatal(err)
	}
	var daves int
	for _, o := range m.offers(f) {
		switch {
		case o["user"] == dave && o["qty"] == "2" && o["status"] == "reserved":
			daves++
		case o["user"] != bob:
			t.Fatalf("an offer to %s after the rebuild: %v", o["user"], o)
		}
	}
	if daves != 1 {
		t.Fatalf("dave's offers: %v", m.offers(f))
	}
	m.waitWaiting(f, []string{erin + ":1@1/3", frank + ":1@2/3", carol + ":1@3/3"}, "after dave's offer")
	m.checkInvariant(f)
	m.waitReconciled(f, 10*time.Second)
}

// TestWaitlistEndBeforeItsJoinIsRecorded: a place's end and its join reach
// Postgres in no set order (the persister records an offer's end while the
// joining call records its join). An offer's end that arrives first stays:
// the join recorded after it does not put its buyer back in line at the
// next rebuild, while a later join of the same buyer does.
func TestWaitlistEndBeforeItsJoinIsRecorded(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 2, maxPerUser: 2, users: 3})
	alice, bob, carol := f.users[0], f.users[1], f.users[2]
	ctx := context.Background()
	if _, err := m.reserve(ctx, m.booking(false), f, alice, 2, "wl-order-1"); err != nil {
		t.Fatal(err)
	}
	// bob's next join will be number 42; the end of an offer made from
	// it reaches the persister first (the offer itself expired).
	if err := m.rdb.Set(ctx, fmt.Sprintf("%s{ev:%s}:wl:seq", m.prefix, f.event), 41, 0).Err(); err != nil {
		t.Fatal(err)
	}
	id, now := uuid.NewString(), time.Now()
	offer := &bookingv1.BookingEvent{
		Booking: &bookingv1.Booking{Id: id, UserId: bob, EventId: f.event, ShowId: f.show, ZoneId: f.zone, Quantity: 1,
			UnitPrice: "49.90", TotalAmount: "49.90", Currency: "USD", Status: bookingv1.BookingStatus_BOOKING_STATUS_EXPIRED,
			CancelCause: bookingv1.CancelCause_CANCEL_CAUSE_EXPIRED, IdempotencyKey: "waitlist-" + id, WaitlistOffer: true,
			ExpiresAt: timestamppb.New(now), CancelledAt: timestamppb.New(now), CreatedAt: timestamppb.New(now.Add(-time.Minute))},
		Version: 2, Zone: &bookingv1.ZoneAvailability{ZoneId: f.zone, Total: 2}, OccurredAt: timestamppb.New(now), WaitlistSeq: 42,
	}
	payload, err := proto.Marshal(offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := newPersister(t, m.pool).Handle(ctx, []*sarama.ConsumerMessage{{Topic: booking.TopicBookingEvents, Key: []byte(id), Value: payload}}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{bob, carol} {
		if _, err := m.join(f, u, 1); err != nil {
			t.Fatal(err)
		}
	}
	m.waitReconciled(f, 10*time.Second)
	m.loseEvent(f, alice)
	if got, want := m.waiting(f), []string{carol + ":1@1/1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the rebuild: %v, want %v (bob's place had ended before his join was recorded)", got, want)
	}
	// bob joins again (number 44): that place is his.
	m.rejoinThenRebuild(f, bob, alice, carol+":1@1/2", bob+":1@2/2")
}

// TestWaitlistJoinNotRecordedIsTakenBack: a join whose place cannot be
// recorded in Postgres (here: the event's inventory was fenced for a
// rebuild after the join's Redis step) answers SERVICE_UNAVAILABLE and
// leaves no place in Redis that a rebuild would lose; a retry joins.
func TestWaitlistJoinNotRecordedIsTakenBack(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-target=booking")
	f := m.seed(eventOpts{seats: 1, maxPerUser: 2, users: 2})
	alice, bob := f.users[0], f.users[1]
	ctx := context.Background()
	if _, err := m.reserve(ctx, m.booking(false), f, alice, 1, "wl-undo-1"); err != nil {
		t.Fatal(err)
	}
	fence := func(at string) {
		t.Helper()
		if _, err := m.db.Exec(`UPDATE booking_events SET fenced_at = `+at+` WHERE event_id = $1`, f.event); err != nil {
			t.Fatal(err)
		}
	}
	fence("now() + interval '1 hour'")
	if _, err := m.join(f, bob, 1); !errs.Is(err, errs.ServiceUnavailable) {
		t.Fatalf("a join that cannot be recorded: %v, want SERVICE_UNAVAILABLE", err)
	}
	if _, err := m.booking(false).GetWaitlistEntry(ctx, as(m, bob, authn.RoleUser, &bookingv1.GetWaitlistEntryRequest{ZoneId: f.zone})); !errs.Is(err, errs.NotFound) {
		t.Fatalf("bob's place after the refused join: %v, want NOT_FOUND", err)
	}
	fence("NULL")
	if e, err := m.join(f, bob, 1); err != nil || e.GetPosition() != 1 || e.GetWaiting() != 1 {
		t.Fatalf("bob joins again: %v %v", e, err)
	}
}

// TestClosedWaitlistsStayClosedAfterARebuild: a cancelled event's lines
// wait to be told (ListWaitlisted) across a rebuild of its inventory, but
// not a deleted account's place; once the catalog closed them, a rebuild
// brings nobody back.
func TestClosedWaitlistsStayClosedAfterARebuild(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 2, maxPerUser: 2, users: 4})
	alice, bob, carol, dan := f.users[0], f.users[1], f.users[2], f.users[3]
	ctx := context.Background()
	c := m.booking(false)
	if _, err := m.reserve(ctx, c, f, alice, 2, "wl-closed-1"); err != nil {
		t.Fatal(err)
	}
	for i, u := range []string{bob, carol, dan} {
		if _, err := m.join(f, u, 1+i%2); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := c.ForgetUser(ctx, as(m, dan, authn.RoleService, &bookingv1.ForgetUserRequest{UserId: dan})); err != nil || res.Msg.GetWaitlistsLeft() != 1 {
		t.Fatalf("forgetting dan: %v %v", res, err)
	}
	if _, err := m.db.Exec(`UPDATE events SET status = 'cancelled', cancelled_at = now() WHERE id = $1`, f.event); err != nil {
		t.Fatal(err)
	}
	m.load(f)
	m.waitReconciled(f, 10*time.Second)
	// Redis loses the cancelled event; the catalog's next load rebuilds it.
	m.dropEvent(f)
	m.load(f)
	if got, want := m.waiting(f), []string{bob + ":1@1/2", carol + ":2@2/2"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("a cancelled event's lines after a rebuild: %v, want %v", got, want)
	}
	if _, err := c.CloseWaitlists(ctx, as(m, "catalog", authn.RoleService, &bookingv1.CloseWaitlistsRequest{EventId: f.event})); err != nil {
		t.Fatal(err)
	}
	m.waitReconciled(f, 10*time.Second)
	m.dropEvent(f)
	m.load(f)
	if got := m.waiting(f); len(got) != 0 {
		t.Fatalf("closed lines after a rebuild: %v, want nobody", got)
	}
}

// TestLostCancelledEventsWaitlistsAreStillListed: Redis loses a cancelled
// event's keys and nobody rebuilds them before the catalog tells the
// buyers waiting (another booking process holds the rebuild, or Redis lost
// them after the cancellation's load). The catalog still reads every buyer
// waiting, paged, from booking's records of the lines, and not the one who
// left; closing the lines ends the records, and a rebuild afterwards puts
// nobody back in line.
func TestLostCancelledEventsWaitlistsAreStillListed(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 2, maxPerUser: 2, users: 4})
	alice, bob, carol, dan := f.users[0], f.users[1], f.users[2], f.users[3]
	ctx := context.Background()
	c := m.booking(false)
	if _, err := m.reserve(ctx, c, f, alice, 2, "wl-lost-cancel-1"); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		user string
		qty  int
	}{{bob, 1}, {dan, 1}, {carol, 2}} {
		if _, err := m.join(f, w.user, w.qty); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.LeaveWaitlist(ctx, as(m, dan, authn.RoleUser, &bookingv1.LeaveWaitlistRequest{ZoneId: f.zone})); err != nil {
		t.Fatal(err)
	}
	if _, err := m.db.Exec(`UPDATE events SET status = 'cancelled', cancelled_at = now() WHERE id = $1`, f.event); err != nil {
		t.Fatal(err)
	}
	m.load(f)
	m.waitReconciled(f, 10*time.Second)
	m.dropEvent(f)

	var got []string
	token := ""
	for pages := 0; ; pages++ {
		res, err := c.ListWaitlisted(ctx, as(m, "catalog", authn.RoleService, &bookingv1.ListWaitlistedRequest{EventId: f.event, PageSize: 1, PageToken: token}))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range res.Msg.GetBuyers() {
			e := b.GetEntry()
			if e.GetZoneId() != f.zone || e.GetShowId() != f.show || e.GetEventId() != f.event {
				t.Fatalf("a waiting buyer's place: %v", e)
			}
			got = append(got, fmt.Sprintf("%s:%d@%d/%d", b.GetUserId(), e.GetQuantity(), e.GetPosition(), e.GetWaiting()))
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			break
		}
		if pages > 3 {
			t.Fatal("the pages never end")
		}
	}
	if want := []string{bob + ":1@1/2", carol + ":2@2/2"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("who waits on the lost event's lines: %v, want %v", got, want)
	}
	if _, err := c.CloseWaitlists(ctx, as(m, "catalog", authn.RoleService, &bookingv1.CloseWaitlistsRequest{EventId: f.event})); err != nil {
		t.Fatal(err)
	}
	if got := m.waiting(f); len(got) != 0 {
		t.Fatalf("who waits once the lines closed: %v, want nobody", got)
	}
	// The catalog's next load rebuilds the event: nobody is back in line.
	m.load(f)
	wl := fmt.Sprintf("%s{ev:%s}:wl:%s", m.prefix, f.event, f.zone)
	if n, err := m.rdb.Exists(ctx, wl).Result(); err != nil || n != 0 || m.rdb.Exists(ctx, fmt.Sprintf("%s{ev:%s}:meta", m.prefix, f.event)).Val() != 1 {
		t.Fatalf("after the rebuild: line key exists %d (%v), or the event was not rebuilt", n, err)
	}
}

// TestWaitlistPlacesTakenBeforeTheirRecordsSurviveARebuild: an event's
// line was taken by a booking older than the lines' records (places in
// Redis, no rows, the event not marked recorded). When a booking process
// starts, it records them, once: a rebuild afterwards writes back every
// place, in order, beside the ones recorded since, while a place whose end
// was recorded meanwhile (an offer the persister wrote) stays ended.
func TestWaitlistPlacesTakenBeforeTheirRecordsSurviveARebuild(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 2, maxPerUser: 2, users: 5})
	alice, bob, carol, erin, dan := f.users[0], f.users[1], f.users[2], f.users[3], f.users[4]
	ctx := context.Background()
	if _, err := m.reserve(ctx, m.booking(false), f, alice, 2, "wl-old-1"); err != nil {
		t.Fatal(err)
	}
	// The line as an older booking left it: bob, erin and carol joined
	// (numbers 1, 2, 3), nothing recorded; erin's offer's end reached
	// Postgres (her place's tombstone) before this booking read the line.
	key := func(s string) string { return fmt.Sprintf("%s{ev:%s}:%s", m.prefix, f.event, s) }
	pipe := m.rdb.TxPipeline()
	pipe.ZAdd(ctx, key("wl:"+f.zone), redis.Z{Score: 1, Member: bob}, redis.Z{Score: 2, Member: erin}, redis.Z{Score: 3, Member: carol})
	pipe.HSet(ctx, key("wlq:"+f.zone), bob, 1, erin, 1, carol, 2)
	pipe.Set(ctx, key("wl:seq"), 3, 0)
	pipe.Del(ctx, key("wl:rec"))
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.db.Exec(`INSERT INTO waitlist_entries (event_id, zone_id, user_id, seq, quantity, ended_at) VALUES ($1, $2, $3, 2, 0, now())`,
		f.event, f.zone, erin); err != nil {
		t.Fatal(err)
	}
	// dan joins with this booking: his place is recorded as he joins.
	if e, err := m.join(f, dan, 1); err != nil || e.GetPosition() != 4 {
		t.Fatalf("dan joins: %v %v", e, err)
	}

	// A booking process starts.
	testkit.Run(t, testkit.Config(t, m.dsn, "-target=booking", "-booking.key-prefix="+m.prefix, "-redis.url="+redisx.DefaultURL, "-log.level=error"))
	waiting := func() (n int) {
		if err := m.db.QueryRow(`SELECT count(*) FROM waitlist_entries WHERE event_id = $1 AND ended_at IS NULL`, f.event).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The rows commit first, the mark follows: wait for both.
	marked := func() bool { return m.rdb.Exists(ctx, key("wl:rec")).Val() == 1 }
	for deadline := time.Now().Add(10 * time.Second); (waiting() != 3 || !marked()) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if !marked() {
		t.Error("the event's lines are not marked recorded: every booking start would read them again")
	}

	m.waitReconciled(f, 10*time.Second)
	m.loseEvent(f, alice)
	if got, want := m.waiting(f), []string{bob + ":1@1/3", carol + ":2@2/3", dan + ":1@3/3"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the rebuild: %v, want %v", got, want)
	}
	c := m.booking(false)
	if got, err := c.GetWaitlistEntry(ctx, as(m, carol, authn.RoleUser, &bookingv1.GetWaitlistEntryRequest{ZoneId: f.zone})); err != nil ||
		got.Msg.GetEntry().GetPosition() != 2 || got.Msg.GetEntry().GetQuantity() != 2 {
		t.Fatalf("carol's place after the rebuild: %v %v", got, err)
	}
	if _, err := c.GetWaitlistEntry(ctx, as(m, erin, authn.RoleUser, &bookingv1.GetWaitlistEntryRequest{ZoneId: f.zone})); !errs.Is(err, errs.NotFound) {
		t.Fatalf("erin's place after the rebuild: %v, want NOT_FOUND", err)
	}
}

// TestEndedWaitlistRecordsAreDeletedAfterTheRetention: the records of
// waitlist places that ended more than booking.waitlist-retention ago (30
// days) are deleted (a booking process does it when it starts, then
// hourly); a place that ended since, or one still waiting however old,
// stays, and its buyer's next join is recorded as any join.
func TestEndedWaitlistRecordsAreDeletedAfterTheRetention(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 2, maxPerUser: 2, users: 4})
	alice, bob, carol, dan := f.users[0], f.users[1], f.users[2], f.users[3]
	ctx := context.Background()
	c := m.booking(false)
	if _, err := m.reserve(ctx, c, f, alice, 2, "wl-retention-1"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{dan, bob, carol} {
		if _, err := m.join(f, u, 1); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{bob, carol} {
		if _, err := c.LeaveWaitlist(ctx, as(m, u, authn.RoleUser, &bookingv1.LeaveWaitlistRequest{ZoneId: f.zone})); err != nil {
			t.Fatal(err)
		}
	}
	// Time passes: bob left 31 days ago, carol 29 days ago; dan has waited 60 days.
	for u, age := range map[string]string{bob: "31 days", carol: "29 days"} {
		if _, err := m.db.Exec(`UPDATE waitlist_entries SET ended_at = now() - $2::interval WHERE event_id = $1 AND user_id = $3`, f.event, age, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.db.Exec(`UPDATE waitlist_entries SET joined_at = now() - interval '60 days' WHERE event_id = $1 AND user_id = $2`, f.event, dan); err != nil {
		t.Fatal(err)
	}

	// A booking process starts.
	testkit.Run(t, testkit.Config(t, m.dsn, "-target=booking", "-booking.key-prefix="+m.prefix, "-redis.url="+redisx.DefaultURL, "-log.level=error"))
	rows := func() string {
		r, err := m.db.Query(`SELECT user_id::text, ended_at IS NULL FROM waitlist_entries WHERE event_id = $1 ORDER BY seq`, f.event)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var out []string
		for r.Next() {
			var u string
			var waiting bool
			if err := r.Scan(&u, &waiting); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s waiting=%v", u, waiting))
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(out)
	}
	want := fmt.Sprint([]string{dan + " waiting=true", carol + " waiting=false"})
	for deadline := time.Now().Add(10 * time.Second); rows() != want; {
		if time.Now().After(deadline) {
			t.Fatalf("records: %s, want %s", rows(), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.rejoinThenRebuild(f, bob, alice, dan+":1@1/2", bob+":1@2/2")
}

// TestWaitlistEntryDroppedForTheLimitStaysDropped: seats come back to a
// line whose first buyer's seats reached the per-user limit meanwhile (he
// bought in another show of the event): his entry is dropped (his place
// answers NOT_FOUND) and the next buyer is offered the seats. The drop is
// recorded: he is not listed as waiting (a cancellation would mail him
// that a line he is no longer in closed), a rebuild does not put him back
// in line, and seats that come back once his own seats fell are not
// offered to him ahead of the line.
func TestWaitlistEntryDroppedForTheLimitStaysDropped(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-booking.waitlist-offer-ttl=5m")
	a := m.seed(eventOpts{seats: 2, maxPerUser: 2, users: 4})
	b := m.addShow(a, time.Now().Add(40*24*time.Hour), 2)
	m.load(a)
	alice, bob, carol, dave := a.users[0], a.users[1], a.users[2], a.users[3]
	ctx := context.Background()
	c := m.booking(false)
	held, err := m.reserve(ctx, c, a, alice, 2, "wl-drop-alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		user string
		qty  int
	}{{bob, 2}, {carol, 1}} {
		if _, err := m.join(a, w.user, w.qty); err != nil {
			t.Fatal(err)
		}
	}
	// bob buys one seat of the other show: 1 + the 2 he waits for is over the limit.
	bobs, err := m.reserve(ctx, c, b, bob, 1, "wl-drop-bob-b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CancelBooking(ctx, as(m, alice, authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: held.GetId()})); err != nil {
		t.Fatal(err)
	}
	offered := func() map[string]string {
		out := map[string]string{}
		for _, o := range m.offers(a) {
			if o["status"] == "reserved" {
				out[o["user"]] = o["id"]
			}
		}
		return out
	}
	carols := offered()[carol]
	if o := offered(); len(o) != 1 || carols == "" {
		t.Fatalf("offers after alice's cancel: %v, want carol's", m.offers(a))
	}
	if _, err := c.GetWaitlistEntry(ctx, as(m, bob, authn.RoleUser, &bookingv1.GetWaitlistEntryRequest{ZoneId: a.zone})); !errs.Is(err, errs.NotFound) {
		t.Fatalf("bob's place once dropped: %v, want NOT_FOUND", err)
	}
	m.waitWaiting(a, nil, "once bob was dropped and carol offered seats")

	// dave takes the seat left: the zone is sold out again. Redis loses the event.
	if _, err := m.reserve(ctx, c, a, dave, 1, "wl-drop-dave"); err != nil {
		t.Fatal(err)
	}
	m.waitReconciled(a, 10*time.Second)
	m.loseEvent(a, alice)
	if _, err := c.GetWaitlistEntry(ctx, as(m, bob, authn.RoleUser, &bookingv1.GetWaitlistEntryRequest{ZoneId: a.zone})); !errs.Is(err, errs.NotFound) {
		t.Fatalf("bob's place after the rebuild: %v, want NOT_FOUND (he was dropped)", err)
	}
	// bob gives his other seat back (he could wait for 2 again), and
	// carol's offered seat comes back: nobody waits for it.
	if _, err := c.CancelBooking(ctx, as(m, bob, authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: bobs.GetId()})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CancelBooking(ctx, as(m, carol, authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: carols})); err != nil {
		t.Fatal(err)
	}
	if o := offered(); len(o) != 0 {
		t.Fatalf("offers after carol's cancel: %v, want none (bob had been dropped)", m.offers(a))
	}
	if z := m.checkInvariant(a); z["available"] != 1 {
		t.Fatalf("zone after carol's cancel: %v", z)
	}
}

// TestWaitlistEntryARebuildDropsIsRecorded: a rebuild writes a line back
// beside seats available and offers them, as a return would; an entry its
// buyer's seats no longer allow is dropped then, and its record ends, so
// the next rebuild does not put it back either.
func TestWaitlistEntryARebuildDropsIsRecorded(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	a := m.seed(eventOpts{seats: 2, maxPerUser: 2, users: 3})
	b := m.addShow(a, time.Now().Add(40*24*time.Hour), 2)
	m.load(a)
	alice, bob, carol := a.users[0], a.users[1], a.users[2]
	// carol's reserve (a seat of a) starts the rebuild below.
	ctx := context.Background()
	c := m.booking(false)
	if _, err := m.reserve(ctx, c, a, alice, 1, "wl-rdrop-alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.reserve(ctx, c, b, bob, 2, "wl-rdrop-bob"); err != nil {
		t.Fatal(err)
	}
	m.waitReconciled(a, 10*time.Second)
	// The record of a place whose drop was never recorded (as before drops
	// were): bob waits for a seat of a, where one is available.
	if _, err := m.db.Exec(`INSERT INTO waitlist_entries (event_id, zone_id, user_id, seq, quantity, joined_at) VALUES ($1, $2, $3, 1, 1, now())`,
		a.event, a.zone, bob); err != nil {
		t.Fatal(err)
	}
	m.loseEvent(a, carol)
	if _, err := c.GetWaitlistEntry(ctx, as(m, bob, authn.RoleUser, &bookingv1.GetWaitlistEntryRequest{ZoneId: a.zone})); !errs.Is(err, errs.NotFound) {
		t.Fatalf("bob's place after the rebuild: %v, want NOT_FOUND (dropped)", err)
	}
	m.waitWaiting(a, nil, "after the rebuild dropped bob's place")
	if o := m.offers(a); len(o) != 0 {
		t.Fatalf("offers after the rebuild: %v", o)
	}
	m.checkInvariant(a)
}

// TestConcurrentWaitlistJoinsAreAllRecorded: the joins of a sold-out zone
// that arrive together are recorded in shared transactions (one per batch
// of the event's joins, not one per join); every place answered is in
// Postgres, so a rebuild writes back the whole line as it was, and a
// buyer's joins sent twice at once are one place.
func TestConcurrentWaitlistJoinsAreAllRecorded(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 2, maxPerUser: 4, users: 41})
	ctx := context.Background()
	holder, waiters := f.users[0], f.users[1:]
	if _, err := m.reserve(ctx, m.booking(false), f, holder, 2, "wl-batch-hold"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(waiters)+1)
	for i, u := range append(waiters, waiters[0]) {
		wg.Go(func() {
			if _, err := m.join(f, u, 1+i%2); err != nil {
				errc <- fmt.Errorf("%s joins: %w", u, err)
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	before := m.waiting(f)
	if len(before) != len(waiters) {
		t.Fatalf("%d waiting after %d buyers joined: %v", len(before), len(waiters), before)
	}
	var n int
	if err := m.db.QueryRow(`SELECT count(*) FROM waitlist_entries WHERE event_id = $1 AND ended_at IS NULL`, f.event).Scan(&n); err != nil || n != len(waiters) {
		t.Fatalf("%d places recorded (%v), want %d", n, err, len(waiters))
	}
	m.waitReconciled(f, 10*time.Second)
	m.loseEvent(f, holder)
	if got := m.waiting(f); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("after the rebuild:\n%v\nwant\n%v", got, before)
	}
}
