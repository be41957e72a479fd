// Package payment takes payments for held bookings through a provider
// (Stripe or the simulator), records webhooks idempotently and refunds.
//
// Layers: handlers (server.go) translate; rules live in service.go; SQL in
// store.go; providers behind the Provider interface (stripe.go,
// simulator.go); the refund policy is policy.go. Every state change that
// others must hear about is written with its event in one transaction
// (services/platform/outbox) and relayed to Kafka by the outbox relay every
// payment process runs.
package payment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/api/httpbody"

	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/gate/v1/gatev1connect"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/outbox"
	"github.com/bookingrush/rush/services/platform/server"
)

// Config is the payment component's configuration.
type Config struct {
	// Addr is where the PaymentService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
	// Provider is "simulator" (default) or "stripe".
	Provider string `yaml:"provider"`
	// SimDelay is how long the simulator takes to answer sim_slow.
	SimDelay time.Duration `yaml:"sim_delay"`
	// OutboxPoll is how often the outbox relay looks for unpublished events
	// written by other processes (its own are relayed at once).
	OutboxPoll time.Duration `yaml:"outbox_poll"`
	// OutboxBatch is the most events relayed at once.
	OutboxBatch int `yaml:"outbox_batch"`
	// ReconcileInterval is how often the reconciler looks for payments
	// left open (see Reconciler).
	ReconcileInterval time.Duration `yaml:"reconcile_interval"`
	// ReconcileGrace is how long a succeeded payment may wait for its
	// booking's confirmation before the reconciler settles it; longer than
	// a saga's life (saga.timeout).
	ReconcileGrace time.Duration `yaml:"reconcile_grace"`
	// StaleAfter is when a pending or processing payment is asked of the
	// provider (its webhook may be lost). An intent still open then is
	// cancelled only once the hold it pays for expired too (the expiry the
	// booking service gave at the payment's creation: a waitlist offer
	// lives booking.waitlist-offer-ttl, longer than this), so a buyer who
	// is still paying a live hold is not cut off; it is asked again
	// StaleAfter later, or when the hold expires.
	StaleAfter time.Duration `yaml:"stale_after"`
	// EventLag is how long after the provider created an event the
	// reconciler lists it, in case no webhook brought it (a younger one's
	// webhook is most likely on its way).
	EventLag time.Duration `yaml:"event_lag"`
}

// RegisterFlags registers payment.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "payment.addr", server.DefaultAddr("payment"), "listen address of the PaymentService")
	f.StringVar(&c.Provider, "payment.provider", "simulator", "payment provider: simulator or stripe")
	f.DurationVar(&c.SimDelay, "payment.sim-delay", 3*time.Second, "how long the simulator takes to answer sim_slow")
	f.DurationVar(&c.OutboxPoll, "payment.outbox-poll", 200*time.Millisecond, "how often the outbox relay looks for unpublished events")
	f.IntVar(&c.OutboxBatch, "payment.outbox-batch", 100, "most outbox events relayed to Kafka at once")
	f.DurationVar(&c.ReconcileInterval, "payment.reconcile-interval", 30*time.Second, "how often the reconciler settles payments left open")
	f.DurationVar(&c.ReconcileGrace, "payment.reconcile-grace", 2*time.Minute, "how long a succeeded payment waits for its confirmation before the reconciler settles it (longer than saga.timeout)")
	f.DurationVar(&c.StaleAfter, "payment.stale-after", 15*time.Minute, "age at which a pending or processing payment is asked of the provider, in case its webhook was lost; an intent still open is cancelled only once the hold it pays for expired too (a waitlist offer's lives booking.waitlist-offer-ttl), and asked again this much later or when the hold expires")
	f.DurationVar(&c.EventLag, "payment.event-lag", time.Minute, "how long after the provider created an event the reconciler lists it, in case no webhook brought it")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Provider != "simulator" && c.Provider != "stripe" {
		errs = append(errs, fmt.Errorf("payment.provider: %q is neither simulator nor stripe", c.Provider))
	}
	if c.SimDelay < 0 || c.OutboxPoll <= 0 || c.OutboxBatch < 1 {
		errs = append(errs, errors.New("payment.sim-delay must be >= 0, payment.outbox-poll and payment.outbox-batch positive"))
	}
	if c.ReconcileInterval <= 0 || c.ReconcileGrace <= 0 || c.StaleAfter <= 0 || c.EventLag <= 0 {
		errs = append(errs, errors.New("payment.reconcile-interval, payment.reconcile-grace, payment.stale-after and payment.event-lag must be positive"))
	}
	errs = append(errs, server.ValidateAddr("payment.addr", c.Addr))
	return errors.Join(errs...)
}

