package kafka_test

import (
	"flag"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/kafka"
)

func TestConfigFlagsAndDefaults(t *testing.T) {
	t.Parallel()
	var cfg kafka.Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if len(cfg.Brokers) != 0 || cfg.ClientID != "rush" || cfg.EmbeddedAddr != "127.0.0.1:0" || cfg.EmbeddedPartitions != 3 {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
	if err := fs.Parse([]string{"-kafka.brokers", "k1:9092, k2:9092,", "-kafka.consumer-retries", "5"}); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := cfg.Brokers.String(); got != "k1:9092,k2:9092" {
		t.Fatalf("brokers = %q", got)
	}
	if cfg.ConsumerRetries != 5 {
		t.Fatalf("consumer retries = %d", cfg.ConsumerRetries)
	}
	if fs.Lookup("kafka.brokers") == nil || fs.Lookup("kafka.embedded-addr") == nil {
		t.Fatal("flags are not registered under the kafka. prefix")
	}
}

func TestStringSliceYAML(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		"brokers: [a:1, b:2]\n",
		"brokers:\n  - a:1\n  - b:2\n",
		"brokers: a:1,b:2\n",
	} {
		var cfg kafka.Config
		if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		if got := cfg.Brokers.String(); got != "a:1,b:2" {
			t.Fatalf("%q: brokers = %q", doc, got)
		}
	}
	out, err := yaml.Marshal(kafka.Config{Brokers: config.StringSlice{"a:1"}})
	if err != nil || !strings.Contains(string(out), "brokers:\n    - a:1") {
		t.Fatalf("Marshal = %q, %v", out, err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mutate func(*kafka.Config)
		want   string
	}{
		{func(c *kafka.Config) { c.Brokers = config.StringSlice{"nohost"} }, "kafka.brokers"},
		{func(c *kafka.Config) { c.ClientID = "" }, "kafka.client-id"},
		{func(c *kafka.Config) { c.Version = "banana" }, "kafka.version"},
		{func(c *kafka.Config) { c.EmbeddedAddr = "nope" }, "kafka.embedded-addr"},
		{func(c *kafka.Config) { c.EmbeddedPartitions = 0 }, "kafka.embedded-partitions"},
		{func(c *kafka.Config) { c.ProduceTimeout = 0 }, "kafka.produce-timeout"},
		{func(c *kafka.Config) { c.ConsumerHeartbeatInterval = 5 * time.Second }, "a third of"},
		{func(c *kafka.Config) { c.ProduceRetries = 0 }, "kafka.produce-retries"},
		{func(c *kafka.Config) { c.BatchSize = 0 }, "kafka.batch-size"},
	} {
		cfg := kafka.DefaultConfig()
		tc.mutate(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want an error mentioning %q", err, tc.want)
		}
	}
}

func TestEmbeddedAddrInUseIsAClearError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := kafka.DefaultConfig()
	cfg.EmbeddedAddr = ln.Addr().String()
	c, err := kafka.New(cfg, zap.NewNop())
	if err == nil {
		c.Close()
		t.Fatal("New succeeded on an address in use")
	}
	if !strings.Contains(err.Error(), ln.Addr().String()) || !strings.Contains(err.Error(), "RUSH_KAFKA_BROKERS") {
		t.Fatalf("error %q should name the address and the way out", err)
	}
}
