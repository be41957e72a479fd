package booking_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/testkit"
)

// TestRushNeverOversells is the most important test of the project: 2,000
// concurrent reserve calls from 500 users for 100 seats. Exactly 100 seats
// are held, available never goes below zero at any observed moment, and
// available + held + sold = total after every step.
func TestRushNeverOversells(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 100, maxPerUser: 4, users: 500})

	stop := m.watchInvariant(f)

	var ok, soldOut, other atomic.Int64
	var seats atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for i := range 2000 {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c := m.booking(i%2 == 0) // half over gRPC, half over Connect
			b, err := m.reserve(context.Background(), c, f, f.users[i%500], 1, fmt.Sprintf("rush-%06d", i))
			switch {
			case err == nil:
				ok.Add(1)
				seats.Add(int64(b.GetQuantity()))
			case errs.Is(err, errs.InsufficientStock):
				soldOut.Add(1)
			default:
				other.Add(1)
				t.Errorf("reserve %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	observations := stop()

	z := m.checkInvariant(f)
	if seats.Load() != 100 || z["held"] != 100 || z["available"] != 0 || z["sold"] != 0 {
		t.Fatalf("seats held by answers %d, zone %v; want exactly 100 held and 0 available", seats.Load(), z)
	}
	if ok.Load()+soldOut.Load() != 2000 || other.Load() != 0 {
		t.Fatalf("ok %d, sold out %d, other %d", ok.Load(), soldOut.Load(), other.Load())
	}
	if observations < 10 {
		t.Fatalf("the invariant was observed only %d times during the rush", observations)
	}
	// The plan's metrics tell the same story.
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"booking_reservations_total", nil, 100},
		{"booking_reservation_failures_total", map[string]string{"code": "INSUFFICIENT_STOCK"}, 1900},
		{"active_reservations", nil, 100},
		{"rpc_server_requests_total", map[string]string{"procedure": "/bookingrush.booking.v1.BookingService/Reserve"}, 2000},
	} {
		if got := m.metric(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	m.waitReconciled(f, 20*time.Second)
}

// TestMaxPerUserUnderParallelCalls: one user firing 20 parallel reserves with
// max_per_user 4 ends with at most 4 seats, held and bought counted together.
func TestMaxPerUserUnderParallelCalls(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 100, maxPerUser: 4, users: 1})
	user := f.users[0]
	var got atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			b, err := m.reserve(context.Background(), m.booking(i%2 == 0), f, user, 1, fmt.Sprintf("one-user-%03d", i))
			if err == nil {
				got.Add(int64(b.GetQuantity()))
			} else if !errs.Is(err, errs.MaxPerUserExceeded) {
				t.Errorf("reserve: %v", err)
			}
		})
	}
	wg.Wait()
	if got.Load() != 4 {
		t.Fatalf("user holds %d seats, want 4", got.Load())
	}
	// Bought seats count too: confirm one, and the limit still holds.
	z := m.checkInvariant(f)
	if z["held"] != 4 {
		t.Fatalf("zone %v", z)
	}
	_, err := m.reserve(context.Background(), m.booking(false), f, user, 1, "one-user-late")
	var ce *connect.Error
	if !errs.Is(err, errs.MaxPerUserExceeded) || !asConnect(err, &ce) {
		t.Fatalf("fifth seat: %v", err)
	}
	d := errs.FromConnect(err).Details
	if d["limit"] != float64(4) || d["current"] != float64(4) {
		t.Fatalf("details %v", d)
	}
}

// TestClientDisconnectNeverLosesASeat cancels reserve calls at random moments:
// every seat is either held by a booking that Postgres learns of, or was
// never taken. Nothing leaks.
func TestClientDisconnectNeverLosesASeat(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 200, maxPerUser: 10, users: 300})
	var wg sync.WaitGroup
	var cancelled atomic.Int64
	for i := range 600 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(3000))*time.Microsecond)
			defer cancel()
			_, err := m.reserve(ctx, m.booking(i%2 == 0), f, f.users[i%300], 1, fmt.Sprintf("dc-%06d", i))
			if connect.CodeOf(err) == connect.CodeDeadlineExceeded || connect.CodeOf(err) == connect.CodeCanceled {
				cancelled.Add(1)
			}
		})
	}
	wg.Wait()
	if cancelled.Load() == 0 {
		t.Log("no call was cut short; the test proved less than it could")
	}
	// Calls whose client hung up may still be finishing on the server (on
	// purpose: a started reservation completes). Once everything settled,
	// Redis' holds, its counters and Postgres must all agree.
	var z map[string]int
	deadline := time.Now().Add(20 * time.Second)
	for {
		z = m.checkInvariant(f)
		holds := m.liveHolds(f)
		var rows int
		if err := m.db.QueryRow(`SELECT coalesce(sum(quantity), 0) FROM bookings WHERE event_id = $1 AND status = 'reserved'`, f.event).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		diffs, err := booking.Reconcile(context.Background(), m.rdb, m.pool, m.prefix, f.event)
		if err == nil && len(diffs) == 0 && int(holds) == z["held"] && rows == z["held"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no agreement: %d live holds, zone %v, %d reserved seats in Postgres, diffs %v %v", holds, z, rows, diffs, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%d of 600 calls were cut short; %d seats held", cancelled.Load(), z["held"])
}

