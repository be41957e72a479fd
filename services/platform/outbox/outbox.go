// Package outbox is the transactional outbox: a service writes its row
// change and the event announcing it in ONE Postgres transaction (Insert),
// and a Relay publishes the events to Kafka afterwards, marking each one
// published only once Kafka acknowledged it. At least once, in order per
// replica; consumers deduplicate (PaymentEvent.id, processed_events).
//
// Payloads are protobuf messages. The outbox table keeps them as protojson
// (jsonb, readable with psql) together with a content-type header naming the
// message type; the relay turns them back into binary protobuf, the format
// on the wire, as booking.events does.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/bookingrush/rush/services/platform/background"
	"github.com/bookingrush/rush/services/platform/kafka"
)

// ContentType is the content-type header of a binary protobuf message of
// the given type, e.g. "application/x-protobuf; proto=bookingrush.payment.v1.PaymentEvent".
func ContentType(m proto.Message) string {
	return "application/x-protobuf; proto=" + string(m.ProtoReflect().Descriptor().FullName())
}

// Message is one event to publish.
type Message struct {
	// ID is the outbox row's id (a UUID), e.g. the event's own id so
	// consumers can deduplicate on it; empty: a random one.
	ID string
	// AggregateType and AggregateID name what changed ("payment", its id).
	AggregateType, AggregateID string
	// EventType is what happened ("payment.success").
	EventType string
	// Topic is the Kafka topic; Key the record key (the aggregate id when empty).
	Topic, Key string
	// Payload is the event; it is published as binary protobuf.
	Payload proto.Message
	// Headers are extra record headers (content-type is set from Payload).
	Headers map[string]string
}

// Execer is a pgx transaction or connection.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Insert adds m to the outbox within tx; it is published after tx commits,
// and never if tx rolls back.
func Insert(ctx context.Context, tx Execer, m Message) error {
	payload, err := protojson.Marshal(m.Payload)
	if err != nil {
		return fmt.Errorf("outbox: encode %s: %w", m.EventType, err)
	}
	h := map[string]string{}
	// The trace context of the writing request travels with the row, so the
	// relay's record continues that trace (kafka.Message.Headers win over
	// the relay's own context) and so do its consumers.
	otel.GetTextMapPropagator().Inject(ctx, propagation.MapCarrier(h))
	for k, v := range m.Headers {
		h[k] = v
	}
	h["content-type"] = ContentType(m.Payload)
	headers, _ := json.Marshal(h)
	key := m.Key
	if key == "" {
		key = m.AggregateID
	}
	var id any
	if m.ID != "" {
		id = m.ID
	}
	_, err = tx.Exec(ctx, `INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, topic, key, payload, headers)
		VALUES (COALESCE($1::uuid, gen_random_uuid()), $2, $3, $4, $5, $6, $7, $8)`,
		id, m.AggregateType, m.AggregateID, m.EventType, m.Topic, key, string(payload), string(headers))
	if err != nil {
		return fmt.Errorf("outbox: insert %s: %w", m.EventType, err)
	}
	return nil
}

// Relay publishes unpublished outbox rows to Kafka. Every replica may run
// one: a batch is claimed with FOR UPDATE SKIP LOCKED, so two relays never
// publish the same rows at the same time.
type Relay struct {
	db       *pgxpool.Pool
	producer *kafka.Producer
	batch    int
	poll     time.Duration
	spans    kafka.RelaySpans
	log      *zap.Logger

	kick chan struct{}
	*background.Task
}

// NewRelay returns relay name's ("payment-outbox") publisher of up to batch
// rows at a time, looking for new rows every poll (or at once after Kick).
// With tracing on (tp), each row written in a trace is published under a
// producer span of that trace.
func NewRelay(name string, db *pgxpool.Pool, p *kafka.Producer, batch int, poll time.Duration, tp trace.TracerProvider, log *zap.Logger) *Relay {
	r := &Relay{db: db, producer: p, batch: max(batch, 1), poll: poll, spans: kafka.NewRelaySpans(tp, name),
		log: log.Named("outbox"), kick: make(chan struct{}, 1)}
	r.Task = background.New(r.loop) // Stop leaves unpublished rows for the next run
	return r
}

