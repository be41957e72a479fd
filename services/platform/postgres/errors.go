package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookingrush/rush/services/platform/breaker"
	"github.com/bookingrush/rush/services/platform/errs"
)

// StoreError is what a store returns for err: nil and domain errors pass
// through; any other error becomes SERVICE_UNAVAILABLE ("<what> is
// unreachable; retry", dependency postgres), the cause kept for the logs.
func StoreError(what string, err error) error {
	if err == nil {
		return nil
	}
	var de *errs.Error
	if errors.As(err, &de) {
		return err
	}
	return errs.Unavailable(what+" is unreachable; retry", err, "dependency", "postgres")
}

// ConnectionError is the stricter rule: only a failure to reach or keep the
// database (no Postgres answer at all, or SQLSTATE class 08 connection
// exception / 57 operator intervention) becomes SERVICE_UNAVAILABLE, and a
// transaction Postgres aborted for a concurrent one (Contended: a retry
// succeeds); any other error Postgres answered stays an internal error
// ("postgres: ...").
func ConnectionError(what string, err error) error {
	if err == nil {
		return nil
	}
	if Contended(err) {
		return errs.Unavailable("a concurrent request got in the way; retry", err, "dependency", "postgres")
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && !strings.HasPrefix(pgErr.Code, "08") && !strings.HasPrefix(pgErr.Code, "57") {
		return fmt.Errorf("postgres: %w", err)
	}
	return errs.Unavailable(what+" is unreachable; retry", err, "dependency", "postgres")
}

// Unreachable reports whether err means Postgres could not be reached or
// could not serve: no answer at all (a refused, broken or closed
// connection, a timeout, the circuit breaker open), or SQLSTATE class 08
// (connection exception), 57P (shutting down, starting up) or 53300 (too
// many connections). An error Postgres answered (a constraint, no rows, a
// syntax error) is not.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P") || pe.Code == "53300"
	}
	var (
		ce *pgconn.ConnectError
		ne net.Error
	)
	return errors.Is(err, breaker.ErrOpen) || errors.As(err, &ce) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Contended reports whether Postgres rolled a transaction back because of a
// concurrent one: SQLSTATE 40P01 (deadlock detected) or 40001
// (serialization failure). Nothing of the transaction was committed and
// running it again normally succeeds, so it is the caller's to retry
// (SERVICE_UNAVAILABLE), not an internal error; a store whose transactions
// lock in one order should rarely see it.
func Contended(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}
