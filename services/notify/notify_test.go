package notify_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	notifyv1 "github.com/bookingrush/rush/gen/bookingrush/notify/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/services/notify"
	"github.com/bookingrush/rush/services/payment"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/bookingref"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/mail/mailtest"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/platform/showtime"
	"github.com/bookingrush/rush/services/testkit"
)

// The confirmation comes from the saga's SendNotification (confirmed on
// booking.events sends nothing), the cancellation from booking.events, the
// refund from payment.refunded; each once, however often it is asked for.
func TestBookingMails(t *testing.T) {
	t.Parallel()
	e := start(t, mailtest.NewServer(t))
	ctx := context.Background()
	shop := e.SeedShop(t, testkit.ShopOptions{Users: 3})
	buyer, canceller, stranger := shop.Users[0], shop.Users[1], shop.Users[2]
	buyerMail, cancellerMail := e.email(t, buyer), e.email(t, canceller)

	// Reserve, then confirm as the saga's step 1 does (the system).
	b := e.Reserve(t, shop, buyer, 2)
	e.confirm(t, b)
	// Step 2, retried as a saga would after a timeout: one notification.
	first, err := e.sendConfirmation(t, b)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	again, err := e.sendConfirmation(t, b)
	if err != nil {
		t.Fatalf("send again: %v", err)
	}
	if first.GetId() == "" || again.GetId() != first.GetId() || first.GetTemplate() != notifyv1.Template_TEMPLATE_BOOKING_CONFIRMED {
		t.Fatalf("repeated send recorded %v and %v", first, again)
	}
	m := e.smtp.WaitFor(t, buyerMail, 20*time.Second)
	ref, code := bookingref.Of(b.GetId()), notify.TicketCode([]byte(ticketSecret), b.GetId())
	if !strings.Contains(m.Subject, ref) || !strings.Contains(m.Text, ref) || !strings.Contains(m.Text, code) ||
		!strings.Contains(m.HTML, code) || !strings.Contains(m.Text, "Rush") || !strings.Contains(m.Text, b.GetTotalAmount()) {
		t.Fatalf("confirmation lacks reference %s or e-ticket %s: %q\n%s", ref, code, m.Subject, m.Text)
	}
	// It links to the booking's page in the web app, where the tickets are too.
	if page := "/bookings/" + b.GetId(); !strings.Contains(m.Text, page) || !strings.Contains(m.HTML, `href="http://localhost:3000`+page+`"`) {
		t.Fatalf("confirmation does not link to the booking's page %s:\n%s\n%s", page, m.Text, m.HTML)
	}
	// Each seat's ticket is in it as an inline QR code.
	if !strings.Contains(m.HTML, `src="cid:ticket-1@bookingrush"`) || !strings.Contains(string(m.Raw), "Content-Id: <ticket-1@bookingrush>") {
		t.Fatalf("confirmation without its tickets' QR codes:\n%s", m.HTML)
	}
	if len(code) != 14 || code != notify.TicketCode([]byte(ticketSecret), b.GetId()) || code == notify.TicketCode([]byte(ticketSecret), uuid.NewString()) {
		t.Fatalf("e-ticket code %q is not short, deterministic and per booking", code)
	}

	// A held booking cancelled by its buyer: the cancellation mail.
	c := e.Reserve(t, shop, canceller, 1)
	if _, err := e.booking.CancelBooking(ctx, testkit.As(t, e.Mesh, canceller, authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: c.GetId()})); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	cm := e.smtp.WaitFor(t, cancellerMail, 20*time.Second)
	if !strings.Contains(cm.Subject, "cancelled") || !strings.Contains(cm.Text, bookingref.Of(c.GetId())) || !strings.Contains(cm.Text, "Rush") ||
		!strings.Contains(cm.Text, "its 1 seat was released") || !strings.Contains(cm.HTML, "its 1 seat was released") {
		t.Fatalf("cancellation mail: %q\n%s", cm.Subject, cm.Text)
	}

	// A refund, delivered twice as the outbox relay may: one mail. (Money
	// goes back long after the persister recorded the booking, whose event
	// the mail names.)
	testkit.Eventually(t, 10*time.Second, "booking persisted", func() bool {
		return e.Count(t, `SELECT count(*) FROM bookings WHERE id = $1 AND status = 'confirmed'`, b.GetId()) == 1
	})
	ev := &paymentv1.PaymentEvent{
		Id: uuid.NewString(), Type: notify.TopicPaymentRefunded, RefundAmount: "49.90",
		RefundCause: paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED, OccurredAt: timestamppb.Now(),
		Payment: &paymentv1.Payment{Id: uuid.NewString(), BookingId: b.GetId(), UserId: buyer, Amount: b.GetTotalAmount(),
			Currency: "USD", Status: paymentv1.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED, RefundedAmount: "49.90"},
	}
	raw, _ := proto.Marshal(ev)
	for range 2 {
		if err := e.Producer.Publish(ctx, notify.TopicPaymentRefunded, []byte(ev.GetPayment().GetId()), raw, nil); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 20*time.Second, "refund mail", func() bool { return len(e.smtp.To(buyerMail)) == 2 })
	rm := e.smtp.To(buyerMail)[1]
	if !strings.Contains(rm.Subject, "49.90") || !strings.Contains(rm.Text, ref) || !strings.Contains(rm.Text, "Rush") {
		t.Fatalf("refund mail: %q\n%s", rm.Subject, rm.Text)
	}

	// Everything consumed twice over: still one mail per kind.
	e.Republish(t, notify.TopicBookingEvents)
	e.Drained(t, notify.ConsumerGroup, notify.TopicBookingEvents, notify.TopicPaymentRefunded)
	time.Sleep(300 * time.Millisecond) // a duplicate would be mailed within a poll
	if n, k := len(e.smtp.To(buyerMail)), len(e.smtp.To(cancellerMail)); n != 2 || k != 1 {
		t.Fatalf("buyer got %d mails (want confirmation + refund), canceller %d", n, k)
	}
	// (A confirmation may take a second attempt: it waits for the gate's
	// tickets, issued from the same booking event.)
	if n := e.Count(t, `SELECT count(*) FROM notifications WHERE status = 'sent' AND (attempts = 1 OR kind = 'booking_confirmed')`); n != 3 {
		t.Fatalf("%d notifications sent, want 3", n)
	}

	// GET /notifications: own rows only, newest first, paged.
	list := func(user string, page, per int32) *notifyv1.ListNotificationsResponse {
		t.Helper()
		res, err := e.notify.ListNotifications(ctx, testkit.As(t, e.Mesh, user, authn.RoleUser, &notifyv1.ListNotificationsRequest{Page: page, PerPage: per}))
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		return res.Msg
	}
	own := list(buyer, 0, 0)
	if len(own.GetNotifications()) != 2 || own.GetMeta().GetTotal() != 2 || own.GetMeta().GetPage() != 1 || own.GetMeta().GetPerPage() != 20 ||
		own.GetNotifications()[0].GetTemplate() != notifyv1.Template_TEMPLATE_REFUND_ISSUED ||
		own.GetNotifications()[1].GetTemplate() != notifyv1.Template_TEMPLATE_BOOKING_CONFIRMED {
		t.Fatalf("buyer's notifications: %v", own)
	}
	for _, n := range own.GetNotifications() {
		if n.GetUserId() != buyer || n.GetRecipient() != buyerMail || n.GetStatus() != notifyv1.NotificationStatus_NOTIFICATION_STATUS_SENT ||
			n.GetAttempts() < 1 || n.GetSentAt() == nil {
			t.Fatalf("notification %v", n)
		}
	}
	if p2 := list(buyer, 2, 1); len(p2.GetNotifications()) != 1 || p2.GetMeta().GetTotal() != 2 ||
		p2.GetNotifications()[0].GetId() != first.GetId() {
		t.Fatalf("page 2 of 1: %v", p2)
	}
	if other := list(canceller, 0, 0); len(other.GetNotifications()) != 1 || other.GetNotifications()[0].GetUserId() != canceller {
		t.Fatalf("canceller sees %v", other)
	}
	if none := list(stranger, 0, 0); len(none.GetNotifications()) != 0 || none.GetMeta().GetTotal() != 0 {
		t.Fatalf("stranger sees %v", none)
	}
	_, err = e.notify.ListNotifications(ctx, connect.NewRequest(&notifyv1.ListNotificationsRequest{}))
	testkit.WantCode(t, err, errs.Unauthorized)

	// SendNotification is for services: a user (even an admin) may not mail.
	req := &notifyv1.SendNotificationRequest{Template: notifyv1.Template_TEMPLATE_WELCOME, Recipient: "x@example.com", IdempotencyKey: "welcome-" + uuid.NewString()}
	_, err = e.notify.SendNotification(ctx, testkit.As(t, e.Mesh, buyer, authn.RoleUser, req))
	testkit.WantCode(t, err, errs.Forbidden)
	_, err = e.notify.SendNotification(ctx, testkit.As(t, e.Mesh, buyer, authn.RoleAdmin, req))
	testkit.WantCode(t, err, errs.Forbidden)
	// A confirmation without its booking is refused, and nothing recorded.
	bad := &notifyv1.SendNotificationRequest{Template: notifyv1.Template_TEMPLATE_BOOKING_CONFIRMED, Recipient: "x@example.com", IdempotencyKey: "bad-" + uuid.NewString()}
	_, err = e.notify.SendNotification(ctx, testkit.AsService(t, e.Mesh, "saga", bad))
	testkit.WantCode(t, err, errs.Validation)
	if n := e.Count(t, `SELECT count(*) FROM notifications WHERE idempotency_key = $1`, bad.GetIdempotencyKey()); n != 0 {
		t.Fatalf("refused request recorded %d rows", n)
	}
}

