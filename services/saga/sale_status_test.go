package saga_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/stdlib"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/gen/bookingrush/catalog/v1/catalogv1connect"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/services/payment"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/platform/topic"
	"github.com/bookingrush/rush/services/saga"
	"github.com/bookingrush/rush/services/testkit"
)

// reserveAgain is a new reserve of one seat by user, and its error.
func (e *env) reserveAgain(t *testing.T, s testkit.Shop, user string) error {
	t.Helper()
	req := testkit.As(t, e.Mesh, user, authn.RoleUser, &bookingv1.ReserveRequest{ShowId: s.Show, ZoneId: s.Zone, Quantity: 1})
	req.Header().Set("Idempotency-Key", "rv-"+uuid.NewString())
	_, err := e.booking.Reserve(context.Background(), req)
	return err
}

// draftAgain puts s's event back to draft as the catalog's unpublish does
// after a failed publish: its status, then booking loads it.
func (e *env) draftAgain(t *testing.T, s testkit.Shop) {
	t.Helper()
	if _, err := e.Pool.Exec(context.Background(), `UPDATE events SET status = 'draft', published_at = NULL WHERE id = $1`, s.Event); err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(e.Pool)
	defer db.Close()
	testkit.LoadInventory(t, db, e.booking, e.Keys, s.Event)
}

// TestADraftAgainTakesNoMoney: an event a failed publish put back to draft
// after buyers held seats (the catalog gave up on a load that booking did)
// takes no money: a new payment of its hold is refused, a payment made
// while it was on sale and succeeding after is not confirmed but refunded
// in full, and nothing new is reserved. Its holds come back by expiry.
func TestADraftAgainTakesNoMoney(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"-payment.sim-delay=2s"})
	s := e.SeedShop(t, testkit.ShopOptions{Seats: 10, Users: 3})
	ctx := context.Background()
	paidBefore := e.Reserve(t, s, s.Users[0], 2)
	unpaid := e.Reserve(t, s, s.Users[1], 1)
	late := e.pay(t, s.Users[0], paidBefore.GetId(), payment.SimSlow) // succeeds 2 s later

	e.draftAgain(t, s)

	testkit.WantCode(t, e.reserveAgain(t, s, s.Users[2]), errs.SaleNotOpen)
	_, err := e.payment.CreatePayment(ctx, testkit.As(t, e.Mesh, s.Users[1], authn.RoleUser,
		&paymentv1.CreatePaymentRequest{BookingId: unpaid.GetId(), PaymentMethod: payment.SimOK}))
	testkit.WantCode(t, err, errs.Conflict)

	e.waitSaga(t, late.GetId(), saga.StatusCompensated, 30*time.Second)
	if st := e.Booking(t, s.Users[0], paidBefore.GetId()).GetStatus(); st == bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED {
		t.Fatalf("a draft's booking was confirmed: %v", st)
	}
	var status string
	if err := e.Pool.QueryRow(ctx, `SELECT status FROM payments WHERE id = $1`, late.GetId()).Scan(&status); err != nil || status != "refunded" {
		t.Fatalf("the payment that succeeded once the event was a draft again: %q %v, want refunded", status, err)
	}
	if r := e.AuditMoney(t, e.prefix); r.Confirmed != 0 || r.Refunded != 1 {
		t.Fatalf("money audit %v, want nothing confirmed and 1 refunded", r)
	}
}

// TestADraftAgainRedisLostStillRefunds: as TestADraftAgainTakesNoMoney,
// and Redis then restarts empty before the money arrives. The saga cannot
// confirm the draft's hold and its refund releases the booking first: both
// must find the event's records, rebuilt with the draft status (so it
// sells nothing). Before, both answered SALE_NOT_OPEN for as long as Redis
// lacked the draft: the refund stayed decided and never made, the buyer
// charged with no ticket and no refund.
func TestADraftAgainRedisLostStillRefunds(t *testing.T) {
	t.Parallel()
	e, r, s, _, p := slowPaymentOnItsOwnRedis(t)
	e.draftAgain(t, s)

	e.refundedAfterRedisRestart(t, r, p)
	testkit.WantCode(t, e.reserveAgain(t, s, s.Users[1]), errs.SaleNotOpen)
	e.AuditMoney(t, e.prefix)
}

