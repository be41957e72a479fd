package postgres_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/postgres"
)

func TestStoreAndConnectionErrors(t *testing.T) {
	domain := errs.New(errs.NotFound, "booking not found")
	refused := &pgconn.PgError{Code: "23505"}
	lost := &pgconn.PgError{Code: "08006"}
	dial := errors.New("dial tcp: connection refused")
	code := func(err error) errs.Code {
		var e *errs.Error
		if errors.As(err, &e) {
			return e.Code
		}
		return ""
	}
	message := func(err error) string {
		var e *errs.Error
		if errors.As(err, &e) {
			return e.Message
		}
		return ""
	}
	for _, f := range []func(string, error) error{postgres.StoreError, postgres.ConnectionError} {
		if f("the store", nil) != nil {
			t.Error("nil is not nil")
		}
		if got := f("the store", dial); code(got) != errs.ServiceUnavailable || message(got) != "the store is unreachable; retry" || !errors.Is(got, dial) {
			t.Errorf("dial error -> %v", got)
		}
		if got := f("the store", lost); code(got) != errs.ServiceUnavailable {
			t.Errorf("lost connection -> %v", got)
		}
	}
	if got := postgres.StoreError("the store", domain); !errors.Is(got, domain) {
		t.Errorf("domain error -> %v", got)
	}
	if got := postgres.StoreError("the store", refused); code(got) != errs.ServiceUnavailable {
		t.Errorf("StoreError(23505) -> %v", got)
	}
	if got := postgres.ConnectionError("the store", refused); code(got) != "" || !errors.Is(got, refused) {
		t.Errorf("ConnectionError(23505) -> %v, want an internal error", got)
	}
	if got := postgres.ConnectionError("the store", &pgconn.PgError{Code: "40P01"}); code(got) != errs.ServiceUnavailable {
		t.Errorf("ConnectionError(40P01) -> %v, want SERVICE_UNAVAILABLE (a retry succeeds)", got)
	}
}

func TestContended(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "40P01"}, true}, // deadlock detected
		{&pgconn.PgError{Code: "40001"}, true}, // serialization failure
		{fmt.Errorf("refresh: %w", &pgconn.PgError{Code: "40P01"}), true},
		{&pgconn.PgError{Code: "40002"}, false}, // a constraint at commit: retrying fails again
		{&pgconn.PgError{Code: "23505"}, false},
		{errors.New("dial tcp: connection refused"), false},
		{nil, false},
	} {
		if got := postgres.Contended(c.err); got != c.want {
			t.Errorf("Contended(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestPingErrorSaysHowToReachTheConfiguredServer: the hint of an
// unreachable database names the server configured: the command that starts
// the local one, or the address tried on another host.
func TestPingErrorSaysHowToReachTheConfiguredServer(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]string{
		"postgres://postgres@127.0.0.1:1/shop":        "pg_ctlcluster",
		"postgres://postgres@db.invalid:6543/shop":    "is the server at db.invalid:6543 up and reachable from here? (RUSH_POSTGRES_URL)",
		"postgres://postgres@/shop?host=/var/run/pg1": "pg_ctlcluster",
	} {
		pc, err := pgx.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		if got := postgres.PingError(errors.New("refused"), pc).Error(); !strings.Contains(got, want) {
			t.Errorf("%s: %s, want a hint with %q", url, got, want)
		}
	}
}
