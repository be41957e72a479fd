package saga

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/IBM/sarama"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	notifyv1 "github.com/bookingrush/rush/gen/bookingrush/notify/v1"
	"github.com/bookingrush/rush/gen/bookingrush/notify/v1/notifyv1connect"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/services/platform/directory"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/logging"
	"github.com/bookingrush/rush/services/platform/outbox"
	"github.com/bookingrush/rush/services/platform/topic"
)

// Topics of the saga.
const (
	// TopicPaymentSuccess starts a saga (paymentv1.PaymentEvent).
	TopicPaymentSuccess = topic.PaymentSuccess
	// TopicDeadLetter receives the payment.success message of every saga
	// that failed, as received, with the headers saga-id, source-topic,
	// error and attempts.
	TopicDeadLetter = topic.SagaDeadLetter
	// ConsumerGroup is the orchestrator's Kafka consumer group.
	ConsumerGroup = "saga-orchestrator"
)

// ConsumedTopics are the topics ConsumerGroup reads (the chart's KEDA trigger
// is checked against them).
var ConsumedTopics = []string{TopicPaymentSuccess}

// Hooks let tests act between a saga's steps.
type Hooks struct {
	// BeforeStep runs before every attempt of a step; an error ends the
	// run as a shutdown does (the saga stays live and is resumed later).
	BeforeStep func(ctx context.Context, sagaID, step string) error
}

// Orchestrator runs post-payment sagas: it starts one per payment.success
// and drives it, step by step, recording each step in Postgres, so a saga
// whose process died is resumed by any replica once its lease expired.
type Orchestrator struct {
	cfg      Config
	store    *Store
	booking  bookingv1connect.BookingServiceClient
	notify   notifyv1connect.NotifyServiceClient
	payments paymentv1connect.PaymentServiceClient
	people   People
	producer *kafka.Producer
	relay    *outbox.Relay
	hooks    Hooks
	metrics  *metrics
	log      *zap.Logger

	mu      sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	running map[string]bool
}

// NewOrchestrator returns an orchestrator; Start it before consuming.
func NewOrchestrator(cfg Config, store *Store, booking bookingv1connect.BookingServiceClient, notify notifyv1connect.NotifyServiceClient,
	payments paymentv1connect.PaymentServiceClient, people People, producer *kafka.Producer, relay *outbox.Relay, hooks Hooks, m *metrics, log *zap.Logger) *Orchestrator {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // not started: launches are refused until Start
	return &Orchestrator{cfg: cfg, store: store, booking: booking, notify: notify, payments: payments, people: people, producer: producer,
		relay: relay, hooks: hooks, metrics: m, log: log.Named("saga"), ctx: ctx, cancel: cancel, running: map[string]bool{}}
}

// Start begins resuming stale sagas (at once, then every half lease).
func (o *Orchestrator) Start(context.Context) error {
	o.mu.Lock()
	o.ctx, o.cancel = context.WithCancel(context.Background())
	ctx := o.ctx
	o.mu.Unlock()
	o.wg.Go(func() { o.resumeLoop(ctx) })
	return nil
}

