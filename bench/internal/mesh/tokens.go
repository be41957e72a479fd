// Package mesh sets up and checks what the benchmark runs against: the
// topology of rush processes on loopback, users and their tokens, the event
// created through the public API, the requests of the scenarios (reserves,
// payments, cancels), and the inventory and money audits after a run.
package mesh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultTenant is the tenant every user row belongs to by default (the
// users.tenant_id column default of the schema).
const DefaultTenant = "00000000-0000-0000-0000-000000000001"

// Issuer is the iss claim the mesh expects (jwt.issuer's default).
const Issuer = "booking-rush"

// Minter signs access tokens the way the auth service does
// (services/platform/authn: HS256, claims sub, role, tid, typ "access",
// iss, iat, exp, jti), without the auth service: registering 50,000 users
// through bcrypt at cost 12 would take hours on this machine.
type Minter struct {
	Secret []byte
	Issuer string
	TTL    time.Duration
}

type accessClaims struct {
	jwt.RegisteredClaims
	Role     string `json:"role"`
	TenantID string `json:"tid,omitempty"`
	Type     string `json:"typ"`
}

// Mint returns an access token for user with role.
func (m Minter) Mint(userID, role string, now time.Time) (string, error) {
	c := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: m.Issuer, Subject: userID, ID: uuid.NewString(),
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(m.TTL)),
		},
		Role: role, TenantID: DefaultTenant, Type: "access",
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(m.Secret)
}

// RandomSecret returns a fresh 48-character JWT secret.
func RandomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// User is a user row the bench inserted and its access token.
type User struct {
	ID, Token string
}

// InsertUsers adds n users with role to the database in one COPY (their
// password hash is not a bcrypt hash, so nobody can log in as them) and mints
// a token for each. Emails are bench-<run>-<i>@bench.invalid.
func InsertUsers(ctx context.Context, db *pgxpool.Pool, m Minter, run, role string, n int) ([]User, error) {
	users := make([]User, n)
	rows := make([][]any, n)
	now := time.Now()
	for i := range users {
		id := uuid.NewString()
		tok, err := m.Mint(id, role, now)
		if err != nil {
			return nil, err
		}
		users[i] = User{ID: id, Token: tok}
		rows[i] = []any{id, fmt.Sprintf("bench-%s-%s-%d@bench.invalid", run, role, i), "!bench-no-login", "Bench " + role, role}
	}
	_, err := db.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "email", "password_hash", "full_name", "role"}, pgx.CopyFromRows(rows))
	if err != nil {
		return nil, fmt.Errorf("insert %d users: %w", n, err)
	}
	return users, nil
}
