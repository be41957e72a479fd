// Package saga orchestrates the post-payment saga: confirm the booking,
// notify the buyer, refund when the hold was gone.
//
// One saga per payment (sagas.payment_id is unique), started by a
// payment.success message and persisted step by step (sagas, saga_steps),
// so any replica resumes a saga whose run died (orchestrator.go). Failed
// sagas are dead-lettered: the dead_letters table and the saga.dead-letter
// topic (through the transactional outbox). server.go is the admin read side.
package saga

import (
	"context"
	"errors"
	"flag"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/notify/v1/notifyv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/gen/bookingrush/saga/v1/sagav1connect"
	"github.com/bookingrush/rush/services/platform/directory"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/outbox"
	"github.com/bookingrush/rush/services/platform/server"
)

// Config is the saga component's configuration.
type Config struct {
	// Addr is where the SagaService listens (Connect, gRPC and gRPC-Web).
	Addr string `yaml:"addr"`
	// StepTimeout bounds one attempt of a step.
	StepTimeout time.Duration `yaml:"step_timeout"`
	// Timeout is how long a saga may keep retrying from its start.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how often a failed step is tried again.
	Retries int `yaml:"retries"`
	// RetryBackoff is the wait before the first retry; it doubles.
	RetryBackoff time.Duration `yaml:"retry_backoff"`
	// RetryBackoffMax caps the doubled wait.
	RetryBackoffMax time.Duration `yaml:"retry_backoff_max"`
	// ReviveAfter is how long a dead-lettered saga whose refund could not
	// run waits before it runs again.
	ReviveAfter time.Duration `yaml:"revive_after"`
	// Lease is how long a saga may go without a sign of life from its run
	// before another run (any replica) takes it over.
	Lease time.Duration `yaml:"lease"`
}

// RegisterFlags registers saga.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "saga.addr", server.DefaultAddr("saga"), "listen address of the SagaService")
	f.DurationVar(&c.StepTimeout, "saga.step-timeout", 30*time.Second, "time allowed for one attempt of a saga step")
	f.DurationVar(&c.Timeout, "saga.timeout", time.Minute, "how long a saga keeps trying to confirm before it refunds (and to refund before it is dead-lettered)")
	f.IntVar(&c.Retries, "saga.retries", 3, "retries of a failed saga step")
	f.DurationVar(&c.RetryBackoff, "saga.retry-backoff", time.Second, "wait before the first retry of a step (doubles each time)")
	f.DurationVar(&c.RetryBackoffMax, "saga.retry-backoff-max", 5*time.Second, "longest wait between two attempts of a step")
	f.DurationVar(&c.ReviveAfter, "saga.revive-after", time.Minute, "how long a dead-lettered saga whose refund could not run waits before it runs again")
	f.DurationVar(&c.Lease, "saga.lease", 15*time.Second, "how long a silent saga run keeps its saga before another replica resumes it")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.StepTimeout <= 0 || c.Timeout <= 0 || c.RetryBackoff <= 0 || c.Lease <= 0 || c.ReviveAfter <= 0 || c.RetryBackoffMax < c.RetryBackoff {
		errs = append(errs, errors.New("saga.step-timeout, saga.timeout, saga.retry-backoff, saga.lease and saga.revive-after must be positive, saga.retry-backoff-max at least saga.retry-backoff"))
	}
	if c.Retries < 0 || c.Retries > 20 {
		errs = append(errs, errors.New("saga.retries: must be in [0, 20]"))
	}
	errs = append(errs, server.ValidateAddr("saga.addr", c.Addr))
	return errors.Join(errs...)
}

// hooksIn takes test Hooks when the application supplies them.
type hooksIn struct {
	fx.In
	Hooks *Hooks `optional:"true"`
}

func newOrchestrator(cfg Config, store *Store, mesh *server.Mesh, p *kafka.Producer, relay *outbox.Relay, h hooksIn, reg prometheus.Registerer, log *zap.Logger) (*Orchestrator, error) {
	var hooks Hooks
	if h.Hooks != nil {
		hooks = *h.Hooks
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return NewOrchestrator(cfg, store,
		server.Dial(mesh, "saga", "booking", bookingv1connect.NewBookingServiceClient),
		server.Dial(mesh, "saga", "notify", notifyv1connect.NewNotifyServiceClient),
		server.Dial(mesh, "saga", "payment", paymentv1connect.NewPaymentServiceClient),
		directory.New(mesh, "saga"), p, relay, hooks, m, log), nil
}

// metrics are the saga series an operator alerts on.
type metrics struct {
	outcomes    *prometheus.CounterVec
	deadLetters prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saga_outcomes_total", Help: "Post-payment sagas ended, by outcome: completed (booking confirmed), compensated (payment refunded), failed (dead-lettered; a failed refund runs again later).",
		}, []string{"outcome"}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "saga_dead_letters_total", Help: "Sagas dead-lettered (counted once per saga, however often a revived one fails again).",
		}),
	}
	for _, c := range []prometheus.Collector{m.outcomes, m.deadLetters} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Every outcome is exported from the start, at 0: a rate() over the
	// first compensated or failed saga sees it, and the panel shows 0
	// rather than no data.
	for _, o := range []string{StatusCompleted, StatusCompensated, StatusFailed} {
		m.outcomes.WithLabelValues(o)
	}
	return m, nil
}

// Module runs the orchestrator (consuming payment.success) and serves the
// SagaService on cfg.Addr.
func Module(cfg Config) fx.Option {
	return fx.Module("saga",
		fx.Supply(fx.Private, cfg),
		fx.Provide(fx.Private, NewStore, newOrchestrator, NewServer,
			func(db *pgxpool.Pool, p *kafka.Producer, reg prometheus.Registerer, tp trace.TracerProvider, log *zap.Logger) (*outbox.Relay, error) {
				const name = "saga-outbox"
				r := outbox.NewRelay(name, db, p, 100, 200*time.Millisecond, tp, log)
				return r, kafka.RegisterRelayBacklog(reg, name, r.Backlog)
			}),
		fx.Invoke(func(lc fx.Lifecycle, c *kafka.Cluster, o *Orchestrator, relay *outbox.Relay) {
			lc.Append(fx.StartHook(func(ctx context.Context) error {
				return c.EnsureTopics(ctx, kafka.TopicSpec{Name: TopicPaymentSuccess}, kafka.TopicSpec{Name: TopicDeadLetter})
			}))
			lc.Append(fx.Hook{OnStart: relay.Start, OnStop: relay.Stop})
			// The orchestrator runs before the consumer starts and stops
			// after it: a saga recorded by the consumer is always run.
			lc.Append(fx.Hook{OnStart: o.Start, OnStop: o.Stop})
			r := c.NewBatchRunner(ConsumerGroup, ConsumedTopics, o.HandlePaymentSuccesses, kafka.BatchOptions{})
			lc.Append(fx.Hook{OnStart: r.Start, OnStop: r.Stop})
		}),
		server.Serve("saga", cfg.Addr, sagav1connect.SagaServiceName, sagav1connect.NewSagaServiceHandler),
	)
}