// TestHoldsExpireCancelAndConfirm: holds expire within 2 s of their deadline
// and the seats come back; cancel returns them at once; confirming an expired
// hold answers RESERVATION_EXPIRED.
func TestHoldsExpireCancelAndConfirm(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-booking.hold-ttl=1s", "-booking.sweep-interval=100ms")
	f := m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 2})
	alice, bob := f.users[0], f.users[1]
	c := m.booking(true)

	held, err := m.reserve(context.Background(), c, f, alice, 3, "alice-0001")
	if err != nil {
		t.Fatal(err)
	}
	if held.GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_RESERVED || held.GetTotalAmount() != "149.70" || held.GetUnitPrice() != "49.90" ||
		!held.GetUpdatedAt().AsTime().Equal(held.GetCreatedAt().AsTime()) {
		t.Fatalf("hold = %v", held)
	}
	deadline := held.GetExpiresAt().AsTime()
	if z := m.checkInvariant(f); z["available"] != 7 {
		t.Fatalf("zone after reserve %v", z)
	}

	// Cancel gives seats back at once.
	toCancel, err := m.reserve(context.Background(), c, f, bob, 2, "bob-00001")
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.CancelBooking(context.Background(), as(m, bob, authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: toCancel.GetId()}))
	if err != nil || res.Msg.GetBooking().GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED ||
		res.Msg.GetBooking().GetCancelledAt() == nil || !res.Msg.GetBooking().GetUpdatedAt().AsTime().Equal(res.Msg.GetBooking().GetCancelledAt().AsTime()) {
		t.Fatalf("cancel: %v %v", res, err)
	}
	if z := m.checkInvariant(f); z["available"] != 7 || z["held"] != 3 {
		t.Fatalf("zone after cancel %v", z)
	}
	// Another user's booking is NOT_FOUND, even to cancel.
	if _, err := c.CancelBooking(context.Background(), as(m, bob, authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: held.GetId()})); !errs.Is(err, errs.NotFound) {
		t.Fatalf("bob cancels alice's hold: %v", err)
	}
	if _, err := c.GetBooking(context.Background(), as(m, bob, authn.RoleUser, &bookingv1.GetBookingRequest{BookingId: held.GetId()})); !errs.Is(err, errs.NotFound) {
		t.Fatalf("bob reads alice's hold: %v", err)
	}
	// The cancellation is in the audit log, once, by bob; the refused one is not.
	var entries int
	var actor, before, after string
	if err := m.db.QueryRow(`SELECT count(*), min(user_id::text), min(old_values->>'status'), min(new_values->>'status') FROM audit_logs
		WHERE action = 'booking.cancel' AND entity_type = 'booking' AND entity_id = ANY($1::uuid[])`,
		[]string{toCancel.GetId(), held.GetId()}).Scan(&entries, &actor, &before, &after); err != nil || entries != 1 || actor != bob || before != "reserved" || after != "cancelled" {
		t.Fatalf("audit: %d entries by %s, %s -> %s, %v", entries, actor, before, after, err)
	}

	// The hold expires: seats back at most 2 s after the deadline.
	for {
		if z := m.checkInvariant(f); z["available"] == 10 {
			break
		}
		if time.Since(deadline) > 2*time.Second {
			t.Fatalf("hold not released 2 s after its deadline: %v", m.zone(f))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The system (the saga) confirming it now gets RESERVATION_EXPIRED.
	_, err = c.ConfirmBooking(context.Background(), as(m, "saga", authn.RoleService, &bookingv1.ConfirmBookingRequest{BookingId: held.GetId()}))
	if !errs.Is(err, errs.ReservationExpired) {
		t.Fatalf("confirm expired hold: %v", err)
	}
	got, err := c.GetBooking(context.Background(), as(m, alice, authn.RoleUser, &bookingv1.GetBookingRequest{BookingId: held.GetId()}))
	if err != nil || got.Msg.GetBooking().GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_EXPIRED {
		t.Fatalf("get expired: %v %v", got, err)
	}
	m.waitReconciled(f, 10*time.Second)
}

// TestConfirmAndIdempotency: a live hold confirmed by the system is sold;
// confirming again changes nothing; a buyer cannot confirm without a
// payment; the same Idempotency-Key replays, a different request conflicts.
func TestConfirmAndIdempotency(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 1})
	user := f.users[0]
	c := m.booking(false)

	first, err := m.reserve(context.Background(), c, f, user, 2, "idem-key-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.reserve(context.Background(), m.booking(true), f, user, 2, "idem-key-1")
	if err != nil || again.GetId() != first.GetId() {
		t.Fatalf("replay gave %v %v, want booking %s", again, err, first.GetId())
	}
	if _, err := m.reserve(context.Background(), c, f, user, 1, "idem-key-1"); !errs.Is(err, errs.Conflict) {
		t.Fatalf("same key, other request: %v", err)
	}
	if z := m.checkInvariant(f); z["held"] != 2 {
		t.Fatalf("replay reserved twice: %v", z)
	}

	if _, err := c.ConfirmBooking(context.Background(), as(m, user, authn.RoleUser, &bookingv1.ConfirmBookingRequest{BookingId: first.GetId()})); !errs.Is(err, errs.PaymentFailed) {
		t.Fatalf("confirm without payment: %v", err)
	}
	for range 2 {
		res, err := c.ConfirmBooking(context.Background(), as(m, "saga", authn.RoleService, &bookingv1.ConfirmBookingRequest{BookingId: first.GetId()}))
		if err != nil || res.Msg.GetBooking().GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED {
			t.Fatalf("confirm: %v %v", res, err)
		}
	}
	if z := m.checkInvariant(f); z["sold"] != 2 || z["held"] != 0 || z["available"] != 8 {
		t.Fatalf("zone after confirm %v", z)
	}
	// A confirmed booking is not cancelled here (refunds go through payments).
	if _, err := c.CancelBooking(context.Background(), as(m, user, authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: first.GetId()})); !errs.Is(err, errs.Conflict) {
		t.Fatalf("cancel confirmed: %v", err)
	}
	m.waitReconciled(f, 10*time.Second)
	list, err := c.ListBookings(context.Background(), as(m, user, authn.RoleUser, &bookingv1.ListBookingsRequest{}))
	if err != nil || len(list.Msg.GetBookings()) != 1 || list.Msg.GetMeta().GetTotal() != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	// Its last change is its confirmation, read back from Postgres.
	if b := list.Msg.GetBookings()[0]; b.GetConfirmedAt() == nil || !b.GetUpdatedAt().AsTime().Equal(b.GetConfirmedAt().AsTime()) ||
		!b.GetUpdatedAt().AsTime().After(b.GetCreatedAt().AsTime().Add(-time.Millisecond)) {
		t.Fatalf("listed booking's times: created %v, confirmed %v, updated %v", b.GetCreatedAt(), b.GetConfirmedAt(), b.GetUpdatedAt())
	}
	other, err := c.ListBookings(context.Background(), as(m, uuid.NewString(), authn.RoleUser, &bookingv1.ListBookingsRequest{}))
	if err != nil || len(other.Msg.GetBookings()) != 0 {
		t.Fatalf("another user sees bookings: %v %v", other, err)
	}
}

