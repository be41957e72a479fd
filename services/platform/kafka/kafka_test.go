package kafka_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/kafka"
)

func TestEmbeddedClusterStartsAndPings(t *testing.T) {
	t.Parallel()
	c, err := kafka.New(kafka.DefaultConfig(), zap.NewNop())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	if !c.Embedded() {
		t.Fatal("Embedded() = false with no brokers configured")
	}
	brokers := c.Brokers()
	if len(brokers) != 1 || strings.HasSuffix(brokers[0], ":0") {
		t.Fatalf("Brokers() = %v, want one resolved address", brokers)
	}
	if err := c.Ping(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Ping(ctxT(t, 5*time.Second)); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
}

func TestPingUnreachableBrokerFailsFast(t *testing.T) {
	t.Parallel()
	cfg := kafka.DefaultConfig()
	cfg.Brokers = config.StringSlice{"127.0.0.1:1"}
	cfg.DialTimeout = time.Second
	c, err := kafka.New(cfg, zap.NewNop()) // must not connect yet
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()

	start := time.Now()
	err = c.Ping(ctxT(t, 3*time.Second))
	took := time.Since(start)
	if err == nil {
		t.Fatal("Ping to 127.0.0.1:1 succeeded")
	}
	if took > 4*time.Second {
		t.Fatalf("Ping took %s, want it bounded by the 3s context", took)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "not reachable") {
		t.Fatalf("Ping error %q should name the broker and say it is not reachable", err)
	}

	// Without a deadline, kafka.ping-timeout bounds it.
	cfg.PingTimeout = 500 * time.Millisecond
	c2, err := kafka.New(cfg, zap.NewNop())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c2.Close()
	start = time.Now()
	if err := c2.Ping(context.Background()); err == nil {
		t.Fatal("Ping to 127.0.0.1:1 succeeded")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Ping without deadline took %s, want about the 500ms ping timeout", took)
	}
}

func TestPublishConsumeRoundTrip(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	p := newProducer(t, c)
	topic := onePartitionTopic(t, c)

	if err := p.Publish(ctxT(t, 10*time.Second), topic, []byte("booking-1"), []byte(`{"v":1}`),
		map[string]string{"event-type": "booking.held", "version": "3"}); err != nil {
		t.Fatalf("Publish: %v", err)
	}

	got := make(chan *sarama.ConsumerMessage, 10)
	startRunner(t, c.NewRunner(name(t, "group"), []string{topic}, func(_ context.Context, m *sarama.ConsumerMessage) error {
		got <- m
		return nil
	}))
	m := recv(t, got, "the published message")
	if string(m.Key) != "booking-1" || string(m.Value) != `{"v":1}` {
		t.Fatalf("got key %q value %q", m.Key, m.Value)
	}
	h := kafka.Headers(m)
	if h["event-type"] != "booking.held" || h["version"] != "3" {
		t.Fatalf("headers = %v", h)
	}
}

func TestTraceContextPropagates(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	p := newProducer(t, c)
	topic := onePartitionTopic(t, c)

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("test").Start(ctxT(t, 10*time.Second), "reserve")
	want := span.SpanContext()
	if err := p.Publish(ctx, topic, []byte("k"), []byte("v"), nil); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if err := p.PublishBatch(ctx, []kafka.Message{{Topic: topic, Key: []byte("k2"), Value: []byte("v2")}}); err != nil {
		t.Fatalf("PublishBatch: %v", err)
	}
	span.End()

	got := make(chan trace.SpanContext, 10)
	startRunner(t, c.NewRunner(name(t, "group"), []string{topic}, func(ctx context.Context, m *sarama.ConsumerMessage) error {
		got <- trace.SpanContextFromContext(ctx)
		if sc := trace.SpanContextFromContext(kafka.ExtractContext(context.Background(), m)); !sc.Equal(trace.SpanContextFromContext(ctx)) {
			t.Errorf("ExtractContext = %v, handler ctx has %v", sc, trace.SpanContextFromContext(ctx))
		}
		return nil
	}))
	for i := range 2 {
		select {
		case sc := <-got:
			if sc.TraceID() != want.TraceID() || sc.SpanID() != want.SpanID() || !sc.IsRemote() {
				t.Fatalf("message %d: consumer span context %v, want remote %v", i, sc, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("message %d not consumed within 20s", i)
		}
	}
}

func TestFailedHandlerNeverCommitsAndIsRedelivered(t *testing.T) {
	t.Parallel()
	c := newCluster(t, func(cfg *kafka.Config) { cfg.ConsumerRetries = 1 })
	p := newProducer(t, c)
	topic := onePartitionTopic(t, c)
	group := name(t, "group")
	for _, v := range []string{"A", "X", "B"} {
		if err := p.Publish(ctxT(t, 10*time.Second), topic, nil, []byte(v), nil); err != nil {
			t.Fatalf("Publish %s: %v", v, err)
		}
	}

	var mu sync.Mutex
	seen := map[string]int{}
	count := func(v string) int { mu.Lock(); defer mu.Unlock(); return seen[v] }
	failing := c.NewRunner(group, []string{topic}, func(_ context.Context, m *sarama.ConsumerMessage) error {
		mu.Lock()
		seen[string(m.Value)]++
		mu.Unlock()
		if string(m.Value) == "X" {
			return errors.New("postgres is down")
		}
		return nil
	})
	startRunner(t, failing)
	// Each session tries X twice (1 retry); a third attempt means the
	// session ended and X came back after re-joining.
	waitFor(t, 20*time.Second, "X to be redelivered after a re-join", func() (bool, string) {
		return count("X") >= 3, ""
	})
	stopRunner(t, failing)
	if n := count("B"); n != 0 {
		t.Fatalf("B was delivered %d times past the failing X", n)
	}
	if n := count("A"); n != 1 {
		t.Fatalf("A was delivered %d times, want once (it was committed)", n)
	}
	pl, err := committed(t, c, group, topic)
	if err != nil {
		t.Fatalf("Lag: %v", err)
	}
	if pl.Committed != 1 || pl.Lag != 2 {
		t.Fatalf("after failures: %+v, want committed 1 (A only), lag 2", pl)
	}

	// A fixed consumer in the same group gets X again, then B.
	got := make(chan *sarama.ConsumerMessage, 10)
	startRunner(t, c.NewRunner(group, []string{topic}, func(_ context.Context, m *sarama.ConsumerMessage) error {
		got <- m
		return nil
	}))
	if m := recv(t, got, "X after restart"); string(m.Value) != "X" {
		t.Fatalf("first message after restart = %q, want the uncommitted X", m.Value)
	}
	if m := recv(t, got, "B after restart"); string(m.Value) != "B" {
		t.Fatalf("second message after restart = %q, want B", m.Value)
	}
	waitCommitted(t, c, group, topic, 3)
}

func TestCommittedMessagesAreNotRedelivered(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	p := newProducer(t, c)
	topic := onePartitionTopic(t, c)
	group := name(t, "group")
	publish := func(v string) {
		t.Helper()
		if err := p.Publish(ctxT(t, 10*time.Second), topic, []byte(v), []byte(v), nil); err != nil {
			t.Fatalf("Publish %s: %v", v, err)
		}
	}
	for _, v := range []string{"A", "B", "C"} {
		publish(v)
	}
	got := make(chan *sarama.ConsumerMessage, 10)
	handler := func(_ context.Context, m *sarama.ConsumerMessage) error {
		got <- m
		return nil
	}
	r := c.NewRunner(group, []string{topic}, handler)
	startRunner(t, r)
	for _, want := range []string{"A", "B", "C"} {
		if m := recv(t, got, want); string(m.Value) != want {
			t.Fatalf("got %q, want %q", m.Value, want)
		}
	}
	waitCommitted(t, c, group, topic, 3)
	stopRunner(t, r)

	publish("D")
	if err := r.Start(t.Context()); err != nil { // a stopped Runner restarts
		t.Fatalf("restart: %v", err)
	}
	// One partition: had A..C been redelivered, they would come before D.
	if m := recv(t, got, "D after restart"); string(m.Value) != "D" {
		t.Fatalf("first message after restart = %q, want D (A..C were committed)", m.Value)
	}
	waitCommitted(t, c, group, topic, 4)
}

// TestStopConsumersStopsEveryRunner: the process's stop (app.New's first
// stop hook) stops every consumer at once; each Runner is then stopped (a
// running one refuses to start again) and starts again where its group
// committed.
func TestStopConsumersStopsEveryRunner(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	p := newProducer(t, c)
	topic := onePartitionTopic(t, c)
	publish := func(v string) {
		t.Helper()
		if err := p.Publish(ctxT(t, 10*time.Second), topic, []byte(v), []byte(v), nil); err != nil {
			t.Fatalf("Publish %s: %v", v, err)
		}
	}
	var (
		runners []*kafka.Runner
		groups  []string
		got     []chan *sarama.ConsumerMessage
	)
	for range 3 {
		group, ch := name(t, "group"), make(chan *sarama.ConsumerMessage, 10)
		r := c.NewRunner(group, []string{topic}, func(_ context.Context, m *sarama.ConsumerMessage) error {
			ch <- m
			return nil
		})
		startRunner(t, r)
		runners, groups, got = append(runners, r), append(groups, group), append(got, ch)
	}
	publish("A")
	for i := range runners {
		recv(t, got[i], "A in "+groups[i])
		waitCommitted(t, c, groups[i], topic, 1)
	}
	if err := c.StopConsumers(ctxT(t, 20*time.Second)); err != nil {
		t.Fatalf("StopConsumers: %v", err)
	}
	publish("B")
	for i, r := range runners {
		if err := r.Start(t.Context()); err != nil {
			t.Fatalf("%s after StopConsumers: %v", groups[i], err)
		}
		if m := recv(t, got[i], "B in "+groups[i]); string(m.Value) != "B" {
			t.Fatalf("%s after StopConsumers: %q, want B (A was committed)", groups[i], m.Value)
		}
	}
}

func TestBatchHandlerReceivesBatches(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	p := newProducer(t, c)
	topic := onePartitionTopic(t, c)
	group := name(t, "group")
	const total, maxSize = 50, 20
	msgs := make([]kafka.Message, total)
	for i := range msgs {
		msgs[i] = kafka.Message{Topic: topic, Key: []byte{byte(i)}, Value: []byte{byte(i)}}
	}
	if err := p.PublishBatch(ctxT(t, 10*time.Second), msgs); err != nil {
		t.Fatalf("PublishBatch: %v", err)
	}

	batches := make(chan []*sarama.ConsumerMessage, total)
	startRunner(t, c.NewBatchRunner(group, []string{topic}, func(_ context.Context, ms []*sarama.ConsumerMessage) error {
		batches <- ms
		return nil
	}, kafka.BatchOptions{MaxSize: maxSize, Linger: 200 * time.Millisecond}))

	var next int64
	largest := 0
	for next < total {
		select {
		case b := <-batches:
			if len(b) == 0 || len(b) > maxSize {
				t.Fatalf("batch of %d, want 1..%d", len(b), maxSize)
			}
			largest = max(largest, len(b))
			for _, m := range b {
				if m.Offset != next {
					t.Fatalf("offset %d, want %d (batches in order, no gaps)", m.Offset, next)
				}
				next++
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d of %d messages consumed within 20s", next, total)
		}
	}
	if largest < 2 {
		t.Fatalf("largest batch had %d messages; the 50 waiting messages should have been batched", largest)
	}
	waitCommitted(t, c, group, topic, total)
}

func TestBatchHandlerFailureCommitsNothing(t *testing.T) {
	t.Parallel()
	c := newCluster(t, func(cfg *kafka.Config) { cfg.ConsumerRetries = 0 })
	p := newProducer(t, c)
	topic := onePartitionTopic(t, c)
	group := name(t, "group")
	msgs := make([]kafka.Message, 5)
	for i := range msgs {
		msgs[i] = kafka.Message{Topic: topic, Value: []byte{byte(i)}}
	}
	if err := p.PublishBatch(ctxT(t, 10*time.Second), msgs); err != nil {
		t.Fatalf("PublishBatch: %v", err)
	}
	var calls atomic.Int32
	r := c.NewBatchRunner(group, []string{topic}, func(context.Context, []*sarama.ConsumerMessage) error {
		calls.Add(1)
		return errors.New("constraint violation")
	}, kafka.BatchOptions{MaxSize: 5, Linger: 100 * time.Millisecond})
	startRunner(t, r)
	waitFor(t, 20*time.Second, "the batch to be redelivered", func() (bool, string) { return calls.Load() >= 2, "" })
	stopRunner(t, r)
	pl, err := committed(t, c, group, topic)
	if err != nil {
		t.Fatalf("Lag: %v", err)
	}
	if pl.Committed != -1 || pl.Lag != 5 {
		t.Fatalf("after failed batches: %+v, want nothing committed and lag 5", pl)
	}
}

func TestEnsureTopicsIsIdempotent(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	t4, tDefault := name(t, "four"), name(t, "default")
	specs := []kafka.TopicSpec{
		{Name: t4, Partitions: 4, Configs: map[string]string{"retention.ms": "3600000"}},
		{Name: tDefault},
	}
	for i := range 2 {
		if err := c.EnsureTopics(ctxT(t, 10*time.Second), specs...); err != nil {
			t.Fatalf("EnsureTopics call %d: %v", i+1, err)
		}
	}
	for topic, want := range map[string]int{t4: 4, tDefault: 3} {
		lag, err := c.Lag(ctxT(t, 10*time.Second), name(t, "nogroup"), topic)
		if err != nil {
			t.Fatalf("Lag(%s): %v", topic, err)
		}
		if len(lag) != want {
			t.Fatalf("topic %s has %d partitions, want %d", topic, len(lag), want)
		}
	}
	if err := c.EnsureTopics(ctxT(t, 5*time.Second), kafka.TopicSpec{}); err == nil {
		t.Fatal("EnsureTopics accepted an empty name")
	}
}

func TestLagCountsUncommittedMessages(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	p := newProducer(t, c)
	topic := onePartitionTopic(t, c)
	group := name(t, "group")
	publishN := func(n int) {
		t.Helper()
		for range n {
			if err := p.Publish(ctxT(t, 10*time.Second), topic, nil, []byte("x"), nil); err != nil {
				t.Fatalf("Publish: %v", err)
			}
		}
	}
	publishN(4)
	pl, err := committed(t, c, group, topic)
	if err != nil {
		t.Fatalf("Lag: %v", err)
	}
	if pl.Lag != 4 || pl.Committed != -1 || pl.HighWater != 4 {
		t.Fatalf("before consuming: %+v, want lag 4 from the log start", pl)
	}

	r := c.NewRunner(group, []string{topic}, func(context.Context, *sarama.ConsumerMessage) error { return nil })
	startRunner(t, r)
	waitCommitted(t, c, group, topic, 4)
	stopRunner(t, r)

	publishN(6)
	pl, err = committed(t, c, group, topic)
	if err != nil {
		t.Fatalf("Lag: %v", err)
	}
	if pl.Lag != 6 || pl.Committed != 4 || pl.HighWater != 10 {
		t.Fatalf("after 4 consumed and 6 more produced: %+v, want lag 6", pl)
	}
}

func TestModuleLifecycle(t *testing.T) {
	t.Parallel()
	cfg := kafka.DefaultConfig()
	var (
		c *kafka.Cluster
		p *kafka.Producer
	)
	reg := prometheus.NewRegistry()
	app := fxtest.New(t,
		kafka.Module,
		fx.Supply(cfg, zap.NewNop(), fx.Annotate(reg, fx.As(new(prometheus.Registerer)))),
		fx.Populate(&c, &p),
	)
	app.RequireStart()
	if len(c.Brokers()) != 1 {
		t.Fatalf("Brokers() = %v", c.Brokers())
	}
	topic := name(t, "topic")
	if err := p.Publish(ctxT(t, 10*time.Second), topic, nil, []byte("v"), nil); err != nil {
		t.Fatalf("Publish to an auto-created topic: %v", err)
	}
	// A consumer group run by this process shows up in kafka_consumer_lag.
	group := name(t, "lag-group")
	c.NewRunner(group, []string{topic}, func(context.Context, *sarama.ConsumerMessage) error { return nil })
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range families {
		if f.GetName() == "kafka_consumer_lag" {
			for _, m := range f.GetMetric() {
				found = found || m.GetGauge().GetValue() == 1
			}
		}
	}
	if !found {
		t.Fatalf("kafka_consumer_lag does not report the one uncommitted message: %v", families)
	}
	app.RequireStop()
	if err := c.Ping(ctxT(t, 3*time.Second)); err == nil {
		t.Fatal("Ping succeeded after the app stopped the embedded broker")
	}
	if err := p.Publish(ctxT(t, 3*time.Second), topic, nil, []byte("v"), nil); !errors.Is(err, kafka.ErrClosed) {
		t.Fatalf("Publish after stop = %v, want ErrClosed", err)
	}
}
