// Package notify sends e-mails (booking confirmed, expired, cancelled, refunded, password reset) and records every message.
//
// Every message is first a row of the notifications table (status pending,
// unique idempotency key), then a delivery worker mails it: one SMTP
// attempt at a time, with a doubling backoff between attempts, until the
// relay accepts it (sent) or notify.max-attempts are used up or the relay
// refuses it for good (failed, with last_error). A duplicate request (the
// same key) sends nothing more, so a redelivered Kafka message or a retried
// saga step mails once.
//
// Where each kind of mail comes from (one source of truth per kind, so no
// mail goes out twice):
//
//	booking_confirmed  the post-payment saga, step 2, via SendNotification
//	                   (key "booking_confirmed-<booking id>"); the confirmed
//	                   state on booking.events sends nothing here
//	booking_expired    booking.events, a hold expired     ("booking_expired-<booking id>")
//	booking_cancelled  booking.events, a hold cancelled   ("booking_cancelled-<booking id>")
//	event_cancelled    booking.events, a hold or purchase ended because the
//	                   organizer cancelled the event      ("event_cancelled-<booking id>")
//	payment_failed     payment.failed                     ("payment_failed-<payment id>"),
//	                   with the checkout's link while the booking is held
//	refund_issued      payment.refunded                   ("refund_issued-<payment id>"); the
//	                   end of a purchase on booking.events sends nothing else,
//	                   because payment.refunded also covers money returned for
//	                   a hold that had already ended, and carries the amount
//	                   A refund that makes good one that had failed
//	                   (PaymentEvent.failed_refund n) is mailed once more
//	                   ("refund_issued-<payment id>-retry-<n>"): an admin's
//	                   retry says the money is on its way to the payment
//	                   method after all; money support paid back outside
//	                   the provider (refunded_outside_provider: a bank
//	                   transfer) says so, not that the card refund was made
//	                   again
//	refund_failed      payment.refund-failed: a refund mailed before failed at
//	                   the buyer's bank or card; what happens next
//	                   ("refund_failed-<payment id>-<n>", n the failure's number)
//	welcome            the auth service on registration, via SendNotification
//	password_reset     the auth service via SendNotification
//	waitlist_offer     booking.events, a hold made for the next buyer in line
//	                   ("waitlist_offer-<booking id>")
//	waitlist_closed    the catalog settling an event's cancellation, one per
//	                   buyer waiting on a zone's waitlist, via SendNotification
//	                   ("waitlist_closed-<event id>-<zone id>-<user id>")
//
// A confirmation carries the booking's tickets as QR codes, so it waits
// (retries) until the gate has issued them; its last attempt goes without
// them. A purchase refunded or cancelled before its confirmation went out
// has only revoked tickets: the confirmation is withdrawn (status
// withdrawn, not sent): a "confirmed" mail would arrive after the refund's
// mail, or after the buyer's own cancel, and contradict it. A confirmation
// also carries the show as a calendar file (show.ics, RFC 5545) when the
// saga gave the show's start (data "show_at"), ending at its end when the
// organizer gave one (data "show_end_at").
//
// A mail about a hold that ended says "nothing was charged" only when the
// payment service has no payment of it that succeeded or still may (it asks,
// GetBookingPayment); otherwise it says the money comes back in full.
//
// A booking reaches each final state at most once, so the booking id names
// the mail without the state version.
package notify

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/gen/bookingrush/gate/v1/gatev1connect"
	"github.com/bookingrush/rush/gen/bookingrush/notify/v1/notifyv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/directory"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/mail"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/platform/topic"
)

// Config is the notify component's configuration.
type Config struct {
	// Addr is where the NotifyService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
	// MaxAttempts is how many delivery attempts a message gets before it
	// is marked failed.
	MaxAttempts int `yaml:"max_attempts"`
	// RetryBackoff is the wait after the first failed attempt; it doubles
	// after each further one, up to MaxBackoff.
	RetryBackoff time.Duration `yaml:"retry_backoff"`
	// MaxBackoff caps the wait between two attempts.
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// Poll is how often the worker looks for due messages written by other
	// replicas or waiting for their backoff (its own are sent at once).
	Poll time.Duration `yaml:"poll"`
	// TicketSecret keys the e-ticket codes (HMAC of the booking id). Every
	// notify replica needs the same one, and it must stay the same for
	// issued codes to verify; empty: jwt.secret is used.
	TicketSecret config.Secret `yaml:"ticket_secret"`
	// WebURL is the web app's base URL, which mails link to (the checkout,
	// <WebURL>/checkout/<booking id>, of a waitlist offer and of a held
	// booking whose payment was declined; a confirmed booking's page,
	// <WebURL>/bookings/<booking id>).
	WebURL string `yaml:"web_url"`
}