// TestIdempotencyKeyIsPerEventAndExpires: an Idempotency-Key replays
// within its event while its record lives (booking.idempotency-ttl); the
// same user's key on another event, or on the same event once the record
// expired, is a booking of its own, and Postgres keeps every one. Its unique
// (user, key) once refused the second, which the persister dead-lettered:
// a live hold Postgres never had.
func TestIdempotencyKeyIsPerEventAndExpires(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f1 := m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 1})
	f2 := m.seed(eventOpts{seats: 10, maxPerUser: 4})
	user, key, ctx := f1.users[0], "same-key-1", context.Background()
	c := m.booking(false)
	reserve := func(f fixture) string {
		t.Helper()
		b, err := m.reserve(ctx, c, f, user, 1, key)
		if err != nil {
			t.Fatal(err)
		}
		return b.GetId()
	}
	first, other := reserve(f1), reserve(f2)
	if replay := reserve(f1); replay != first || other == first {
		t.Fatalf("event 1: %s then %s; event 2: %s", first, replay, other)
	}
	// The record expires (as its TTL would end it): the key is new again.
	if err := m.rdb.Del(ctx, fmt.Sprintf("%s{ev:%s}:idem:%s:%s", m.prefix, f1.event, user, key)).Err(); err != nil {
		t.Fatal(err)
	}
	if later := reserve(f1); later == first {
		t.Fatalf("the expired key replayed %s", first)
	}
	m.waitReconciled(f1, 10*time.Second)
	m.waitReconciled(f2, 10*time.Second)
	var rows, dead int
	if err := m.db.QueryRow(`SELECT count(*) FROM bookings WHERE user_id = $1 AND reservation_id = $2`, user, key).Scan(&rows); err != nil || rows != 3 {
		t.Fatalf("Postgres has %d bookings of the key (%v), want 3", rows, err)
	}
	if err := m.db.QueryRow(`SELECT count(*) FROM dead_letters`).Scan(&dead); err != nil || dead != 0 {
		t.Fatalf("%d dead letters (%v)", dead, err)
	}
}

// TestSaleWindowAndBadInput: outside the sale window SALE_NOT_OPEN; a zone of
// another show NOT_FOUND; too many seats INSUFFICIENT_STOCK with details;
// nothing changes.
func TestSaleWindowAndBadInput(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	later := m.seed(eventOpts{seats: 5, maxPerUser: 4, users: 1, saleStart: time.Now().Add(time.Hour), saleEnd: time.Now().Add(2 * time.Hour)})
	if _, err := m.reserve(context.Background(), m.booking(false), later, later.users[0], 1, "early-bird"); !errs.Is(err, errs.SaleNotOpen) {
		t.Fatalf("before the sale: %v", err)
	}
	f := m.seed(eventOpts{seats: 5, maxPerUser: 10, users: 1})
	_, err := m.reserve(context.Background(), m.booking(false), f, f.users[0], 6, "too-many-1")
	if !errs.Is(err, errs.InsufficientStock) {
		t.Fatalf("6 of 5 seats: %v", err)
	}
	if d := errs.FromConnect(err).Details; d["requested"] != float64(6) || d["available"] != float64(5) {
		t.Fatalf("details %v", d)
	}
	wrong := f
	wrong.show = later.show
	if _, err := m.reserve(context.Background(), m.booking(false), wrong, f.users[0], 1, "wrong-show"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("zone of another show: %v", err)
	}
	if z := m.checkInvariant(f); z["available"] != 5 {
		t.Fatalf("a refused reserve changed the zone: %v", z)
	}
	// A load without the catalog's snapshot, or with a zone that does not
	// add up, is refused and changes nothing.
	for name, msg := range map[string]*bookingv1.LoadInventoryRequest{
		"no snapshot": {EventId: f.event},
		"zone without seats": {EventId: f.event, Sale: &bookingv1.EventSale{Status: "published", MaxPerUser: 4},
			Zones: []*bookingv1.InventoryZone{{ZoneId: f.zone, ShowId: f.show, PriceCents: 4990}}},
	} {
		if _, err := m.booking(false).LoadInventory(context.Background(), as(m, f.organizer, authn.RoleOrganizer, msg)); !errs.Is(err, errs.Validation) {
			t.Fatalf("load with %s: %v", name, err)
		}
	}
	snap, err := testkit.Inventory(context.Background(), m.db, f.event)
	if err != nil {
		t.Fatal(err)
	}
	snap.Zones[0].TotalSeats = 500
	if _, err := m.booking(false).LoadInventory(context.Background(), as(m, f.organizer, authn.RoleOrganizer, snap)); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("an organizer's own snapshot (only the catalog sends it): %v", err)
	}
	if z := m.checkInvariant(f); z["available"] != 5 || z["total"] != 5 {
		t.Fatalf("a refused load changed the zone: %v", z)
	}

	// The organizer cancels: the catalog reloads, and sales close at once.
	if _, err := m.db.Exec(`UPDATE events SET status = 'cancelled' WHERE id = $1`, f.event); err != nil {
		t.Fatal(err)
	}
	m.load(f)
	if _, err := m.reserve(context.Background(), m.booking(false), f, f.users[0], 1, "after-cancel"); !errs.Is(err, errs.SaleNotOpen) {
		t.Fatalf("reserve after cancellation: %v", err)
	}
}

