package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/IBM/sarama"
	"github.com/rcrowley/go-metrics"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Sarama records its own metrics in go-metrics (histograms, and meters that a
// goroutine of theirs ticks), which nothing here reads: the Kafka metrics of
// this system are Prometheus' (metrics.go). Sarama's documented switch turns
// them off before any client starts; they were 1-2.5% of the booking
// process' CPU and 2-4% of the services process' in the bench's profiles
// (bench/RESULTS.md).
func init() { metrics.UseNilMetrics = true }

// Module provides a *Cluster and its shared *Producer. The application must
// provide a kafka Config (e.g. fx.Supply(cfg.Kafka)). The embedded broker, if
// any, is already listening once the Cluster exists, so other constructors can
// read Brokers(); it is closed on OnStop, after the producer and every
// consumer registered later.
var Module = fx.Module("kafka",
	fx.Provide(provideCluster, provideProducer),
	fx.Invoke(func(reg prometheus.Registerer, c *Cluster) error { return reg.Register(c.LagCollector()) }),
)

// clusterDeps are provideCluster's arguments; the tracer provider is
// optional so the module also runs without telemetry.Module (no spans).
type clusterDeps struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    Config
	Log       *zap.Logger
	Tracing   trace.TracerProvider `optional:"true"`
}

func provideCluster(d clusterDeps) (*Cluster, error) {
	lc := d.Lifecycle
	c, err := New(d.Config, d.Log)
	if err != nil {
		return nil, err
	}
	c.setTracerProvider(d.Tracing)
	lc.Append(fx.Hook{OnStop: func(context.Context) error { return c.Close() }})
	return c, nil
}

func provideProducer(lc fx.Lifecycle, c *Cluster) *Producer {
	p := c.NewProducer()
	lc.Append(fx.Hook{OnStop: func(context.Context) error { return p.Close() }})
	return p
}

// Cluster is a handle on the Kafka cluster the process talks to: either the
// configured brokers or an in-process kfake broker. It builds sarama configs
// and owns a lazily connected admin client shared by EnsureTopics, Lag and
// Ping.
type Cluster struct {
	cfg      Config
	log      *zap.Logger
	version  sarama.KafkaVersion
	brokers  []string
	embedded *kfake.Cluster
	tracer   trace.Tracer // consumer spans; nil when tracing is off

	consumers consumers

	mu     sync.Mutex
	client sarama.Client
	admin  sarama.ClusterAdmin
	closed bool
}

// New validates cfg and, when cfg.Brokers is empty, starts the in-process
// broker at once so that Brokers() is known to everything built after it. It
// does not contact configured brokers: a missing Kafka shows in Ping
// (readiness), not as a failed start.
func New(cfg Config, log *zap.Logger) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	v, _ := sarama.ParseKafkaVersion(cfg.Version) // checked by Validate
	c := &Cluster{cfg: cfg, log: log.Named("kafka"), version: v}
	if len(cfg.Brokers) > 0 {
		c.brokers = append([]string(nil), cfg.Brokers...)
		c.log.Info("using Kafka brokers", zap.Strings("brokers", c.brokers))
		return c, nil
	}
	addr := cfg.EmbeddedAddr
	kc, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		// kfake always asks for 127.0.0.1:<port>; listen where configured
		// instead, since the broker advertises its listener's address.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, addr) }),
		kfake.DefaultNumPartitions(cfg.EmbeddedPartitions),
		// Like a default Kafka: producing to a new topic creates it.
		kfake.AllowAutoTopicCreation(),
		kfake.WithLogger(kfakeLogger{c.log.Named("embedded")}),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka: start embedded broker on %s: %w (set kafka.embedded-addr to a free address, or RUSH_KAFKA_BROKERS to use a real Kafka)", addr, err)
	}
	c.embedded = kc
	c.brokers = kc.ListenAddrs()
	c.log.Info("started embedded Kafka broker (kfake); set RUSH_KAFKA_BROKERS to use a real one",
		zap.Strings("brokers", c.brokers))
	return c, nil
}

// Config returns the configuration the cluster was built with (after validation).
func (c *Cluster) Config() Config { return c.cfg }

// Embedded reports whether the cluster is the in-process broker.
func (c *Cluster) Embedded() bool { return c.embedded != nil }

// Brokers returns the bootstrap addresses, including the embedded broker's
// actual listen address when it picked a free port.
func (c *Cluster) Brokers() []string { return append([]string(nil), c.brokers...) }

