package notify

// The mails' truth and timing: focused tests that run the
// consumer and the delivery worker in-process against a migrated schema,
// with the directory, the payment service, the gate and the SMTP relay
// replaced by in-memory answers (what the other services would say).

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/IBM/sarama"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	gatev1 "github.com/bookingrush/rush/gen/bookingrush/gate/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/bookingref"
	"github.com/bookingrush/rush/services/platform/directory"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/mail"
	"github.com/bookingrush/rush/services/platform/pgtest"
)

type stubDir struct {
	show     directory.Show
	bookings map[string]*bookingv1.Booking
}

func (d *stubDir) User(context.Context, string) (directory.User, error) {
	return directory.User{Email: "ann@rush.test", Name: "Ann"}, nil
}
func (d *stubDir) Show(context.Context, string) (directory.Show, error) { return d.show, nil }
func (d *stubDir) Booking(_ context.Context, id string) (*bookingv1.Booking, error) {
	if b, ok := d.bookings[id]; ok {
		return b, nil
	}
	return nil, errs.New(errs.NotFound, "no booking")
}

type stubPayments struct{ status paymentv1.PaymentStatus }

func (p *stubPayments) GetBookingPayment(context.Context, *connect.Request[paymentv1.GetBookingPaymentRequest]) (*connect.Response[paymentv1.GetBookingPaymentResponse], error) {
	if p.status == paymentv1.PaymentStatus_PAYMENT_STATUS_UNSPECIFIED {
		return nil, connect.NewError(connect.CodeNotFound, nil)
	}
	return connect.NewResponse(&paymentv1.GetBookingPaymentResponse{Payment: &paymentv1.Payment{Status: p.status}}), nil
}

type stubTickets struct{ tickets []*gatev1.Ticket }

func (g *stubTickets) ListBookingTickets(context.Context, *connect.Request[gatev1.ListBookingTicketsRequest]) (*connect.Response[gatev1.ListBookingTicketsResponse], error) {
	return connect.NewResponse(&gatev1.ListBookingTicketsResponse{Tickets: g.tickets}), nil
}

type stubSender struct {
	mu   sync.Mutex
	sent []mail.Message
}

func (s *stubSender) Send(_ context.Context, m mail.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, m)
	return nil
}

type mailEnv struct {
	dir      *stubDir
	payments *stubPayments
	tickets  *stubTickets
	sender   *stubSender
	svc      *Service
	cons     *Consumer
	worker   *Worker
	pool     *pgxpool.Pool
}

