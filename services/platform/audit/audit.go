// Package audit writes and reads the audit trail (the partitioned
// audit_logs table): who changed what, from where, with the values before
// and after.
//
// A service records an entry with Record, passing its transaction when the
// change has one, so the change and its trail commit or roll back together;
// a change made outside Postgres (the booking engine's Redis) records right
// after it and logs a failed write (the change itself cannot be undone).
//
// The actor is the verified caller of the context (authn.FromContext); the
// client address and User-Agent come from the request as the edge forwarded
// it (NewInterceptor, X-Client-IP). Values are stored masked: passwords,
// hashes, tokens, secrets and card data never reach the table, and e-mail
// addresses only partly.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/bookingrush/rush/services/platform/authn"
)

// Execer is what a pool and a transaction have in common for writing
// (*pgxpool.Pool, pgx.Tx, *pgx.Conn).
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Entry is one recorded change.
type Entry struct {
	// Action is what happened, "<entity>.<verb>" in lower case
	// ("event.publish", "auth.login_failed").
	Action string
	// EntityType is the kind of entity changed ("event", "user"); may be
	// empty.
	EntityType string
	// EntityID is the UUID of the entity changed; empty when there is none
	// (a failed login for an unknown address).
	EntityID string
	// Old and New are the entity before and after the change: a
	// proto.Message (protojson, proto field names, zero fields included so
	// a field set back to zero shows), a map or a struct (encoding/json),
	// or nil. When both are set, only the top-level fields that differ are
	// kept, so an update shows what changed. Sensitive fields are masked
	// (Mask).
	Old, New any
	// UserID and TenantID name the actor when the context has no signed-in
	// user yet (login, register); empty means the context's principal.
	UserID, TenantID string
}

var (
	actionPattern = regexp.MustCompile(`^[a-z][a-z0-9_.]{0,99}$`)
	entityPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,49}$`)
)

// Record writes e through q (the caller's transaction, or a pool). A bad
// entry (action or entity type outside the vocabulary, an entity id that is
// no UUID, values that do not encode) is an error before anything is sent,
// so it cannot poison the caller's transaction.
func Record(ctx context.Context, q Execer, e Entry) error {
	if !actionPattern.MatchString(e.Action) {
		return fmt.Errorf("audit: action %q is not lower-case dotted words", e.Action)
	}
	if e.EntityType != "" && !entityPattern.MatchString(e.EntityType) {
		return fmt.Errorf("audit: entity type %q is not a lower-case word", e.EntityType)
	}
	if e.EntityID != "" && !isUUID(e.EntityID) {
		return fmt.Errorf("audit: entity id %q is not a UUID", e.EntityID)
	}
	old, err := values(e.Old)
	if err != nil {
		return fmt.Errorf("audit: old values of %s: %w", e.Action, err)
	}
	cur, err := values(e.New)
	if err != nil {
		return fmt.Errorf("audit: new values of %s: %w", e.Action, err)
	}
	if old != nil && cur != nil {
		diff(old, cur)
	}
	oldJSON, err := encode(old)
	if err != nil {
		return err
	}
	newJSON, err := encode(cur)
	if err != nil {
		return err
	}
	user, tenant := actor(ctx, e)
	c := ClientFrom(ctx)
	_, err = q.Exec(ctx, `
		INSERT INTO audit_logs (tenant_id, user_id, action, entity_type, entity_id, old_values, new_values, ip_address, user_agent)
		VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::inet, $9)`,
		nullable(tenant), nullable(user), e.Action, nullable(e.EntityType), nullable(e.EntityID),
		oldJSON, newJSON, nullable(c.IP), nullable(c.UserAgent))
	if err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	return nil
}

// personal are the value keys Forget erases.
var personal = []string{"email", "full_name"}

// Forget erases what the trail says about the person of a deleted account:
// the values' e-mail address and name in every entry they made or that is
// about their account, and the client address and User-Agent of the entries
// they made, or that nobody signed in made about their account (a failed
// sign-in on it: as a rule the owner mistyping their password). An
// identified actor's (an admin's) entries about the account keep theirs.
// The actions, their times and ids stay, naming nobody. It returns how many
// entries it touched.
func Forget(ctx context.Context, q Execer, userID string) (int64, error) {
	tag, err := q.Exec(ctx, `
		UPDATE audit_logs SET
			old_values = old_values - $2::text[],
			new_values = new_values - $2::text[],
			ip_address = CASE WHEN user_id = $1 OR user_id IS NULL THEN NULL ELSE ip_address END,
			user_agent = CASE WHEN user_id = $1 OR user_id IS NULL THEN NULL ELSE user_agent END
		WHERE user_id = $1 OR (entity_type = 'user' AND entity_id = $1)`, userID, personal)
	if err != nil {
		return 0, fmt.Errorf("audit: forget a user: %w", err)
	}
	return tag.RowsAffected(), nil
}

// actor is the acting user and tenant: the entry's own, else the signed-in
// principal's. A service token (the system acting) has no user id.
func actor(ctx context.Context, e Entry) (user, tenant string) {
	user, tenant = e.UserID, e.TenantID
	if p := authn.FromContext(ctx); p != nil {
		if user == "" && isUUID(p.UserID) {
			user = p.UserID
		}
		if tenant == "" {
			tenant = p.TenantID
		}
	}
	if !isUUID(user) {
		user = ""
	}
	if !isUUID(tenant) {
		tenant = ""
	}
	return user, tenant
}

// values turns v into a masked JSON object (nil for nil); a value that is
// not an object is stored as {"value": v}.
func values(v any) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	if rv := reflect.ValueOf(v); (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Map) && rv.IsNil() {
		return nil, nil
	}
	var raw []byte
	var err error
	if m, ok := v.(proto.Message); ok {
		raw, err = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(m)
	} else {
		raw, err = json.Marshal(v)
	}
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	obj, ok := out.(map[string]any)
	if !ok {
		obj = map[string]any{"value": out}
	}
	Mask(obj)
	return obj, nil
}

// diff drops the top-level fields old and cur agree on.
func diff(old, cur map[string]any) {
	for k, v := range old {
		if w, ok := cur[k]; ok && reflect.DeepEqual(v, w) {
			delete(old, k)
			delete(cur, k)
		}
	}
}

func encode(m map[string]any) (any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("audit: encode values: %w", err)
	}
	return string(b), nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func isUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}