// TestAFailedPublishDoesNotSellTheDraft: a publish whose load reached
// booking's records but not Redis fails, and the catalog takes the event
// back to draft. The draft's load is refused (a draft has no inventory),
// and booking's records learn the status anyway, so a reserve of the draft
// answers SALE_NOT_OPEN; before, it rebuilt the inventory from records
// that still said published, and the draft sold.
func TestAFailedPublishDoesNotSellTheDraft(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	s := e.SeedShop(t, testkit.ShopOptions{})
	ctx := context.Background()
	// Redis never got the inventory (the first load failed there).
	if keys, _ := e.Redis.Keys(ctx, e.prefix+"{ev:"+s.Event+"}*").Result(); len(keys) > 0 {
		e.Redis.Del(ctx, keys...)
	}
	e.Redis.SRem(ctx, e.prefix+"events", s.Event)
	if _, err := e.Pool.Exec(ctx, `UPDATE events SET status = 'draft', published_at = NULL WHERE id = $1`, s.Event); err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(e.Pool)
	defer db.Close()
	snap, err := testkit.Inventory(ctx, db, s.Event)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.booking.LoadInventory(ctx, testkit.AsService(t, e.Mesh, "catalog", snap))
	testkit.WantCode(t, err, errs.Conflict)
	var st string
	if err := e.Pool.QueryRow(ctx, `SELECT status FROM booking_events WHERE event_id = $1`, s.Event).Scan(&st); err != nil || st != "draft" {
		t.Fatalf("booking's record of the event: %q %v, want draft", st, err)
	}
	for range 3 {
		testkit.WantCode(t, e.reserveAgain(t, s, s.Users[0]), errs.SaleNotOpen)
		time.Sleep(200 * time.Millisecond) // a rebuild, had one started, would be done
	}
}

// TestALateLoadKeepsACancelledEventCancelled: a load whose snapshot was
// read before the cancellation (an edit's reload, a publish's late load)
// reaches booking after it: the event stays cancelled in Redis and in
// booking's records, and sells nothing.
func TestALateLoadKeepsACancelledEventCancelled(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	s := e.SeedShop(t, testkit.ShopOptions{})
	ctx := context.Background()
	db := stdlib.OpenDBFromPool(e.Pool)
	defer db.Close()
	stale, err := testkit.Inventory(ctx, db, s.Event) // read before the cancel
	if err != nil {
		t.Fatal(err)
	}
	catalog := catalogv1connect.NewCatalogServiceClient(server.NewClient(), e.URL(t, "catalog"))
	if _, err := catalog.CancelEvent(ctx, testkit.As(t, e.Mesh, s.Organizer, authn.RoleOrganizer,
		&catalogv1.CancelEventRequest{EventId: s.Event, Reason: "storm"})); err != nil {
		t.Fatal(err)
	}
	if _, err := e.booking.LoadInventory(ctx, testkit.AsService(t, e.Mesh, "catalog", stale)); err != nil {
		t.Fatal(err)
	}
	if st, err := e.Redis.HGet(ctx, e.prefix+"{ev:"+s.Event+"}:meta", "status").Result(); err != nil || st != "cancelled" {
		t.Fatalf("Redis's status after the late load: %q %v", st, err)
	}
	var st string
	if err := e.Pool.QueryRow(ctx, `SELECT status FROM booking_events WHERE event_id = $1`, s.Event).Scan(&st); err != nil || st != "cancelled" {
		t.Fatalf("booking's record after the late load: %q %v", st, err)
	}
	testkit.WantCode(t, e.reserveAgain(t, s, s.Users[0]), errs.SaleNotOpen)
}

