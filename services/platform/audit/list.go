package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Filter selects entries for List. Zero fields do not filter.
type Filter struct {
	// TenantID keeps the entries of this tenant and those without one (the
	// system's and anonymous callers').
	TenantID string
	// UserID keeps the entries whose actor is this user.
	UserID     string
	Action     string
	EntityType string
	EntityID   string
	// From (inclusive) and To (exclusive) bound created_at.
	From, To time.Time
	// Page is 1-based; PerPage the page size.
	Page, PerPage int
}

// Row is one stored entry.
type Row struct {
	ID, TenantID, UserID string
	Action               string
	EntityType, EntityID string
	Old, New             map[string]any
	IP, UserAgent        string
	CreatedAt            time.Time
}

// List returns one page of the entries f selects, newest first, and how many
// there are over all pages.
func List(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, f Filter) ([]Row, int, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.TenantID != "" {
		add("(tenant_id = $%d OR tenant_id IS NULL)", f.TenantID)
	}
	if f.UserID != "" {
		add("user_id = $%d", f.UserID)
	}
	if f.Action != "" {
		add("action = $%d", f.Action)
	}
	if f.EntityType != "" {
		add("entity_type = $%d", f.EntityType)
	}
	if f.EntityID != "" {
		add("entity_id = $%d", f.EntityID)
	}
	if !f.From.IsZero() {
		add("created_at >= $%d", f.From)
	}
	if !f.To.IsZero() {
		add("created_at < $%d", f.To)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM audit_logs`+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	if f.Page < 1 {
		f.Page = 1
	}
	if f.PerPage < 1 {
		f.PerPage = 20
	}
	args = append(args, f.PerPage, (f.Page-1)*f.PerPage)
	rows, err := q.Query(ctx, `
		SELECT id::text, coalesce(tenant_id::text, ''), coalesce(user_id::text, ''), action,
		       coalesce(entity_type, ''), coalesce(entity_id::text, ''), old_values, new_values,
		       coalesce(host(ip_address), ''), coalesce(user_agent, ''), created_at
		FROM audit_logs`+cond+fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d OFFSET $%d`, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Row, error) {
		var (
			e        Row
			old, cur []byte
		)
		if err := r.Scan(&e.ID, &e.TenantID, &e.UserID, &e.Action, &e.EntityType, &e.EntityID, &old, &cur, &e.IP, &e.UserAgent, &e.CreatedAt); err != nil {
			return e, err
		}
		var err error
		if e.Old, err = object(old); err != nil {
			return e, err
		}
		e.New, err = object(cur)
		return e, err
	})
	return out, total, err
}

func object(b []byte) (map[string]any, error) {
	if b == nil {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("audit: stored values: %w", err)
	}
	return m, nil
}
