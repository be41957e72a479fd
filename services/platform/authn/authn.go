// Package authn is who is calling: it issues and verifies the mesh's JWTs
// (HS256, golang-jwt) and carries the verified Principal in the context.
//
// The edge forwards the caller's own access token to the internal services,
// and every service verifies it again (cheaply, from a cache of verified
// tokens), so no service trusts an identity header that anyone could send.
// Internal callers (the saga confirming a booking) present a service token
// minted with the same key. Other teams' services present a service
// account's key instead (serviceaccount.go), which mints nothing.
package authn

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"hash"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/errs"
)

// Roles a principal may have.
const (
	RoleUser      = "user"
	RoleOrganizer = "organizer"
	RoleAdmin     = "admin"
	// RoleService is an internal component acting for the system.
	RoleService = "service"
	// RoleDevice is a check-in device of an organizer's staff (IssueDevice):
	// it may call the gate service only, for the events its credential names.
	RoleDevice = "device"
)

// Token types (the "typ" claim): an access token is never accepted where a
// refresh token or a queue pass is expected, and the other way round.
const (
	TypeAccess  = "access"
	TypeService = "service"
	TypeDevice  = "device"
)

// Config holds the signing key and token lifetimes.
type Config struct {
	// Secret signs and verifies every token; at least 32 bytes. Empty means a
	// random key per process, which only works when one process runs every
	// component (-target=all).
	Secret    config.Secret `yaml:"secret"`
	Issuer    string        `yaml:"issuer"`
	AccessTTL time.Duration `yaml:"access_ttl"`
	// RevocationPrefix starts the Redis keys of token versions and their
	// change feed (Revocations); every process of a deployment must agree.
	RevocationPrefix string `yaml:"revocation_prefix"`
	// RevocationPoll is how often a process reads the change feed: how long
	// a logout or role change takes to reach its access tokens.
	RevocationPoll time.Duration `yaml:"revocation_poll"`
	// RevocationMaxStale is how long a process trusts what it read last
	// when Redis does not answer; after that it refuses user access tokens
	// with 503 (fail closed).
	RevocationMaxStale time.Duration `yaml:"revocation_max_stale"`
	// ServiceAccounts are the integrating teams' machine identities, one
	// "name:role:sha256[:service+service]" entry per key (ServiceAccount;
	// two entries of one name while a key is rotated).
	ServiceAccounts config.StringSlice `yaml:"service_accounts"`
}

// RegisterFlags registers jwt.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	config.SecretVar(f, &c.Secret, "jwt.secret", "", "HS256 key for every token (>= 32 bytes); empty: random per process, fine for -target=all only")
	f.StringVar(&c.Issuer, "jwt.issuer", "booking-rush", "iss claim of issued tokens")
	f.DurationVar(&c.AccessTTL, "jwt.access-ttl", 15*time.Minute, "lifetime of access tokens")
	f.StringVar(&c.RevocationPrefix, "jwt.revocation-prefix", "authn:", "prefix of the Redis keys of token versions and their change feed (the same for every process)")
	f.DurationVar(&c.RevocationPoll, "jwt.revocation-poll", time.Second, "how often a process reads logouts and role changes (how long they take to reach access tokens)")
	f.DurationVar(&c.RevocationMaxStale, "jwt.revocation-max-stale", 5*time.Second, "how long a process trusts its last read when Redis does not answer; then user tokens get 503")
	config.StringSliceVar(f, &c.ServiceAccounts, "jwt.service-accounts", nil, "other teams' service accounts, comma-separated name:role:sha256-of-key[:service+service] (rush service-account NAME ROLE prints a key and its entry)")
}

// Validate checks key length and lifetimes.
func (c *Config) Validate() error {
	if c.Secret != "" && len(c.Secret.Reveal()) < 32 {
		return errors.New("jwt.secret: must be at least 32 bytes")
	}
	if c.AccessTTL < time.Minute || c.AccessTTL > 24*time.Hour {
		return fmt.Errorf("jwt.access-ttl: %v is outside [1m, 24h]", c.AccessTTL)
	}
	if c.RevocationPrefix == "" {
		return errors.New("jwt.revocation-prefix: must not be empty")
	}
	if c.RevocationPoll < 10*time.Millisecond || c.RevocationPoll > time.Minute {
		return fmt.Errorf("jwt.revocation-poll: %v is outside [10ms, 1m]", c.RevocationPoll)
	}
	if c.RevocationMaxStale < 2*c.RevocationPoll {
		return fmt.Errorf("jwt.revocation-max-stale: %v must be at least twice jwt.revocation-poll (%v)", c.RevocationMaxStale, c.RevocationPoll)
	}
	_, err := parseServiceAccounts(c.ServiceAccounts)
	return err
}