// An unpaid hold expires: the buyer is told once, even when booking.events
// delivers the expiry again.
func TestExpiryMail(t *testing.T) {
	t.Parallel()
	e := start(t, mailtest.NewServer(t), "-booking.hold-ttl=1s")
	shop := e.SeedShop(t, testkit.ShopOptions{Users: 1})
	user := shop.Users[0]
	// The show's date is written in the venue's time zone.
	var showDate time.Time
	if err := e.Pool.QueryRow(context.Background(), `UPDATE events SET time_zone = 'Europe/Paris' WHERE id = $1
		RETURNING (SELECT show_date FROM shows WHERE id = $2)`, shop.Event, shop.Show).Scan(&showDate); err != nil {
		t.Fatal(err)
	}
	b := e.Reserve(t, shop, user, 1)
	m := e.smtp.WaitFor(t, e.email(t, user), 20*time.Second)
	if !strings.Contains(m.Subject, "expired") || !strings.Contains(m.Text, bookingref.Of(b.GetId())) || !strings.Contains(m.HTML, bookingref.Of(b.GetId())) {
		t.Fatalf("expiry mail: %q\n%s", m.Subject, m.Text)
	}
	// Its words are the buyer's: a reservation (not a "hold"), "1 seat".
	if strings.Contains(strings.ToLower(m.Subject+m.Text+m.HTML), "hold") || !strings.Contains(m.Text, "its 1 seat was released") ||
		!strings.Contains(m.HTML, "its 1 seat was released") {
		t.Fatalf("expiry mail: %q\n%s", m.Subject, m.Text)
	}
	if when := showtime.Format(showDate, "Europe/Paris"); !strings.Contains(m.Text, " on "+when) || !strings.Contains(when, "CE") {
		t.Fatalf("expiry mail does not say the show's date %q in the venue's zone:\n%s", when, m.Text)
	}
	if n := e.Republish(t, notify.TopicBookingEvents); n < 2 {
		t.Fatalf("republished %d booking events, want reserved and expired", n)
	}
	e.Drained(t, notify.ConsumerGroup, notify.TopicBookingEvents)
	time.Sleep(300 * time.Millisecond)
	if n := len(e.smtp.Messages()); n != 1 {
		t.Fatalf("%d mails after a redelivery, want 1", n)
	}
	if n := e.Count(t, `SELECT count(*) FROM notifications WHERE kind = 'booking_expired' AND user_id = $1`, user); n != 1 {
		t.Fatalf("%d expiry notifications", n)
	}
}