// Stop ends every run where it is (each saga stays as recorded and is
// resumed later) and waits for them.
func (o *Orchestrator) Stop(ctx context.Context) error {
	o.mu.Lock()
	o.cancel()
	o.mu.Unlock()
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// HandlePaymentSuccesses starts the sagas of a batch of payment.success
// messages of one partition, in order; the batch's offsets are committed
// once, after every saga of it was recorded (a commit per message held the
// consumer to a few sagas a second).
func (o *Orchestrator) HandlePaymentSuccesses(ctx context.Context, msgs []*sarama.ConsumerMessage) error {
	for _, m := range msgs {
		if err := o.HandlePaymentSuccess(kafka.MessageContext(ctx, m), m); err != nil {
			return err
		}
	}
	return nil
}

// HandlePaymentSuccess starts the saga of a payment.success message: one
// per payment (a redelivered message starts none). The offset is committed
// once the saga is recorded; running it is the orchestrator's business.
func (o *Orchestrator) HandlePaymentSuccess(ctx context.Context, msg *sarama.ConsumerMessage) error {
	var ev paymentv1.PaymentEvent
	err := proto.Unmarshal(msg.Value, &ev)
	pay := ev.GetPayment()
	if err == nil && (uuid.Validate(pay.GetId()) != nil || uuid.Validate(pay.GetBookingId()) != nil) {
		err = errors.New("no payment or booking id")
	}
	if err != nil {
		return o.poison(ctx, msg, "not a PaymentEvent: "+err.Error())
	}
	sg, created, err := o.store.Create(ctx, pay.GetId(), pay.GetBookingId(), msg.Value, time.Now().Add(o.cfg.Timeout))
	if err != nil {
		return err // delivered again
	}
	if created {
		// The run outlives this handler; it goes on in the message's trace.
		o.launch(sg, trace.SpanContextFromContext(ctx))
	}
	return nil
}

// poison dead-letters a message that cannot start a saga, so it does not
// block its partition.
func (o *Orchestrator) poison(ctx context.Context, msg *sarama.ConsumerMessage, reason string) error {
	logging.Ctx(ctx, o.log).Error("payment.success message dead-lettered", zap.Int32("partition", msg.Partition), zap.Int64("offset", msg.Offset), zap.String("reason", reason))
	if err := o.store.DeadLetterRaw(ctx, msg.Partition, msg.Offset, string(msg.Key), msg.Value, reason); err != nil {
		return err
	}
	return o.producer.Publish(ctx, TopicDeadLetter, msg.Key, msg.Value, map[string]string{
		"source-topic": msg.Topic, "error": reason, "attempts": "1",
	})
}

// launch runs sg in the background; a valid parent makes the run's calls
// part of that trace (the payment.success message that started the saga).
func (o *Orchestrator) launch(sg Saga, parent trace.SpanContext) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ctx.Err() != nil || o.running[sg.ID] {
		return // stopping (the saga is resumed later) or already running here
	}
	o.running[sg.ID] = true
	ctx := o.ctx
	if parent.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, parent)
	}
	o.wg.Go(func() {
		defer func() {
			o.mu.Lock()
			delete(o.running, sg.ID)
			o.mu.Unlock()
		}()
		o.run(ctx, sg)
	})
}

// resumeLoop claims sagas whose run stopped (their process died, or a
// store failure stalled them) and runs them from their recorded step.
func (o *Orchestrator) resumeLoop(ctx context.Context) {
	t := time.NewTicker(max(o.cfg.Lease/2, 50*time.Millisecond))
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			sg, ok, err := o.store.ClaimStale(ctx, o.cfg.Lease, o.cfg.Timeout)
			if err != nil {
				if ctx.Err() == nil {
					o.log.Warn("cannot look for stale sagas", zap.Error(err))
				}
				break
			}
			if !ok {
				break
			}
			o.log.Info("resuming saga", zap.String("saga", sg.ID), zap.String("status", sg.Status), zap.String("step", sg.CurrentStep))
			o.launch(sg, trace.SpanContext{})
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// run drives one claimed saga to its end, renewing its lease meanwhile.
func (o *Orchestrator) run(ctx context.Context, sg Saga) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		t := time.NewTicker(max(o.cfg.Lease/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := o.store.Touch(ctx, &sg); errors.Is(err, errLostClaim) {
					cancel()
					return
				}
			}
		}
	}()
	err := o.execute(ctx, &sg)
	switch {
	case err == nil:
		o.relay.Kick()
	case errors.Is(err, errLostClaim), ctx.Err() != nil:
		// Another run owns it, or this process stops: nothing to do.
	default:
		logging.Ctx(ctx, o.log).Warn("saga run stopped; it resumes once its lease expires", zap.String("saga", sg.ID), zap.Error(err))
	}
}

// exhausted is a step that failed every attempt, or ran out of saga time.
type exhausted struct {
	err      error
	attempts int
}

func (e *exhausted) Error() string {
	return fmt.Sprintf("after %d attempts: %s", e.attempts, describe(e.err))
}
func (e *exhausted) Unwrap() error { return e.err }