func asConnect(err error, target **connect.Error) bool { return errors.As(err, target) }

// showDate reads when f's show starts, as the catalog's table has it.
func (m *mesh) showDate(f fixture) time.Time {
	m.t.Helper()
	var at time.Time
	if err := m.db.QueryRow(`SELECT show_date FROM shows WHERE id = $1`, f.show).Scan(&at); err != nil {
		m.t.Fatal(err)
	}
	return at
}

// wantShowStarted fails unless err is SALE_NOT_OPEN for f's started show:
// details.reason "show_started" and details.show_date its start, beside the
// event's status and sale window.
func (m *mesh) wantShowStarted(f fixture, err error) {
	m.t.Helper()
	if !errs.Is(err, errs.SaleNotOpen) {
		m.t.Fatalf("a started show's zone: %v, want SALE_NOT_OPEN", err)
	}
	d := errs.FromConnect(err).Details
	if d["reason"] != booking.ReasonShowStarted || d["show_date"] != m.showDate(f).UTC().Format(time.RFC3339) ||
		d["status"] != "published" || d["sale_start_at"] == nil || d["sale_end_at"] == nil {
		m.t.Fatalf("details %v", d)
	}
}

// TestStartedShowSellsNoMore: an event whose sale window runs on past its
// first show (it has a later one) sells nothing of the show that started,
// over either protocol: SALE_NOT_OPEN with details.reason "show_started"
// and the show's start, whatever the zone's stock, and the zone does not
// change; the later show, added while the event is on sale, sells. A
// refusal by the event's sale window keeps its shape (no reason), and is
// the answer when both apply.
func TestStartedShowSellsNoMore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := startMesh(t, "-target=booking")
	past := m.seed(eventOpts{seats: 5, maxPerUser: 4, users: 2, showIn: -24 * time.Hour}) // loaded whole
	ahead := m.addShow(past, time.Now().Add(30*24*time.Hour), 5)
	m.load(past) // the later date, added on sale: the refresh loads it
	for i, grpc := range []bool{false, true} {
		_, err := m.reserve(ctx, m.booking(grpc), past, past.users[0], 1, fmt.Sprintf("started-%04d", i))
		m.wantShowStarted(past, err)
	}
	_, err := m.reserve(ctx, m.booking(false), past, past.users[0], 6, "started-more")
	m.wantShowStarted(past, err) // not INSUFFICIENT_STOCK: no seat of it is for sale
	b, err := m.reserve(ctx, m.booking(false), ahead, past.users[0], 2, "ahead-0001")
	if err != nil || b.GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_RESERVED {
		t.Fatalf("the later show: %v %v", b, err)
	}
	if z := m.checkInvariant(past); z["available"] != 5 || z["held"] != 0 {
		t.Fatalf("the started show's zone changed: %v", z)
	}
	if z := m.checkInvariant(ahead); z["available"] != 3 || z["held"] != 2 {
		t.Fatalf("the later show's zone: %v", z)
	}
	if n := m.liveHolds(past); n != 1 {
		t.Fatalf("%d live holds, want 1", n)
	}

	early := m.seed(eventOpts{seats: 5, maxPerUser: 4, users: 1, showIn: -time.Hour,
		saleStart: time.Now().Add(time.Hour), saleEnd: time.Now().Add(2 * time.Hour)})
	_, err = m.reserve(ctx, m.booking(false), early, early.users[0], 1, "early-0001")
	if d := errs.FromConnect(err).Details; !errs.Is(err, errs.SaleNotOpen) || d["reason"] != nil || d["show_date"] != nil ||
		d["status"] != "published" || errs.FromConnect(err).Message != "the event is not on sale" {
		t.Fatalf("outside the sale window: %v %v", err, d)
	}
}