// RegisterFlags registers notify.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "notify.addr", server.DefaultAddr("notify"), "listen address of the NotifyService")
	f.IntVar(&c.MaxAttempts, "notify.max-attempts", 5, "delivery attempts of an e-mail before it is marked failed")
	f.DurationVar(&c.RetryBackoff, "notify.retry-backoff", 2*time.Second, "wait after the first failed delivery attempt (doubles per attempt)")
	f.DurationVar(&c.MaxBackoff, "notify.max-backoff", 5*time.Minute, "longest wait between two delivery attempts")
	f.DurationVar(&c.Poll, "notify.poll", time.Second, "how often the delivery worker looks for due e-mails")
	config.SecretVar(f, &c.TicketSecret, "notify.ticket-secret", "", "key of the e-ticket codes (HMAC of the booking id); empty: jwt.secret")
	f.StringVar(&c.WebURL, "notify.web-url", "http://localhost:3000", "base URL of the web app that mails link to (the checkout of a waitlist offer or of a declined payment's hold, a confirmed booking's page)")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var problems []error
	if err := server.ValidateAddr("notify.addr", c.Addr); err != nil {
		problems = append(problems, err)
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 100 {
		problems = append(problems, fmt.Errorf("notify.max-attempts: %d is outside [1, 100]", c.MaxAttempts))
	}
	if c.RetryBackoff <= 0 || c.MaxBackoff < c.RetryBackoff {
		problems = append(problems, errors.New("notify.retry-backoff must be positive and notify.max-backoff at least as long"))
	}
	if u, err := url.Parse(c.WebURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Errorf("notify.web-url: %q is not an http or https URL", c.WebURL))
	}
	if c.Poll < 10*time.Millisecond {
		problems = append(problems, fmt.Errorf("notify.poll: %v is shorter than 10ms", c.Poll))
	}
	if s := c.TicketSecret.Reveal(); s != "" && len(s) < 16 {
		problems = append(problems, errors.New("notify.ticket-secret: at least 16 bytes"))
	}
	return errors.Join(problems...)
}

// ConsumerGroup is notify's Kafka consumer group.
const ConsumerGroup = "notify"

// Topics notify consumes: other services' contracts (booking's relay,
// payment's outbox), named once in platform/topic.
const (
	// TopicBookingEvents carries bookingrush.booking.v1.BookingEvent.
	TopicBookingEvents = topic.BookingEvents
	// TopicPaymentRefunded carries bookingrush.payment.v1.PaymentEvent.
	TopicPaymentRefunded = topic.PaymentRefunded
	// TopicPaymentRefundFailed carries bookingrush.payment.v1.PaymentEvent.
	TopicPaymentRefundFailed = topic.PaymentRefundFailed
	// TopicPaymentFailed carries bookingrush.payment.v1.PaymentEvent.
	TopicPaymentFailed = topic.PaymentFailed
)

// ConsumedTopics are the topics ConsumerGroup reads (the chart's KEDA trigger
// is checked against them).
var ConsumedTopics = []string{TopicBookingEvents, TopicPaymentRefunded, TopicPaymentFailed, TopicPaymentRefundFailed}

// devMailbox is the process's dev mailbox, provided (by services/app) only
// with smtp.dev-mailbox.
type devMailbox struct {
	fx.In
	Mailbox *mail.Mailbox `optional:"true"`
}

// Module serves the NotifyService on cfg.Addr, runs the delivery worker
// (through the SMTP relay of smtp) and consumes booking.events and
// payment.refunded.
func Module(cfg Config, smtp mail.Config) fx.Option {
	return fx.Module("notify",
		fx.Supply(fx.Private, cfg),
		fx.Provide(fx.Private,
			func(log *zap.Logger, dev devMailbox) (mail.Sender, error) {
				if smtp.DevMailbox {
					return dev.Mailbox, nil
				}
				// One SMTP dialogue per attempt: the worker counts, records and
				// spaces the attempts itself.
				return mail.NewSMTP(smtp, log.Named("notify"), mail.WithAttempts(1))
			},
			func(mesh *server.Mesh) Payments {
				return server.Dial(mesh, "notify", "payment", paymentv1connect.NewPaymentServiceClient)
			},
			func(mesh *server.Mesh) Tickets {
				return server.Dial(mesh, "notify", "gate", gatev1connect.NewGateServiceClient)
			},
			func(mesh *server.Mesh) Directory { return directory.New(mesh, "notify") },
			NewStore, NewWorker, NewService, NewConsumer, NewServer,
		),
		fx.Invoke(func(lc fx.Lifecycle, c *kafka.Cluster, w *Worker, cons *Consumer) {
			lc.Append(fx.StartHook(func(ctx context.Context) error {
				return c.EnsureTopics(ctx, kafka.TopicSpec{Name: TopicBookingEvents}, kafka.TopicSpec{Name: TopicPaymentRefunded},
					kafka.TopicSpec{Name: TopicPaymentFailed}, kafka.TopicSpec{Name: TopicPaymentRefundFailed})
			}))
			lc.Append(fx.Hook{OnStart: w.Start, OnStop: w.Stop})
			r := c.NewBatchRunner(ConsumerGroup, ConsumedTopics, cons.HandleBatch, kafka.BatchOptions{})
			lc.Append(fx.Hook{OnStart: r.Start, OnStop: r.Stop})
		}),
		server.Serve("notify", cfg.Addr, notifyv1connect.NotifyServiceName, notifyv1connect.NewNotifyServiceHandler),
	)
}
