package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bookingrush/rush/services/platform/breaker"
)

// outcome tells the breaker what a call's error says about Postgres.
func outcome(err error) breaker.Outcome {
	switch {
	case err == nil:
		return breaker.Success
	case errors.Is(err, breaker.ErrOpen), errors.Is(err, context.Canceled):
		return breaker.Ignore
	case Unreachable(err):
		return breaker.Failure
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) || errors.Is(err, pgx.ErrNoRows) {
		return breaker.Success
	}
	return breaker.Ignore // a scan or usage error says nothing about the server
}

// breakerTracer reports the result of every query, batch, copy and failed
// acquire to the breaker; it changes no context and allocates nothing.
type breakerTracer struct{ b *breaker.Breaker }

func (t breakerTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (t breakerTracer) TraceQueryEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	t.b.Record(d.Err)
}

func (t breakerTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (t breakerTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (t breakerTracer) TraceBatchEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchEndData) {
	t.b.Record(d.Err)
}

func (t breakerTracer) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	return ctx
}

func (t breakerTracer) TraceCopyFromEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceCopyFromEndData) {
	t.b.Record(d.Err)
}

// TraceAcquireStart and TraceAcquireEnd see the pool's dial failures (and a
// pool exhausted until the deadline); a successful acquire says nothing a
// query will not.
func (t breakerTracer) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	return ctx
}

func (t breakerTracer) TraceAcquireEnd(_ context.Context, _ *pgxpool.Pool, d pgxpool.TraceAcquireEndData) {
	if d.Err != nil {
		t.b.Record(d.Err)
	}
}