// NewSaramaConfig returns a fresh sarama config with the project's settings:
// protocol version, client id, timeouts, an idempotent acks=all producer that
// returns successes (SyncProducer needs them), and a consumer that starts new
// groups at the oldest offset and never commits on its own.
func (c *Cluster) NewSaramaConfig() *sarama.Config {
	sc := sarama.NewConfig()
	sc.Version = c.version
	sc.ClientID = c.cfg.ClientID
	sc.Net.DialTimeout = c.cfg.DialTimeout
	sc.Net.ReadTimeout = max(30*time.Second, c.cfg.ProduceTimeout+5*time.Second)
	sc.Net.WriteTimeout = 30 * time.Second
	// Partition leaders of an unknown topic appear after auto creation;
	// keep metadata retries short so readiness and sends fail fast.
	sc.Metadata.Retry.Max = 3
	sc.Metadata.Retry.Backoff = 250 * time.Millisecond

	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Idempotent = true
	sc.Net.MaxOpenRequests = 1 // required by the idempotent producer
	sc.Producer.Retry.Max = c.cfg.ProduceRetries
	sc.Producer.Retry.Backoff = 100 * time.Millisecond
	sc.Producer.Timeout = c.cfg.ProduceTimeout
	sc.Producer.Return.Successes = true
	sc.Producer.Return.Errors = true
	// Keyed messages (booking id) keep their order: the hash partitioner
	// sends one key to one partition.
	sc.Producer.Partitioner = sarama.NewHashPartitioner

	sc.Consumer.Return.Errors = true
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	sc.Consumer.Offsets.AutoCommit.Enable = false
	sc.Consumer.MaxWaitTime = c.cfg.ConsumerMaxWait
	sc.Consumer.Group.Session.Timeout = c.cfg.ConsumerSessionTimeout
	sc.Consumer.Group.Heartbeat.Interval = c.cfg.ConsumerHeartbeatInterval
	sc.Consumer.Group.Rebalance.Retry.Backoff = 500 * time.Millisecond
	return sc
}

// Ping checks that a broker answers a metadata request. Without a deadline
// on ctx it uses kafka.ping-timeout, so readiness never hangs on a dead
// broker. The error names the brokers it tried.
func (c *Cluster) Ping(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.PingTimeout)
		defer cancel()
	}
	err := runCtx(ctx, func() error {
		cl, err := c.sharedClient()
		if err != nil {
			return err
		}
		if err := cl.RefreshMetadata(); err != nil {
			return err
		}
		if len(cl.Brokers()) == 0 {
			return sarama.ErrOutOfBrokers
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kafka: brokers %s not reachable: %w", strings.Join(c.brokers, ","), err)
	}
	return nil
}

// Close closes the shared admin client and stops the embedded broker. The
// Producer and Runners have their own Close/Stop and should be stopped first.
func (c *Cluster) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var err error
	if c.admin != nil {
		err = c.admin.Close() // also closes c.client
	} else if c.client != nil {
		err = c.client.Close()
	}
	c.admin, c.client = nil, nil
	if c.embedded != nil {
		c.embedded.Close()
		c.log.Info("stopped embedded Kafka broker")
	}
	if err != nil && !errors.Is(err, sarama.ErrClosedClient) {
		return fmt.Errorf("kafka: close admin client: %w", err)
	}
	return nil
}

func (c *Cluster) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// ErrClosed is returned by operations on a closed Cluster or Producer.
var ErrClosed = errors.New("kafka: closed")

// sharedClient connects the shared client on first use and keeps it; a
// failed connect is retried by the next caller.
func (c *Cluster) sharedClient() (sarama.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.client != nil {
		return c.client, nil
	}
	cl, err := sarama.NewClient(c.brokers, c.NewSaramaConfig())
	if err != nil {
		return nil, err
	}
	c.client = cl
	return cl, nil
}

// sharedAdmin wraps the shared client in a ClusterAdmin. Closing the admin
// closes the client, so only Close does that.
func (c *Cluster) sharedAdmin() (sarama.ClusterAdmin, sarama.Client, error) {
	cl, err := c.sharedClient()
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, ErrClosed
	}
	if c.admin != nil {
		return c.admin, cl, nil
	}
	a, err := sarama.NewClusterAdminFromClient(cl)
	if err != nil {
		return nil, nil, err
	}
	c.admin = a
	return a, cl, nil
}

// runCtx runs fn, which cannot be cancelled (sarama takes no contexts), and
// returns early when ctx ends; fn then finishes in the background, bounded by
// the client's own network timeouts.
func runCtx(ctx context.Context, fn func() error) error {
	_, err := runCtxValue(ctx, func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// runCtxValue is runCtx for functions with a result.
func runCtxValue[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// kfakeLogger sends the embedded broker's warnings and errors to zap; its
// info and debug output is per request and only noise here.
type kfakeLogger struct{ log *zap.Logger }

func (l kfakeLogger) Logf(lvl kfake.LogLevel, format string, args ...any) {
	switch lvl {
	case kfake.LogLevelError:
		l.log.Error(fmt.Sprintf(format, args...))
	case kfake.LogLevelWarn:
		l.log.Warn(fmt.Sprintf(format, args...))
	}
}