// Principal is a verified caller.
type Principal struct {
	UserID   string
	Role     string
	TenantID string
	// Token is the raw bearer token, forwarded on calls made on the
	// principal's behalf.
	Token string
	// Version is the token's "ver" claim: the user's token version when it
	// was issued (0 when it has none), compared by Revocations.
	Version int64
	// ServiceAccount names the service account that called with its key
	// (Token); empty for a token's principal.
	ServiceAccount string
	services       []string // the account's scope (checkScope)
	// Events are the events a check-in device (RoleDevice) may scan for;
	// Organizer is the organizer who registered it. Empty for others.
	Events    []string
	Organizer string
}

// HasRole reports whether p has one of roles; admins and the system pass
// every role check.
func (p *Principal) HasRole(roles ...string) bool {
	if p == nil {
		return false
	}
	if p.Role == RoleAdmin || p.Role == RoleService {
		return true
	}
	return slices.Contains(roles, p.Role)
}

type claims struct {
	jwt.RegisteredClaims
	Role     string   `json:"role"`
	TenantID string   `json:"tid,omitempty"`
	Type     string   `json:"typ"`
	Version  int64    `json:"ver,omitempty"`
	Events   []string `json:"evs,omitempty"`
	Org      string   `json:"org,omitempty"`
}

// Keys issues and verifies tokens.
type Keys struct {
	key    []byte
	issuer string
	ttl    time.Duration
	cache  *cache
	// parser checks the algorithm and signature (claims: Verify) of a
	// token verifyHS256 cannot, with macs (HMAC-SHA256 of key) reused.
	parser  *jwt.Parser
	keyFunc jwt.Keyfunc
	macs    sync.Pool
	// revocations, when set (RevocationsModule), is applied by Verify.
	revocations *Revocations
	// accounts are the service accounts, by name.
	accounts map[string]ServiceAccount
}

// NewKeys builds the key set from cfg (a random key when cfg.Secret is empty).
func NewKeys(cfg Config) (*Keys, error) {
	key := []byte(cfg.Secret.Reveal())
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
	}
	k := &Keys{
		key:    key,
		issuer: cfg.Issuer,
		ttl:    cfg.AccessTTL,
		cache:  newCache(1 << 16),
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation()),
	}
	k.keyFunc = func(*jwt.Token) (any, error) { return k.key, nil }
	k.macs.New = func() any { return hmac.New(sha256.New, k.key) }
	accounts, err := parseServiceAccounts(cfg.ServiceAccounts)
	if err != nil {
		return nil, err
	}
	k.accounts = accounts
	return k, nil
}

// Derive returns a 32-byte key for purpose, derived from the signing key
// with HKDF-SHA256: other signatures of the mesh (queue tickets) need a
// secret every process shares, and must never verify as a JWT or the other
// way round.
func (k *Keys) Derive(purpose string) []byte {
	key, err := hkdf.Key(sha256.New, k.key, nil, "bookingrush "+purpose, 32)
	if err != nil {
		panic("authn: HKDF: " + err.Error()) // only for lengths above 255*32
	}
	return key
}

// AccessTTL is the lifetime of access tokens.
func (k *Keys) AccessTTL() time.Duration { return k.ttl }

// IssueAccess mints an access token for a user without a token version
// (version 0: any revocation of the user in force applies to it). Auth
// issues with IssueAccessVersion.
func (k *Keys) IssueAccess(userID, role, tenantID string, now time.Time) (string, time.Time, error) {
	return k.IssueAccessVersion(userID, role, tenantID, 0, now)
}

// IssueAccessVersion mints an access token for a user that carries the
// user's current token version (Revocations.Version).
func (k *Keys) IssueAccessVersion(userID, role, tenantID string, version int64, now time.Time) (string, time.Time, error) {
	exp := now.Add(k.ttl)
	return k.sign(userID, role, tenantID, TypeAccess, version, now, exp)
}

// IssueService mints a token for an internal component acting as the system.
func (k *Keys) IssueService(component string, now time.Time, ttl time.Duration) (string, time.Time, error) {
	return k.sign("service:"+component, RoleService, "", TypeService, 0, now, now.Add(ttl))
}

// DevicePrefix starts the subject of a check-in device's credential.
const DevicePrefix = "device:"

// IssueDevice mints the credential of a check-in device: deviceID,
// registered by organizer for events, valid until exp. Its principal has
// RoleDevice, may call the gate service only (checkScope), and carries the
// events and the organizer; the gate also refuses a device it revoked.
func (k *Keys) IssueDevice(deviceID, organizer string, events []string, now, exp time.Time) (string, error) {
	s, _, err := k.signClaims(claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: DevicePrefix + deviceID},
		Role:             RoleDevice, Type: TypeDevice, Events: events, Org: organizer,
	}, now, exp)
	return s, err
}

