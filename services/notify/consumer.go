package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/logging"
)

// Consumer turns booking.events and payment.refunded messages into mails.
// It is idempotent through the notifications' idempotency keys: a
// redelivered message finds its mail already recorded and adds nothing.
type Consumer struct {
	svc   *Service
	store *Store
	log   *zap.Logger
}

// NewConsumer returns the consumer.
func NewConsumer(svc *Service, store *Store, log *zap.Logger) *Consumer {
	return &Consumer{svc: svc, store: store, log: log.Named("notify-consumer")}
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
		err = c.refund(ctx, msg)
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

// bookingKinds are the booking states that mail the buyer from
// booking.events. Confirmed is mailed by the saga, refunded by
// payment.refunded (see the package comment).
var bookingKinds = map[bookingv1.BookingStatus]string{
	bookingv1.BookingStatus_BOOKING_STATUS_EXPIRED:   "booking_expired",
	bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED: "booking_cancelled",
}

func (c *Consumer) booking(ctx context.Context, msg *sarama.ConsumerMessage) error {
	ev := new(bookingv1.BookingEvent)
	if err := proto.Unmarshal(msg.Value, ev); err != nil || !isUUID(ev.GetBooking().GetId()) || !isUUID(ev.GetBooking().GetUserId()) {
		return errs.New(errs.Validation, fmt.Sprintf("undecodable booking event: %v", err))
	}
	b := ev.GetBooking()
	kind, ok := bookingKinds[b.GetStatus()]
	if !ok {
		return nil
	}
	u, err := c.store.User(ctx, b.GetUserId())
	if errors.Is(err, errNoUser) {
		c.log.Info("notify: booking of a deleted account; no mail", zap.String("booking", b.GetId()))
		return nil
	}
	if err != nil {
		return err
	}
	var show Show
	if isUUID(b.GetEventId()) && isUUID(b.GetShowId()) {
		if show, err = c.store.Show(ctx, b.GetEventId(), b.GetShowId()); err != nil {
			return err
		}
	}
	data := map[string]string{
		"booking_id": b.GetId(), "name": u.Name, "event_id": b.GetEventId(), "event_title": show.EventTitle,
		"quantity": fmt.Sprint(b.GetQuantity()), "total_amount": b.GetTotalAmount(), "currency": b.GetCurrency(),
	}
	if !show.ShowDate.IsZero() {
		data["show_date"] = show.ShowDate.UTC().Format(time.RFC1123)
	}
	_, err = c.svc.Send(ctx, Request{Kind: kind, Recipient: u.Email, UserID: b.GetUserId(), Data: data, Key: kind + "-" + b.GetId()})
	return err
}

func (c *Consumer) refund(ctx context.Context, msg *sarama.ConsumerMessage) error {
	ev := new(paymentv1.PaymentEvent)
	if err := proto.Unmarshal(msg.Value, ev); err != nil || ev.GetPayment().GetId() == "" || !isUUID(ev.GetPayment().GetUserId()) {
		return errs.New(errs.Validation, fmt.Sprintf("undecodable payment event: %v", err))
	}
	p := ev.GetPayment()
	u, err := c.store.User(ctx, p.GetUserId())
	if errors.Is(err, errNoUser) {
		c.log.Info("notify: refund of a deleted account; no mail", zap.String("payment", p.GetId()))
		return nil
	}
	if err != nil {
		return err
	}
	data := map[string]string{
		"payment_id": p.GetId(), "booking_id": p.GetBookingId(), "name": u.Name, "refund_amount": ev.GetRefundAmount(),
		"amount": p.GetAmount(), "currency": p.GetCurrency(), "reason": ev.GetRefundReason(),
	}
	// The booking row is normally long persisted when money goes back; if
	// it is not, the mail goes out without the event's name rather than
	// waiting for it.
	if isUUID(p.GetBookingId()) {
		eventID, showID, ok, err := c.store.BookingOf(ctx, p.GetBookingId())
		if err != nil {
			return err
		}
		if ok {
			show, err := c.store.Show(ctx, eventID, showID)
			if err != nil {
				return err
			}
			data["event_title"] = show.EventTitle
		}
	}
	_, err = c.svc.Send(ctx, Request{Kind: "refund_issued", Recipient: u.Email, UserID: p.GetUserId(), Data: data, Key: "refund_issued-" + p.GetId()})
	return err
}
