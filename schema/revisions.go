package schema

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"ariga.io/atlas/sql/migrate"
)

// CreateRevisionTable mirrors the atlas CLI's revision table, unqualified so
// it lives in the current schema. Migrate creates it with this statement, and
// so do pgtest's copies of a migrated schema.
const CreateRevisionTable = `CREATE TABLE IF NOT EXISTS ` + RevisionTable + ` (
    version          text        PRIMARY KEY,
    description      text        NOT NULL,
    type             bigint      NOT NULL DEFAULT 2,
    applied          bigint      NOT NULL DEFAULT 0,
    total            bigint      NOT NULL DEFAULT 0,
    executed_at      timestamptz NOT NULL,
    execution_time   bigint      NOT NULL,
    error            text,
    error_stmt       text,
    hash             text        NOT NULL,
    partial_hashes   jsonb,
    operator_version text        NOT NULL
)`

const revisionColumns = `version, description, type, applied, total, executed_at, execution_time,
    error, error_stmt, hash, partial_hashes, operator_version`

// revisions implements migrate.RevisionReadWriter on RevisionTable in the
// current schema. Migrate binds it to the transaction of the file being
// applied, so a revision commits with the statements it describes.
type revisions struct {
	q      querier
	schema string
}

var _ migrate.RevisionReadWriter = (*revisions)(nil)

// Ident implements migrate.RevisionReadWriter.
func (r *revisions) Ident() *migrate.TableIdent {
	return &migrate.TableIdent{Name: RevisionTable, Schema: r.schema}
}

// exists reports whether the revision table exists (Status runs without
// creating it).
func (r *revisions) exists(ctx context.Context) (bool, error) {
	var ok bool
	err := r.q.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2)`,
		r.schema, RevisionTable).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("schema: look up %s: %w", RevisionTable, err)
	}
	return ok, nil
}

// ReadRevisions implements migrate.RevisionReadWriter; revisions come ordered
// by version, as the executor expects.
func (r *revisions) ReadRevisions(ctx context.Context) ([]*migrate.Revision, error) {
	if ok, err := r.exists(ctx); err != nil || !ok {
		return nil, err
	}
	rows, err := r.q.QueryContext(ctx, `SELECT `+revisionColumns+` FROM `+RevisionTable+` ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("schema: read revisions: %w", err)
	}
	defer rows.Close()
	var revs []*migrate.Revision
	for rows.Next() {
		rev, err := scanRevision(rows)
		if err != nil {
			return nil, err
		}
		revs = append(revs, rev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("schema: read revisions: %w", err)
	}
	return revs, nil
}

// ReadRevision implements migrate.RevisionReadWriter.
func (r *revisions) ReadRevision(ctx context.Context, version string) (*migrate.Revision, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+revisionColumns+` FROM `+RevisionTable+` WHERE version = $1`, version)
	if err != nil {
		return nil, fmt.Errorf("schema: read revision %s: %w", version, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, migrate.ErrRevisionNotExist
	}
	return scanRevision(rows)
}

// WriteRevision implements migrate.RevisionReadWriter (an upsert). A revision
// carrying an error is not written: the failed file's transaction is rolled
// back as a whole (it would fail in an aborted transaction anyway), and the
// error goes back to the caller of Migrate.
func (r *revisions) WriteRevision(ctx context.Context, rev *migrate.Revision) error {
	if rev.Error != "" {
		return nil
	}
	var partial []byte
	if len(rev.PartialHashes) > 0 {
		var err error
		if partial, err = json.Marshal(rev.PartialHashes); err != nil {
			return err
		}
	}
	_, err := r.q.ExecContext(ctx, `INSERT INTO `+RevisionTable+` (`+revisionColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''), NULLIF($9, ''), $10, $11, $12)
ON CONFLICT (version) DO UPDATE SET
    description = EXCLUDED.description, type = EXCLUDED.type, applied = EXCLUDED.applied,
    total = EXCLUDED.total, executed_at = EXCLUDED.executed_at, execution_time = EXCLUDED.execution_time,
    error = EXCLUDED.error, error_stmt = EXCLUDED.error_stmt, hash = EXCLUDED.hash,
    partial_hashes = EXCLUDED.partial_hashes, operator_version = EXCLUDED.operator_version`,
		rev.Version, rev.Description, int64(rev.Type), rev.Applied, rev.Total, rev.ExecutedAt,
		int64(rev.ExecutionTime), rev.Error, rev.ErrorStmt, rev.Hash, nullJSON(partial), rev.OperatorVersion)
	if err != nil {
		return fmt.Errorf("schema: write revision %s: %w", rev.Version, err)
	}
	return nil
}

// DeleteRevision implements migrate.RevisionReadWriter.
func (r *revisions) DeleteRevision(ctx context.Context, version string) error {
	if _, err := r.q.ExecContext(ctx, `DELETE FROM `+RevisionTable+` WHERE version = $1`, version); err != nil {
		return fmt.Errorf("schema: delete revision %s: %w", version, err)
	}
	return nil
}

func scanRevision(rows *sql.Rows) (*migrate.Revision, error) {
	var (
		rev                migrate.Revision
		typ, execTime      int64
		errText, errStmt   sql.NullString
		partial            []byte
		applied, total     int64
		executedAt         time.Time
		description, hash  string
		version, operatorV string
	)
	if err := rows.Scan(&version, &description, &typ, &applied, &total, &executedAt, &execTime,
		&errText, &errStmt, &hash, &partial, &operatorV); err != nil {
		return nil, fmt.Errorf("schema: scan revision: %w", err)
	}
	rev = migrate.Revision{
		Version:         version,
		Description:     description,
		Type:            migrate.RevisionType(typ),
		Applied:         int(applied),
		Total:           int(total),
		ExecutedAt:      executedAt,
		ExecutionTime:   time.Duration(execTime),
		Error:           errText.String,
		ErrorStmt:       errStmt.String,
		Hash:            hash,
		OperatorVersion: operatorV,
	}
	if len(partial) > 0 {
		if err := json.Unmarshal(partial, &rev.PartialHashes); err != nil {
			return nil, fmt.Errorf("schema: revision %s: partial hashes: %w", version, err)
		}
	}
	return &rev, nil
}

func nullJSON(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}