func (k *Keys) sign(sub, role, tenant, typ string, version int64, now, exp time.Time) (string, time.Time, error) {
	return k.signClaims(claims{RegisteredClaims: jwt.RegisteredClaims{Subject: sub},
		Role: role, TenantID: tenant, Type: typ, Version: version}, now, exp)
}

func (k *Keys) signClaims(c claims, now, exp time.Time) (string, time.Time, error) {
	c.Issuer, c.ID = k.issuer, uuid.NewString()
	c.IssuedAt, c.ExpiresAt = jwt.NewNumericDate(now), jwt.NewNumericDate(exp)
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(k.key)
	return s, exp, err
}

// ErrInvalidToken is returned for any token that does not verify.
var ErrInvalidToken = errs.New(errs.Unauthorized, "invalid or expired token")

// Verify checks a bearer token (signature, issuer, expiry, type) and returns
// its principal. Verified tokens are cached until they expire, so the hot
// path pays for the signature once per token, not per request. With
// RevocationsModule, a user's token of a version older than their last
// logout or password reset is refused, one older than their last role
// change carries the new role, and every user token is refused with
// SERVICE_UNAVAILABLE while the revocation feed is stale (see Revocations):
// a map lookup, no round trip.
//
// The algorithm (HS256 only) and the signature are checked by verifyHS256
// for a token of our own header, by golang-jwt for any other; the claims
// are decoded into plain fields and checked here against now, instead of
// the library's generic claims validation. A never-seen token (a flash
// sale: each buyer's first call) costs about 1.4 µs (BenchmarkVerifyNew).
//
// A service-account key (KeyPrefix) is checked against its account's hash
// instead; it carries no version and is never revoked by a logout.
func (k *Keys) Verify(token string, now time.Time) (*Principal, error) {
	if strings.HasPrefix(token, KeyPrefix) {
		return k.verifyKey(token)
	}
	p, err := k.verify(token, now)
	if err != nil || k.revocations == nil {
		return p, err
	}
	return k.revocations.check(p, now)
}

// verify is Verify without the revocations: the signature and claims, with
// the cache.
func (k *Keys) verify(token string, now time.Time) (*Principal, error) {
	if p, ok := k.cache.get(token, now); ok {
		return p, nil
	}
	var c verified
	if !k.verifyHS256(token, &c) {
		if _, err := k.parser.ParseWithClaims(token, &c, k.keyFunc); err != nil {
			return nil, ErrInvalidToken
		}
	}
	exp := time.Unix(c.Exp, 0)
	if c.Exp == 0 || !now.Before(exp.Add(leeway)) || c.Iss != k.issuer || c.Sub == "" ||
		c.Nbf != 0 && now.Add(leeway).Before(time.Unix(c.Nbf, 0)) ||
		c.Typ != TypeAccess && c.Typ != TypeService && c.Typ != TypeDevice ||
		(c.Typ == TypeDevice) != (c.Role == RoleDevice) {
		return nil, ErrInvalidToken
	}
	p := &Principal{UserID: c.Sub, Role: c.Role, TenantID: c.Tid, Token: token, Version: c.Ver}
	if c.Typ == TypeDevice {
		p.Events, p.Organizer, p.services = c.Evs, c.Org, []string{"gate"}
	}
	k.cache.put(token, p, exp)
	return p, nil
}

// hs256Header is the first segment of every token Keys signs
// (jwt.SigningMethodHS256: {"alg":"HS256","typ":"JWT"}).
var hs256Header = func() string {
	s, err := jwt.New(jwt.SigningMethodHS256).SigningString()
	if err != nil {
		panic(err)
	}
	h, _, _ := strings.Cut(s, ".")
	return h
}()