// describe is an error as recorded in steps and dead letters: its code and
// public message.
func describe(err error) string {
	var ex *exhausted
	if errors.As(err, &ex) {
		err = ex.err
	}
	e := errs.FromConnect(err)
	return string(e.Code) + ": " + e.Message
}

// execute runs the saga from where it is. Whatever happens, a saga ends
// with the money in one place: the booking confirmed (completed), or the
// payment refunded (compensated). A confirmation that cannot complete (the
// hold is gone, or the booking engine did not answer before the saga's
// deadline) is compensated by a refund; a refund that cannot run now is
// dead-lettered and run again later (see Store.ClaimStale), until it ran.
func (o *Orchestrator) execute(ctx context.Context, sg *Saga) error {
	if sg.Status == StatusRunning && sg.step(StepConfirm).Status != StepSucceeded {
		// The confirmation is retried until the saga's deadline (not a
		// number of times): a booking engine that is back within it still
		// confirms the hold the buyer paid for.
		err := o.attempt(ctx, sg, StepConfirm, o.confirm, gone, untilDeadline)
		var ex *exhausted
		switch {
		case err == nil:
			if err := o.store.Transition(ctx, sg, StatusRunning, "", map[string]string{StepConfirm: StepSucceeded}, ""); err != nil {
				return err
			}
		case gone(err), errors.As(err, &ex):
			// The money arrived after the hold was gone, or the hold could
			// not be confirmed in time: give it back. (The refund releases
			// the booking first, whatever a late confirmation did to it.)
			msg := describe(err)
			if err := o.store.Transition(ctx, sg, StatusCompensating, StepConfirm+": "+msg,
				map[string]string{StepConfirm: StepFailed, StepNotify: StepSkipped}, msg); err != nil {
				return err
			}
			// The refund gets a saga's time of its own.
			if err := o.store.SetDeadline(ctx, sg, time.Now().Add(o.cfg.Timeout)); err != nil {
				return err
			}
		default:
			return err
		}
	}
	if sg.Status == StatusRunning {
		steps := map[string]string{}
		note := ""
		if st := sg.step(StepNotify).Status; st != StepSucceeded && st != StepFailed && st != StepSkipped {
			// Non-critical: whatever happens, the booking stays confirmed.
			err := o.attempt(ctx, sg, StepNotify, o.sendNotification, unavailableForGood, o.cfg.Retries)
			var ex *exhausted
			switch {
			case err == nil:
				steps[StepNotify] = StepSucceeded
			case unavailableForGood(err):
				steps[StepNotify], note = StepSkipped, describe(err)
			case errors.As(err, &ex):
				steps[StepNotify], note = StepFailed, ex.Error()
			default:
				return err
			}
		}
		if err := o.store.Transition(ctx, sg, StatusCompleted, "", steps, note); err != nil {
			return err
		}
		o.metrics.outcomes.WithLabelValues(StatusCompleted).Inc()
		return nil
	}
	if sg.Status == StatusCompensating {
		err := o.attempt(ctx, sg, StepRefund, o.refund, refundImpossible, o.cfg.Retries)
		var ex *exhausted
		switch {
		case err == nil:
			if err := o.store.Transition(ctx, sg, StatusCompensated, "", map[string]string{StepRefund: StepSucceeded}, ""); err != nil {
				return err
			}
			o.metrics.outcomes.WithLabelValues(StatusCompensated).Inc()
			return nil
		case refundImpossible(err):
			// The payment is not one that holds money (it failed, or
			// does not exist): nothing to give back, nothing to retry.
			return o.fail(ctx, sg, StepRefund, &exhausted{err: err, attempts: 1}, false)
		case errors.As(err, &ex):
			return o.fail(ctx, sg, StepRefund, ex, true)
		default:
			return err
		}
	}
	return nil
}

