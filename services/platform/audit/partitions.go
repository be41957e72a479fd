package audit

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

// Querier runs a query returning one row (*pgxpool.Pool, pgx.Tx).
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// MonthsAhead is how many months past the current one get their partition
// in advance (the migration creates the same).
const MonthsAhead = 3

// EnsurePartitions creates the monthly partitions of audit_logs from the
// current month through monthsAhead months ahead (SQL function
// ensure_audit_log_partitions: idempotent, serialized by an advisory lock,
// so every replica may call it) and returns how many it created.
func EnsurePartitions(ctx context.Context, q Querier, monthsAhead int) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT ensure_audit_log_partitions($1)`, monthsAhead).Scan(&n)
	return n, err
}

// Maintainer keeps the partitions ahead of time: once when started and
// then every interval. A failed run is logged and retried at the next tick;
// meanwhile rows of a month without a partition land in the default
// partition, and are moved when the month's partition is created.
type Maintainer struct {
	q        Querier
	log      *zap.Logger
	interval time.Duration

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewMaintainer returns a maintainer running every interval.
func NewMaintainer(q Querier, log *zap.Logger, interval time.Duration) *Maintainer {
	return &Maintainer{q: q, log: log.Named("audit"), interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
}

// Start runs the first maintenance now (bounded by ctx) and the next ones in
// the background until Stop.
func (m *Maintainer) Start(ctx context.Context) {
	m.run(ctx)
	go func() {
		defer close(m.done)
		t := time.NewTicker(m.interval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				m.run(ctx)
				cancel()
			}
		}
	}()
}

// Stop ends the background runs (waiting for one in progress, up to ctx).
func (m *Maintainer) Stop(ctx context.Context) error {
	m.once.Do(func() { close(m.stop) })
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Maintainer) run(ctx context.Context) {
	n, err := EnsurePartitions(ctx, m.q, MonthsAhead)
	switch {
	case err != nil:
		m.log.Error("audit_logs partitions not created; rows go to the default partition until a later run succeeds", zap.Error(err))
	case n > 0:
		m.log.Info("audit_logs partitions created", zap.Int("created", n))
	}
}
