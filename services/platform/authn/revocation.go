package authn

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/lua"
	"github.com/bookingrush/rush/services/platform/errs"
)

// Revocations makes logouts, password resets and role changes reach access
// tokens already issued, within seconds instead of at their expiry.
//
// Every access token carries a version ("ver"), the user's at issue time
// (Version, from Redis). Auth bumps the version when a session must end
// (Revoke: logout, password reset; tokens of an older version are refused)
// or the role changes (SetRole: tokens of an older version carry the new
// role), writing the bump and an entry of a change feed (a Redis stream) in
// one script. Every process that verifies tokens reads the feed every
// jwt.revocation-poll (1 s) into an in-memory map of the users with a
// bump younger than an access token's life, so Verify checks a token with
// one map lookup and no round trip; the reserve path pays nothing else.
//
// Redis unreachable: the process keeps using what it read last for
// jwt.revocation-max-stale (5 s); after that it cannot tell a revoked token
// from a good one and fails closed: every user access token is answered 503
// SERVICE_UNAVAILABLE (dependency redis) until a read succeeds again. Service
// tokens (the mesh's own calls) are never revoked and pass. Bumps need Redis
// too: auth answers a logout or password reset it cannot record 503 and
// changes nothing, and a role change 503 (the role changed for new tokens,
// the call must be repeated for older ones); so a change that was answered
// with success is in the feed, and every verifier applies it within a poll
// or refuses every user token.
// If Redis loses its data, verifiers keep the changes they read; a process
// started after that does not know the changes of the last access-token
// lifetime (15 min at most).
type Revocations struct {
	rdb      *redis.Client
	version  *redis.Script
	bump     *redis.Script
	prefix   string
	keep     time.Duration // how long a version and a feed entry matter
	poll     time.Duration
	maxStale time.Duration
	log      *zap.Logger

	view      atomic.Pointer[revView]
	refreshed atomic.Int64 // unix ns of the last successful read of the feed; 0: never

	mu   sync.Mutex // one read of the feed at a time
	stop chan struct{}
	done chan struct{}
}

// revView is one immutable state of the feed as read: Verify loads it with
// one atomic load, a read replaces it.
type revView struct {
	cursor string // id of the last entry applied
	users  map[string]userRevocation
}

// userRevocation is what the feed says about one user's older tokens.
type userRevocation struct {
	deadBelow int64 // tokens of a smaller version are refused
	roleBelow int64 // tokens of a smaller version carry role
	role      string
	at        int64 // unix ms of the last entry: forgotten after keep
}

// NewRevocations returns the feed reader of cfg on rdb; Start begins reading.
// Metrics (on reg): rush_authn_revocations (users with a change in force)
// and rush_authn_revocations_age_seconds (since the last successful read).
func NewRevocations(cfg Config, rdb *redis.Client, log *zap.Logger, reg *prometheus.Registry) (*Revocations, error) {
	r := &Revocations{
		rdb: rdb, version: lua.Script("token_version.lua"), bump: lua.Script("token_bump.lua"),
		prefix: cfg.RevocationPrefix, keep: cfg.AccessTTL + time.Minute,
		poll: cfg.RevocationPoll, maxStale: cfg.RevocationMaxStale,
		log: log.With(zap.String("component", "authn.revocations")),
	}
	r.view.Store(&revView{cursor: "0-0"})
	collectors := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rush_authn_revocations",
			Help: "Users whose older access tokens are refused or carry another role, as this process knows."},
			func() float64 { return float64(len(r.view.Load().users)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rush_authn_revocations_age_seconds",
			Help: "Seconds since this process last read the revocation feed; above jwt.revocation-max-stale user tokens are refused (503)."},
			func() float64 { return time.Since(time.Unix(0, r.refreshed.Load())).Seconds() }),
	}
	if reg != nil {
		for _, c := range collectors {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("authn: revocation metrics: %w", err)
			}
		}
	}
	return r, nil
}

func (r *Revocations) userKey(userID string) string { return r.prefix + "{tv}:u:" + userID }
func (r *Revocations) feedKey() string              { return r.prefix + "{tv}:changes" }

// Version returns the version a new access token of userID carries.
func (r *Revocations) Version(ctx context.Context, userID string) (int64, error) {
	s, err := r.version.Run(ctx, r.rdb, []string{r.userKey(userID)}, r.keep.Milliseconds()).Text()
	if err != nil {
		return 0, revocationUnavailable("token versions", err)
	}
	return strconv.ParseInt(s, 10, 64)
}

// Revoke ends every access token of userID issued so far (logout, password
// reset). The error is SERVICE_UNAVAILABLE when Redis did not record it:
// the caller must not report success.
func (r *Revocations) Revoke(ctx context.Context, userID string) error {
	return r.change(ctx, userID, "revoke", "")
}

// SetRole makes every access token of userID issued so far carry role.
func (r *Revocations) SetRole(ctx context.Context, userID, role string) error {
	return r.change(ctx, userID, "role", role)
}

func (r *Revocations) change(ctx context.Context, userID, kind, role string) error {
	err := r.bump.Run(ctx, r.rdb, []string{r.userKey(userID), r.feedKey()}, userID, kind, role, r.keep.Milliseconds()).Err()
	if err != nil {
		return revocationUnavailable("the change of the user's sessions", err)
	}
	return nil
}

