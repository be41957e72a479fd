package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bookingrush/rush/services/platform/audit"
	"github.com/bookingrush/rush/services/platform/authn"
)

// store is the SQL of the auth service (tables users, refresh_tokens,
// password_reset_tokens, audit_logs). It knows no business rules; times that
// decide validity (expiry, revocation) are the database's now(), so every
// replica judges a token by the same clock.
type store struct {
	pool *pgxpool.Pool
}

// User is an account, as its users row holds it.
type User struct {
	ID            string
	TenantID      string
	Email         string
	PasswordHash  string
	FullName      string
	Role          string
	EmailVerified bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// errNoRows is what the store returns when a lookup finds nothing.
var errNoRows = pgx.ErrNoRows

// errDuplicateEmail is returned by createUser when the tenant already has the
// e-mail (in any letter case).
var errDuplicateEmail = errors.New("duplicate e-mail")

const userColumns = `id::text, tenant_id::text, email, password_hash, full_name, role, email_verified, created_at, updated_at`

func scanUser(row pgx.Row) (*User, error) {
	var u User
	err := row.Scan(&u.ID, &u.TenantID, &u.Email, &u.PasswordHash, &u.FullName, &u.Role, &u.EmailVerified, &u.CreatedAt, &u.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// hashToken is how opaque tokens are stored: a leaked table holds no usable
// token. The tokens carry 256 random bits, so an unsalted fast hash is enough.
func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func (s *store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

func createUser(ctx context.Context, q pgx.Tx, tenant, email, hash, fullName string) (*User, error) {
	u, err := scanUser(q.QueryRow(ctx, `
		INSERT INTO users (tenant_id, email, password_hash, full_name)
		VALUES ($1, $2, $3, $4)
		RETURNING `+userColumns, tenant, email, hash, fullName))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "users_tenant_email_key" {
		return nil, errDuplicateEmail
	}
	return u, err
}

func (s *store) userByEmail(ctx context.Context, tenant, email string) (*User, error) {
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = $1 AND lower(email) = lower($2)`, tenant, email))
}

func (s *store) userByID(ctx context.Context, tenant, id string) (*User, error) {
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = $1 AND id = $2`, tenant, id))
}

// userOf reads an account by id alone (ids are unique across tenants): the
// system's lookup.
func (s *store) userOf(ctx context.Context, id string) (*User, error) {
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// UserFilter selects a page of accounts (ListUsers).
type UserFilter struct {
	tenant        string
	query         string // e-mail or full name contains it, ignoring case
	role          string // stored role name; "" for any
	page, perPage int
}

// listUsers returns one page of f's accounts, newest first, and how many
// match over all pages.
func (s *store) listUsers(ctx context.Context, f UserFilter) ([]*User, int, error) {
	const where = ` FROM users WHERE tenant_id = $1
		AND ($2 = '' OR strpos(lower(email), lower($2)) > 0 OR strpos(lower(full_name), lower($2)) > 0)
		AND ($3 = '' OR role = $3)`
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+where, f.tenant, f.query, f.role).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+where+` ORDER BY created_at DESC, id LIMIT $4 OFFSET $5`,
		f.tenant, f.query, f.role, f.perPage, (f.page-1)*f.perPage)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, u)
	}
	return out, total, rows.Err()
}

func (s *store) setFullName(ctx context.Context, tenant, id, fullName string) (*User, error) {
	return scanUser(s.pool.QueryRow(ctx, `
		UPDATE users SET full_name = $3 WHERE tenant_id = $1 AND id = $2
		RETURNING `+userColumns, tenant, id, fullName))
}

// setRole changes a user's role and records the change in the audit log
// (the actor is the caller of ctx), in one transaction, which also runs
// tell before it commits (an error rolls the change back). It returns the
// user after the change.
func (s *store) setRole(ctx context.Context, tenant, id, role string, tell func() error) (*User, error) {
	var out *User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var old string
		if err := tx.QueryRow(ctx, `SELECT role FROM users WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenant, id).Scan(&old); err != nil {
			return err
		}
		u, err := scanUser(tx.QueryRow(ctx, `UPDATE users SET role = $3 WHERE tenant_id = $1 AND id = $2 RETURNING `+userColumns, tenant, id, role))
		if err != nil {
			return err
		}
		if old != role {
			if err := audit.Record(ctx, tx, audit.Entry{
				Action: "user.role_changed", EntityType: "user", EntityID: id, TenantID: tenant,
				Old: map[string]any{"role": old}, New: map[string]any{"role": role},
			}); err != nil {
				return err
			}
		}
		if err := tell(); err != nil {
			return err
		}
		out = u
		return nil
	})
	return out, err
}

// ensureAdmin creates the bootstrap admin or promotes the existing account
// with that e-mail. One statement, so replicas starting together cannot
// create it twice (the unique index decides). It reports what happened:
// "created", "promoted" or "unchanged".
func (s *store) ensureAdmin(ctx context.Context, tenant, email, hash string) (string, error) {
	var created bool
	err := s.pool.QueryRow(ctx, `
		INSERT INTO users (tenant_id, email, password_hash, full_name, role)
		VALUES ($1, $2, $3, 'Administrator', 'admin')
		ON CONFLICT (tenant_id, lower(email)) DO UPDATE SET role = 'admin' WHERE users.role <> 'admin'
		RETURNING xmax = 0`, tenant, email, hash).Scan(&created)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "unchanged", nil // exists and is admin already: the WHERE skipped it
	case err != nil:
		return "", err
	case created:
		return "created", nil
	default:
		return "promoted", nil
	}
}

// ensureServiceAccount makes the user row of a service account (the data it
// creates names it: events.organizer_id...) with its configured role. Its
// password hash is no bcrypt hash, so no password signs it in.
func (s *store) ensureServiceAccount(ctx context.Context, tenant string, a authn.ServiceAccount) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO users (id, tenant_id, email, password_hash, full_name, role)
		VALUES ($1, $2, $3, '!service-account: signs in with its key', $4, $5)
		ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role WHERE users.role <> EXCLUDED.role`,
		a.UserID, tenant, a.Name+"@service-accounts.invalid", "Service account "+a.Name, a.Role)
	return err
}

