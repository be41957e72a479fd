// Package deadletter owns the dead_letters table: the messages a consumer
// gave up on, with the error. Every service records its own (Source names
// it) through this package, and the admin's list reads them all here; no
// service's SQL names the table (schema.Owners).
package deadletter

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Letter is one message given up on.
type Letter struct {
	// ID is set by the database (read back by List).
	ID string
	// Source is the consumer that gave up (its group or service name).
	Source string
	Topic  string
	// Partition and Offset locate the Kafka message; nil when the letter
	// is not one message of a topic (a saga that failed its steps).
	Partition *int32
	Offset    *int64
	Key       string
	Payload   []byte
	Headers   map[string]string
	Error     string
	Attempts  int
	CreatedAt time.Time
}

// Execer is what a pool and a transaction have in common for writing.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Querier is what a pool and a transaction have in common for reading.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Record writes l with db (a pool, or the transaction of the work it
// belongs to).
func Record(ctx context.Context, db Execer, l Letter) error {
	headers := l.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	h, err := json.Marshal(headers)
	if err != nil {
		return fmt.Errorf("deadletter: headers: %w", err)
	}
	_, err = db.Exec(ctx, `INSERT INTO dead_letters (source, topic, kafka_partition, kafka_offset, key, payload, headers, error, attempts)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, $7, $8, $9)`,
		l.Source, l.Topic, l.Partition, l.Offset, l.Key, l.Payload, string(h), l.Error, l.Attempts)
	if err != nil {
		return fmt.Errorf("deadletter: record: %w", err)
	}
	return nil
}

// List pages every source's dead letters, newest first, with the total.
func List(ctx context.Context, db Querier, page, perPage int) ([]Letter, int, error) {
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM dead_letters`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("deadletter: count: %w", err)
	}
	rows, err := db.Query(ctx, `SELECT id::text, source, topic, kafka_partition, kafka_offset, COALESCE(key, ''), payload, headers,
			error, attempts, created_at
		FROM dead_letters ORDER BY created_at DESC, id LIMIT $1 OFFSET $2`, perPage, (page-1)*perPage)
	if err != nil {
		return nil, 0, fmt.Errorf("deadletter: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Letter, error) {
		var l Letter
		var h []byte
		if err := r.Scan(&l.ID, &l.Source, &l.Topic, &l.Partition, &l.Offset, &l.Key, &l.Payload, &h, &l.Error, &l.Attempts, &l.CreatedAt); err != nil {
			return Letter{}, err
		}
		return l, json.Unmarshal(h, &l.Headers)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("deadletter: list: %w", err)
	}
	return out, total, nil
}
