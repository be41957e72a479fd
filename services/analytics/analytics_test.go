package analytics_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	analyticsv1 "github.com/bookingrush/rush/gen/bookingrush/analytics/v1"
	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/services/analytics"
	"github.com/bookingrush/rush/services/notify"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/bookingref"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/mail/mailtest"
	"github.com/bookingrush/rush/services/testkit"
)

var topics = []string{analytics.TopicBookingEvents, analytics.TopicPaymentRefunded}

// Every change is counted once, however often Kafka delivers it; the
// reports answer the event's organizer and admins only.
func TestCountsOnceAndAuthorization(t *testing.T) {
	t.Parallel()
	e := start(t, "catalog,booking,relay,persister,analytics")
	ctx := context.Background()
	shop := e.SeedShop(t, testkit.ShopOptions{Users: 3}) // 10 seats at 49.90
	other := e.SeedShop(t, testkit.ShopOptions{Users: 1})

	sold := e.Reserve(t, shop, shop.Users[0], 2)
	if _, err := e.booking.ConfirmBooking(ctx, testkit.AsService(t, e.Mesh, "saga", &bookingv1.ConfirmBookingRequest{BookingId: sold.GetId()})); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	cancelled := e.Reserve(t, shop, shop.Users[1], 1)
	if _, err := e.booking.CancelBooking(ctx, testkit.As(t, e.Mesh, shop.Users[1], authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: cancelled.GetId()})); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	e.Reserve(t, shop, shop.Users[2], 1) // still held
	e.Reserve(t, other, other.Users[0], 3)

	// Half of the sale refunded (counted), and a refund of money that never
	// became a sale (not counted: it was never revenue).
	// A refund names only its booking: analytics learnt the booking's event
	// from booking.events (its own analytics_bookings), not from bookings.
	testkit.Eventually(t, 10*time.Second, "bookings seen on booking.events", func() bool {
		return e.Count(t, `SELECT count(*) FROM analytics_bookings WHERE booking_id = ANY($1::uuid[])`, []string{sold.GetId(), cancelled.GetId()}) == 2
	})
	refund := func(bookingID, amount string, cause paymentv1.RefundCause) {
		ev := &paymentv1.PaymentEvent{Id: uuid.NewString(), Type: analytics.TopicPaymentRefunded, RefundAmount: amount, RefundCause: cause,
			OccurredAt: timestamppb.Now(), Payment: &paymentv1.Payment{Id: uuid.NewString(), BookingId: bookingID, UserId: shop.Users[0], Amount: "99.80"}}
		raw, _ := proto.Marshal(ev)
		if err := e.Producer.Publish(ctx, analytics.TopicPaymentRefunded, []byte(ev.GetPayment().GetId()), raw, nil); err != nil {
			t.Fatal(err)
		}
	}
	refund(sold.GetId(), "49.90", paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED)
	refund(cancelled.GetId(), "49.90", paymentv1.RefundCause_REFUND_CAUSE_NOT_CONFIRMED)

	today := time.Now().UTC().Format(time.DateOnly)
	check := func(when string) {
		t.Helper()
		r := e.eventReport(t, shop.Organizer, authn.RoleOrganizer, shop.Event)
		s := r.GetSummary()
		if s.GetReservations() != 3 || s.GetConfirmedBookings() != 1 || s.GetCancelledBookings() != 1 || s.GetExpiredBookings() != 0 ||
			s.GetTicketsSold() != 2 || s.GetRevenue() != "49.90" || s.GetRefunded() != "49.90" || s.GetCurrency() != "USD" ||
			fmt.Sprintf("%.4f", s.GetConversionRate()) != "0.3333" {
			t.Fatalf("%s: summary %v", when, s)
		}
		if r.GetTotalSeats() != 10 || r.GetTo() != today || len(r.GetDaily()) != 31 || len(r.GetHourly()) != 31*24 {
			t.Fatalf("%s: report %s..%s, %d seats, %d days, %d hours", when, r.GetFrom(), r.GetTo(), r.GetTotalSeats(), len(r.GetDaily()), len(r.GetHourly()))
		}
		last := r.GetDaily()[30]
		if last.GetStart().AsTime().Format(time.DateOnly) != today || last.GetReservations() != 3 || last.GetConfirmedBookings() != 1 ||
			last.GetTicketsSold() != 2 || last.GetRevenue() != "99.80" {
			t.Fatalf("%s: today %v", when, last)
		}
		var hourSum int32
		for _, h := range r.GetHourly() {
			hourSum += h.GetReservations()
			if h.GetStart().AsTime().Minute() != 0 {
				t.Fatalf("hour bucket %v", h.GetStart().AsTime())
			}
		}
		if hourSum != 3 || r.GetDaily()[0].GetReservations() != 0 || r.GetDaily()[0].GetRevenue() != "0.00" {
			t.Fatalf("%s: %d reservations over the hours, first day %v", when, hourSum, r.GetDaily()[0])
		}
	}
	testkit.Eventually(t, 20*time.Second, "events counted", func() bool {
		return e.Count(t, `SELECT COALESCE(sum(reservations), 0) FROM analytics_event_daily`) == 4 &&
			e.Count(t, `SELECT count(*) FROM processed_events WHERE consumer = 'analytics' AND event_id LIKE 'payment:%'`) == 1
	})
	e.Drained(t, analytics.ConsumerGroup, topics...)
	check("first delivery")

	// Kafka delivers everything again: nothing changes.
	if n := e.Republish(t, analytics.TopicBookingEvents); n != 6 {
		t.Fatalf("republished %d booking events, want 6", n)
	}
	e.Republish(t, analytics.TopicPaymentRefunded)
	e.Drained(t, analytics.ConsumerGroup, topics...)
	check("redelivery")
	if n := e.Count(t, `SELECT COALESCE(sum(reservations), 0) FROM analytics_event_hourly`); n != 4 {
		t.Fatalf("hourly table holds %d reservations, want 4", n)
	}

	// Who may read: the organizer and admins; another organizer or a buyer
	// may not, and a hidden (draft) event is NOT_FOUND to them.
	if r := e.eventReport(t, uuid.NewString(), authn.RoleAdmin, shop.Event); r.GetSummary().GetReservations() != 3 {
		t.Fatalf("admin sees %v", r.GetSummary())
	}
	get := func(user, role, event string) error {
		_, err := e.analytics.GetEventAnalytics(ctx, testkit.As(t, e.Mesh, user, role, &analyticsv1.GetEventAnalyticsRequest{EventId: event}))
		return err
	}
	testkit.WantCode(t, get(other.Organizer, authn.RoleOrganizer, shop.Event), errs.Forbidden)
	testkit.WantCode(t, get(shop.Users[0], authn.RoleUser, shop.Event), errs.Forbidden)
	testkit.WantCode(t, get(shop.Organizer, authn.RoleOrganizer, uuid.NewString()), errs.NotFound)
	_, err := e.analytics.GetEventAnalytics(ctx, connect.NewRequest(&analyticsv1.GetEventAnalyticsRequest{EventId: shop.Event}))
	testkit.WantCode(t, err, errs.Unauthorized)
	var draft string
	if err := e.Pool.QueryRow(ctx, `INSERT INTO events (organizer_id, title, slug) VALUES ($1, 'Secret', 'secret-'||gen_random_uuid()) RETURNING id::text`,
		other.Organizer).Scan(&draft); err != nil {
		t.Fatal(err)
	}
	testkit.WantCode(t, get(shop.Organizer, authn.RoleOrganizer, draft), errs.NotFound)
	if r := e.eventReport(t, other.Organizer, authn.RoleOrganizer, draft); r.GetSummary().GetReservations() != 0 || r.GetSummary().GetRevenue() != "0.00" {
		t.Fatalf("empty draft report %v", r.GetSummary())
	}

	// Date ranges: a past window holds nothing; to before from is refused.
	res, err := e.analytics.GetEventAnalytics(ctx, testkit.As(t, e.Mesh, shop.Organizer, authn.RoleOrganizer,
		&analyticsv1.GetEventAnalyticsRequest{EventId: shop.Event, From: "2020-01-01", To: "2020-01-02"}))
	if err != nil || res.Msg.GetAnalytics().GetSummary().GetReservations() != 0 || len(res.Msg.GetAnalytics().GetDaily()) != 2 || len(res.Msg.GetAnalytics().GetHourly()) != 48 {
		t.Fatalf("past window: %v %v", res, err)
	}
	_, err = e.analytics.GetEventAnalytics(ctx, testkit.As(t, e.Mesh, shop.Organizer, authn.RoleOrganizer,
		&analyticsv1.GetEventAnalyticsRequest{EventId: shop.Event, From: "2020-01-02", To: "2020-01-01"}))
	testkit.WantCode(t, err, errs.Validation)
	// A year: every day, the hours of its last 31 days only, the totals of all of it.
	from := time.Now().UTC().AddDate(0, 0, -365).Format(time.DateOnly)
	res, err = e.analytics.GetEventAnalytics(ctx, testkit.As(t, e.Mesh, shop.Organizer, authn.RoleOrganizer,
		&analyticsv1.GetEventAnalyticsRequest{EventId: shop.Event, From: from}))
	if a := res.Msg.GetAnalytics(); err != nil || len(a.GetDaily()) != 366 || len(a.GetHourly()) != 31*24 ||
		a.GetHourly()[0].GetStart().AsTime().Format(time.DateOnly) != a.GetDaily()[335].GetStart().AsTime().Format(time.DateOnly) ||
		a.GetSummary().GetReservations() != e.eventReport(t, shop.Organizer, authn.RoleOrganizer, shop.Event).GetSummary().GetReservations() {
		t.Fatalf("a year's report: %v %v", res, err)
	}

	// Dashboards: an organizer's own events, every event for an admin.
	dash := func(user, role string) *analyticsv1.Dashboard {
		t.Helper()
		res, err := e.analytics.GetDashboard(ctx, testkit.As(t, e.Mesh, user, role, &analyticsv1.GetDashboardRequest{}))
		if err != nil {
			t.Fatalf("dashboard as %s: %v", role, err)
		}
		return res.Msg.GetDashboard()
	}
	own := dash(shop.Organizer, authn.RoleOrganizer)
	if own.GetSummary().GetReservations() != 3 || own.GetSummary().GetRevenue() != "49.90" || len(own.GetTopEvents()) != 1 ||
		own.GetTopEvents()[0].GetEventId() != shop.Event || own.GetTopEvents()[0].GetTicketsSold() != 2 || own.GetTopEvents()[0].GetRevenue() != "49.90" ||
		own.GetTopEvents()[0].GetTitle() != "Rush" || len(own.GetDaily()) != 31 {
		t.Fatalf("organizer dashboard %v", own)
	}
	if theirs := dash(other.Organizer, authn.RoleOrganizer); theirs.GetSummary().GetReservations() != 1 || len(theirs.GetTopEvents()) != 1 ||
		theirs.GetTopEvents()[0].GetEventId() != other.Event {
		t.Fatalf("other organizer's dashboard %v", theirs)
	}
	if all := dash(uuid.NewString(), authn.RoleAdmin); all.GetSummary().GetReservations() != 4 || len(all.GetTopEvents()) != 2 ||
		all.GetTopEvents()[0].GetEventId() != shop.Event {
		t.Fatalf("admin dashboard %v", all)
	}
	// An organizer who runs nothing sees nothing of anyone's.
	if none := dash(uuid.NewString(), authn.RoleOrganizer); none.GetSummary().GetReservations() != 0 || none.GetSummary().GetRevenue() != "0.00" ||
		len(none.GetTopEvents()) != 0 {
		t.Fatalf("dashboard of an organizer without events %v", none)
	}
	_, err = e.analytics.GetDashboard(ctx, testkit.As(t, e.Mesh, shop.Users[0], authn.RoleUser, &analyticsv1.GetDashboardRequest{}))
	testkit.WantCode(t, err, errs.Forbidden)
}