// insertRefresh stores a refresh token of family and returns its row id.
func insertRefresh(ctx context.Context, tx pgx.Tx, userID, familyID, token string, ttl time.Duration) (string, error) {
	var id string
	err := tx.QueryRow(ctx, `
		INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
		VALUES ($1, $2, $3, now() + $4::interval)
		RETURNING id::text`, userID, familyID, hashToken(token), ttl).Scan(&id)
	return id, err
}

// lockUser reads an account and locks its row until tx ends. Every
// transaction that opens, exchanges or ends a session (login, refresh,
// logout, the revocation of a reused token, a password change or reset)
// takes this lock before it reads or changes the user's refresh or reset
// tokens, so that they run one after the other, in one lock order: none
// misses a token another commits meanwhile (a single UPDATE does not see a
// row committed after it started), and none deadlocks with another.
func lockUser(ctx context.Context, tx pgx.Tx, id string) (*User, error) {
	return lockUserBy(ctx, tx, `$1`, id)
}

// lockUserBy is lockUser of the user idSQL names: "$1" (arg is the id), or
// a subquery of the user_id of the token whose hash is arg. A token's user
// never changes, so reading it before the lock is safe.
func lockUserBy(ctx context.Context, tx pgx.Tx, idSQL, arg string) (*User, error) {
	return scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = `+idSQL+` FOR UPDATE`, arg))
}

// refreshRow is the state of a presented refresh token.
type refreshRow struct {
	ID       string
	FamilyID string
	Revoked  bool
	Rotated  bool // revoked because it was exchanged for a successor
	Expired  bool
}

// lockRefresh finds a refresh token by value, locks its user (lockUser)
// and then reads the token's state, committed by whoever held the lock
// before; errNoRows when the token is unknown. Two concurrent uses of one
// token are serialized: the second sees it rotated.
func lockRefresh(ctx context.Context, tx pgx.Tx, token string) (*refreshRow, *User, error) {
	hash := hashToken(token)
	u, err := lockUserBy(ctx, tx, `(SELECT user_id FROM refresh_tokens WHERE token_hash = $1)`, hash)
	if err != nil {
		return nil, nil, err
	}
	var r refreshRow
	err = tx.QueryRow(ctx, `
		SELECT id::text, family_id::text, revoked_at IS NOT NULL, replaced_by IS NOT NULL, expires_at <= now()
		FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`, hash).
		Scan(&r.ID, &r.FamilyID, &r.Revoked, &r.Rotated, &r.Expired)
	if err != nil {
		return nil, nil, err
	}
	return &r, u, nil
}

// retire marks token id as exchanged for its successor.
func retire(ctx context.Context, tx pgx.Tx, id, successor string) error {
	_, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now(), replaced_by = $2 WHERE id = $1`, id, successor)
	return err
}

// revokeFamily revokes every live token of a session and says how many it
// revoked. The caller holds the user's lock (lockRefresh), so no refresh of
// the family commits a token this misses.
func revokeFamily(ctx context.Context, tx pgx.Tx, familyID string) (int64, error) {
	tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL`, familyID)
	return tag.RowsAffected(), err
}

// insertReset stores a password-reset token (its hash) for userID.
func (s *store) insertReset(ctx context.Context, userID, token string, ttl time.Duration) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO password_reset_tokens (token_hash, user_id, expires_at)
		VALUES ($1, $2, now() + $3::interval)`, hashToken(token), userID, ttl)
	return err
}

// consumeReset locks the user of a reset token (lockUser), then marks the
// token used if it is live, and returns the user; errNoRows when the token
// is unknown, used or expired.
func consumeReset(ctx context.Context, tx pgx.Tx, token string) (*User, error) {
	hash := hashToken(token)
	u, err := lockUserBy(ctx, tx, `(SELECT user_id FROM password_reset_tokens WHERE token_hash = $1)`, hash)
	if err != nil {
		return nil, err
	}
	tag, err := tx.Exec(ctx, `
		UPDATE password_reset_tokens SET used_at = now()
		WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()`, hash)
	if err != nil {
		return nil, err
	}
	if tag.RowsAffected() == 0 {
		return nil, errNoRows
	}
	return u, nil
}

// setPassword replaces a user's password, ends every session and voids every
// other outstanding reset link of the user, whose lock the caller holds
// (lockUser).
func setPassword(ctx context.Context, tx pgx.Tx, userID, hash string) error {
	if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, userID, hash); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL`, userID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE password_reset_tokens SET used_at = now() WHERE user_id = $1 AND used_at IS NULL`, userID)
	return err
}
