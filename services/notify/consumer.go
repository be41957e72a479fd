package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/IBM/sarama"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/directory"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/logging"
)

// Payments is what notify asks the payment service: the payment of a
// booking, so that a mail about a released booking says the truth about the
// money.
type Payments interface {
	GetBookingPayment(context.Context, *connect.Request[paymentv1.GetBookingPaymentRequest]) (*connect.Response[paymentv1.GetBookingPaymentResponse], error)
}

// Directory is what notify asks of the services that own accounts, shows
// and bookings (auth, catalog, booking), instead of reading their tables;
// platform/directory serves it. Each answers a NOT_FOUND error for what
// does not exist.
type Directory interface {
	User(ctx context.Context, id string) (directory.User, error)
	Show(ctx context.Context, showID string) (directory.Show, error)
	Booking(ctx context.Context, id string) (*bookingv1.Booking, error)
}

// Consumer turns booking.events, payment.failed, payment.refunded and
// payment.refund-failed messages into mails. It is idempotent through the notifications'
// idempotency keys: a redelivered message finds its mail already recorded
// and adds nothing.
type Consumer struct {
	webURL   string
	svc      *Service
	dir      Directory
	payments Payments
	log      *zap.Logger
}

// NewConsumer returns the consumer.
func NewConsumer(cfg Config, svc *Service, dir Directory, payments Payments, log *zap.Logger) *Consumer {
	return &Consumer{webURL: cfg.WebURL, svc: svc, dir: dir, payments: payments, log: log.Named("notify-consumer")}
}

// HandleBatch processes messages of one partition in order. Batches keep
// the offset commits off the per-message path: booking.events carries every
// reservation of a rush, and most of them mail nothing. A failure leaves the
// whole batch to be delivered again; the messages already handled find
// their mails recorded and add nothing.
func (c *Consumer) HandleBatch(ctx context.Context, msgs []*sarama.ConsumerMessage) error {
	for _, m := range msgs {
		if err := c.Handle(kafka.MessageContext(ctx, m), m); err != nil {
			return err
		}
	}
	return nil
}

// Handle processes one message. Failures to reach Postgres return an error
// (the message is delivered again); messages that can never become a mail
// (undecodable, a deleted account) are logged and skipped.
func (c *Consumer) Handle(ctx context.Context, msg *sarama.ConsumerMessage) error {
	var err error
	switch msg.Topic {
	case TopicBookingEvents:
		err = c.booking(ctx, msg)
	case TopicPaymentRefunded:
		err = c.paymentMail(ctx, msg, "refund_issued")
	case TopicPaymentFailed:
		err = c.paymentMail(ctx, msg, "payment_failed")
	case TopicPaymentRefundFailed:
		err = c.paymentMail(ctx, msg, "refund_failed")
	default:
		return nil
	}
	var de *errs.Error
	if errors.As(err, &de) && de.Code == errs.Validation {
		logging.Ctx(ctx, c.log).Error("notify: message cannot become a mail; skipped", zap.String("topic", msg.Topic),
			zap.Int32("partition", msg.Partition), zap.Int64("offset", msg.Offset), zap.Error(err))
		return nil
	}
	return err
}

// bookingKind is the mail a booking change sends from booking.events, ""
// for none: an expired or cancelled hold is mailed; the end of a purchase
// is mailed by payment.refunded (with the amount), except when the event
// was cancelled, which every buyer hears of. Confirmed is mailed by the saga
// (see the package comment).
func bookingKind(b *bookingv1.Booking) string {
	purchase := b.GetConfirmedAt() != nil
	switch {
	case b.GetWaitlistOffer() && b.GetStatus() == bookingv1.BookingStatus_BOOKING_STATUS_RESERVED:
		return "waitlist_offer"
	case b.GetCancelCause() == bookingv1.CancelCause_CANCEL_CAUSE_EVENT_CANCELLED &&
		(b.GetStatus() == bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED || b.GetStatus() == bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED):
		return "event_cancelled"
	case purchase:
		return ""
	case b.GetStatus() == bookingv1.BookingStatus_BOOKING_STATUS_EXPIRED:
		return "booking_expired"
	case b.GetStatus() == bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED:
		return "booking_cancelled"
	}
	return ""
}