// TestZoneWithoutShowStartSells: a zone loaded before zones carried their
// show's start (no starts field) sells for the event's window as it did,
// so a rolling deploy changes no answer; so does a zone of which neither
// booking's record nor the catalog's snapshot (an older catalog's) knows
// the start. The next snapshot with the start gives it to booking's record
// and to the loaded zone (the refresh writes it beside the counters, which
// it leaves alone), and a later snapshot without it takes nothing away.
func TestZoneWithoutShowStartSells(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := startMesh(t, "-target=booking")
	f := m.seed(eventOpts{seats: 5, maxPerUser: 4, users: 1, showIn: -time.Hour})
	zoneKey := fmt.Sprintf("%s{ev:%s}:zone:%s", m.prefix, f.event, f.zone)
	if err := m.rdb.HDel(ctx, zoneKey, "starts").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.reserve(ctx, m.booking(false), f, f.users[0], 1, "old-zone-0001"); err != nil {
		t.Fatalf("a zone loaded without its show's start: %v", err)
	}
	older, err := testkit.Inventory(ctx, m.db, f.event)
	if err != nil {
		t.Fatal(err)
	}
	for _, z := range older.GetZones() {
		z.ShowDate = nil
	}
	loadOlder := func() {
		t.Helper()
		if _, err := m.booking(false).LoadInventory(ctx, as(m, "catalog", authn.RoleService, older)); err != nil {
			t.Fatalf("an older catalog's snapshot: %v", err)
		}
	}
	recorded := func() bool {
		t.Helper()
		var ok bool
		if err := m.db.QueryRow(`SELECT show_date IS NOT NULL FROM booking_zones WHERE zone_id = $1`, f.zone).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	// booking's record of the zone kept from an older catalog: no start.
	if _, err := m.db.Exec(`UPDATE booking_zones SET show_date = NULL WHERE zone_id = $1`, f.zone); err != nil {
		t.Fatal(err)
	}
	loadOlder()
	if _, err := m.reserve(ctx, m.booking(false), f, f.users[0], 1, "old-zone-0002"); err != nil || recorded() {
		t.Fatalf("nothing knows the show's start: %v (recorded %v)", err, recorded())
	}
	m.load(f)
	_, err = m.reserve(ctx, m.booking(false), f, f.users[0], 1, "old-zone-0003")
	m.wantShowStarted(f, err)
	if !recorded() {
		t.Fatal("booking's record did not get the show's start")
	}
	loadOlder()
	_, err = m.reserve(ctx, m.booking(false), f, f.users[0], 1, "old-zone-0004")
	m.wantShowStarted(f, err)
	if !recorded() {
		t.Fatal("a snapshot without the show's start took it from booking's record")
	}
	if z := m.checkInvariant(f); z["available"] != 3 || z["held"] != 2 {
		t.Fatalf("zone after the refreshes: %v", z)
	}
}

// TestBookingFoundBeforePersisted: a hold that Postgres does not know yet
// (no persister runs here) is found among the loaded events' holds, by its
// owner only; an unknown id is NOT_FOUND.
func TestBookingFoundBeforePersisted(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-target=booking")
	f := m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 2})
	m.seed(eventOpts{seats: 5, maxPerUser: 4, users: 1}) // a second loaded event to look through
	c := m.booking(false)
	b, err := m.reserve(context.Background(), c, f, f.users[0], 2, "early-key-1")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := m.db.QueryRow(`SELECT count(*) FROM bookings WHERE id = $1`, b.GetId()).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the booking reached Postgres without a persister: %d %v", n, err)
	}
	got, err := c.GetBooking(context.Background(), as(m, f.users[0], authn.RoleUser, &bookingv1.GetBookingRequest{BookingId: b.GetId()}))
	if err != nil || got.Msg.GetBooking().GetId() != b.GetId() || got.Msg.GetBooking().GetQuantity() != 2 || got.Msg.GetBooking().GetEventId() != f.event {
		t.Fatalf("owner's lookup before the persister: %v %v", got, err)
	}
	if _, err := c.GetBooking(context.Background(), as(m, f.users[1], authn.RoleUser, &bookingv1.GetBookingRequest{BookingId: b.GetId()})); !errs.Is(err, errs.NotFound) {
		t.Fatalf("another user's lookup: %v", err)
	}
	if _, err := c.GetBooking(context.Background(), as(m, f.users[0], authn.RoleUser, &bookingv1.GetBookingRequest{BookingId: uuid.NewString()})); !errs.Is(err, errs.NotFound) {
		t.Fatalf("unknown booking: %v", err)
	}
	if res, err := c.CancelBooking(context.Background(), as(m, f.users[0], authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: b.GetId()})); err != nil || res.Msg.GetBooking().GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED {
		t.Fatalf("cancel before the persister: %v %v", res, err)
	}
	if z := m.checkInvariant(f); z["held"] != 0 || z["available"] != 10 {
		t.Fatalf("zone after cancel %v", z)
	}
}

// TestBatchedReservesDecideAsAlone: concurrent reserves of one event are
// decided in batches (one script call for many), and each still gets the
// answer it would get alone: a key retried with the same request replays
// its booking, with another request conflicts; no user passes
// max_per_user; the seats held are exactly the answered holds; Postgres
// ends equal to Redis.
func TestBatchedReservesDecideAsAlone(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 60, maxPerUser: 3, users: 40})
	type answer struct {
		user, key string
		qty       int
		id        string
		code      errs.Code
	}
	var mu sync.Mutex
	var answers []answer
	start := make(chan struct{})
	var wg sync.WaitGroup
	for u, user := range f.users {
		// Per user: four keys, the first sent twice alike (a retry), the
		// second twice with another quantity (a conflict, whichever wins).
		calls := []struct {
			key string
			qty int
		}{{"batch-k0", 1}, {"batch-k0", 1}, {"batch-k1", 1}, {"batch-k1", 2}, {"batch-k2", 1}, {"batch-k3", 1}}
		for i, c := range calls {
			wg.Go(func() {
				<-start
				b, err := m.reserve(context.Background(), m.booking((u+i)%2 == 0), f, user, c.qty, c.key)
				a := answer{user: user, key: c.key, qty: c.qty}
				if err == nil {
					a.id = b.GetId()
				} else if e := errs.FromConnect(err); e != nil {
					a.code = e.Code
				} else {
					t.Errorf("reserve: %v", err)
				}
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
			})
		}
	}
	close(start)
	wg.Wait()

	byKey := map[string]answer{} // user/key -> the booking it holds
	perUser := map[string]int{}
	seats := map[string]int{} // booking id -> seats
	for _, a := range answers {
		k := a.user + "/" + a.key
		switch a.code {
		case "":
			if prior, ok := byKey[k]; ok && (prior.id != a.id || prior.qty != a.qty) {
				t.Errorf("%s answered two bookings: %+v and %+v", k, prior, a)
			}
			byKey[k] = a
			if _, ok := seats[a.id]; !ok {
				seats[a.id] = a.qty
				perUser[a.user] += a.qty
			}
		case errs.Conflict, errs.MaxPerUserExceeded, errs.InsufficientStock:
		default:
			t.Errorf("%s: unexpected %s", k, a.code)
		}
	}
	for _, a := range answers {
		if a.code == errs.Conflict {
			if held, ok := byKey[a.user+"/"+a.key]; !ok || held.qty == a.qty {
				t.Errorf("%s/%s qty %d: conflict, but the key holds %+v", a.user, a.key, a.qty, held)
			}
		}
	}
	total := 0
	for u, n := range perUser {
		if n > 3 {
			t.Errorf("user %s holds %d seats, max_per_user 3", u, n)
		}
		total += n
	}
	z := m.checkInvariant(f)
	if z["held"] != total {
		t.Fatalf("the answers hold %d seats, the zone %v", total, z)
	}
	calls, decided := m.metric("rush_booking_reserve_script_calls_total", nil), m.metric("rush_booking_reserve_batched_total", nil)
	if decided != float64(len(answers)) || calls >= decided {
		t.Errorf("%v reserves decided in %v script calls: want all %d, in batches", decided, calls, len(answers))
	}
	t.Logf("%d reserves in %v script calls; %d seats held", len(answers), calls, total)
	m.waitReconciled(f, 20*time.Second)
}

