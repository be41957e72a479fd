// Package kafka is the project's one door to the Kafka protocol: it owns the
// sarama configuration, the shared idempotent producer, the consumer-group
// runner that commits offsets only after the work, topic creation, consumer
// lag, and an in-process broker (franz-go kfake) for dev and tests when no
// brokers are configured.
package kafka

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"time"

	"github.com/IBM/sarama"

	"github.com/bookingrush/rush/services/platform/config"
)

// DefaultVersion is the Kafka protocol version sarama speaks by default.
// sarama picks request versions from it instead of negotiating, so it must be
// one every target serves: the embedded kfake broker (which, like Kafka 4,
// dropped Produce < v3 and Fetch < v4), Redpanda, and Apache Kafka 3.x/4.x.
// The test suite passes against kfake with 2.1.0 through 4.3.1; 3.6.0 is the
// middle of that range and needs no broker newer than 3.6.
const DefaultVersion = "3.6.0"

// Config configures the Kafka client and, when Brokers is empty, the embedded
// broker. Every field is settable by YAML, env (RUSH_KAFKA_*) and flag.
type Config struct {
	// Brokers lists bootstrap brokers; empty starts an in-process broker.
	Brokers config.StringSlice `yaml:"brokers"`
	// ClientID identifies this process in broker logs and quotas.
	ClientID string `yaml:"client_id"`
	// Version is the Kafka protocol version sarama negotiates with.
	Version string `yaml:"version"`

	// EmbeddedAddr is where the in-process broker listens when Brokers is
	// empty. Port 0 picks a free port; a fixed port lets other local
	// processes join the same broker with RUSH_KAFKA_BROKERS. The broker
	// advertises this address to clients, so use a host they can dial
	// (not 0.0.0.0).
	EmbeddedAddr string `yaml:"embedded_addr"`
	// EmbeddedPartitions is the partition count of topics created on the
	// in-process broker without an explicit count.
	EmbeddedPartitions int `yaml:"embedded_partitions"`

	// DialTimeout bounds connecting to a broker, so that an unreachable
	// broker fails readiness quickly instead of hanging.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// PingTimeout bounds Ping when the caller's context has no deadline.
	PingTimeout time.Duration `yaml:"ping_timeout"`
	// ProduceTimeout bounds how long a broker may take to get acks=all.
	ProduceTimeout time.Duration `yaml:"produce_timeout"`
	// ProduceRetries is how often the producer retries a failed send before
	// reporting the error (the idempotent producer keeps retries duplicate
	// free).
	ProduceRetries int `yaml:"produce_retries"`

	// ConsumerSessionTimeout is how long the group coordinator waits for
	// heartbeats before it gives a member's partitions to others.
	ConsumerSessionTimeout time.Duration `yaml:"consumer_session_timeout"`
	// ConsumerHeartbeatInterval is how often members heartbeat; keep it at
	// most a third of the session timeout.
	ConsumerHeartbeatInterval time.Duration `yaml:"consumer_heartbeat_interval"`
	// ConsumerRetries is how many times a failing handler is retried in
	// place (with backoff) before the session is ended so the message is
	// redelivered after re-joining.
	ConsumerRetries int `yaml:"consumer_retries"`
	// ConsumerRetryBackoff is the first retry delay; it doubles per attempt
	// up to ten times its value.
	ConsumerRetryBackoff time.Duration `yaml:"consumer_retry_backoff"`
	// BatchSize is the default maximum number of messages a batch handler
	// receives at once.
	BatchSize int `yaml:"batch_size"`
	// BatchLinger is how long a batch waits for more messages after its
	// first one before it is handed over anyway.
	BatchLinger time.Duration `yaml:"batch_linger"`
	// ConsumerMaxWait is how long an idle fetch waits at the broker for
	// data. A broker answers one request of a connection at a time, so an
	// offset commit queues behind the fetch in flight: this bounds how long
	// every commit may wait (sarama's 500 ms default held a consumer that
	// commits per message to about two commits a second per partition).
	ConsumerMaxWait time.Duration `yaml:"consumer_max_wait"`
}