// verifyHS256 is golang-jwt's check of a token whose header is exactly
// hs256Header, the one every token of ours has, without decoding that
// header: three segments, the HMAC-SHA256 of the first two equal to the
// third, and the claims decoded into c (decodeClaims). It reports false
// for a token that fails or has any other header, which the library then
// parses (and refuses, or accepts as it would have). golang-jwt decodes
// every header into a map, allocates an HMAC per call and decodes the
// claims with encoding/json: this is a fifth of the CPU and of the
// allocations per never-seen token (BenchmarkVerifyNew: 1.4 against 6.7
// µs, 5 against 38 allocations).
func (k *Keys) verifyHS256(token string, c *verified) bool {
	header, rest, ok := strings.Cut(token, ".")
	if !ok || header != hs256Header {
		return false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(sig, '.') >= 0 || base64.RawURLEncoding.DecodedLen(len(sig)) != sha256.Size {
		return false
	}
	var got, want [sha256.Size]byte
	if n, err := base64.RawURLEncoding.Strict().Decode(got[:], []byte(sig)); err != nil || n != sha256.Size {
		return false
	}
	mac := k.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write([]byte(token[:len(header)+1+len(payload)]))
	mac.Sum(want[:0])
	k.macs.Put(mac)
	if !hmac.Equal(got[:], want[:]) {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	return err == nil && decodeClaims(raw, c) == nil
}

// leeway is the clock skew allowed between the issuer and a verifier.
const leeway = 5 * time.Second

// verified is what Verify reads of a token's claims: plain fields (whole
// seconds, as sign writes them), validated by Verify itself.
type verified struct {
	Sub  string `json:"sub"`
	Iss  string `json:"iss"`
	Exp  int64  `json:"exp"`
	Nbf  int64  `json:"nbf"`
	Role string `json:"role"`
	Tid  string `json:"tid"`
	Typ  string `json:"typ"`
	Ver  int64  `json:"ver"`
	// Evs and Org are a check-in device's events and organizer.
	Evs []string `json:"evs"`
	Org string   `json:"org"`
}

// The jwt.Claims methods; the parser runs without claims validation, so
// they only satisfy the interface.
func (c *verified) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.Exp, 0)), nil
}
func (c *verified) GetIssuedAt() (*jwt.NumericDate, error)  { return nil, nil }
func (c *verified) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }
func (c *verified) GetIssuer() (string, error)              { return c.Iss, nil }
func (c *verified) GetSubject() (string, error)             { return c.Sub, nil }
func (c *verified) GetAudience() (jwt.ClaimStrings, error)  { return nil, nil }

// BearerToken extracts the token of an "Authorization: Bearer ..." value.
func BearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// AsSystem drops the caller's identity from ctx: a call made with it
// through the mesh client carries the calling component's own service
// token (NewClientInterceptor), not the user's it is serving.
func AsSystem(ctx context.Context) context.Context { return WithPrincipal(ctx, nil) }

// FromContext returns the caller, or nil for an anonymous call.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// Require returns the caller, or UNAUTHORIZED when there is none and
// FORBIDDEN when it has none of roles (no roles: any signed-in caller).
func Require(ctx context.Context, roles ...string) (*Principal, error) {
	p := FromContext(ctx)
	if p == nil {
		return nil, errs.New(errs.Unauthorized, "sign in first")
	}
	if len(roles) > 0 && !p.HasRole(roles...) {
		return nil, errs.New(errs.Forbidden, "your role may not do this")
	}
	return p, nil
}

// RequireService is Require for what only another component of the mesh
// does (mail anyone, erase a user's data, refund, change the inventory): a
// service token and nothing else, not even an admin's; refusal is the
// FORBIDDEN message for anyone else.
func RequireService(ctx context.Context, refusal string) error {
	p, err := Require(ctx)
	if err != nil {
		return err
	}
	if p.Role != RoleService {
		return errs.New(errs.Forbidden, refusal)
	}
	return nil
}

// cache remembers verified tokens until they expire. It is sharded to keep
// lock contention off the hot path; a full shard is emptied at once (tokens
// are cheap to verify again, the cache only saves the common case). The key
// is the whole token: a shorter hash could collide and hand one caller
// another's principal.
type cache struct {
	seed   maphash.Seed
	shards [32]shard
	max    int
}

type shard struct {
	mu sync.RWMutex
	m  map[string]cached
}

type cached struct {
	p   *Principal
	exp time.Time
}

func newCache(size int) *cache {
	c := &cache{seed: maphash.MakeSeed(), max: size / 32}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cached)
	}
	return c
}

func (c *cache) shard(token string) *shard {
	return &c.shards[maphash.String(c.seed, token)%uint64(len(c.shards))]
}

func (c *cache) get(token string, now time.Time) (*Principal, bool) {
	s := c.shard(token)
	s.mu.RLock()
	e, ok := s.m[token]
	s.mu.RUnlock()
	if !ok || !now.Before(e.exp) {
		return nil, false
	}
	return e.p, true
}

func (c *cache) put(token string, p *Principal, exp time.Time) {
	s := c.shard(token)
	s.mu.Lock()
	if len(s.m) >= c.max {
		clear(s.m)
	}
	s.m[token] = cached{p: p, exp: exp}
	s.mu.Unlock()
}

// RandomToken returns an opaque URL-safe token of n random bytes (refresh
// tokens, reset tokens).
func RandomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