func revocationUnavailable(what string, err error) error {
	return errs.Unavailable(what+" could not be recorded or read; retry", err, "dependency", "redis")
}

// ErrRevocationsStale is Verify's answer for a user token while this process
// could not read the revocation feed for longer than jwt.revocation-max-stale.
var ErrRevocationsStale = errs.New(errs.ServiceUnavailable, "cannot tell whether the token was revoked; retry shortly", "dependency", "redis")

// check applies the feed to a verified principal: the same principal, one
// with the role the user has now, or an error. A service token passes.
func (r *Revocations) check(p *Principal, now time.Time) (*Principal, error) {
	if p.Role == RoleService {
		return p, nil
	}
	if now.UnixNano()-r.refreshed.Load() > int64(r.maxStale) {
		return nil, ErrRevocationsStale
	}
	v := r.view.Load()
	if len(v.users) == 0 {
		return p, nil
	}
	u, ok := v.users[p.UserID]
	switch {
	case !ok:
		return p, nil
	case p.Version < u.deadBelow:
		return nil, ErrInvalidToken
	case p.Version < u.roleBelow && p.Role != u.role:
		q := *p
		q.Role = u.role
		return &q, nil
	}
	return p, nil
}

// feedBatch is how many entries one XRANGE reads.
const feedBatch = 1000

// refresh reads the feed from the last entry applied and swaps in the new
// view; entries older than keep are forgotten.
func (r *Revocations) refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.view.Load()
	cursor := old.cursor
	var entries []redis.XMessage
	for {
		batch, err := r.rdb.XRangeN(ctx, r.feedKey(), "("+cursor, "+", feedBatch).Result()
		if err != nil {
			return err
		}
		entries = append(entries, batch...)
		if len(batch) < feedBatch {
			break
		}
		cursor = batch[len(batch)-1].ID
	}
	horizon := time.Now().Add(-r.keep).UnixMilli()
	expired := false
	for _, u := range old.users {
		if u.at < horizon {
			expired = true
			break
		}
	}
	if len(entries) > 0 || expired {
		users := maps.Clone(old.users)
		if users == nil {
			users = map[string]userRevocation{}
		}
		maps.DeleteFunc(users, func(_ string, u userRevocation) bool { return u.at < horizon })
		for _, e := range entries {
			applyEntry(users, e)
		}
		if len(entries) > 0 {
			cursor = entries[len(entries)-1].ID
		}
		r.view.Store(&revView{cursor: cursor, users: users})
	}
	r.refreshed.Store(time.Now().UnixNano())
	return nil
}

// applyEntry folds one feed entry into users; a malformed one is skipped.
func applyEntry(users map[string]userRevocation, e redis.XMessage) {
	userID, _ := e.Values["u"].(string)
	vs, _ := e.Values["v"].(string)
	kind, _ := e.Values["k"].(string)
	role, _ := e.Values["r"].(string)
	v, err := strconv.ParseInt(vs, 10, 64)
	ms, _, _ := strings.Cut(e.ID, "-")
	at, err2 := strconv.ParseInt(ms, 10, 64)
	if userID == "" || err != nil || err2 != nil {
		return
	}
	u := users[userID]
	switch kind {
	case "revoke":
		u.deadBelow = max(u.deadBelow, v)
	case "role":
		if v > u.roleBelow {
			u.roleBelow, u.role = v, role
		}
	default:
		return
	}
	u.at = max(u.at, at)
	users[userID] = u
}

// Start reads the feed once (logging, not failing, when Redis does not
// answer: Verify then refuses user tokens until a read succeeds) and then
// every poll interval until Stop.
func (r *Revocations) Start(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := r.refresh(ctx); err != nil {
		r.log.Warn("revocation feed unreadable at start; user tokens are refused (503) until it is read", zap.Error(err))
	}
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	go r.loop()
}

func (r *Revocations) loop() {
	defer close(r.done)
	t := time.NewTicker(r.poll)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.poll)
		err := r.refresh(ctx)
		cancel()
		switch {
		case err != nil && !failing:
			failing = true
			r.log.Error("revocation feed unreadable; user tokens are refused (503) once it is older than jwt.revocation-max-stale",
				zap.Duration("max_stale", r.maxStale), zap.Error(err))
		case err == nil && failing:
			failing = false
			r.log.Info("revocation feed read again")
		}
	}
}

// Stop ends the reads.
func (r *Revocations) Stop() {
	if r.stop != nil {
		close(r.stop)
		<-r.done
	}
}

// UseRevocations makes Verify apply r; call it before k verifies anything.
func (k *Keys) UseRevocations(r *Revocations) { k.revocations = r }

// RevocationsModule makes the process's Keys apply the revocation feed:
// provided *Revocations, read from start to stop. Every process whose
// components verify user tokens needs it.
var RevocationsModule = fx.Module("revocations",
	fx.Provide(NewRevocations),
	fx.Invoke(func(lc fx.Lifecycle, k *Keys, r *Revocations) {
		k.UseRevocations(r)
		lc.Append(fx.Hook{
			OnStart: func(ctx context.Context) error { r.Start(ctx); return nil },
			OnStop:  func(context.Context) error { r.Stop(); return nil },
		})
	}),
)