// TestBatchExpiryEntryEndsEachHoldOnce: the holds of a reserve batch share
// one expiry entry. Those confirmed or cancelled before the deadline stay as
// they are when the entry falls due; the rest expire, each once; the count
// of live holds (active_reservations) follows every step and ends at 0, and
// the entry is gone.
func TestBatchExpiryEntryEndsEachHoldOnce(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-booking.hold-ttl=2s", "-booking.sweep-interval=100ms")
	f := m.seed(eventOpts{seats: 30, maxPerUser: 1, users: 24})
	c := m.booking(false)
	ids := make([]string, len(f.users))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, user := range f.users {
		wg.Go(func() {
			<-start
			b, err := m.reserve(context.Background(), c, f, user, 1, "expiry-batch")
			if err != nil {
				t.Errorf("reserve %s: %v", user, err)
				return
			}
			ids[i] = b.GetId()
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	expiry := fmt.Sprintf("%s{ev:%s}:expiry", m.prefix, f.event)
	entries, err := m.rdb.ZCard(context.Background(), expiry).Result()
	if err != nil {
		t.Fatal(err)
	}
	if entries >= int64(len(ids)) {
		t.Logf("%d holds in %d expiry entries: no batch formed, the test proved less than it could", len(ids), entries)
	}
	if n := m.liveHolds(f); n != len(ids) || m.metric("active_reservations", nil) != float64(len(ids)) {
		t.Fatalf("live holds %d (metric %v), want %d", n, m.metric("active_reservations", nil), len(ids))
	}
	// 8 paid, 4 cancelled by their buyers, 12 left to expire.
	for _, id := range ids[:8] {
		if _, err := c.ConfirmBooking(context.Background(), as(m, "saga", authn.RoleService, &bookingv1.ConfirmBookingRequest{BookingId: id})); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range ids[8:12] {
		if _, err := c.CancelBooking(context.Background(), as(m, f.users[8+i], authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: id})); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.liveHolds(f); n != 12 {
		t.Fatalf("live holds after 8 confirmed and 4 cancelled: %d, want 12", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		z := m.checkInvariant(f)
		n, err := m.rdb.ZCard(context.Background(), expiry).Result()
		if err != nil {
			t.Fatal(err)
		}
		if z["held"] == 0 && n == 0 {
			if z["sold"] != 8 || z["available"] != 22 {
				t.Fatalf("zone after the deadline %v, want 8 sold and 22 available", z)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("holds not expired: zone %v, %d expiry entries", z, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := m.liveHolds(f); n != 0 || m.metric("active_reservations", nil) != 0 {
		t.Fatalf("live holds after the deadline %d (metric %v), want 0", n, m.metric("active_reservations", nil))
	}
	for i, id := range ids {
		want := bookingv1.BookingStatus_BOOKING_STATUS_EXPIRED
		switch {
		case i < 8:
			want = bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED
		case i < 12:
			want = bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED
		}
		got, err := c.GetBooking(context.Background(), as(m, f.users[i], authn.RoleUser, &bookingv1.GetBookingRequest{BookingId: id}))
		if err != nil || got.Msg.GetBooking().GetStatus() != want {
			t.Fatalf("booking %d: %v %v, want %v", i, got, err, want)
		}
	}
	m.waitReconciled(f, 20*time.Second)
}

// TestLiveCountStartsOnAnEventLoadedBefore: an event loaded by a release
// that kept no count of live holds (meta without live; every expiry entry one
// hold) gets its count from its expiry entries at the first change.
func TestLiveCountStartsOnAnEventLoadedBefore(t *testing.T) {
	t.Parallel()
	m := startMesh(t)
	f := m.seed(eventOpts{seats: 10, maxPerUser: 2, users: 3})
	c := m.booking(false)
	var ids []string
	for _, user := range f.users {
		b, err := m.reserve(context.Background(), c, f, user, 1, "before-count")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.GetId())
	}
	if err := m.rdb.HDel(context.Background(), fmt.Sprintf("%s{ev:%s}:meta", m.prefix, f.event), "live").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CancelBooking(context.Background(), as(m, f.users[0], authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: ids[0]})); err != nil {
		t.Fatal(err)
	}
	if n := m.liveHolds(f); n != 2 {
		t.Fatalf("live holds after a cancel on an event without a count: %d, want 2", n)
	}
	if _, err := m.reserve(context.Background(), c, f, f.users[0], 1, "after-count"); err != nil {
		t.Fatal(err)
	}
	if n := m.liveHolds(f); n != 3 {
		t.Fatalf("live holds after a new hold: %d, want 3", n)
	}
}

// TestLoadDropsZonesTheSnapshotLost: a zone the catalog's snapshot no
// longer has, from which nothing was reserved (a draft's zone deleted after
// a publish failed once the inventory was loaded), leaves booking's records
// and the loaded inventory: it cannot be reserved by its id. (An event on
// sale loses zones only by DropZones: TestAStaleLoadKeepsAZoneAddedOnSale.)
func TestLoadDropsZonesTheSnapshotLost(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-target=booking")
	f := m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 1})
	zoneKey := fmt.Sprintf("%s{ev:%s}:zone:%s", m.prefix, f.event, f.zone)
	if n, err := m.rdb.Exists(context.Background(), zoneKey).Result(); err != nil || n != 1 {
		t.Fatalf("the zone is not loaded: %d %v", n, err)
	}
	// A refused reserve: this process now knows the zone's event, and
	// nothing was reserved from it.
	if _, err := m.reserve(context.Background(), m.booking(false), f, f.users[0], 5, "dropped-zone-0"); !errs.Is(err, errs.MaxPerUserExceeded) {
		t.Fatalf("reserve above the limit: %v", err)
	}
	// The publish failed: the catalog took the event back to draft (and
	// told booking), then the organizer deleted the zone and added another.
	if _, err := m.db.Exec(`UPDATE events SET status = 'draft' WHERE id = $1`, f.event); err != nil {
		t.Fatal(err)
	}
	m.load(f)
	if _, err := m.db.Exec(`DELETE FROM seat_zones WHERE id = $1`, f.zone); err != nil {
		t.Fatal(err)
	}
	if _, err := m.db.Exec(`INSERT INTO seat_zones (show_id, name, price, total_seats, available_seats) VALUES ($1, 'Balcony', 20, 5, 5)`, f.show); err != nil {
		t.Fatal(err)
	}
	m.load(f)
	if n, err := m.rdb.Exists(context.Background(), zoneKey).Result(); err != nil || n != 0 {
		t.Fatalf("the dropped zone is still loaded: %d %v", n, err)
	}
	// Published again: the dropped zone stays gone.
	if _, err := m.db.Exec(`UPDATE events SET status = 'published' WHERE id = $1`, f.event); err != nil {
		t.Fatal(err)
	}
	m.load(f)
	if _, err := m.reserve(context.Background(), m.booking(false), f, f.users[0], 1, "dropped-zone-1"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("reserve in the dropped zone: %v, want NOT_FOUND", err)
	}
}

// TestLoadAddsZonesToAnEventOnSale: a zone added to an event on sale (an
// extra date, released seats) is loaded by the next refresh with every seat
// available and sells; a zone the last load had and whose key is gone was
// lost, not added, and is not written back from the snapshot.
func TestLoadAddsZonesToAnEventOnSale(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-target=booking")
	f := m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 1})
	ctx := context.Background()
	var added string
	if err := m.db.QueryRow(`INSERT INTO seat_zones (show_id, name, price, total_seats, available_seats) VALUES ($1, 'Balcony', 20, 5, 5) RETURNING id`, f.show).Scan(&added); err != nil {
		t.Fatal(err)
	}
	lost := fmt.Sprintf("%s{ev:%s}:zone:%s", m.prefix, f.event, f.zone)
	if err := m.rdb.Del(ctx, lost).Err(); err != nil {
		t.Fatal(err)
	}
	m.load(f)
	got, err := m.rdb.HGetAll(ctx, fmt.Sprintf("%s{ev:%s}:zone:%s", m.prefix, f.event, added)).Result()
	if err != nil || got["total"] != "5" || got["available"] != "5" || got["held"] != "0" || got["sold"] != "0" || got["show"] != f.show {
		t.Fatalf("the added zone: %v %v", got, err)
	}
	if n, err := m.rdb.Exists(ctx, lost).Result(); err != nil || n != 0 {
		t.Fatalf("the lost zone was written back from the snapshot: %d %v", n, err)
	}
	balcony := f
	balcony.zone = added
	if b, err := m.reserve(ctx, m.booking(false), balcony, f.users[0], 2, "added-zone-1"); err != nil || b.GetZoneId() != added {
		t.Fatalf("reserve in the added zone: %v %v", b, err)
	}
}

// TestDropZones: zones nobody reserved from leave an event on sale, all or
// none: out of Redis (and the meta's list the admitter reads) and out of
// booking's records; a zone reserved from stays, and so do the others asked
// with it; only services may ask.
func TestDropZones(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-target=booking")
	f := m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 1})
	ctx := context.Background()
	c := m.booking(false)
	var added string
	if err := m.db.QueryRow(`INSERT INTO seat_zones (show_id, name, price, total_seats, available_seats) VALUES ($1, 'Balcony', 20, 5, 5) RETURNING id`, f.show).Scan(&added); err != nil {
		t.Fatal(err)
	}
	m.load(f)
	if _, err := m.reserve(ctx, c, f, f.users[0], 1, "drop-zones-1"); err != nil {
		t.Fatal(err)
	}
	drop := func(role string, zones ...string) error {
		_, err := c.DropZones(ctx, as(m, "catalog", role, &bookingv1.DropZonesRequest{EventId: f.event, ZoneIds: zones}))
		return err
	}
	if err := drop(authn.RoleAdmin, added); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("an admin drops a zone: %v", err)
	}
	if err := drop(authn.RoleService, added, f.zone); !errs.Is(err, errs.Conflict) {
		t.Fatalf("dropping a zone reserved from: %v", err)
	}
	addedKey := fmt.Sprintf("%s{ev:%s}:zone:%s", m.prefix, f.event, added)
	if n, _ := m.rdb.Exists(ctx, addedKey).Result(); n != 1 {
		t.Fatal("a refused drop dropped the other zone")
	}
	if err := drop(authn.RoleService, added); err != nil {
		t.Fatalf("dropping an untouched zone: %v", err)
	}
	if n, _ := m.rdb.Exists(ctx, addedKey).Result(); n != 0 {
		t.Fatal("the dropped zone is still loaded")
	}
	if ids, _ := m.rdb.HGet(ctx, fmt.Sprintf("%s{ev:%s}:meta", m.prefix, f.event), "zones").Result(); ids != f.zone {
		t.Fatalf("meta's zones after the drop: %q, want %q", ids, f.zone)
	}
	var n int
	if err := m.db.QueryRow(`SELECT count(*) FROM booking_zones WHERE zone_id = $1`, added).Scan(&n); err != nil || n != 0 {
		t.Fatalf("booking_zones keeps the dropped zone: %d %v", n, err)
	}
	balcony := f
	balcony.zone = added
	if _, err := m.reserve(ctx, c, balcony, f.users[0], 1, "drop-zones-2"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("reserve in the dropped zone: %v, want NOT_FOUND", err)
	}
	if err := drop(authn.RoleService, added); err != nil {
		t.Fatalf("dropping again: %v", err)
	}
}

