package notify

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bookingrush/rush/services/platform/postgres"
)

// Notification is one row of notifications.
type Notification struct {
	ID, UserID, Kind, Recipient, Subject, Body, Status, LastError, Key string
	Data                                                               map[string]string
	Attempts                                                           int
	SentAt, CreatedAt                                                  time.Time
}

// Store is notify's SQL.
type Store struct {
	db *pgxpool.Pool
}

// NewStore returns the store on db.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

const columns = `id::text, COALESCE(user_id::text, ''), kind, recipient, subject, body, data, status, attempts,
	COALESCE(last_error, ''), idempotency_key, sent_at, created_at`

func scan(row pgx.Row) (Notification, error) {
	var (
		n    Notification
		data []byte
		sent *time.Time
	)
	err := row.Scan(&n.ID, &n.UserID, &n.Kind, &n.Recipient, &n.Subject, &n.Body, &data, &n.Status, &n.Attempts,
		&n.LastError, &n.Key, &sent, &n.CreatedAt)
	if err != nil {
		return n, err
	}
	if sent != nil {
		n.SentAt = *sent
	}
	if len(data) > 0 {
		_ = json.Unmarshal(data, &n.Data) // written by Insert: always an object of strings
	}
	return n, nil
}

// Insert records n as pending unless a notification with the same
// idempotency key exists: then that one is returned and created is false.
func (s *Store) Insert(ctx context.Context, n Notification) (out Notification, created bool, err error) {
	data, err := json.Marshal(n.Data)
	if err != nil {
		return Notification{}, false, err
	}
	if n.UserID == "" {
		return s.insert(ctx, s.db, n, data)
	}
	// A user's mail and the user's erasure (Forget) take the user's lock,
	// shared and exclusive: a mail is stored before the erasure, which
	// deletes it, or after it, when the user is forgotten and nothing is
	// stored (errForgotten).
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))`, n.UserID); err != nil {
			return err
		}
		var forgotten bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM notify_forgotten_users WHERE user_id = $1)`, n.UserID).Scan(&forgotten); err != nil {
			return err
		}
		if forgotten {
			return errForgotten
		}
		var err error
		out, created, err = s.insert(ctx, tx, n, data)
		return err
	})
	if errors.Is(err, errForgotten) {
		return Notification{}, false, err
	}
	return out, created, dbErr(err)
}

// errForgotten is a mail for an account notify was told to forget: it is
// not stored, and nothing is sent.
var errForgotten = errors.New("the account was deleted")

func (s *Store) insert(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, n Notification, data []byte) (Notification, bool, error) {
	var user any
	if n.UserID != "" {
		user = n.UserID
	}
	out, err := scan(q.QueryRow(ctx, `INSERT INTO notifications (user_id, kind, recipient, subject, body, data, idempotency_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (idempotency_key) DO NOTHING RETURNING `+columns,
		user, n.Kind, n.Recipient, n.Subject, n.Body, string(data), n.Key))
	if err == nil {
		return out, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Notification{}, false, dbErr(err)
	}
	out, err = scan(q.QueryRow(ctx, `SELECT `+columns+` FROM notifications WHERE idempotency_key = $1`, n.Key))
	return out, false, dbErr(err)
}

// Forget deletes every notification of userID (a deleted account): sent
// ones and pending ones, which the worker then never finds. It returns how
// many there were.
// The user is remembered as forgotten, under the user's lock (Insert), so a
// mail asked for later is not stored either.
func (s *Store) Forget(ctx context.Context, userID string) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO notify_forgotten_users (user_id) VALUES ($1) ON CONFLICT DO NOTHING`, userID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM notifications WHERE user_id = $1`, userID)
		n = tag.RowsAffected()
		return err
	})
	return n, dbErr(err)
}

// forgottenBefore says whether userID was forgotten at least age ago.
func (s *Store) forgottenBefore(ctx context.Context, userID string, age time.Duration) bool {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM notify_forgotten_users
		WHERE user_id = $1 AND forgotten_at < now() - make_interval(secs => $2))`, userID, age.Seconds()).Scan(&ok)
	return err == nil && ok
}

// unforget takes userID off the forgotten users when forgotten at least
// age ago (Service.deletionUndone).
func (s *Store) unforget(ctx context.Context, userID string, age time.Duration) error {
	_, err := s.db.Exec(ctx, `DELETE FROM notify_forgotten_users WHERE user_id = $1 AND forgotten_at < now() - make_interval(secs => $2)`,
		userID, age.Seconds())
	return dbErr(err)
}

// List pages userID's notifications, newest first, and counts them all.
func (s *Store) List(ctx context.Context, userID string, page, perPage int) ([]Notification, int, error) {
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE user_id = $1`, userID).Scan(&total); err != nil {
		return nil, 0, dbErr(err)
	}
	rows, err := s.db.Query(ctx, `SELECT `+columns+` FROM notifications WHERE user_id = $1
		ORDER BY created_at DESC, id LIMIT $2 OFFSET $3`, userID, perPage, (page-1)*perPage)
	if err != nil {
		return nil, 0, dbErr(err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		n, err := scan(rows)
		if err != nil {
			return nil, 0, dbErr(err)
		}
		out = append(out, n)
	}
	return out, total, dbErr(rows.Err())
}

// dbErr turns a Postgres failure into SERVICE_UNAVAILABLE; domain errors
// pass through.
func dbErr(err error) error { return postgres.StoreError("the notification store", err) }
