// Package gate is what happens at the venue: e-tickets, their keys and
// revocations, and check-in.
//
//   - Tickets. The gate consumes booking.events (group "gate"): a confirmed
//     booking gets one ticket per seat (ids are UUIDv5 of booking and seat,
//     so a redelivered event issues nothing twice); a purchase later
//     cancelled or refunded has its tickets revoked. A change applies only
//     over an older booking version. Nothing here reads another service's
//     tables: show dates and organizers come from the catalog's RPCs.
//   - Codes. A valid ticket's code (services/platform/eticket) is signed with
//     the event's Ed25519 key when it is read, so a rotated key signs every
//     code read after the rotation, and earlier codes verify while their key
//     is published. A revoked ticket is listed without a code. Public
//     keys: GET /api/v1/events/{id}/ticket-keys; the revocation list of a
//     show: GET /api/v1/shows/{id}/revoked-tickets. The private keys live
//     in gate_signing_keys only.
//   - Check-in. An organizer registers devices (POST /api/v1/checkin/devices)
//     and gets each a credential: a token of role device (authn.IssueDevice)
//     that calls the gate only, for the events it names, refused once
//     revoked. A scan is judged valid / already used (with the first scan) /
//     revoked / wrong event / wrong show / invalid, and recorded; the
//     earliest scan of a ticket is its check-in, so offline scans synced
//     later win over later online ones. A door's show_id that is not a show
//     of the device's events refuses the call and records nothing.
package gate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/catalog/v1/catalogv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/gate/v1/gatev1connect"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/logging"
	"github.com/bookingrush/rush/services/platform/server"
)

// Config is the gate component's configuration.
type Config struct {
	// Addr is where the GateService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
	// ValidAfterStart is how long after its show starts a ticket admits (and
	// at least until the show ends, when the organizer gave its end).
	ValidAfterStart time.Duration `yaml:"valid_after_start"`
	// ClockSkew is how far before its issue a code is valid (a gate's clock
	// may run behind).
	ClockSkew time.Duration `yaml:"clock_skew"`
	// QRSize is the side of a ticket's QR code, in pixels.
	QRSize int `yaml:"qr_size"`
}

// RegisterFlags registers gate.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "gate.addr", server.DefaultAddr("gate"), "listen address of the GateService")
	f.DurationVar(&c.ValidAfterStart, "gate.valid-after-start", 24*time.Hour, "how long after its show starts a ticket admits (at least until the show ends, when it has an end)")
	f.DurationVar(&c.ClockSkew, "gate.clock-skew", time.Hour, "how far before its issue a ticket code is valid (gates whose clock runs behind)")
	f.IntVar(&c.QRSize, "gate.qr-size", 320, "side of a ticket's QR code in pixels")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var problems []error
	if err := server.ValidateAddr("gate.addr", c.Addr); err != nil {
		problems = append(problems, err)
	}
	if c.ValidAfterStart <= 0 || c.ClockSkew < 0 {
		problems = append(problems, errors.New("gate.valid-after-start must be positive and gate.clock-skew not negative"))
	}
	if c.QRSize < 64 || c.QRSize > 2048 {
		problems = append(problems, fmt.Errorf("gate.qr-size: %d is outside [64, 2048]", c.QRSize))
	}
	return errors.Join(problems...)
}

// ConsumerGroup is the gate's Kafka consumer group.
const ConsumerGroup = "gate"

// TopicBookingEvents carries bookingrush.booking.v1.BookingEvent (booking's
// contract, named here so the gate depends on gen/ and platform only).
const TopicBookingEvents = "booking.events"

// ConsumedTopics are the topics ConsumerGroup reads (the chart's KEDA
// trigger is checked against them).
var ConsumedTopics = []string{TopicBookingEvents}

// Module serves the GateService on cfg.Addr and issues tickets from
// booking.events.
func Module(cfg Config) fx.Option {
	return fx.Module("gate",
		fx.Supply(fx.Private, cfg),
		fx.Provide(fx.Private, NewStore, NewService, NewServer),
		fx.Provide(fx.Private, func(mesh *server.Mesh) Catalog {
			return server.Dial(mesh, "gate", "catalog", catalogv1connect.NewCatalogServiceClient)
		}),
		fx.Invoke(func(lc fx.Lifecycle, c *kafka.Cluster, svc *Service, log *zap.Logger) {
			lc.Append(fx.StartHook(func(ctx context.Context) error {
				return c.EnsureTopics(ctx, kafka.TopicSpec{Name: TopicBookingEvents})
			}))
			h := &consumer{svc: svc, log: log.Named("gate-consumer")}
			r := c.NewBatchRunner(ConsumerGroup, ConsumedTopics, h.handle, kafka.BatchOptions{})
			lc.Append(fx.Hook{OnStart: r.Start, OnStop: r.Stop})
		}),
		server.Serve("gate", cfg.Addr, gatev1connect.GateServiceName, gatev1connect.NewGateServiceHandler,
			// Anyone may read an event's public keys.
			gatev1connect.GateServiceGetTicketKeysProcedure),
	)
}

// consumer turns booking.events into tickets.
type consumer struct {
	svc *Service
	log *zap.Logger
}

var statusName = map[bookingv1.BookingStatus]string{
	bookingv1.BookingStatus_BOOKING_STATUS_RESERVED:  "reserved",
	bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED: StatusConfirmed,
	bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED: "cancelled",
	bookingv1.BookingStatus_BOOKING_STATUS_EXPIRED:   "expired",
	bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED:  "refunded",
}

// handle applies a batch in order; an error leaves the batch to be
// delivered again (its applied messages change nothing the second time).
func (c *consumer) handle(ctx context.Context, msgs []*sarama.ConsumerMessage) error {
	for _, m := range msgs {
		ev := new(bookingv1.BookingEvent)
		if err := proto.Unmarshal(m.Value, ev); err != nil || ev.GetBooking().GetId() == "" {
			logging.Ctx(kafka.MessageContext(ctx, m), c.log).Error("gate: skipping undecodable booking event",
				zap.Int32("partition", m.Partition), zap.Int64("offset", m.Offset), zap.Error(err))
			continue
		}
		b := ev.GetBooking()
		err := c.svc.Apply(kafka.MessageContext(ctx, m), BookingChange{
			BookingID: b.GetId(), UserID: b.GetUserId(), EventID: b.GetEventId(), ShowID: b.GetShowId(), ZoneID: b.GetZoneId(),
			Quantity: int(b.GetQuantity()), Status: statusName[b.GetStatus()], Confirmed: b.GetConfirmedAt() != nil,
			Version: ev.GetVersion(), At: ev.GetOccurredAt().AsTime(),
		})
		if errs.Is(err, errs.NotFound) {
			// The catalog does not know the show: it can never be issued.
			logging.Ctx(kafka.MessageContext(ctx, m), c.log).Error("gate: booking of an unknown show; no tickets",
				zap.String("booking", b.GetId()), zap.Error(err))
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}
