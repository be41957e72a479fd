package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
)

// TopicSpec describes a topic EnsureTopics creates when it is missing.
type TopicSpec struct {
	Name string
	// Partitions is the partition count; 0 uses the broker default
	// (kafka.embedded-partitions on the embedded broker).
	Partitions int32
	// ReplicationFactor is the replica count; 0 uses the broker default.
	ReplicationFactor int16
	// Configs are topic configs such as "retention.ms" or "cleanup.policy".
	Configs map[string]string
}

// EnsureTopics creates the topics that do not exist yet. It is idempotent:
// an existing topic is left as it is (its partitions and configs are not
// changed), so every replica may call it on start.
func (c *Cluster) EnsureTopics(ctx context.Context, topics ...TopicSpec) error {
	return runCtx(ctx, func() error {
		admin, _, err := c.sharedAdmin()
		if err != nil {
			return fmt.Errorf("kafka: ensure topics: %w", err)
		}
		for _, t := range topics {
			if t.Name == "" {
				return errors.New("kafka: ensure topics: empty topic name")
			}
			d := &sarama.TopicDetail{NumPartitions: -1, ReplicationFactor: -1}
			if t.Partitions > 0 {
				d.NumPartitions = t.Partitions
			} else if c.embedded != nil {
				d.NumPartitions = int32(c.cfg.EmbeddedPartitions)
			}
			if t.ReplicationFactor > 0 {
				d.ReplicationFactor = t.ReplicationFactor
			}
			if len(t.Configs) > 0 {
				d.ConfigEntries = make(map[string]*string, len(t.Configs))
				for k, v := range t.Configs {
					d.ConfigEntries[k] = &v
				}
			}
			err := admin.CreateTopic(t.Name, d, false)
			switch {
			case err == nil:
				c.log.Info("created topic", zap.String("topic", t.Name), zap.Int32("partitions", d.NumPartitions))
			case errors.Is(err, sarama.ErrTopicAlreadyExists):
			default:
				return fmt.Errorf("kafka: create topic %s: %w", t.Name, err)
			}
		}
		return nil
	})
}

// PartitionLag is how far a consumer group is behind on one partition.
type PartitionLag struct {
	Topic     string
	Partition int32
	// HighWater is the offset the next produced record will get.
	HighWater int64
	// Committed is the group's committed offset, or -1 if it has none
	// (then Lag counts from the oldest retained record, where a new group
	// starts).
	Committed int64
	// Lag is HighWater minus the committed (or starting) offset.
	Lag int64
}

// Lag returns the group's lag on every partition of the given topics, sorted
// by topic and partition. It is meant for a metrics collector; sum Lag for a
// topic total.
func (c *Cluster) Lag(ctx context.Context, group string, topics ...string) ([]PartitionLag, error) {
	out, err := runCtxValue(ctx, func() ([]PartitionLag, error) {
		var out []PartitionLag
		admin, cl, err := c.sharedAdmin()
		if err != nil {
			return nil, err
		}
		if err := cl.RefreshMetadata(topics...); err != nil {
			return nil, err
		}
		parts := make(map[string][]int32, len(topics))
		for _, t := range topics {
			ps, err := cl.Partitions(t)
			if err != nil {
				return nil, fmt.Errorf("partitions of %s: %w", t, err)
			}
			parts[t] = ps
		}
		resp, err := admin.ListConsumerGroupOffsets(group, parts)
		// kfake answers GROUP_ID_NOT_FOUND for a group that never
		// committed where Kafka answers "no offset": both mean -1.
		noGroup := errors.Is(err, sarama.ErrGroupIDNotFound)
		if err != nil && !noGroup {
			return nil, fmt.Errorf("committed offsets: %w", err)
		}
		for t, ps := range parts {
			for _, p := range ps {
				hw, err := cl.GetOffset(t, p, sarama.OffsetNewest)
				if err != nil {
					return nil, fmt.Errorf("high-water mark of %s/%d: %w", t, p, err)
				}
				committed := int64(-1)
				if !noGroup && resp != nil {
					if b := resp.GetBlock(t, p); b != nil {
						if b.Err != sarama.ErrNoError {
							return nil, fmt.Errorf("committed offset of %s/%d: %w", t, p, b.Err)
						}
						committed = b.Offset
					}
				}
				from := committed
				if from < 0 {
					if from, err = cl.GetOffset(t, p, sarama.OffsetOldest); err != nil {
						return nil, fmt.Errorf("log start of %s/%d: %w", t, p, err)
					}
				}
				out = append(out, PartitionLag{Topic: t, Partition: p, HighWater: hw, Committed: committed, Lag: max(hw-from, 0)})
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, fmt.Errorf("kafka: lag of group %s: %w", group, err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out, nil
}