// TestCancelWithAnUpperCaseID: an event cancelled with its id in upper case
// (a UUID is case-insensitive; Swift writes them so) is cancelled in full:
// it sells nothing more, its live hold is released, and a payment that
// succeeds afterwards is refunded. Before, the catalog passed the id on as
// sent, and booking cancelled an empty inventory of that string while the
// real one went on selling and confirming.
func TestCancelWithAnUpperCaseID(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"-payment.sim-delay=2s"})
	s := e.SeedShop(t, testkit.ShopOptions{Users: 2})
	ctx := context.Background()
	hold := e.Reserve(t, s, s.Users[0], 1)
	slow := e.pay(t, s.Users[0], hold.GetId(), payment.SimSlow) // succeeds 2 s later
	// Upper-case ids reserve like any others.
	up := e.ReserveIn(t, strings.ToUpper(s.Show), strings.ToUpper(s.Zone), s.Users[1], 1)
	if up.GetZoneId() != s.Zone || up.GetEventId() != s.Event {
		t.Fatalf("a reserve with upper-case ids: %v", up)
	}
	catalog := catalogv1connect.NewCatalogServiceClient(server.NewClient(), e.URL(t, "catalog"))
	res, err := catalog.CancelEvent(ctx, testkit.As(t, e.Mesh, s.Organizer, authn.RoleOrganizer,
		&catalogv1.CancelEventRequest{EventId: strings.ToUpper(s.Event), Reason: "storm"}))
	if err != nil || res.Msg.GetEvent().GetId() != s.Event {
		t.Fatalf("cancel: %v %v", res, err)
	}
	testkit.WantCode(t, e.reserveAgain(t, s, s.Users[1]), errs.SaleNotOpen)
	if st := e.Booking(t, s.Users[0], hold.GetId()).GetStatus(); st != bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED {
		t.Fatalf("the live hold after the cancel: %v", st)
	}
	e.waitSaga(t, slow.GetId(), saga.StatusCompensated, 30*time.Second)
	if n, _ := e.Redis.Keys(ctx, e.prefix+"{ev:"+strings.ToUpper(s.Event)+"}*").Result(); len(n) != 0 {
		t.Fatalf("keys of the upper-case id: %v", n)
	}
}

// TestAStaleLoadKeepsAZoneAddedOnSale: a zone the organizer adds to an
// event on sale (loaded, nobody reserved from it yet) stays on sale when a
// load whose snapshot was read before the zone existed arrives after it:
// an event on sale loses zones only by DropZones. Before, the stale load
// dropped it, and the catalog listed a zone whose reserve answered 404.
func TestAStaleLoadKeepsAZoneAddedOnSale(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	s := e.SeedShop(t, testkit.ShopOptions{Users: 2})
	ctx := context.Background()
	db := stdlib.OpenDBFromPool(e.Pool)
	defer db.Close()
	stale, err := testkit.Inventory(ctx, db, s.Event)
	if err != nil {
		t.Fatal(err)
	}
	var added string
	if err := e.Pool.QueryRow(ctx, `INSERT INTO seat_zones (show_id, name, price, total_seats, available_seats)
		VALUES ($1, 'Gallery', 10, 5, 5) RETURNING id::text`, s.Show).Scan(&added); err != nil {
		t.Fatal(err)
	}
	testkit.LoadInventory(t, db, e.booking, e.Keys, s.Event) // CreateZone's load
	if _, err := e.booking.LoadInventory(ctx, testkit.AsService(t, e.Mesh, "catalog", stale)); err != nil {
		t.Fatal(err)
	}
	if b := e.ReserveIn(t, s.Show, added, s.Users[0], 1); b.GetZoneId() != added {
		t.Fatalf("a reserve of the added zone: %v", b)
	}
	zones, err := e.Redis.HGet(ctx, e.prefix+"{ev:"+s.Event+"}:meta", "zones").Result()
	if err != nil || !strings.Contains(zones, added) || !strings.Contains(zones, s.Zone) {
		t.Fatalf("the event's zones after the stale load: %q %v", zones, err)
	}
}