func (c *Consumer) booking(ctx context.Context, msg *sarama.ConsumerMessage) error {
	ev := new(bookingv1.BookingEvent)
	if err := proto.Unmarshal(msg.Value, ev); err != nil || !isUUID(ev.GetBooking().GetId()) || !isUUID(ev.GetBooking().GetUserId()) {
		return errs.New(errs.Validation, fmt.Sprintf("undecodable booking event: %v", err))
	}
	b := ev.GetBooking()
	kind := bookingKind(b)
	if kind == "" {
		return nil
	}
	if kind == "waitlist_offer" && (b.GetExpiresAt() == nil || !b.GetExpiresAt().AsTime().After(time.Now())) {
		// Read behind the booking engine: the offer ended before its mail
		// could go out ("pay before" a time past). Its end is mailed.
		c.log.Info("notify: a waitlist offer read after its deadline; no mail", zap.String("booking", b.GetId()))
		return nil
	}
	u, err := c.dir.User(ctx, b.GetUserId())
	if errs.Is(err, errs.NotFound) {
		c.log.Info("notify: booking of a deleted account; no mail", zap.String("booking", b.GetId()))
		return nil
	}
	if err != nil {
		return err
	}
	show, err := c.show(ctx, b.GetShowId())
	if err != nil {
		return err
	}
	data := map[string]string{
		"booking_id": b.GetId(), "reference": b.GetReference(), "name": u.Name, "event_id": b.GetEventId(), "event_title": show.EventTitle,
		"quantity": fmt.Sprint(b.GetQuantity()), "total_amount": b.GetTotalAmount(), "currency": b.GetCurrency(),
		"purchase": fmt.Sprint(b.GetConfirmedAt() != nil),
	}
	if !show.ShowDate.IsZero() {
		data["show_date"] = show.Date()
	}
	if show.Venue != "" {
		data["venue"] = show.Venue
	}
	if kind == "event_cancelled" {
		data["reason"] = show.CancelReason
	}
	if kind == "waitlist_offer" {
		data["checkout_url"] = c.checkoutURL(b.GetId())
		data["expires_at"] = show.At(b.GetExpiresAt().AsTime())
		data["currency"] = b.GetCurrency()
	} else if b.GetConfirmedAt() == nil {
		// "Nothing was charged" only when nothing was: a payment may have
		// been made for a hold that ended (it is refunded in full).
		if data["money"], err = c.money(ctx, b.GetId()); err != nil {
			return err
		}
	}
	_, err = c.svc.Send(ctx, Request{Kind: kind, Recipient: u.Email, UserID: b.GetUserId(), Data: data, Key: kind + "-" + b.GetId()})
	return err
}

// money says what became of the money of an ended hold: "none" when no
// payment of it can succeed, "returned" when one did or still may (it is
// refunded in full, and payment.refunded mails the refund).
func (c *Consumer) money(ctx context.Context, bookingID string) (string, error) {
	res, err := c.payments.GetBookingPayment(authn.AsSystem(ctx), connect.NewRequest(&paymentv1.GetBookingPaymentRequest{BookingId: bookingID}))
	switch {
	case err == nil && res.Msg.GetPayment().GetStatus() != paymentv1.PaymentStatus_PAYMENT_STATUS_FAILED:
		return "returned", nil
	case err == nil || errs.FromConnect(err).Code == errs.NotFound:
		return "none", nil
	}
	// Unknown: the mail waits (the message is delivered again) rather
	// than tell the buyer something that may be false.
	return "", errs.FromConnect(err)
}

