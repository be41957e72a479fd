// Package analytics keeps per-event daily and hourly sales aggregates built from booking and payment events.
//
// Sources, one per figure, so nothing is counted twice:
//
//	reservations, seats_reserved   booking.events, status reserved
//	confirmed_bookings, seats_sold booking.events, status confirmed
//	revenue                        booking.events, status confirmed: the booking's total_amount
//	                               (payment.success is not used: a payment whose hold was gone
//	                               is refunded and never becomes a sale)
//	cancellations                  booking.events, status cancelled or refunded
//	seats_returned                 booking.events, the first status cancelled or refunded of a
//	                               booking whose confirmation was counted: its seats
//	                               (analytics_bookings.sold_seats); the reports' tickets sold
//	                               are seats_sold - seats_returned
//	expirations                    booking.events, status expired
//	refunds                        payment.refunded, the refunded amount, except refunds of
//	                               bookings that were never confirmed (cause NOT_CONFIRMED: that
//	                               money was never counted as revenue); a refund names only its
//	                               booking, whose event analytics learnt from booking.events
//	                               (analytics_bookings)
//
// A refund that fails at the provider after it was made (Stripe
// refund.failed; payment.refund-failed, which analytics does not consume)
// changes no figure: the booking ended and its seats may be sold again, so
// the money Booking Rush holds meanwhile is owed to the buyer, not
// revenue. Its retry, once it succeeds, is a payment.refunded naming the
// failure it makes good (failed_refund > 0), skipped for the same reason:
// the first refund's event took the revenue back already. So the figures
// say what the organizer sold, whatever the buyer's bank did with the
// refund.
//
// Each figure lands in the hour and the UTC day the change happened
// (BookingEvent.occurred_at, PaymentEvent.occurred_at). Idempotency: the
// consumer inserts "<booking id>:<version>" (or "payment:<PaymentEvent.id>")
// into processed_events in the same transaction as the increments; a key
// already there means the message was counted, and it is skipped. Reports
// answer revenue net of refunds, and the conversion rate as confirmed
// bookings / reservations.
//
// Analytics reads only its own tables (docs/ownership.md). What the figures
// are about comes from the catalog, which owns the events (Catalog): who
// runs an event (who may read its report, and the events an organizer's
// dashboard covers), its title and capacity. History the consumer group
// never saw is counted by the group itself: a new group starts at the
// earliest offset of its topics, and processed_events makes a replay of
// the group from the earliest offset count nothing twice.
package analytics

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"go.uber.org/fx"

	"github.com/bookingrush/rush/gen/bookingrush/analytics/v1/analyticsv1connect"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/platform/topic"
)

// Config is the analytics component's configuration.
type Config struct {
	// Addr is where the AnalyticsService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
	// OrphanGrace is how long a payment.refunded message whose booking
	// analytics has not seen on booking.events yet is retried (that
	// partition may lag) before it is dead-lettered so it stops blocking its
	// partition.
	OrphanGrace time.Duration `yaml:"orphan_grace"`
}

// RegisterFlags registers analytics.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "analytics.addr", server.DefaultAddr("analytics"), "listen address of the AnalyticsService")
	f.DurationVar(&c.OrphanGrace, "analytics.orphan-grace", 10*time.Minute,
		"how long a refund whose booking has not come through booking.events yet is retried before it is dead-lettered")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var problems []error
	if err := server.ValidateAddr("analytics.addr", c.Addr); err != nil {
		problems = append(problems, err)
	}
	if c.OrphanGrace < time.Second {
		problems = append(problems, fmt.Errorf("analytics.orphan-grace: %v is shorter than a second", c.OrphanGrace))
	}
	return errors.Join(problems...)
}

// ConsumerGroup is the analytics consumer group, also its name in
// processed_events.
const ConsumerGroup = "analytics"

// Topics analytics consumes: other services' contracts, named once in
// platform/topic.
const (
	// TopicBookingEvents carries bookingrush.booking.v1.BookingEvent.
	TopicBookingEvents = topic.BookingEvents
	// TopicPaymentRefunded carries bookingrush.payment.v1.PaymentEvent.
	TopicPaymentRefunded = topic.PaymentRefunded
)

// ConsumedTopics are the topics ConsumerGroup reads (the chart's KEDA trigger
// is checked against them).
var ConsumedTopics = []string{TopicBookingEvents, TopicPaymentRefunded}

// Module serves the AnalyticsService on cfg.Addr and keeps the aggregates
// from booking.events and payment.refunded.
func Module(cfg Config) fx.Option {
	return fx.Module("analytics",
		fx.Supply(fx.Private, cfg),
		fx.Provide(fx.Private, NewStore, NewAggregator, NewServer, newCatalog),
		fx.Invoke(func(lc fx.Lifecycle, c *kafka.Cluster, a *Aggregator) {
			lc.Append(fx.StartHook(func(ctx context.Context) error {
				return c.EnsureTopics(ctx, kafka.TopicSpec{Name: TopicBookingEvents}, kafka.TopicSpec{Name: TopicPaymentRefunded})
			}))
			r := c.NewBatchRunner(ConsumerGroup, ConsumedTopics, a.Handle, kafka.BatchOptions{})
			lc.Append(fx.Hook{OnStart: r.Start, OnStop: r.Stop})
		}),
		server.Serve("analytics", cfg.Addr, analyticsv1connect.AnalyticsServiceName, analyticsv1connect.NewAnalyticsServiceHandler),
	)
}