// The relay refuses for a while: a message is retried with backoff and
// marked failed after notify.max-attempts; the next one goes out on its
// second attempt. A sent reset mail keeps no token.
func TestSMTPRetries(t *testing.T) {
	t.Parallel()
	e := start(t, mailtest.NewServer(t, mailtest.WithTemporaryFailures(3)), "-notify.max-attempts=2")
	ctx := context.Background()
	type row struct {
		status, lastErr, body, data string
		attempts                    int
	}
	read := func(id string) row {
		var r row
		if err := e.Pool.QueryRow(ctx, `SELECT status, COALESCE(last_error, ''), body, data::text, attempts FROM notifications WHERE id = $1`, id).
			Scan(&r.status, &r.lastErr, &r.body, &r.data, &r.attempts); err != nil {
			t.Fatal(err)
		}
		return r
	}
	send := func(tpl notifyv1.Template, to string, data map[string]string) *notifyv1.Notification {
		t.Helper()
		res, err := e.notify.SendNotification(ctx, testkit.AsService(t, e.Mesh, "auth", &notifyv1.SendNotificationRequest{
			Template: tpl, Recipient: to, Data: data, IdempotencyKey: "test-" + uuid.NewString(),
		}))
		if err != nil {
			t.Fatal(err)
		}
		if res.Msg.GetNotification().GetStatus() != notifyv1.NotificationStatus_NOTIFICATION_STATUS_PENDING {
			t.Fatalf("new notification %v", res.Msg.GetNotification())
		}
		return res.Msg.GetNotification()
	}

	lost := send(notifyv1.Template_TEMPLATE_WELCOME, "lost@example.com", nil)
	testkit.Eventually(t, 20*time.Second, "first mail given up", func() bool { return read(lost.GetId()).status != "pending" })
	if r := read(lost.GetId()); r.status != "failed" || r.attempts != 2 || !strings.Contains(r.lastErr, "451") {
		t.Fatalf("after the relay refused twice: %+v", r)
	}

	link := "https://tickets.example.com/reset?token=secret-token-0123456789"
	reset := send(notifyv1.Template_TEMPLATE_PASSWORD_RESET, "reset@example.com", map[string]string{"reset_url": link, "name": "Ana"})
	m := e.smtp.WaitFor(t, "reset@example.com", 20*time.Second)
	if !strings.Contains(m.Text, link) || !strings.Contains(m.Subject, "Reset") {
		t.Fatalf("reset mail: %q\n%s", m.Subject, m.Text)
	}
	testkit.Eventually(t, 5*time.Second, "reset recorded as sent", func() bool { return read(reset.GetId()).status == "sent" })
	r := read(reset.GetId())
	if r.attempts != 2 || r.lastErr != "" || strings.Contains(r.body, "secret-token") || strings.Contains(r.data, "secret-token") {
		t.Fatalf("reset after one temporary failure: %+v", r)
	}
	if n := len(e.smtp.To("lost@example.com")); n != 0 {
		t.Fatalf("the failed mail arrived %d times", n)
	}
}

