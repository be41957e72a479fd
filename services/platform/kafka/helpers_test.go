package kafka_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/bookingrush/rush/services/platform/kafka"
)

// shared is one embedded broker for the package's tests; each test uses its
// own topics and groups on it, and its own Cluster handle.
var shared *kafka.Cluster

func TestMain(m *testing.M) {
	// The telemetry component sets the global propagator in the binary;
	// tests set the same W3C one.
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	var err error
	shared, err = kafka.New(kafka.DefaultConfig(), zap.NewNop())
	if err != nil {
		fmt.Fprintln(os.Stderr, "start embedded broker:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = shared.Close()
	os.Exit(code)
}

// newCluster returns a Cluster handle on the shared broker with test-friendly
// retry settings, closed at the end of the test.
func newCluster(t *testing.T, mutate ...func(*kafka.Config)) *kafka.Cluster {
	t.Helper()
	cfg := kafka.DefaultConfig()
	cfg.Brokers = shared.Brokers()
	cfg.ConsumerRetryBackoff = 20 * time.Millisecond
	for _, f := range mutate {
		f(&cfg)
	}
	c, err := kafka.New(cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatalf("kafka.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newProducer(t *testing.T, c *kafka.Cluster) *kafka.Producer {
	t.Helper()
	p := c.NewProducer()
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// name returns a unique topic or group name for this test.
func name(t *testing.T, kind string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	n := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("%s.%s.%s", n, kind, hex.EncodeToString(b))
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// onePartitionTopic creates a topic with one partition, so order across all
// its messages is defined.
func onePartitionTopic(t *testing.T, c *kafka.Cluster) string {
	t.Helper()
	topic := name(t, "topic")
	if err := c.EnsureTopics(ctxT(t, 10*time.Second), kafka.TopicSpec{Name: topic, Partitions: 1}); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	return topic
}

// startRunner starts r and stops it at the end of the test (if still running).
func startRunner(t *testing.T, r *kafka.Runner) {
	t.Helper()
	if err := r.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { stopRunner(t, r) })
}

func stopRunner(t *testing.T, r *kafka.Runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func recv(t *testing.T, ch <-chan *sarama.ConsumerMessage, what string) *sarama.ConsumerMessage {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(20 * time.Second):
		t.Fatalf("no message within 20s: waiting for %s", what)
		return nil
	}
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last state: %s)", timeout, what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// committed returns the group's committed offset on partition 0 of topic.
func committed(t *testing.T, c *kafka.Cluster, group, topic string) (kafka.PartitionLag, error) {
	lag, err := c.Lag(ctxT(t, 10*time.Second), group, topic)
	if err != nil {
		return kafka.PartitionLag{}, err
	}
	if len(lag) != 1 {
		return kafka.PartitionLag{}, fmt.Errorf("want 1 partition, got %+v", lag)
	}
	return lag[0], nil
}

func waitCommitted(t *testing.T, c *kafka.Cluster, group, topic string, want int64) {
	t.Helper()
	waitFor(t, 15*time.Second, fmt.Sprintf("group %s to commit offset %d", group, want), func() (bool, string) {
		pl, err := committed(t, c, group, topic)
		if err != nil {
			return false, err.Error()
		}
		return pl.Committed == want, fmt.Sprintf("%+v", pl)
	})
}