func newMailEnv(t *testing.T, maxAttempts int) *mailEnv {
	t.Helper()
	dsn := pgtest.Migrated(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	cfg := Config{MaxAttempts: maxAttempts, RetryBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Poll: time.Second,
		WebURL: "https://tickets.rush.test"}
	e := &mailEnv{
		dir: &stubDir{show: directory.Show{EventTitle: "Rush", ShowDate: time.Date(2030, 6, 1, 18, 0, 0, 0, time.UTC),
			TimeZone: "Europe/Paris", Venue: "Hall 1"}, bookings: map[string]*bookingv1.Booking{}},
		payments: &stubPayments{}, tickets: &stubTickets{}, sender: &stubSender{}, pool: pool,
	}
	store := NewStore(pool)
	e.worker, err = NewWorker(cfg, store, e.tickets, e.sender, prometheus.NewRegistry(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	e.svc = NewService(cfg, authn.Config{}, store, e.worker, e.dir, zap.NewNop())
	e.cons = NewConsumer(cfg, e.svc, e.dir, e.payments, zap.NewNop())
	return e
}

func (e *mailEnv) publish(t *testing.T, topic string, m proto.Message) {
	t.Helper()
	raw, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cons.Handle(context.Background(), &sarama.ConsumerMessage{Topic: topic, Value: raw}); err != nil {
		t.Fatalf("handle: %v", err)
	}
}

// recorded answers the notifications recorded, oldest first.
func (e *mailEnv) recorded(t *testing.T) []Notification {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT `+columns+` FROM notifications ORDER BY created_at`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		n, err := scan(rows)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// deliver runs the worker until nothing is due.
func (e *mailEnv) deliver(t *testing.T) []mail.Message {
	t.Helper()
	for range 20 {
		did, err := e.worker.Once(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !did {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.sender.mu.Lock()
	defer e.sender.mu.Unlock()
	return append([]mail.Message(nil), e.sender.sent...)
}

// TestLongTitleSubject: an event title may have 255 characters
// (catalog's rule). The confirmation's subject is cut at 250 bytes: cut in
// the middle of a UTF-8 character it is no longer valid UTF-8 (mail clients
// show garbage), and the booking reference the subject promises is lost.
func TestLongTitleSubject(t *testing.T) {
	id := uuid.NewString()
	for _, title := range []string{strings.Repeat("音", 100), strings.Repeat("A", 255)} {
		m, err := render("booking_confirmed", map[string]string{"booking_id": id, "ticket_code": "ABCD-EFGH-IJKL",
			"reference": bookingref.Of(id), "event_title": title, "currency": "USD"})
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(m.Subject) {
			t.Errorf("subject of a %d-byte title is not valid UTF-8: %q", len(title), m.Subject[len(m.Subject)-10:])
		}
		if !strings.Contains(m.Subject, bookingref.Of(id)) {
			t.Errorf("subject of a %d-byte title lost the booking reference: ...%q", len(title), m.Subject[len(m.Subject)-20:])
		}
	}
}

// TestRestRefundSaysWhy: a buyer cancelled a purchase for 0% (mailed:
// "no money is returned"), then the organizer cancels the event. The buyer
// gets no event_cancelled mail (the booking is over already, booking.events
// says nothing), only the refund of the rest; the organizer's reason is
// optional. That mail must say why money comes back: the event is
// cancelled.
func TestRestRefundSaysWhy(t *testing.T) {
	e := newMailEnv(t, 5)
	user, booking := uuid.NewString(), uuid.NewString()
	e.dir.bookings[booking] = &bookingv1.Booking{Id: booking, UserId: user, ShowId: uuid.NewString(),
		Status: bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED, ConfirmedAt: timestamppb.Now()}
	e.publish(t, TopicPaymentRefunded, &paymentv1.PaymentEvent{Id: uuid.NewString(), RefundAmount: "50.00",
		RefundCause: paymentv1.RefundCause_REFUND_CAUSE_ORGANIZER_CANCELLED, Rest: true,
		Payment: &paymentv1.Payment{Id: uuid.NewString(), BookingId: booking, UserId: user, Amount: "50.00", Currency: "USD", RefundedAmount: "50.00"}})
	got := e.recorded(t)
	if len(got) != 1 {
		t.Fatalf("%d mails, want the rest's refund", len(got))
	}
	if !strings.Contains(strings.ToLower(got[0].Subject+got[0].Body), "cancel") {
		t.Errorf("the refund of the rest never says the event is cancelled:\n%s\n%s", got[0].Subject, got[0].Body)
	}
}

// TestLateWaitlistOffer: notify reads booking.events behind the
// booking engine (its lag may reach thousands of messages in a rush). An
// offer whose hold is already past its deadline when notify reaches it must
// not be mailed as "held for you, pay before <a time already past>".
func TestLateWaitlistOffer(t *testing.T) {
	e := newMailEnv(t, 5)
	b := &bookingv1.Booking{Id: uuid.NewString(), UserId: uuid.NewString(), ShowId: uuid.NewString(), EventId: uuid.NewString(),
		Quantity: 2, TotalAmount: "50.00", Currency: "USD", Status: bookingv1.BookingStatus_BOOKING_STATUS_RESERVED, WaitlistOffer: true,
		ExpiresAt: timestamppb.New(time.Now().Add(-time.Minute))}
	b.Reference = bookingref.Of(b.GetId())
	e.publish(t, TopicBookingEvents, &bookingv1.BookingEvent{Booking: b, Version: 1})
	for _, n := range e.recorded(t) {
		t.Errorf("an offer already expired is mailed: %q", n.Subject)
	}
}

// TestConfirmationWithoutQRCodes: the last attempt of a confirmation
// goes without its QR codes and says so; its text must not also promise the
// QR codes "in this e-mail".
func TestConfirmationWithoutQRCodes(t *testing.T) {
	e := newMailEnv(t, 1)
	id := uuid.NewString()
	if _, err := e.svc.Send(context.Background(), Request{Kind: "booking_confirmed", Recipient: "ann@rush.test", UserID: uuid.NewString(),
		Data: map[string]string{"booking_id": id, "event_title": "Rush", "quantity": "2", "total_amount": "50.00"}, Key: "booking_confirmed-" + id}); err != nil {
		t.Fatal(err)
	}
	sent := e.deliver(t)
	if len(sent) != 1 {
		t.Fatalf("%d mails sent, want the confirmation", len(sent))
	}
	if strings.Contains(sent[0].Text, noTickets) && strings.Contains(sent[0].Text, "a QR code: in this e-mail") {
		t.Errorf("the text says the tickets could not be attached and also that they are in this e-mail:\n%s", sent[0].Text)
	}
	if strings.Contains(sent[0].HTML, "could not be attached") && strings.Contains(sent[0].HTML, "a QR code: here") {
		t.Errorf("the HTML says the tickets could not be attached and also that they are here")
	}
}

// TestBuyersRefundSaysTheBookingEnded: the refund of a purchase its buyer
// cancelled (50% here) says the booking is cancelled, as the 0% one does.
func TestBuyersRefundSaysTheBookingEnded(t *testing.T) {
	e := newMailEnv(t, 5)
	user, booking := uuid.NewString(), uuid.NewString()
	e.dir.bookings[booking] = &bookingv1.Booking{Id: booking, UserId: user, ShowId: uuid.NewString(),
		Status: bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED, ConfirmedAt: timestamppb.Now()}
	e.publish(t, TopicPaymentRefunded, &paymentv1.PaymentEvent{Id: uuid.NewString(), RefundAmount: "25.00",
		RefundCause: paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED,
		Payment:     &paymentv1.Payment{Id: uuid.NewString(), BookingId: booking, UserId: user, Amount: "50.00", Currency: "USD", RefundedAmount: "25.00"}})
	got := e.recorded(t)
	if len(got) != 1 || !strings.Contains(got[0].Body, "Your booking is cancelled and its seats are released.") {
		t.Fatalf("the buyer's refund mail: %v", got)
	}
}

// TestSupportRefundSaysSo: an admin refunded a purchase in full whatever
// the refund policy gives (cause support): the buyer's mail says in plain
// words that our support team refunded the full amount and that the
// booking is cancelled, in both parts. After the buyer's own cancel for
// 50%, support's rest says it completes the price, and speaks neither of
// the event's cancellation nor of a policy.
func TestSupportRefundSaysSo(t *testing.T) {
	e := newMailEnv(t, 5)
	user := uuid.NewString()
	ended := func(status bookingv1.BookingStatus) string {
		id := uuid.NewString()
		e.dir.bookings[id] = &bookingv1.Booking{Id: id, UserId: user, ShowId: uuid.NewString(), Reference: bookingref.Of(id),
			Status: status, ConfirmedAt: timestamppb.Now(), CancelCause: bookingv1.CancelCause_CANCEL_CAUSE_BUYER}
		return id
	}
	full, rest := ended(bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED), ended(bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED)
	e.publish(t, TopicPaymentRefunded, &paymentv1.PaymentEvent{Id: uuid.NewString(), RefundAmount: "50.00",
		RefundCause: paymentv1.RefundCause_REFUND_CAUSE_SUPPORT, RefundReason: "ill two days before the show",
		Payment: &paymentv1.Payment{Id: uuid.NewString(), BookingId: full, UserId: user, Amount: "50.00", Currency: "USD", RefundedAmount: "50.00"}})
	e.publish(t, TopicPaymentRefunded, &paymentv1.PaymentEvent{Id: uuid.NewString(), RefundAmount: "25.00",
		RefundCause: paymentv1.RefundCause_REFUND_CAUSE_SUPPORT, Rest: true,
		Payment: &paymentv1.Payment{Id: uuid.NewString(), BookingId: rest, UserId: user, Amount: "50.00", Currency: "USD", RefundedAmount: "50.00"}})
	sent := e.deliver(t)
	if len(sent) != 2 {
		t.Fatalf("%d mails, want the two refunds", len(sent))
	}
	for i, c := range []struct {
		booking   string
		want, not []string
	}{
		{full, []string{"our support team has refunded the full 50.00 USD you paid", "Your booking is cancelled and its seats are released.",
			"Reason: ill two days before the show"}, []string{"no money is returned", "organizer"}},
		{rest, []string{"our support team has refunded the remaining 25.00 USD of the 50.00 USD you paid", "which was cancelled before",
			"the whole price back"}, []string{"organizer", "policy"}},
	} {
		m := sent[i]
		html := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m.HTML, "")
		if !strings.Contains(m.Subject, "Refund") || !strings.Contains(m.Subject, bookingref.Of(c.booking)) {
			t.Errorf("subject of support's refund: %q", m.Subject)
		}
		for _, w := range c.want {
			if !strings.Contains(m.Text, w) || !strings.Contains(html, w) {
				t.Errorf("support's refund mail does not say %q:\n%s\n%s", w, m.Text, html)
			}
		}
		for _, n := range c.not {
			if strings.Contains(m.Text+html, n) {
				t.Errorf("support's refund mail says %q:\n%s", n, m.Text)
			}
		}
	}
}

// TestNoRefundSubject: a cancellation refunded 0% under the policy
// is not headed "Refund 0.00 USD".
func TestNoRefundSubject(t *testing.T) {
	m, err := render("refund_issued", map[string]string{"refund_amount": "0.00", "currency": "USD", "reference": "BR-7KQD-M2XH-9TFA"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.Subject, "Refund 0.00") || !strings.Contains(m.Subject, "BR-7KQD-M2XH-9TFA") {
		t.Errorf("subject of a cancellation without refund: %q", m.Subject)
	}
}

// TestCount: a count says its noun in the singular for one, the plural
// otherwise, with an irregular plural or an agreeing verb when given.
func TestCount(t *testing.T) {
	for _, c := range []struct {
		n, one, many, want string
	}{
		{"1", "seat", "", "1 seat"}, {"2", "seat", "", "2 seats"}, {"0", "seat", "", "0 seats"},
		{"1", "seat was", "seats were", "1 seat was"}, {"4", "seat was", "seats were", "4 seats were"},
		{"", "seat was", "seats were", "seats were"}, {" 3 ", "ticket", "", "3 tickets"},
	} {
		var got string
		if c.many == "" {
			got = count(c.n, c.one)
		} else {
			got = count(c.n, c.one, c.many)
		}
		if got != c.want {
			t.Errorf("count(%q, %q, %q) = %q, want %q", c.n, c.one, c.many, got, c.want)
		}
	}
}

// TestNoParenthesisPlurals: "You were waiting for 1 seat(s)" reads as a
// form, not a sentence. Every count a mail (or its calendar file) says goes
// through count(); no template and no string literal of notify's code says
// "(s)".
func TestNoParenthesisPlurals(t *testing.T) {
	plural := regexp.MustCompile(`[A-Za-z]\(s\)`)
	tpls, err := fs.Glob(templateFS, "templates/*")
	if err != nil || len(tpls) == 0 {
		t.Fatalf("templates: %v %v", tpls, err)
	}
	for _, f := range tpls {
		raw, err := fs.ReadFile(templateFS, f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(raw), "\n") {
			if plural.MatchString(line) {
				t.Errorf("%s:%d says a plural with \"(s)\": %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
	fset := token.NewFileSet()
	src, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range src {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && plural.MatchString(lit.Value) {
				t.Errorf("%s says a plural with \"(s)\": %s", fset.Position(lit.Pos()), lit.Value)
			}
			return true
		})
	}
}