// TestOrganizerCancelRefundsTheRest: buyers who had cancelled their purchase
// for 0% or 50% of its price under the refund policy get the rest back when
// the organizer then cancels the event (an organizer's cancellation refunds
// everyone 100%), once however often it is cancelled; a purchase still
// standing is refunded in full. Before, those buyers kept their 0% or 50%,
// and the organizer the rest, for shows that never took place.
func TestOrganizerCancelRefundsTheRest(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	// Shows 2, 3 and 4 days ahead: a buyer's cancel gets 0% of the first,
	// 50% of the last.
	s := e.SeedShop(t, testkit.ShopOptions{Users: 3, ShowIn: 2 * 24 * time.Hour, Shows: 3})
	ctx := context.Background()
	buy := func(user string, show int) (*bookingv1.Booking, *paymentv1.Payment) {
		t.Helper()
		b := e.ReserveIn(t, s.Shows[show], s.Zones[show], user, 2)
		p := e.pay(t, user, b.GetId(), payment.SimOK)
		e.waitSaga(t, p.GetId(), saga.StatusCompleted, 15*time.Second)
		return b, p
	}
	b0, p0 := buy(s.Users[0], 0)
	b1, p1 := buy(s.Users[1], 2)
	_, p2 := buy(s.Users[2], 2)
	for i, b := range []*bookingv1.Booking{b0, b1} {
		if _, err := e.booking.CancelBooking(ctx, testkit.As(t, e.Mesh, s.Users[i], authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: b.GetId()})); err != nil {
			t.Fatalf("buyer %d cancels: %v", i, err)
		}
	}
	state := func(id string) string {
		t.Helper()
		var st, amount string
		if err := e.Pool.QueryRow(ctx, `SELECT status, refunded_amount::text FROM payments WHERE id = $1`, id).Scan(&st, &amount); err != nil {
			t.Fatal(err)
		}
		return st + " " + amount
	}
	if a, b := state(p0.GetId()), state(p1.GetId()); a != "succeeded 0.00" || b != "partially_refunded 49.90" {
		t.Fatalf("after the buyers' cancels: %q and %q, want the policy's 0%% and 50%%", a, b)
	}
	catalog := catalogv1connect.NewCatalogServiceClient(server.NewClient(), e.URL(t, "catalog"))
	for range 2 {
		if _, err := catalog.CancelEvent(ctx, testkit.As(t, e.Mesh, s.Organizer, authn.RoleOrganizer,
			&catalogv1.CancelEventRequest{EventId: s.Event, Reason: "storm"})); err != nil {
			t.Fatalf("cancel the event: %v", err)
		}
	}
	for _, p := range []*paymentv1.Payment{p0, p1, p2} {
		if st := state(p.GetId()); st != "refunded 99.80" {
			t.Fatalf("payment %s after the organizer's cancel: %q, want refunded 99.80", p.GetId(), st)
		}
	}
	// One refund entry per refund: the buyer's and the rest, or the
	// organizer's alone.
	for p, want := range map[string]int{p0.GetId(): 2, p1.GetId(): 2, p2.GetId(): 1} {
		if n := e.Count(t, `SELECT count(*) FROM audit_logs WHERE action = 'payment.refund' AND entity_id = $1`, p); n != want {
			t.Fatalf("payment %s: %d refund audit entries, want %d", p, n, want)
		}
	}
	if n := e.Count(t, `SELECT count(*) FROM audit_logs WHERE action = 'payment.refund' AND entity_id = $1 AND new_values->>'rest' = '49.90'
		AND new_values->>'cause' = 'REFUND_CAUSE_ORGANIZER_CANCELLED'`, p1.GetId()); n != 1 {
		t.Fatalf("%d audit entries of the 50%% purchase's rest, want 1", n)
	}
	testkit.Eventually(t, 15*time.Second, "sagas done", func() bool {
		return e.Count(t, `SELECT count(*) FROM sagas WHERE status NOT IN ('completed', 'compensated')`) == 0
	})
	e.Drained(t, "booking-persister", topic.BookingEvents)
	e.AuditMoney(t, e.prefix)
}
