package authn

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/schema"
	"github.com/bookingrush/rush/services/platform/errs"
)

// KeyPrefix starts every service-account key, so a verifier tells a key
// from a JWT at a glance (and a secret scanner finds leaked ones).
const KeyPrefix = "rush_sa_"

// ServiceAccount is the machine identity of an integrating team's service:
// a name, the role it acts with and the services it may call. Its key is a
// random secret of its own, checked against a SHA-256 the configuration
// holds: unlike the mesh's signing secret (jwt.secret), a key cannot mint
// tokens, so handing one out grants exactly the account's role, nothing
// more, and revoking it is removing its entry. An account may have several
// entries, one per key, all with the same role and services: rotating a key
// adds the new key's entry beside the old one, and the account (its id, what
// it owns) stays the same.
type ServiceAccount struct {
	// Name identifies the account ([a-z0-9-]); it is in its key.
	Name string
	// Role is the role it acts with: user, organizer or admin (never the
	// mesh's own service role).
	Role string
	// Services are the packages it may call ("catalog", "analytics"); empty:
	// every one its role reaches.
	Services []string
	// UserID is the account's id in the data it creates (a UUIDv5 of its
	// name: stable, and a UUID where the stores expect one).
	UserID string
	// hashes are the SHA-256 of its keys: one per entry.
	hashes [][sha256.Size]byte
}

var (
	accountName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	// serviceAccountSpace is the UUIDv5 namespace of service-account ids.
	serviceAccountSpace = uuid.MustParse("5f0c4a8e-3f7b-4d2a-9c61-0b7e4e2f9a11")
)

// ParseServiceAccount reads one jwt.service-accounts entry,
// "name:role:sha256-hex" or "name:role:sha256-hex:catalog+analytics".
func ParseServiceAccount(entry string) (ServiceAccount, error) {
	parts := strings.Split(entry, ":")
	if len(parts) < 3 || len(parts) > 4 {
		return ServiceAccount{}, fmt.Errorf("service account %q: want name:role:sha256[:service+service]", entry)
	}
	a := ServiceAccount{Name: parts[0], Role: parts[1]}
	if !accountName.MatchString(a.Name) {
		return a, fmt.Errorf("service account %q: the name must match %s", a.Name, accountName)
	}
	if a.Role != RoleUser && a.Role != RoleOrganizer && a.Role != RoleAdmin {
		return a, fmt.Errorf("service account %s: role %q is not user, organizer or admin", a.Name, a.Role)
	}
	h, err := hex.DecodeString(parts[2])
	if err != nil || len(h) != sha256.Size {
		return a, fmt.Errorf("service account %s: %q is not the hex SHA-256 of its key (rush service-account prints it)", a.Name, parts[2])
	}
	a.hashes = [][sha256.Size]byte{[sha256.Size]byte(h)}
	if len(parts) == 4 && parts[3] != "" {
		a.Services = strings.Split(parts[3], "+")
	}
	a.UserID = uuid.NewSHA1(serviceAccountSpace, []byte(a.Name)).String()
	return a, nil
}

// parseServiceAccounts reads jwt.service-accounts into the accounts by
// name. Entries of one name are the keys of one account (a rotation adds the
// new key's entry beside the old one): they must act alike (sameAccount).
func parseServiceAccounts(entries []string) (map[string]ServiceAccount, error) {
	accounts := make(map[string]ServiceAccount, len(entries))
	for _, e := range entries {
		a, err := ParseServiceAccount(e)
		if err != nil {
			return nil, fmt.Errorf("jwt.service-accounts: %w", err)
		}
		if prev, ok := accounts[a.Name]; ok {
			if err := sameAccount(prev, a); err != nil {
				return nil, fmt.Errorf("jwt.service-accounts: %w", err)
			}
			a.hashes = append(slices.Clip(prev.hashes), a.hashes...)
		}
		accounts[a.Name] = a
	}
	return accounts, nil
}

// sameAccount checks that b, another entry of a's name, is another key of
// the same account: the same role and services (in any order), a key of its
// own.
func sameAccount(a, b ServiceAccount) error {
	if a.Role != b.Role || !slices.Equal(slices.Sorted(slices.Values(a.Services)), slices.Sorted(slices.Values(b.Services))) {
		return fmt.Errorf("service account %s is listed twice with different roles or services (%s %s, %s %s): each of its keys must act alike",
			a.Name, a.Role, strings.Join(a.Services, "+"), b.Role, strings.Join(b.Services, "+"))
	}
	for _, h := range a.hashes {
		if slices.Contains(b.hashes, h) {
			return fmt.Errorf("service account %s lists the same key twice", a.Name)
		}
	}
	return nil
}

// NewServiceAccountKey returns a fresh key for the account name and the
// hex SHA-256 that its configuration entry holds.
func NewServiceAccountKey(name string) (key, hash string, err error) {
	if !accountName.MatchString(name) {
		return "", "", fmt.Errorf("service account name %q must match %s", name, accountName)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", "", err
	}
	key = KeyPrefix + name + "_" + hex.EncodeToString(secret)
	sum := sha256.Sum256([]byte(key))
	return key, hex.EncodeToString(sum[:]), nil
}

// ServiceAccounts returns the configured service accounts.
func (k *Keys) ServiceAccounts() []ServiceAccount {
	out := make([]ServiceAccount, 0, len(k.accounts))
	for _, a := range k.accounts {
		out = append(out, a)
	}
	return out
}

// verifyKey checks a service-account key against the configured accounts.
func (k *Keys) verifyKey(key string) (*Principal, error) {
	rest := strings.TrimPrefix(key, KeyPrefix)
	i := strings.LastIndexByte(rest, '_')
	if i < 0 {
		return nil, ErrInvalidToken
	}
	a, ok := k.accounts[rest[:i]]
	sum := sha256.Sum256([]byte(key))
	match := 0
	for _, h := range a.hashes {
		match |= subtle.ConstantTimeCompare(sum[:], h[:])
	}
	if !ok || match != 1 {
		return nil, ErrInvalidToken
	}
	// The default tenant, as every signed-up user (one tenant today).
	return &Principal{UserID: a.UserID, Role: a.Role, TenantID: schema.DefaultTenantID, Token: key, ServiceAccount: a.Name, services: a.Services}, nil
}

// checkScope refuses a service account's call to a service outside its
// list. procedure is "/bookingrush.<service>.v1.<Service>/<Method>".
func (p *Principal) checkScope(procedure string) error {
	if len(p.services) == 0 {
		return nil
	}
	pkg, _, _ := strings.Cut(strings.TrimPrefix(procedure, "/bookingrush."), ".")
	if slices.Contains(p.services, pkg) {
		return nil
	}
	if p.ServiceAccount == "" {
		return errs.New(errs.Forbidden, "a check-in device may call the gate service only")
	}
	return errs.New(errs.Forbidden, "service account "+p.ServiceAccount+" may not call the "+pkg+" service")
}
