package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.uber.org/zap"
)

// Message is one record for PublishBatch.
type Message struct {
	// Topic is where the record goes.
	Topic string
	// Key picks the partition (one key, one partition, one order); nil
	// spreads records over partitions.
	Key []byte
	// Value is the payload.
	Value []byte
	// Headers are written after the trace context of the call, so a relay
	// can forward the traceparent it stored with the event and win.
	Headers map[string]string
}

// Producer is the process-wide idempotent, acks=all producer. It connects on
// first use (and again after a failed connect), so building it never needs a
// reachable broker; it is safe for concurrent use.
type Producer struct {
	c   *Cluster
	log *zap.Logger

	mu     sync.Mutex
	sp     sarama.SyncProducer
	closed bool
}

// NewProducer returns a producer on the cluster. Module provides a shared
// one; call Close when done with one made by hand.
func (c *Cluster) NewProducer() *Producer {
	return &Producer{c: c, log: c.log.Named("producer")}
}

// SyncProducer returns the underlying sarama producer, connecting it if
// needed, for callers that need sarama directly.
func (p *Producer) SyncProducer() (sarama.SyncProducer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if p.sp != nil {
		return p.sp, nil
	}
	sp, err := sarama.NewSyncProducer(p.c.brokers, p.c.NewSaramaConfig())
	if err != nil {
		return nil, fmt.Errorf("kafka: connect producer to %v: %w", p.c.brokers, err)
	}
	p.sp = sp
	return sp, nil
}

// Publish sends one record and returns once every in-sync replica has it
// (acks=all). The OpenTelemetry trace context of ctx travels in the record
// headers (see ExtractContext). If ctx ends first Publish returns ctx.Err(),
// but the record may still be written: callers retry, consumers deduplicate.
func (p *Producer) Publish(ctx context.Context, topic string, key, value []byte, headers map[string]string) error {
	sp, err := p.SyncProducer()
	if err != nil {
		return err
	}
	msg := producerMessage(ctx, Message{Topic: topic, Key: key, Value: value, Headers: headers})
	err = runCtx(ctx, func() error {
		_, _, err := sp.SendMessage(msg)
		return err
	})
	if err != nil {
		return fmt.Errorf("kafka: publish to %s: %w", topic, err)
	}
	return nil
}

// PublishBatch sends records in one go (relays draining an outbox) and
// returns nil only if every one was acknowledged. On error some records may
// have been written; the caller retries the batch and consumers deduplicate.
func (p *Producer) PublishBatch(ctx context.Context, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	sp, err := p.SyncProducer()
	if err != nil {
		return err
	}
	pms := make([]*sarama.ProducerMessage, len(msgs))
	for i, m := range msgs {
		pms[i] = producerMessage(ctx, m)
	}
	err = runCtx(ctx, func() error { return sp.SendMessages(pms) })
	if err != nil {
		var perrs sarama.ProducerErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			return fmt.Errorf("kafka: publish batch: %d of %d records failed, first (topic %s): %w",
				len(perrs), len(msgs), perrs[0].Msg.Topic, perrs[0].Err)
		}
		return fmt.Errorf("kafka: publish batch of %d: %w", len(msgs), err)
	}
	return nil
}

// Close flushes and closes the producer; later publishes fail with ErrClosed.
func (p *Producer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	if p.sp == nil {
		return nil
	}
	if err := p.sp.Close(); err != nil {
		return fmt.Errorf("kafka: close producer: %w", err)
	}
	return nil
}

func producerMessage(ctx context.Context, m Message) *sarama.ProducerMessage {
	hs := make([]sarama.RecordHeader, 0, len(m.Headers)+2)
	carrier := headerCarrier{h: &hs}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	for k, v := range m.Headers {
		carrier.Set(k, v)
	}
	pm := &sarama.ProducerMessage{Topic: m.Topic, Headers: hs}
	if m.Key != nil {
		pm.Key = sarama.ByteEncoder(m.Key)
	}
	if m.Value != nil {
		pm.Value = sarama.ByteEncoder(m.Value)
	}
	return pm
}

// headerCarrier adapts sarama record headers to the OpenTelemetry propagator.
type headerCarrier struct{ h *[]sarama.RecordHeader }

var _ propagation.TextMapCarrier = headerCarrier{}

func (c headerCarrier) Get(key string) string {
	for _, h := range *c.h {
		if string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}

func (c headerCarrier) Set(key, value string) {
	for i, h := range *c.h {
		if string(h.Key) == key {
			(*c.h)[i].Value = []byte(value)
			return
		}
	}
	*c.h = append(*c.h, sarama.RecordHeader{Key: []byte(key), Value: []byte(value)})
}

func (c headerCarrier) Keys() []string {
	keys := make([]string, len(*c.h))
	for i, h := range *c.h {
		keys[i] = string(h.Key)
	}
	return keys
}

// consumerCarrier reads the headers of a consumed record.
type consumerCarrier []*sarama.RecordHeader

func (c consumerCarrier) Get(key string) string {
	for _, h := range c {
		if h != nil && string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}

func (c consumerCarrier) Set(string, string) {} // read only: consumers never write headers

func (c consumerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for _, h := range c {
		if h != nil {
			keys = append(keys, string(h.Key))
		}
	}
	return keys
}

// ExtractContext returns ctx carrying the trace context the producer put in
// msg's headers, so the consumer's spans continue the producer's trace.
func ExtractContext(ctx context.Context, msg *sarama.ConsumerMessage) context.Context {
	if msg == nil {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, consumerCarrier(msg.Headers))
}

// Headers returns msg's headers as a map (the last value wins for a
// repeated key), the form Publish takes them in.
func Headers(msg *sarama.ConsumerMessage) map[string]string {
	out := make(map[string]string, len(msg.Headers))
	for _, h := range msg.Headers {
		if h != nil {
			out[string(h.Key)] = string(h.Value)
		}
	}
	return out
}
