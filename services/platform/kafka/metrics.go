package kafka

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// lagDesc is the plan's kafka_consumer_lag gauge (docs/architecture.md, "Observability"): messages not yet
// processed, per consumer group and topic. The workers' autoscaling (KEDA)
// and the "Kafka Lag" alert read it.
var lagDesc = prometheus.NewDesc("kafka_consumer_lag",
	"Messages produced but not yet committed by the consumer group, per topic.",
	[]string{"group", "topic"}, nil)

// consumers remembers which groups this process runs (for the lag gauge)
// and their Runners (for StopConsumers).
type consumers struct {
	mu      sync.Mutex
	groups  map[string][]string
	runners []*Runner
}

func (c *Cluster) track(r *Runner, topics []string) {
	c.consumers.mu.Lock()
	defer c.consumers.mu.Unlock()
	if c.consumers.groups == nil {
		c.consumers.groups = map[string][]string{}
	}
	c.consumers.groups[r.group] = topics
	c.consumers.runners = append(c.consumers.runners, r)
}

// LagCollector reports kafka_consumer_lag for every group run in this
// process; it asks the brokers at scrape time (bounded by the ping timeout).
func (c *Cluster) LagCollector() prometheus.Collector { return lagCollector{c} }

type lagCollector struct{ c *Cluster }

func (l lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- lagDesc }

func (l lagCollector) Collect(ch chan<- prometheus.Metric) {
	l.c.consumers.mu.Lock()
	groups := make(map[string][]string, len(l.c.consumers.groups))
	for g, t := range l.c.consumers.groups {
		groups[g] = t
	}
	l.c.consumers.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), min(l.c.cfg.PingTimeout, 5*time.Second))
	defer cancel()
	for g, topics := range groups {
		parts, err := l.c.Lag(ctx, g, topics...)
		if err != nil {
			continue // the series goes missing: "no data" rather than a wrong 0
		}
		sum := map[string]int64{}
		for _, p := range parts {
			sum[p.Topic] += p.Lag
		}
		for t, n := range sum {
			ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(n), g, t)
		}
	}
}

// RegisterRelayBacklog reports rush_relay_backlog{relay}, the entries a
// relay has still to publish to Kafka (the booking streams, a service's
// outbox table), from backlog, asked at scrape time. The backlog lives in
// Redis or Postgres, so every replica reports the same number: dashboards and
// the RushRelayBacklog alert take the max, never the sum.
func RegisterRelayBacklog(reg prometheus.Registerer, relay string, backlog func(context.Context) (int64, error)) error {
	return reg.Register(backlogCollector{backlog: backlog, desc: prometheus.NewDesc("rush_relay_backlog",
		"Entries waiting to be published to Kafka by a relay; the same in every replica.",
		nil, prometheus.Labels{"relay": relay})})
}

type backlogCollector struct {
	desc    *prometheus.Desc
	backlog func(context.Context) (int64, error)
}

func (b backlogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }

func (b backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := b.backlog(ctx)
	if err != nil {
		return // the series goes missing: "no data" rather than a wrong 0
	}
	ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, float64(n))
}