// The catalog answers who runs an event: when it cannot be reached, the
// reports that need it answer a fast SERVICE_UNAVAILABLE naming it, and an
// admin's dashboard of no sales, which needs no catalog, still answers.
func TestCatalogUnreachable(t *testing.T) {
	t.Parallel()
	e := start(t, "analytics", "-peer.catalog=127.0.0.1:1")
	ctx := context.Background()
	unavailable := func(what string, err error) {
		t.Helper()
		testkit.WantCode(t, err, errs.ServiceUnavailable)
		if !strings.Contains(err.Error(), "catalog") {
			t.Fatalf("%s: %v does not name the catalog", what, err)
		}
	}
	began := time.Now()
	_, err := e.analytics.GetEventAnalytics(ctx, testkit.As(t, e.Mesh, uuid.NewString(), authn.RoleOrganizer,
		&analyticsv1.GetEventAnalyticsRequest{EventId: uuid.NewString()}))
	unavailable("event report", err)
	_, err = e.analytics.GetDashboard(ctx, testkit.As(t, e.Mesh, uuid.NewString(), authn.RoleOrganizer, &analyticsv1.GetDashboardRequest{}))
	unavailable("organizer dashboard", err)
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("the answers took %v", d)
	}
	if _, err := e.analytics.GetDashboard(ctx, testkit.As(t, e.Mesh, uuid.NewString(), authn.RoleAdmin, &analyticsv1.GetDashboardRequest{})); err != nil {
		t.Fatalf("admin dashboard: %v", err)
	}
}