// TestAStaleLoadDoesNotBringBackADroppedZone: a zone the organizer deleted
// from an event on sale (booking dropped it: nobody had reserved from it)
// stays off the sale when a load whose snapshot the catalog read before the
// deletion arrives after the drop (another change's load, or a new zone's
// load that the catalog gave up on and undid, arriving late). Before, the
// stale load wrote the zone back into booking's records and Redis with
// every seat available, for good (a loaded event on sale loses zones only
// by DropZones): a buyer with the zone's id bought seats of a zone the
// catalog no longer had.
func TestAStaleLoadDoesNotBringBackADroppedZone(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-target=booking,relay,persister")
	f := m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 1})
	ctx := context.Background()
	c := m.booking(false)
	var added string
	if err := m.db.QueryRow(`INSERT INTO seat_zones (show_id, name, price, total_seats, available_seats) VALUES ($1, 'Balcony', 20, 5, 5) RETURNING id`, f.show).Scan(&added); err != nil {
		t.Fatal(err)
	}
	m.load(f)
	stale, err := testkit.Inventory(ctx, m.db, f.event)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DropZones(ctx, as(m, "catalog", authn.RoleService, &bookingv1.DropZonesRequest{EventId: f.event, ZoneIds: []string{added}})); err != nil {
		t.Fatalf("drop the zone: %v", err)
	}
	if _, err := m.db.Exec(`DELETE FROM seat_zones WHERE id = $1`, added); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LoadInventory(ctx, as(m, "catalog", authn.RoleService, stale)); err != nil {
		t.Fatalf("the stale load: %v", err)
	}
	balcony := f
	balcony.zone = added
	if b, err := m.reserve(ctx, c, balcony, f.users[0], 1, "dropped-stale-1"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("reserve in the dropped zone after a stale load: %v %v, want NOT_FOUND", b, err)
	}
	if n, _ := m.rdb.Exists(ctx, fmt.Sprintf("%s{ev:%s}:zone:%s", m.prefix, f.event, added)).Result(); n != 0 {
		t.Fatal("the stale load wrote the dropped zone back into Redis")
	}
	if ids, _ := m.rdb.HGet(ctx, fmt.Sprintf("%s{ev:%s}:meta", m.prefix, f.event), "zones").Result(); ids != f.zone {
		t.Fatalf("meta's zones after the stale load: %q, want %q", ids, f.zone)
	}
	var n int
	if err := m.db.QueryRow(`SELECT count(*) FROM booking_zones WHERE zone_id = $1`, added).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the stale load wrote the dropped zone back into booking_zones: %d %v", n, err)
	}
	// The fresh snapshot, and a rebuild from booking's records, agree.
	m.load(f)
	m.dropKeys()
	if _, err := m.reserve(ctx, c, f, f.users[0], 1, "dropped-stale-2"); !errs.Is(err, errs.ServiceUnavailable) && err != nil {
		t.Fatalf("reserve that starts the rebuild: %v", err)
	}
	testkit.Eventually(t, 10*time.Second, "rebuilt", func() bool {
		n, _ := m.rdb.Exists(ctx, fmt.Sprintf("%s{ev:%s}:meta", m.prefix, f.event)).Result()
		return n == 1
	})
	if _, err := m.reserve(ctx, c, balcony, f.users[0], 1, "dropped-stale-3"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("reserve in the dropped zone after a rebuild: %v, want NOT_FOUND", err)
	}
}

// TestDropZonesRefusesAZoneSoldWhileRedisLostTheEvent: a zone whose seats
// booking's records show held or sold is never dropped, even while Redis
// lost the event's keys (before its rebuild): the drop's Redis check then
// sees no zone at all. Before, the drop answered success, the catalog
// deleted the zone, and booking kept selling and rebuilding it.
func TestDropZonesRefusesAZoneSoldWhileRedisLostTheEvent(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-target=booking,relay,persister")
	f := m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 1})
	ctx := context.Background()
	c := m.booking(false)
	if _, err := m.reserve(ctx, c, f, f.users[0], 2, "lost-drop-1"); err != nil {
		t.Fatal(err)
	}
	m.waitReconciled(f, 10*time.Second)
	m.dropKeys()
	_, err := c.DropZones(ctx, as(m, "catalog", authn.RoleService, &bookingv1.DropZonesRequest{EventId: f.event, ZoneIds: []string{f.zone}}))
	if !errs.Is(err, errs.Conflict) {
		t.Fatalf("dropping a zone with a hold while Redis lost the event: %v, want CONFLICT", err)
	}
}