// fail ends the saga as failed and dead-letters its trigger (the first time
// it fails). retry makes it come back after saga.revive-after: a refund
// that could not run holds the buyer's money.
func (o *Orchestrator) fail(ctx context.Context, sg *Saga, step string, ex *exhausted, retry bool) error {
	var trigger proto.Message
	ev := &paymentv1.PaymentEvent{}
	if proto.Unmarshal(sg.Trigger, ev) == nil && len(sg.Trigger) > 0 {
		trigger = ev
	}
	var retryAt time.Time
	if retry {
		retryAt = time.Now().Add(o.cfg.ReviveAfter)
	}
	first, err := o.store.Fail(ctx, sg, step, ex.Error(), ex.attempts, trigger, retryAt)
	if err != nil {
		return err
	}
	o.metrics.outcomes.WithLabelValues(StatusFailed).Inc()
	l := logging.Ctx(ctx, o.log).With(zap.String("saga", sg.ID), zap.String("payment", sg.PaymentID), zap.String("step", step), zap.Error(ex))
	if first {
		o.metrics.deadLetters.Inc()
		l.Error("saga failed; dead-lettered", zap.Time("retry_at", retryAt))
	} else {
		l.Warn("revived saga failed again", zap.Time("retry_at", retryAt))
	}
	return nil
}

// untilDeadline makes attempt retry until the saga's deadline.
const untilDeadline = -1