// The money path end to end: reserve, pay sim_ok, the saga confirms and
// asks notify for the e-ticket; a declined payment leaves the hold to
// expire and the buyer is told. Analytics counts each once.
func TestPaidAndDeclined(t *testing.T) {
	t.Parallel()
	smtp := mailtest.NewServer(t)
	secret := "analytics-test-ticket-secret-0123"
	// The confirmation mail carries the gate's tickets (which needs the
	// catalog's show dates).
	e := start(t, "auth,catalog,booking,relay,persister,payment,saga,notify,analytics,gate",
		"-smtp.addr="+smtp.Addr, "-notify.ticket-secret="+secret, "-notify.poll=100ms",
		"-booking.hold-ttl=5s", "-saga.retry-backoff=20ms", "-payment.outbox-poll=50ms")
	ctx := context.Background()
	shop := e.SeedShop(t, testkit.ShopOptions{Users: 2})
	payer, decliner := shop.Users[0], shop.Users[1]
	email := func(user string) string {
		var s string
		if err := e.Pool.QueryRow(ctx, `SELECT email FROM users WHERE id = $1`, user).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	pay := func(user, booking, method string) {
		if _, err := e.payment.CreatePayment(ctx, testkit.As(t, e.Mesh, user, authn.RoleUser,
			&paymentv1.CreatePaymentRequest{BookingId: booking, PaymentMethod: method})); err != nil {
			t.Fatalf("pay %s: %v", method, err)
		}
	}
	paid := e.Reserve(t, shop, payer, 2)
	pay(payer, paid.GetId(), "sim_ok")
	declined := e.Reserve(t, shop, decliner, 1)
	pay(decliner, declined.GetId(), "sim_declined")

	m := smtp.WaitFor(t, email(payer), 20*time.Second)
	if !strings.Contains(m.Text, bookingref.Of(paid.GetId())) || !strings.Contains(m.Text, notify.TicketCode([]byte(secret), paid.GetId())) {
		t.Fatalf("confirmation mail: %q\n%s", m.Subject, m.Text)
	}
	// The decliner hears of the decline, then of the expiry, and that
	// nothing was charged.
	var declinedMail, expiry string
	testkit.Eventually(t, 20*time.Second, "decline and expiry mails", func() bool {
		for _, x := range smtp.To(email(decliner)) {
			switch {
			case strings.Contains(x.Subject, "did not go through"):
				declinedMail = x.Text
			case strings.Contains(x.Subject, "expired"):
				expiry = x.Text
			}
		}
		return declinedMail != "" && expiry != ""
	})
	if ref := bookingref.Of(declined.GetId()); !strings.Contains(expiry, ref) || !strings.Contains(expiry, "Nothing was charged") ||
		!strings.Contains(declinedMail, ref) || !strings.Contains(declinedMail, "declined") {
		t.Fatalf("decline mail:\n%s\nexpiry mail:\n%s", declinedMail, expiry)
	}

	want := func(when string) {
		t.Helper()
		s := e.eventReport(t, shop.Organizer, authn.RoleOrganizer, shop.Event).GetSummary()
		if s.GetReservations() != 2 || s.GetConfirmedBookings() != 1 || s.GetExpiredBookings() != 1 || s.GetTicketsSold() != 2 ||
			s.GetRevenue() != "99.80" || s.GetRefunded() != "0.00" || s.GetConversionRate() != 0.5 {
			t.Fatalf("%s: %v", when, s)
		}
	}
	testkit.Eventually(t, 20*time.Second, "expiry counted", func() bool {
		return e.Count(t, `SELECT COALESCE(sum(expirations), 0) FROM analytics_event_daily`) == 1
	})
	e.Drained(t, analytics.ConsumerGroup, topics...)
	want("first delivery")
	e.Republish(t, analytics.TopicBookingEvents)
	e.Drained(t, analytics.ConsumerGroup, topics...)
	want("redelivery")
	time.Sleep(300 * time.Millisecond)
	if n, k := len(smtp.To(email(payer))), len(smtp.To(email(decliner))); n != 1 || k != 2 {
		t.Fatalf("payer got %d mails, decliner %d; want one and two (decline, expiry)", n, k)
	}
}

// TestRefundOfAPaidHoldTakesBackNothing: a buyer's refund of a paid hold
// that was never confirmed (no saga runs here, as when the saga lags) takes
// back no revenue: none was counted. Before, it was subtracted all the same
// and the organizer's net revenue went negative.
func TestRefundOfAPaidHoldTakesBackNothing(t *testing.T) {
	t.Parallel()
	e := start(t, "catalog,booking,relay,persister,payment,analytics", "-payment.outbox-poll=50ms")
	ctx := context.Background()
	shop := e.SeedShop(t, testkit.ShopOptions{Users: 1})
	u := shop.Users[0]
	b := e.Reserve(t, shop, u, 2)
	res, err := e.payment.CreatePayment(ctx, testkit.As(t, e.Mesh, u, authn.RoleUser, &paymentv1.CreatePaymentRequest{BookingId: b.GetId(), PaymentMethod: "sim_ok"}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetPayment().GetId()
	testkit.Eventually(t, 10*time.Second, "payment succeeded", func() bool {
		return e.Count(t, `SELECT count(*) FROM payments WHERE id = $1 AND status = 'succeeded'`, id) == 1
	})
	if _, err := e.payment.RefundPayment(ctx, testkit.As(t, e.Mesh, u, authn.RoleUser, &paymentv1.RefundPaymentRequest{PaymentId: id})); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 15*time.Second, "the refund seen by analytics", func() bool {
		return e.Count(t, `SELECT count(*) FROM analytics_bookings WHERE booking_id = $1 AND refunded_cents = 9980`, b.GetId()) == 1
	})
	e.Drained(t, analytics.ConsumerGroup, topics...)
	s := e.eventReport(t, shop.Organizer, authn.RoleOrganizer, shop.Event).GetSummary()
	if s.GetRevenue() != "0.00" || s.GetRefunded() != "0.00" || s.GetConfirmedBookings() != 0 {
		t.Fatalf("summary after the refund of a hold never sold: confirmed %d, revenue %s, refunded %s; want 0, 0.00, 0.00",
			s.GetConfirmedBookings(), s.GetRevenue(), s.GetRefunded())
	}
}

// TestRefundedTicketsAreNotSold: the seats of a confirmed booking that was
// cancelled and refunded leave the tickets sold, once however often Kafka
// delivers; sold again, they are counted once more, so the tickets sold
// never pass the capacity. A hold cancelled before it was confirmed gives
// nothing back: it was never sold.
func TestRefundedTicketsAreNotSold(t *testing.T) {
	t.Parallel()
	e := start(t, "catalog,booking,relay,persister,analytics")
	ctx := context.Background()
	shop := e.SeedShop(t, testkit.ShopOptions{Seats: 5, Users: 3})
	confirm := func(b *bookingv1.Booking) {
		t.Helper()
		if _, err := e.booking.ConfirmBooking(ctx, testkit.AsService(t, e.Mesh, "saga", &bookingv1.ConfirmBookingRequest{BookingId: b.GetId()})); err != nil {
			t.Fatalf("confirm: %v", err)
		}
	}
	refunded := e.Reserve(t, shop, shop.Users[0], 4)
	confirm(refunded)
	if _, err := e.booking.CancelBooking(ctx, testkit.AsService(t, e.Mesh, "saga", &bookingv1.CancelBookingRequest{BookingId: refunded.GetId()})); err != nil {
		t.Fatalf("cancel the confirmed booking: %v", err)
	}
	resold := e.Reserve(t, shop, shop.Users[1], 4)
	confirm(resold)
	dropped := e.Reserve(t, shop, shop.Users[2], 1)
	if _, err := e.booking.CancelBooking(ctx, testkit.As(t, e.Mesh, shop.Users[2], authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: dropped.GetId()})); err != nil {
		t.Fatalf("cancel the hold: %v", err)
	}

	check := func(when string) {
		t.Helper()
		r := e.eventReport(t, shop.Organizer, authn.RoleOrganizer, shop.Event)
		if s := r.GetSummary(); s.GetConfirmedBookings() != 2 || s.GetCancelledBookings() != 2 || s.GetTicketsSold() != 4 || s.GetRevenue() != "399.20" {
			t.Fatalf("%s: summary %v; want 2 confirmed, 2 cancelled, 4 tickets sold (of 5 seats), revenue 399.20 (no refund event here)", when, s)
		}
		// A day's point counts what was sold that day: both sales.
		if last := r.GetDaily()[len(r.GetDaily())-1]; last.GetTicketsSold() != 8 {
			t.Fatalf("%s: today %v, want the 8 seats sold today", when, last)
		}
		res, err := e.analytics.GetDashboard(ctx, testkit.As(t, e.Mesh, shop.Organizer, authn.RoleOrganizer, &analyticsv1.GetDashboardRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		if d := res.Msg.GetDashboard(); d.GetSummary().GetTicketsSold() != 4 || len(d.GetTopEvents()) != 1 || d.GetTopEvents()[0].GetTicketsSold() != 4 {
			t.Fatalf("%s: dashboard %v", when, d)
		}
	}
	testkit.Eventually(t, 20*time.Second, "events counted", func() bool {
		return e.Count(t, `SELECT COALESCE(sum(cancellations), 0) FROM analytics_event_daily`) == 2
	})
	e.Drained(t, analytics.ConsumerGroup, topics...)
	check("first delivery")
	e.Republish(t, analytics.TopicBookingEvents)
	e.Drained(t, analytics.ConsumerGroup, topics...)
	check("redelivery")
}
