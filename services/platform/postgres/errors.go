package postgres

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

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
// exception / 57 operator intervention) becomes SERVICE_UNAVAILABLE; an
// error Postgres answered stays an internal error ("postgres: ...").
func ConnectionError(what string, err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && !strings.HasPrefix(pgErr.Code, "08") && !strings.HasPrefix(pgErr.Code, "57") {
		return fmt.Errorf("postgres: %w", err)
	}
	return errs.Unavailable(what+" is unreachable; retry", err, "dependency", "postgres")
}