// Kick asks the relay to look for rows now (after a commit that added some).
func (r *Relay) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *Relay) loop(ctx context.Context) {
	t := time.NewTicker(r.poll)
	defer t.Stop()
	failures := 0
	for {
		n, err := r.Drain(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failures++
			if failures == 1 || failures%50 == 0 {
				r.log.Warn("outbox relay failed; retrying", zap.Int("failures", failures), zap.Error(err))
			}
		default:
			failures = 0
		}
		if n == r.batch && err == nil {
			continue // more waiting
		}
		if !background.Wait(ctx, t, r.kick) {
			return
		}
	}
}

// Backlog counts the rows not yet published (rush_relay_backlog).
func (r *Relay) Backlog(ctx context.Context) (int64, error) {
	var n int64
	err := r.db.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n)
	return n, err
}

// Drain publishes one batch and returns how many rows it published.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	tx, err := r.db.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	rows, err := tx.Query(ctx, `SELECT id::text, topic, COALESCE(key, aggregate_id::text), payload, headers
		FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`, r.batch)
	if err != nil {
		return 0, err
	}
	var ids []string
	var msgs []kafka.Message
	var bad []string
	for rows.Next() {
		var id, topic, key string
		var payload []byte
		var headers map[string]string
		if err := rows.Scan(&id, &topic, &key, &payload, &headers); err != nil {
			rows.Close()
			return 0, err
		}
		value, err := encode(payload, headers["content-type"])
		if err != nil {
			// Cannot happen for rows written by Insert; keep it visible
			// instead of blocking every row behind it.
			r.log.Error("outbox row cannot be encoded; left unpublished", zap.String("id", id), zap.Error(err))
			bad = append(bad, id)
			continue
		}
		ids = append(ids, id)
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(key), Value: value, Headers: headers})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(bad) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = 'cannot encode payload'
			WHERE id = ANY($1::text[]::uuid[])`, bad); err != nil {
			return 0, err
		}
	}
	if len(msgs) == 0 {
		return 0, tx.Commit(ctx)
	}
	spans := make([]trace.Span, len(msgs))
	for i, m := range msgs {
		spans[i] = r.spans.Start(ctx, m.Topic, m.Headers)
	}
	err = r.producer.PublishBatch(ctx, msgs)
	kafka.EndSpans(spans, err)
	if err != nil {
		_ = tx.Rollback(ctx)
		_, _ = r.db.Exec(context.WithoutCancel(ctx), `UPDATE outbox SET attempts = attempts + 1, last_error = $2
			WHERE id = ANY($1::text[]::uuid[]) AND published_at IS NULL`, ids, err.Error())
		return 0, err
	}
	// Kafka has them. If this update is lost they are published again, and
	// consumers deduplicate.
	if _, err := tx.Exec(ctx, `UPDATE outbox SET published_at = now(), attempts = attempts + 1, last_error = NULL
		WHERE id = ANY($1::text[]::uuid[])`, ids); err != nil {
		return 0, err
	}
	return len(msgs), tx.Commit(ctx)
}

// encode turns a stored payload back into the wire format its content type
// names: binary protobuf for "application/x-protobuf; proto=<type>", the
// JSON as stored otherwise.
func encode(payload []byte, contentType string) ([]byte, error) {
	_, name, ok := strings.Cut(contentType, "proto=")
	if !ok || !strings.HasPrefix(contentType, "application/x-protobuf") {
		return payload, nil
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(strings.TrimSpace(name)))
	if err != nil {
		return nil, err
	}
	m := mt.New().Interface()
	if err := protojson.Unmarshal(payload, m); err != nil {
		return nil, err
	}
	return proto.Marshal(m)
}