// describeBooking adds the booking's reference, the event's title, and the
// hold's deadline while it lives, to data, as far as the persister recorded the booking (normally
// long persisted when money moves; if not, the mail goes out without them
// rather than wait). It answers the booking, nil when it is not known.
func (c *Consumer) describeBooking(ctx context.Context, bookingID string, data map[string]string) (*bookingv1.Booking, error) {
	if !isUUID(bookingID) {
		return nil, nil
	}
	bk, err := c.dir.Booking(ctx, bookingID)
	if errs.Is(err, errs.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	show, err := c.show(ctx, bk.GetShowId())
	if err != nil {
		return nil, err
	}
	data["event_title"] = show.EventTitle
	if bk.GetReference() != "" {
		data["reference"] = bk.GetReference()
	}
	if exp := bk.GetExpiresAt(); bk.GetStatus() == bookingv1.BookingStatus_BOOKING_STATUS_RESERVED && exp != nil && exp.AsTime().After(time.Now()) {
		data["expires_at"] = show.At(exp.AsTime())
	}
	return bk, nil
}

// show reads what a mail says of a show; an unknown show (or none) gives a
// zero Show: the mail goes out without it.
func (c *Consumer) show(ctx context.Context, showID string) (directory.Show, error) {
	if !isUUID(showID) {
		return directory.Show{}, nil
	}
	sh, err := c.dir.Show(ctx, showID)
	if errs.Is(err, errs.NotFound) {
		return directory.Show{}, nil
	}
	return sh, err
}

// paymentMail mails the payer of a payment event: kind "payment_failed"
// (payment.failed, with the provider's reason), "refund_issued"
// (payment.refunded, with the amount given back and why; after_failure
// when it makes good a refund that had failed) or "refund_failed"
// (payment.refund-failed, with the amount owed and the provider's reason).
func (c *Consumer) paymentMail(ctx context.Context, msg *sarama.ConsumerMessage, kind string) error {
	ev := new(paymentv1.PaymentEvent)
	if err := proto.Unmarshal(msg.Value, ev); err != nil || ev.GetPayment().GetId() == "" || !isUUID(ev.GetPayment().GetUserId()) {
		return errs.New(errs.Validation, fmt.Sprintf("undecodable payment event: %v", err))
	}
	p := ev.GetPayment()
	u, err := c.dir.User(ctx, p.GetUserId())
	if errs.Is(err, errs.NotFound) {
		c.log.Info("notify: payment of a deleted account; no mail", zap.String("payment", p.GetId()), zap.String("kind", kind))
		return nil
	}
	if err != nil {
		return err
	}
	data := map[string]string{
		"payment_id": p.GetId(), "booking_id": p.GetBookingId(), "name": u.Name,
		"amount": p.GetAmount(), "currency": p.GetCurrency(), "reason": p.GetFailedReason(),
	}
	if kind == "refund_issued" {
		data["refund_amount"], data["reason"] = ev.GetRefundAmount(), ev.GetRefundReason()
		if ev.GetRefundCause() == paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED && !ev.GetRest() {
			// The refund of a purchase its buyer cancelled: the mail says the
			// booking ended too (the 0% one says so already).
			data["buyer_cancelled"] = "true"
		}
		if ev.GetRefundCause() == paymentv1.RefundCause_REFUND_CAUSE_SUPPORT {
			// An admin refunded the whole price whatever the policy gives
			// (or, after the buyer's own cancel, the rest of it): the mail
			// says our support team did, and that the booking is cancelled.
			data["support"] = "true"
		}
		if ev.GetRefundCause() == paymentv1.RefundCause_REFUND_CAUSE_ORGANIZER_CANCELLED {
			// Said whatever the organizer's (optional) reason: a buyer who had
			// cancelled before hears of the cancellation only here.
			data["organizer_cancelled"] = "true"
		}
		if ev.GetRest() {
			// What the first refund left: "the remaining 25.00 of the 50.00".
			data["rest"] = "true"
			if ev.GetRefundedOutsideProvider() {
				// Paid by support's transfer with the failed refund it made
				// good (its event cancelled meanwhile): not to the card.
				data["outside_provider"] = "true"
			}
		}
	}
	if kind == "refund_failed" {
		data["refund_amount"], data["reason"] = ev.GetRefundAmount(), refundFailureWords[p.GetRefundFailureReason()]
		if p.GetRefundFailureReason() == refundCanceled {
			// The refund was stopped before it was sent: no bank returned
			// anything.
			data["not_sent"] = "true"
		}
	}
	if kind == "payment_failed" {
		data["reason"] = clause(p.GetFailedReason())
	}
	bk, err := c.describeBooking(ctx, p.GetBookingId(), data)
	if err != nil {
		return err
	}
	if kind == "refund_issued" && ev.GetRefundCause() == paymentv1.RefundCause_REFUND_CAUSE_NOT_CONFIRMED {
		// A payment that bought nothing, refunded in full; the mail says why
		// in its own words, not with the reason kept for the records ("the
		// payment arrived after the hold had ended"). Its booking was
		// confirmed all the same: another payment paid it, and this one is
		// a second charge (the booking stays as it is). Otherwise the money
		// came too late for tickets.
		data["not_confirmed"] = "true"
		if bk.GetConfirmedAt() != nil {
			data["second_payment"] = "true"
		}
	}
	if kind == "payment_failed" && data["expires_at"] != "" {
		// The hold lives on: the mail links to where the buyer pays again.
		data["checkout_url"] = c.checkoutURL(p.GetBookingId())
	}
	key := kind + "-" + p.GetId()
	if ev.GetRest() {
		key += "-rest" // the second refund of the payment: a mail of its own
	}
	if n := ev.GetFailedRefund(); n > 0 {
		// Each failure is mailed once, and so is each failure made good
		// ("refund_issued-<payment>-retry-<n>"): the first refund's mail
		// ("refund_issued-<payment>") went out already and said the money
		// was coming; this one says it is, after all.
		if kind == "refund_issued" {
			data["after_failure"] = "true"
			if ev.GetRefundedOutsideProvider() {
				// Support paid it by bank transfer, not to the card: the
				// mail must not say the card refund was made again.
				data["outside_provider"] = "true"
			}
			key += "-retry"
		}
		key += fmt.Sprintf("-%d", n)
	}
	_, err = c.svc.Send(ctx, Request{Kind: kind, Recipient: u.Email, UserID: p.GetUserId(), Data: data, Key: key})
	return err
}

// checkoutURL is the web app's page where a buyer pays a held booking.
func (c *Consumer) checkoutURL(bookingID string) string {
	return webPage(c.webURL, "/checkout/"+bookingID)
}

// webPage is the web app's page at path, the app being at base
// (Config.WebURL).
func webPage(base, path string) string {
	return strings.TrimRight(base, "/") + path
}

// refundFailureWords says Stripe's failure_reason of a refund (kept on the
// payment as refund_failure_reason) as a buyer reads it. Reasons that tell
// the buyer nothing ("unknown") and any Stripe adds later are not said: the
// mail says the bank or card issuer returned the money. A refund cancelled
// before it was sent (refundCanceled) has a sentence of its own.
// refundCanceled is the refund failure reason of a refund cancelled before
// it was sent (services/payment: a refund whose status is canceled).
const refundCanceled = "canceled"

var refundFailureWords = map[string]string{
	"expired_or_canceled_card": "the card has expired or was cancelled",
	"lost_or_stolen_card":      "the card was reported lost or stolen",
}

// clause makes a provider's sentence ("Your card was declined.") read after
// a colon in a mail's sentence ("did not go through: your card was
// declined."): without its closing full stop, which the mail adds, and with
// a lower-case first word unless it is an abbreviation ("CVC").
func clause(s string) string {
	s = strings.TrimRight(strings.TrimSpace(s), ". ")
	r, n := utf8.DecodeRuneInString(s)
	if next, _ := utf8.DecodeRuneInString(s[n:]); unicode.IsUpper(r) && unicode.IsLower(next) {
		s = string(unicode.ToLower(r)) + s[n:]
	}
	return s
}