// RegisterFlags registers the kafka.* flags and writes their defaults into c.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	config.StringSliceVar(f, &c.Brokers, "kafka.brokers", nil, "Comma-separated Kafka bootstrap brokers (host:port). Empty starts an in-process broker.")
	f.StringVar(&c.ClientID, "kafka.client-id", "rush", "Kafka client id, shown in broker logs and used for quotas.")
	f.StringVar(&c.Version, "kafka.version", DefaultVersion, "Kafka protocol version to speak (e.g. 3.6.0).")
	f.StringVar(&c.EmbeddedAddr, "kafka.embedded-addr", "127.0.0.1:0", "Listen address of the in-process broker used when kafka.brokers is empty; port 0 picks a free port.")
	f.IntVar(&c.EmbeddedPartitions, "kafka.embedded-partitions", 3, "Default partition count of topics on the in-process broker.")
	f.DurationVar(&c.DialTimeout, "kafka.dial-timeout", 5*time.Second, "Timeout to connect to a broker.")
	f.DurationVar(&c.PingTimeout, "kafka.ping-timeout", 5*time.Second, "Timeout of the readiness check when the caller sets none.")
	f.DurationVar(&c.ProduceTimeout, "kafka.produce-timeout", 10*time.Second, "Time a broker may take to acknowledge a produce with acks=all.")
	f.IntVar(&c.ProduceRetries, "kafka.produce-retries", 5, "Retries of a failed produce before the error is returned.")
	f.DurationVar(&c.ConsumerSessionTimeout, "kafka.consumer-session-timeout", 10*time.Second, "Consumer group session timeout.")
	f.DurationVar(&c.ConsumerHeartbeatInterval, "kafka.consumer-heartbeat-interval", 3*time.Second, "Consumer group heartbeat interval (at most a third of the session timeout).")
	f.IntVar(&c.ConsumerRetries, "kafka.consumer-retries", 3, "In-place retries of a failing handler before its message is left uncommitted for redelivery.")
	f.DurationVar(&c.ConsumerRetryBackoff, "kafka.consumer-retry-backoff", 200*time.Millisecond, "First delay between handler retries; doubles per attempt.")
	f.IntVar(&c.BatchSize, "kafka.batch-size", 500, "Default maximum number of messages given to a batch handler.")
	f.DurationVar(&c.BatchLinger, "kafka.batch-linger", 50*time.Millisecond, "How long a batch waits for more messages after its first one.")
	f.DurationVar(&c.ConsumerMaxWait, "kafka.consumer-max-wait", 100*time.Millisecond, "How long an idle fetch waits at the broker; an offset commit may wait as long behind it.")
}

// Validate reports the first configuration mistake in words an operator can act on.
func (c *Config) Validate() error {
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("kafka.brokers: %q is not host:port: %w", b, err)
		}
	}
	if c.ClientID == "" {
		return errors.New("kafka.client-id must not be empty")
	}
	if _, err := sarama.ParseKafkaVersion(c.Version); err != nil {
		return fmt.Errorf("kafka.version: %w", err)
	}
	if len(c.Brokers) == 0 {
		if _, _, err := net.SplitHostPort(c.EmbeddedAddr); err != nil {
			return fmt.Errorf("kafka.embedded-addr: %q is not host:port: %w", c.EmbeddedAddr, err)
		}
		if c.EmbeddedPartitions < 1 {
			return fmt.Errorf("kafka.embedded-partitions must be at least 1, got %d", c.EmbeddedPartitions)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"kafka.dial-timeout", c.DialTimeout},
		{"kafka.ping-timeout", c.PingTimeout},
		{"kafka.produce-timeout", c.ProduceTimeout},
		{"kafka.consumer-session-timeout", c.ConsumerSessionTimeout},
		{"kafka.consumer-heartbeat-interval", c.ConsumerHeartbeatInterval},
		{"kafka.consumer-retry-backoff", c.ConsumerRetryBackoff},
		{"kafka.batch-linger", c.BatchLinger},
		{"kafka.consumer-max-wait", c.ConsumerMaxWait},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%s must be positive, got %s", d.name, d.v)
		}
	}
	if c.ConsumerHeartbeatInterval*3 > c.ConsumerSessionTimeout {
		return fmt.Errorf("kafka.consumer-heartbeat-interval (%s) must be at most a third of kafka.consumer-session-timeout (%s)",
			c.ConsumerHeartbeatInterval, c.ConsumerSessionTimeout)
	}
	if c.ProduceRetries < 1 {
		// The idempotent producer requires at least one retry.
		return fmt.Errorf("kafka.produce-retries must be at least 1, got %d", c.ProduceRetries)
	}
	if c.ConsumerRetries < 0 {
		return fmt.Errorf("kafka.consumer-retries must not be negative, got %d", c.ConsumerRetries)
	}
	if c.BatchSize < 1 {
		return fmt.Errorf("kafka.batch-size must be at least 1, got %d", c.BatchSize)
	}
	return nil
}

// DefaultConfig returns a Config holding the flag defaults, for tests and
// tools that do not parse flags.
func DefaultConfig() Config {
	var c Config
	c.RegisterFlags(flag.NewFlagSet("kafka", flag.ContinueOnError))
	return c
}