// Topics lists the payment topics, created when the service starts.
var Topics = []string{TopicSuccess, TopicFailed, TopicRefunded, TopicRefundFailed}

// newProvider builds the configured provider. The simulator delivers its
// webhooks to HandleStripeWebhook through the mesh (this process, or a
// payment replica at peer.payment), so they take the production path.
func newProvider(lc fx.Lifecycle, cfg Config, st StripeConfig, mesh *server.Mesh, log *zap.Logger) (Provider, error) {
	if cfg.Provider == "stripe" {
		return NewStripe(st, nil, log)
	}
	log.Warn("payment.provider=simulator: nothing is charged, and any buyer who pays with sim_ok gets the tickets; development and tests only, set payment.provider=stripe for real sales")
	secret := st.WebhookSecret.Reveal()
	if secret == "" {
		// Fine for one process; several payment replicas need the same
		// stripe.webhook-secret to verify each other's deliveries.
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		secret = "whsec_sim_" + hex.EncodeToString(b)
	}
	sim := NewSimulator(secret, cfg.SimDelay, log)
	self := server.Dial(mesh, "payment", "payment", paymentv1connect.NewPaymentServiceClient)
	sim.SetDeliverer(func(ctx context.Context, payload []byte, sig string) error {
		_, err := self.HandleStripeWebhook(authn.AsSystem(ctx), connect.NewRequest(&paymentv1.HandleStripeWebhookRequest{
			Body: &httpbody.HttpBody{ContentType: "application/json", Data: payload}, StripeSignature: sig,
		}))
		return err
	})
	lc.Append(fx.StopHook(sim.Close))
	return sim, nil
}

func newBookingClient(mesh *server.Mesh) bookingv1connect.BookingServiceClient {
	return server.Dial(mesh, "payment", "booking", bookingv1connect.NewBookingServiceClient)
}

// newGateClient asks the gate service whether a booking's tickets were used
// at the door (a refund quote says such a booking can no longer be
// cancelled).
func newGateClient(mesh *server.Mesh) gatev1connect.GateServiceClient {
	return server.Dial(mesh, "payment", "gate", gatev1connect.NewGateServiceClient)
}

func newRelay(lc fx.Lifecycle, cfg Config, db *pgxpool.Pool, p *kafka.Producer, reg prometheus.Registerer, tp trace.TracerProvider, log *zap.Logger) (*outbox.Relay, error) {
	const name = "payment-outbox"
	r := outbox.NewRelay(name, db, p, cfg.OutboxBatch, cfg.OutboxPoll, tp, log)
	lc.Append(fx.Hook{OnStart: r.Start, OnStop: r.Stop})
	return r, kafka.RegisterRelayBacklog(reg, name, r.Backlog)
}

// Module serves the PaymentService on cfg.Addr and relays its outbox.
func Module(cfg Config, st StripeConfig) fx.Option {
	return fx.Module("payment",
		fx.Supply(fx.Private, cfg, st),
		fx.Provide(fx.Private, NewStore, newProvider, newBookingClient, newGateClient, newShows, newRelay, NewService, NewServer),
		fx.Invoke(func(lc fx.Lifecycle, svc *Service, log *zap.Logger) {
			r := NewReconciler(svc, cfg, log)
			lc.Append(fx.Hook{OnStart: r.Start, OnStop: r.Stop})
		}),
		fx.Invoke(func(lc fx.Lifecycle, c *kafka.Cluster, _ *outbox.Relay) {
			lc.Append(fx.StartHook(func(ctx context.Context) error {
				specs := make([]kafka.TopicSpec, len(Topics))
				for i, t := range Topics {
					specs[i] = kafka.TopicSpec{Name: t}
				}
				return c.EnsureTopics(ctx, specs...)
			}))
		}),
		server.Serve("payment", cfg.Addr, paymentv1connect.PaymentServiceName, paymentv1connect.NewPaymentServiceHandler,
			// Callable without a token (the provider signs instead):
			paymentv1connect.PaymentServiceHandleStripeWebhookProcedure,
		),
	)
}