// A purchase refunded before its confirmation went out (the first retry
// waits for the gate's tickets, which come revoked): the buyer is not told
// "confirmed" after the refund, and the row says why nothing was sent.
func TestConfirmationOfARefundedBooking(t *testing.T) {
	t.Parallel()
	e := start(t, mailtest.NewServer(t))
	ctx := context.Background()
	shop := e.SeedShop(t, testkit.ShopOptions{Users: 1})
	buyer := shop.Users[0]
	b := e.Reserve(t, shop, buyer, 2)
	e.confirm(t, b)
	// The payment service refunds it (the system's cancel of a purchase).
	if _, err := e.booking.CancelBooking(ctx, testkit.AsService(t, e.Mesh, "payment", &bookingv1.CancelBookingRequest{BookingId: b.GetId()})); err != nil {
		t.Fatalf("refund: %v", err)
	}
	testkit.Eventually(t, 10*time.Second, "tickets revoked", func() bool {
		return e.Count(t, `SELECT count(*) FROM gate_tickets WHERE booking_id = $1 AND status = 'revoked'`, b.GetId()) == 2
	})
	n, err := e.sendConfirmation(t, b)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	var status, lastErr string
	testkit.Eventually(t, 20*time.Second, "confirmation decided", func() bool {
		if err := e.Pool.QueryRow(ctx, `SELECT status, COALESCE(last_error, '') FROM notifications WHERE id = $1`, n.GetId()).Scan(&status, &lastErr); err != nil {
			t.Fatal(err)
		}
		return status != "pending"
	})
	if status != "withdrawn" || !strings.Contains(lastErr, "refunded") {
		t.Fatalf("confirmation of a refunded booking: status %s, %q", status, lastErr)
	}
	time.Sleep(300 * time.Millisecond)
	if m := e.smtp.To(e.email(t, buyer)); len(m) != 0 {
		t.Fatalf("the buyer of a refunded booking was mailed %q", m[0].Subject)
	}
	res, err := e.notify.ListNotifications(ctx, testkit.As(t, e.Mesh, buyer, authn.RoleUser, &notifyv1.ListNotificationsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if ns := res.Msg.GetNotifications(); len(ns) != 1 || ns[0].GetStatus() != notifyv1.NotificationStatus_NOTIFICATION_STATUS_WITHDRAWN || ns[0].GetSentAt() != nil {
		t.Fatalf("the buyer's notifications: %v", ns)
	}
}

// The gate does not answer through every attempt: the confirmation goes
// without its QR codes, and says where they are instead of promising them.
func TestConfirmationWithoutTheGate(t *testing.T) {
	t.Parallel()
	e := start(t, mailtest.NewServer(t), "-target=auth,catalog,booking,relay,persister,payment,notify", "-notify.max-attempts=2")
	shop := e.SeedShop(t, testkit.ShopOptions{Users: 1})
	b := e.Reserve(t, shop, shop.Users[0], 1)
	e.confirm(t, b)
	if _, err := e.sendConfirmation(t, b); err != nil {
		t.Fatal(err)
	}
	m := e.smtp.WaitFor(t, e.email(t, shop.Users[0]), 20*time.Second)
	says := "Your tickets could not be attached to this e-mail: they are on your booking's page, http://localhost:3000/bookings/" + b.GetId()
	if !strings.Contains(m.Text, says) || !strings.Contains(m.HTML, "could not be attached") || strings.Contains(m.HTML, "cid:ticket-") {
		t.Fatalf("confirmation without its tickets:\n%s\n%s", m.Text, m.HTML)
	}
}

// TestMailsOfAForgottenAccount: once an account is forgotten (deleted), a
// mail asked for it afterwards (a message already in flight, a saga's step)
// is neither stored nor sent, and mails racing the erasure are either
// erased with it or never stored: nothing of the person is left.
func TestMailsOfAForgottenAccount(t *testing.T) {
	t.Parallel()
	e := start(t, mailtest.NewServer(t))
	ctx := context.Background()
	user := uuid.NewString()
	send := func() (*notifyv1.Notification, error) {
		res, err := e.notify.SendNotification(ctx, testkit.AsService(t, e.Mesh, "saga", &notifyv1.SendNotificationRequest{
			Template: notifyv1.Template_TEMPLATE_WELCOME, Recipient: "gone@example.com", UserId: user, IdempotencyKey: "test-" + uuid.NewString(),
		}))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetNotification(), nil
	}
	if n, err := send(); err != nil || n.GetId() == "" {
		t.Fatalf("a mail before the deletion: %v %v", n, err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := send(); err != nil {
				t.Errorf("a mail racing the deletion: %v", err)
			}
		})
	}
	res, err := e.notify.ForgetUser(ctx, testkit.AsService(t, e.Mesh, "auth", &notifyv1.ForgetUserRequest{UserId: user}))
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n, err := send(); err != nil || n.GetId() != "" {
		t.Fatalf("a mail after the deletion: %v %v, want nothing stored", n, err)
	}
	var left int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE user_id = $1`, user).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d notifications of the forgotten account left (%d erased): %v", left, res.Msg.GetErased(), err)
	}
}

// TestMailsOfAnAccountWhoseDeletionWasUndone: auth tells notify to forget a
// user inside the deletion's transaction, before it commits. When that
// commit fails, the account lives on, forgotten by notify: every mail of
// it (a password reset) was dropped for good. A mail for a user forgotten
// over a minute ago whose account still exists is sent again; one
// forgotten a moment ago (a deletion maybe still committing) is not.
func TestMailsOfAnAccountWhoseDeletionWasUndone(t *testing.T) {
	t.Parallel()
	e := start(t, mailtest.NewServer(t))
	ctx := context.Background()
	user := e.SeedShop(t, testkit.ShopOptions{Users: 1}).Users[0]
	send := func() *notifyv1.Notification {
		t.Helper()
		res, err := e.notify.SendNotification(ctx, testkit.AsService(t, e.Mesh, "auth", &notifyv1.SendNotificationRequest{
			Template: notifyv1.Template_TEMPLATE_WELCOME, Recipient: e.email(t, user), UserId: user, IdempotencyKey: "test-" + uuid.NewString(),
		}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetNotification()
	}
	if _, err := e.notify.ForgetUser(ctx, testkit.AsService(t, e.Mesh, "auth", &notifyv1.ForgetUserRequest{UserId: user})); err != nil {
		t.Fatal(err)
	}
	if n := send(); n.GetId() != "" {
		t.Fatalf("a mail a moment after the forgetting (the deletion may still commit): %v", n)
	}
	if _, err := e.Pool.Exec(ctx, `UPDATE notify_forgotten_users SET forgotten_at = now() - interval '2 minutes' WHERE user_id = $1`, user); err != nil {
		t.Fatal(err)
	}
	if n := send(); n.GetId() == "" {
		t.Fatal("a mail of an account whose deletion never committed is still dropped")
	}
	e.smtp.WaitFor(t, e.email(t, user), 20*time.Second)
}

// TestRefundOfTheRestIsMailed: a buyer cancelled a purchase for nothing
// back (the policy's 0%), then the organizer cancelled the event and the
// rest came back (payment.refunded with rest): the buyer gets a mail for
// each refund, once each however often Kafka delivers them. Before the rest
// had a key of its own, its mail was taken for the first refund's.
func TestRefundOfTheRestIsMailed(t *testing.T) {
	t.Parallel()
	e := start(t, mailtest.NewServer(t))
	ctx := context.Background()
	shop := e.SeedShop(t, testkit.ShopOptions{Users: 1})
	buyer := shop.Users[0]
	b := e.Reserve(t, shop, buyer, 2)
	e.confirm(t, b)
	testkit.Eventually(t, 10*time.Second, "booking persisted", func() bool {
		return e.Count(t, `SELECT count(*) FROM bookings WHERE id = $1 AND status = 'confirmed'`, b.GetId()) == 1
	})
	pay := uuid.NewString()
	publish := func(amount, refunded string, cause paymentv1.RefundCause, rest bool) {
		t.Helper()
		ev := &paymentv1.PaymentEvent{
			Id: uuid.NewString(), Type: notify.TopicPaymentRefunded, RefundAmount: amount, RefundCause: cause, Rest: rest, OccurredAt: timestamppb.Now(),
			Payment: &paymentv1.Payment{Id: pay, BookingId: b.GetId(), UserId: buyer, Amount: b.GetTotalAmount(), Currency: "USD", RefundedAmount: refunded},
		}
		raw, _ := proto.Marshal(ev)
		for range 2 {
			if err := e.Producer.Publish(ctx, notify.TopicPaymentRefunded, []byte(pay), raw, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish("0.00", "0.00", paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED, false)
	publish("99.80", "99.80", paymentv1.RefundCause_REFUND_CAUSE_ORGANIZER_CANCELLED, true)
	mail := e.email(t, buyer)
	testkit.Eventually(t, 20*time.Second, "both refund mails", func() bool { return len(e.smtp.To(mail)) == 2 })
	e.Drained(t, notify.ConsumerGroup, notify.TopicPaymentRefunded)
	time.Sleep(300 * time.Millisecond) // a duplicate would be mailed within a poll
	got := e.smtp.To(mail)
	if len(got) != 2 || !strings.Contains(got[0].Text, "no money is returned") || !strings.Contains(got[1].Subject, "99.80") {
		t.Fatalf("%d mails: %q then %q; want the 0%% cancellation's, then the rest's 99.80", len(got), got[0].Subject, got[len(got)-1].Subject)
	}
}

// TestMailsSayWhatHappened: every mail says in plain words what became of
// the buyer's seats and money. Before: "1 seat(s)"; a refund support paid
// by bank transfer "made again" (to the card that had refused it); Stripe's
// "expired_or_canceled_card"; "did not go through: Your card was
// declined.." with no way back to the checkout; "the payment arrived after
// the hold had ended" for a payment that bought nothing, and the same for a
// second charge of a booking that stays paid; "49.90 USD of the 49.90 USD".
// One mesh; each case its own subtest.
func TestMailsSayWhatHappened(t *testing.T) {
	t.Parallel()
	e := start(t, mailtest.NewServer(t))
	ctx := context.Background()
	shop := e.SeedShop(t, testkit.ShopOptions{Users: 9, MaxPerUser: 2, Seats: 20})
	purchase := func(t *testing.T, user string) *bookingv1.Booking {
		t.Helper()
		b := e.Reserve(t, shop, user, 2)
		e.confirm(t, b)
		testkit.Eventually(t, 10*time.Second, "booking persisted", func() bool {
			return e.Count(t, `SELECT count(*) FROM bookings WHERE id = $1 AND status = 'confirmed'`, b.GetId()) == 1
		})
		return b
	}
	publish := func(t *testing.T, topic string, ev *paymentv1.PaymentEvent) {
		t.Helper()
		ev.Id, ev.Type, ev.OccurredAt = uuid.NewString(), topic, timestamppb.Now()
		raw, _ := proto.Marshal(ev)
		if err := e.Producer.Publish(ctx, topic, []byte(ev.GetPayment().GetId()), raw, nil); err != nil {
			t.Fatal(err)
		}
	}
	paymentOf := func(b *bookingv1.Booking, refunded string) *paymentv1.Payment {
		return &paymentv1.Payment{Id: uuid.NewString(), BookingId: b.GetId(), UserId: b.GetUserId(), Amount: b.GetTotalAmount(),
			Currency: "USD", RefundedAmount: refunded}
	}
	// says checks both parts of m say each of want (the HTML's words, or
	// its markup for a link) and none of not.
	says := func(t *testing.T, m mailtest.Message, want []string, not ...string) {
		t.Helper()
		html := tags.ReplaceAllString(m.HTML, "")
		for _, w := range want {
			if !strings.Contains(m.Text, w) || !strings.Contains(html, w) && !strings.Contains(m.HTML, w) {
				t.Errorf("mail %q does not say %q:\n%s", m.Subject, w, m.Text)
			}
		}
		for _, n := range not {
			if strings.Contains(m.Subject+m.Text+m.HTML, n) {
				t.Errorf("mail %q says %q:\n%s", m.Subject, n, m.Text)
			}
		}
	}

	// refundFails publishes the failure of a buyer's refund of a purchase
	// of user's for reason; it answers the payment and the mail.
	refundFails := func(t *testing.T, user, reason string) (*paymentv1.Payment, mailtest.Message) {
		t.Helper()
		p := paymentOf(purchase(t, user), "0.00")
		p.RefundFailureReason = reason
		publish(t, notify.TopicPaymentRefundFailed, &paymentv1.PaymentEvent{Payment: p, RefundAmount: "99.80",
			RefundCause: paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED, FailedRefund: 1})
		return p, e.smtp.WaitForSubject(t, e.email(t, user), "failed", 20*time.Second)
	}

	t.Run("a failed refund, then an admin's retry", func(t *testing.T) {
		user := shop.Users[0]
		p, m := refundFails(t, user, "expired_or_canceled_card")
		says(t, m, []string{"(the card has expired or was cancelled)"}, "expired_or_canceled_card")
		p.RefundedAmount = "99.80"
		publish(t, notify.TopicPaymentRefunded, &paymentv1.PaymentEvent{Payment: p, RefundAmount: "99.80",
			RefundCause: paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED, FailedRefund: 1})
		m = e.smtp.WaitForSubject(t, e.email(t, user), "is on its way", 20*time.Second)
		says(t, m, []string{"sent again to the payment method you paid with", "after all"}, "support")
	})

	t.Run("a refund cancelled before it was sent", func(t *testing.T) {
		// Stripe's refund status canceled: nothing reached the bank, which
		// the mail must not say returned it.
		_, m := refundFails(t, shop.Users[7], "canceled")
		says(t, m, []string{"it was stopped before it was sent", "we hold it for you"}, "returned it", "canceled")
	})

	t.Run("a failed refund support paid by bank transfer", func(t *testing.T) {
		user := shop.Users[1]
		publish(t, notify.TopicPaymentRefunded, &paymentv1.PaymentEvent{Payment: paymentOf(purchase(t, user), "99.80"), RefundAmount: "99.80",
			RefundCause: paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED, FailedRefund: 1, RefundedOutsideProvider: true})
		m := e.smtp.WaitForSubject(t, e.email(t, user), "paid back by our support team", 20*time.Second)
		says(t, m, []string{"99.80 USD", "not to your card", "bank transfer"}, "made again", "sent again", "on its way")
	})

	t.Run("a payment that came after its reservation ended", func(t *testing.T) {
		user := shop.Users[2]
		h := e.Reserve(t, shop, user, 1)
		if _, err := e.booking.CancelBooking(ctx, testkit.As(t, e.Mesh, user, authn.RoleUser, &bookingv1.CancelBookingRequest{BookingId: h.GetId()})); err != nil {
			t.Fatal(err)
		}
		e.smtp.WaitForSubject(t, e.email(t, user), "cancelled", 20*time.Second)
		testkit.Eventually(t, 10*time.Second, "hold persisted", func() bool {
			return e.Count(t, `SELECT count(*) FROM bookings WHERE id = $1 AND status = 'cancelled'`, h.GetId()) == 1
		})
		publish(t, notify.TopicPaymentRefunded, &paymentv1.PaymentEvent{Payment: paymentOf(h, h.GetTotalAmount()), RefundAmount: h.GetTotalAmount(),
			RefundCause: paymentv1.RefundCause_REFUND_CAUSE_NOT_CONFIRMED, RefundReason: "the payment arrived after the hold had ended"})
		m := e.smtp.WaitForSubject(t, e.email(t, user), "Refund", 20*time.Second)
		says(t, m, []string{"could not get you tickets", "after your reservation had ended", "the full " + h.GetTotalAmount() + " USD you paid"},
			"hold", "paid twice")
	})

	t.Run("a second charge of a paid booking", func(t *testing.T) {
		user := shop.Users[3]
		b := purchase(t, user)
		publish(t, notify.TopicPaymentRefunded, &paymentv1.PaymentEvent{Payment: paymentOf(b, "99.80"), RefundAmount: "99.80",
			RefundCause:  paymentv1.RefundCause_REFUND_CAUSE_NOT_CONFIRMED,
			RefundReason: "a second charge for a booking another payment paid already: refunded in full"})
		m := e.smtp.WaitForSubject(t, e.email(t, user), "Refund 99.80", 20*time.Second)
		says(t, m, []string{"paid twice", "Your booking stays as it is"}, "could not get you tickets")
	})

	t.Run("a full refund", func(t *testing.T) {
		user := shop.Users[4]
		publish(t, notify.TopicPaymentRefunded, &paymentv1.PaymentEvent{Payment: paymentOf(purchase(t, user), "99.80"), RefundAmount: "99.80",
			RefundCause: paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED})
		m := e.smtp.WaitForSubject(t, e.email(t, user), "Refund 99.80", 20*time.Second)
		says(t, m, []string{"we are refunding the full 99.80 USD you paid"}, "of the 99.80")
	})

	t.Run("an admin's refund in full", func(t *testing.T) {
		// Support gave a buyer ill before the show the whole price back,
		// whatever the refund policy gives (cause support).
		user := shop.Users[8]
		publish(t, notify.TopicPaymentRefunded, &paymentv1.PaymentEvent{Payment: paymentOf(purchase(t, user), "99.80"), RefundAmount: "99.80",
			RefundCause: paymentv1.RefundCause_REFUND_CAUSE_SUPPORT})
		m := e.smtp.WaitForSubject(t, e.email(t, user), "Refund 99.80", 20*time.Second)
		says(t, m, []string{"our support team has refunded the full 99.80 USD you paid", "Your booking is cancelled and its seats are released."},
			"of the 99.80", "no money is returned", "organizer")
	})

	t.Run("a declined card while the reservation lives", func(t *testing.T) {
		// The simulator's own words ("Your card was declined."): one
		// sentence, and the way back to the checkout.
		user := shop.Users[5]
		d := e.Reserve(t, shop, user, 1)
		pays := paymentv1connect.NewPaymentServiceClient(server.NewClient(), e.URL(t, "payment"))
		if _, err := pays.CreatePayment(ctx, testkit.As(t, e.Mesh, user, authn.RoleUser,
			&paymentv1.CreatePaymentRequest{BookingId: d.GetId(), PaymentMethod: payment.SimDeclined})); err != nil {
			t.Fatal(err)
		}
		m := e.smtp.WaitForSubject(t, e.email(t, user), "did not go through", 20*time.Second)
		says(t, m, []string{"did not go through: your card was declined.", "/checkout/" + d.GetId()}, "..")
	})

	t.Run("closed waitlists", func(t *testing.T) {
		user := shop.Users[6]
		for quantity, want := range map[int]string{1: "1 seat in Floor", 2: "2 seats in Floor"} {
			if _, err := e.notify.SendNotification(ctx, testkit.AsService(t, e.Mesh, "catalog", &notifyv1.SendNotificationRequest{
				Template: notifyv1.Template_TEMPLATE_WAITLIST_CLOSED, Recipient: e.email(t, user), UserId: user,
				Data:           map[string]string{"event_title": "Rush", "zone": "Floor", "quantity": fmt.Sprint(quantity)},
				IdempotencyKey: fmt.Sprintf("waitlist_closed-%d", quantity),
			})); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, 20*time.Second, want, func() bool {
				for _, m := range e.smtp.To(e.email(t, user)) {
					if strings.Contains(m.Text, "waiting for "+want+".") && strings.Contains(m.HTML, "waiting for "+want+".") {
						return true
					}
				}
				return false
			})
		}
	})
}

// tags matches the HTML tags of a mail, to read its words.
var tags = regexp.MustCompile(`<[^>]*>`)