// attempt runs fn as step until it succeeds, fails for good (final), or
// used its retries (with doubling backoff, at most saga.retry-backoff-max
// apart; retries untilDeadline: as often as the saga's time allows) or the
// saga's time: then it returns *exhausted. A resumed saga always gets one
// more attempt. Each attempt is recorded and bounded by the step timeout.
func (o *Orchestrator) attempt(ctx context.Context, sg *Saga, step string, fn func(context.Context, *Saga) error, final func(error) bool, retries int) error {
	for {
		n, err := o.store.StartStep(ctx, sg, step)
		if err != nil {
			return err
		}
		if o.hooks.BeforeStep != nil {
			if err := o.hooks.BeforeStep(ctx, sg.ID, step); err != nil {
				return err
			}
		}
		sctx, cancel := context.WithTimeout(ctx, o.cfg.StepTimeout)
		err = fn(sctx, sg)
		cancel()
		if err == nil || final(err) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err() // stopping: not the step's fault
		}
		wait := min(o.cfg.RetryBackoff<<min(n-1, 10), o.cfg.RetryBackoffMax)
		if (retries != untilDeadline && n > retries) || time.Now().Add(wait).After(sg.DeadlineAt) {
			return &exhausted{err: err, attempts: n}
		}
		if err := o.store.StepError(ctx, sg, step, describe(err)); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// gone is the booking engine's answer for a hold that expired or was
// cancelled before the confirmation (or its event was), or that it does
// not know (it never had it, or lost an unpaid hold with Redis): final, and
// compensated by a refund.
func gone(err error) bool {
	c := errs.FromConnect(err).Code
	return c == errs.ReservationExpired || c == errs.Conflict || c == errs.NotFound
}

// unavailableForGood is a notify service that does not implement sending
// (not deployed yet), or refuses the message as invalid: retrying won't help.
func unavailableForGood(err error) bool {
	c := connect.CodeOf(err)
	return c == connect.CodeUnimplemented || c == connect.CodeInvalidArgument || errs.FromConnect(err).Code == errs.NotFound
}

// refundImpossible is a refund the payment service will never do.
func refundImpossible(err error) bool {
	c := errs.FromConnect(err).Code
	return c == errs.NotFound || c == errs.Conflict
}

// People is what the saga asks of the owners of accounts and shows (auth,
// catalog) for the confirmation mail, instead of reading their tables;
// platform/directory serves it.
type People interface {
	User(ctx context.Context, id string) (directory.User, error)
	Show(ctx context.Context, showID string) (directory.Show, error)
}

// confirm is step 1: the booking engine confirms the live hold (as the
// system; idempotent: a confirmed booking confirms again). A buyer whose
// account was deleted gets the money back instead (NOT_FOUND: the saga
// compensates): deleting an account is refused while it holds seats, but
// its access token still passes the other services until their next
// revocation poll, long enough to reserve and pay a moment after; nobody
// could ever sign in to see or cancel that booking. The check acts on
// auth's definite answer only: auth unreachable, the hold is confirmed.
func (o *Orchestrator) confirm(ctx context.Context, sg *Saga) error {
	ev := &paymentv1.PaymentEvent{}
	if proto.Unmarshal(sg.Trigger, ev) == nil && ev.GetPayment().GetUserId() != "" {
		uctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := o.people.User(uctx, ev.GetPayment().GetUserId())
		cancel()
		if errs.Is(err, errs.NotFound) {
			return errs.New(errs.NotFound, "the buyer's account was deleted: the payment is refunded")
		}
	}
	_, err := o.booking.ConfirmBooking(ctx, connect.NewRequest(&bookingv1.ConfirmBookingRequest{BookingId: sg.BookingID, PaymentId: sg.PaymentID}))
	return err
}

// sendNotification is step 2: the e-ticket e-mail, deduplicated by notify
// on its idempotency key.
func (o *Orchestrator) sendNotification(ctx context.Context, sg *Saga) error {
	res, err := o.booking.GetBooking(ctx, connect.NewRequest(&bookingv1.GetBookingRequest{BookingId: sg.BookingID}))
	if err != nil {
		return err
	}
	b := res.Msg.GetBooking()
	u, err := o.people.User(ctx, b.GetUserId())
	if err != nil {
		return errs.Connect(err)
	}
	show, err := o.people.Show(ctx, b.GetShowId())
	if err != nil {
		return errs.Connect(err)
	}
	data := map[string]string{
		"booking_id": b.GetId(), "payment_id": sg.PaymentID, "name": u.Name, "event_id": b.GetEventId(), "event_title": show.EventTitle,
		// The date as the venue reads it, and the instants for the calendar file.
		"show_id": b.GetShowId(), "show_date": show.Date(), "show_at": show.ShowDate.UTC().Format(time.RFC3339), "venue": show.Venue,
		"zone_id": b.GetZoneId(), "zone": show.Zones[b.GetZoneId()],
		"quantity": fmt.Sprint(b.GetQuantity()), "total_amount": b.GetTotalAmount(), "currency": b.GetCurrency(),
	}
	if !show.EndsAt.IsZero() {
		data["show_end_at"] = show.EndsAt.UTC().Format(time.RFC3339)
	}
	_, err = o.notify.SendNotification(ctx, connect.NewRequest(&notifyv1.SendNotificationRequest{
		Template: notifyv1.Template_TEMPLATE_BOOKING_CONFIRMED, Recipient: u.Email, UserId: b.GetUserId(), Data: data,
		IdempotencyKey: "booking_confirmed-" + b.GetId(),
	}))
	return err
}

// refund is the compensation: the whole payment back (the payment service
// refunds once, whoever asks how often).
func (o *Orchestrator) refund(ctx context.Context, sg *Saga) error {
	_, err := o.payments.RefundBooking(ctx, connect.NewRequest(&paymentv1.RefundBookingRequest{
		BookingId: sg.BookingID, PaymentId: sg.PaymentID, Cause: paymentv1.RefundCause_REFUND_CAUSE_NOT_CONFIRMED,
		Reason: refundReason(sg.step(StepConfirm).Error),
	}))
	return err
}

// refundReason is the reason a compensation gives (the buyer's refund mail
// shows it), from the confirmation's recorded error (describe's "<code>:
// <message>"): the hold was gone when the money came, or the booking engine
// could not confirm it before the saga's deadline, or the buyer's account
// was deleted.
func refundReason(confirmErr string) string {
	code, msg, _ := strings.Cut(confirmErr, ": ")
	switch errs.Code(code) {
	case errs.NotFound, errs.Conflict, errs.ReservationExpired:
		if strings.Contains(msg, "account was deleted") {
			return "the buyer's account was deleted"
		}
		return "the payment arrived after the hold had ended"
	case "":
		return "the payment arrived after the hold had ended"
	}
	return "the booking could not be confirmed in time"
}
