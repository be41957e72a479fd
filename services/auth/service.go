package auth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	notifyv1 "github.com/bookingrush/rush/gen/bookingrush/notify/v1"
	"github.com/bookingrush/rush/gen/bookingrush/notify/v1/notifyv1connect"
	"github.com/bookingrush/rush/schema"
	"github.com/bookingrush/rush/services/platform/audit"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/postgres"
	"github.com/bookingrush/rush/services/platform/showtime"
)

// Session is a freshly issued token pair.
type Session struct {
	AccessToken  string
	RefreshToken string
	// ExpiresIn is the access token's lifetime.
	ExpiresIn time.Duration
}

// Service holds the rules of the auth service; the handler only translates
// between protobuf and these methods.
type Service struct {
	cfg    Config
	store  *store
	keys   *authn.Keys
	rev    *authn.Revocations
	notify notifyv1connect.NotifyServiceClient
	// bookings says whether an account may be deleted (no unpaid booking).
	bookings Bookings
	// gate revokes the check-in devices of a user whose role changed.
	gate   Gate
	limits *emailLimits
	log    *zap.Logger

	// dummyHash is compared against when a login names no account, so an
	// unknown e-mail costs the same bcrypt work as a wrong password.
	dummyHash []byte

	// mails feeds the mail worker: forgot-password requests and welcome
	// mails, each a job run with the worker's context.
	mails chan func(context.Context)
	// mailCtx bounds the worker's work; cancelled when stopping runs late.
	mailCtx    context.Context
	cancelMail context.CancelFunc
	stop       chan struct{}
	done       chan struct{}
	once       sync.Once
}

// mailQueue bounds the mails waiting for the worker.
const mailQueue = 1024

// NewService builds the service; reset e-mails go out through notify, the
// per-address limits live in Redis, and rev carries token versions and
// revocations to every verifier.
func NewService(cfg Config, pool *pgxpool.Pool, rdb *redis.Client, keys *authn.Keys, rev *authn.Revocations,
	notify notifyv1connect.NotifyServiceClient, bookings Bookings, gate Gate, log *zap.Logger) (*Service, error) {
	dummy, err := bcrypt.GenerateFromPassword([]byte(authn.RandomToken(24)), cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	mailCtx, cancel := context.WithCancel(context.Background())
	return &Service{
		cfg: cfg, store: &store{pool: pool}, keys: keys, rev: rev, notify: notify, bookings: bookings, gate: gate, limits: newEmailLimits(rdb, cfg), log: log.Named("auth"),
		dummyHash: dummy,
		mails:     make(chan func(context.Context), mailQueue),
		mailCtx:   mailCtx, cancelMail: cancel,
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}, nil
}

// Errors every caller may see.
var (
	errBadCredentials = errs.New(errs.Unauthorized, "invalid email or password")
	errBadRefresh     = errs.New(errs.Unauthorized, "invalid or expired refresh token")
	errBadReset       = errs.Invalid("token", "token.valid", "is invalid, expired or already used")
	errNoUser         = errs.New(errs.NotFound, "user not found")
)

// normalizeEmail is the stored form of an e-mail: trimmed and lower-cased
// (the unique index compares lower(email) anyway).
func normalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// checkPassword holds the rules protovalidate cannot express.
// field is the request's name for the password.
func checkPassword(field, email, password string) error {
	if strings.EqualFold(strings.TrimSpace(password), email) {
		return errs.Invalid(field, "password.not_email", "must not be your e-mail address")
	}
	if strings.TrimSpace(password) == "" {
		return errs.Invalid(field, "password.not_blank", "must not be blank")
	}
	return nil
}

func checkFullName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", errs.Invalid("full_name", "full_name.not_blank", "must not be blank")
	}
	return name, nil
}

func (s *Service) hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.cfg.BcryptCost)
	return string(h), err
}

// Register creates a user with role "user" in the default tenant and opens
// a session. An e-mail already registered (in any letter case) is CONFLICT.
func (s *Service) Register(ctx context.Context, email, password, fullName string) (*User, *Session, error) {
	email = normalizeEmail(email)
	if err := checkPassword("password", email, password); err != nil {
		return nil, nil, err
	}
	fullName, err := checkFullName(fullName)
	if err != nil {
		return nil, nil, err
	}
	hash, err := s.hash(password)
	if err != nil {
		return nil, nil, err
	}
	var u *User
	var sess *Session
	err = s.store.inTx(ctx, func(tx pgx.Tx) error {
		if u, err = createUser(ctx, tx, schema.DefaultTenantID, email, hash, fullName); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{
			Action: "auth.register", EntityType: "user", EntityID: u.ID, UserID: u.ID, TenantID: u.TenantID,
			New: map[string]any{"email": u.Email, "full_name": u.FullName, "role": u.Role},
		}); err != nil {
			return err
		}
		sess, _, err = s.openSession(ctx, tx, u, uuid.NewString())
		return err
	})
	if errors.Is(err, errDuplicateEmail) {
		return nil, nil, errs.New(errs.Conflict, "an account with this email already exists", "field", "email")
	}
	if err != nil {
		return nil, nil, dbError(err)
	}
	s.welcome(u)
	return u, sess, nil
}

// Login checks an e-mail and password and opens a session. Unknown e-mails
// and wrong passwords get the same error after the same bcrypt work (and the
// same audit write: the failed attempt, with the e-mail masked). Each
// attempt first takes one of the address's attempts (auth.login-per-email),
// known address or not, so the limit tells nothing about accounts. A
// password changed or reset (or an account deleted) between the check and
// the new session is a wrong password too: the change ends every session,
// so it must not miss one opened with the password it replaced.
func (s *Service) Login(ctx context.Context, email, password string) (*User, *Session, error) {
	email = normalizeEmail(email)
	if err := s.limits.loginAllowed(ctx, email); err != nil {
		return nil, nil, err
	}
	u, err := s.store.userByEmail(ctx, schema.DefaultTenantID, email)
	if errors.Is(err, errNoRows) {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(password))
		s.loginFailed(ctx, email, "", "unknown_email")
		return nil, nil, errBadCredentials
	}
	if err != nil {
		return nil, nil, dbError(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		s.loginFailed(ctx, email, u.ID, "wrong_password")
		return nil, nil, errBadCredentials
	}
	id, checked := u.ID, u.PasswordHash
	var sess *Session
	err = s.store.inTx(ctx, func(tx pgx.Tx) error {
		if u, err = lockUser(ctx, tx, id); err != nil {
			return err
		}
		if u.PasswordHash != checked {
			return errPasswordMoved
		}
		if err := audit.Record(ctx, tx, audit.Entry{Action: "auth.login", EntityType: "user", EntityID: u.ID, UserID: u.ID, TenantID: u.TenantID}); err != nil {
			return err
		}
		sess, _, err = s.openSession(ctx, tx, u, uuid.NewString())
		return err
	})
	switch {
	case errors.Is(err, errPasswordMoved):
		s.loginFailed(ctx, email, id, "password_changed")
		return nil, nil, errBadCredentials
	case errors.Is(err, errNoRows):
		s.loginFailed(ctx, email, "", "unknown_email")
		return nil, nil, errBadCredentials
	}
	if err != nil {
		return nil, nil, dbError(err)
	}
	return u, sess, nil
}

// loginFailed records a failed login (userID: the account the e-mail named,
// if any). Nothing changed, so there is no transaction to join; a failed
// write is logged and the caller still gets its UNAUTHORIZED.
func (s *Service) loginFailed(ctx context.Context, email, userID, reason string) {
	err := audit.Record(ctx, s.store.pool, audit.Entry{
		Action: "auth.login_failed", EntityType: "user", EntityID: userID, TenantID: schema.DefaultTenantID,
		New: map[string]any{"email": email, "reason": reason},
	})
	if err != nil {
		s.log.Error("audit: failed login not recorded", zap.String("user_id", userID), zap.Error(err))
	}
}

// openSession issues an access token and stores a new refresh token of
// family for u; it returns the pair and the refresh token's row id.
func (s *Service) openSession(ctx context.Context, tx pgx.Tx, u *User, family string) (*Session, string, error) {
	refresh := authn.RandomToken(32)
	id, err := insertRefresh(ctx, tx, u.ID, family, refresh, s.cfg.RefreshTTL)
	if err != nil {
		return nil, "", err
	}
	// The token carries the user's token version, so a later logout, reset
	// or role change reaches it (authn.Revocations); no version, no token.
	version, err := s.rev.Version(ctx, u.ID)
	if err != nil {
		return nil, "", err
	}
	access, _, err := s.keys.IssueAccessVersion(u.ID, u.Role, u.TenantID, version, time.Now())
	if err != nil {
		return nil, "", err
	}
	return &Session{AccessToken: access, RefreshToken: refresh, ExpiresIn: s.keys.AccessTTL()}, id, nil
}

// Refresh exchanges a live refresh token for a new pair in the same family.
// A token that was already exchanged is a stolen or replayed one: the whole
// family is revoked, so neither the thief nor the owner can go on with it
// (the owner signs in again), and so is every access token of the user
// issued so far, as at a logout (the thief's among them). When the access
// tokens cannot be revoked (Redis down) the answer is SERVICE_UNAVAILABLE:
// the family is revoked already, and a retry revokes them. The new access
// token carries the user's current role.
func (s *Service) Refresh(ctx context.Context, token string) (*Session, error) {
	var sess *Session
	reusedBy := "" // the user whose exchanged token came back
	err := s.store.inTx(ctx, func(tx pgx.Tx) error {
		r, u, err := lockRefresh(ctx, tx, token)
		if err != nil {
			return err
		}
		if r.Rotated {
			n, err := revokeFamily(ctx, tx, r.FamilyID)
			if err != nil {
				return err
			}
			reusedBy = u.ID
			s.log.Warn("refresh token reused: session revoked", zap.String("user_id", u.ID), zap.String("family_id", r.FamilyID), zap.Int64("revoked", n))
			// A stolen or replayed token: the admins' audit trail says so.
			return audit.Record(ctx, tx, audit.Entry{Action: "auth.refresh_reused", EntityType: "user", EntityID: u.ID, UserID: u.ID, TenantID: u.TenantID,
				New: map[string]any{"family_id": r.FamilyID, "revoked": n}}) // commit the revocation
		}
		if r.Revoked || r.Expired {
			return errBadRefresh
		}
		var successor string
		if sess, successor, err = s.openSession(ctx, tx, u, r.FamilyID); err != nil {
			return err
		}
		return retire(ctx, tx, r.ID, successor)
	})
	switch {
	case reusedBy != "" && err == nil:
		// After the commit, so that a failure here leaves the family
		// revoked. No access token of the family is issued meanwhile: its
		// refresh tokens are dead, and a refresh that committed before
		// read the version this bumps.
		if err := s.rev.Revoke(ctx, reusedBy); err != nil {
			return nil, err
		}
		return nil, errBadRefresh
	case errors.Is(err, errNoRows), errors.Is(err, errBadRefresh):
		return nil, errBadRefresh
	case err != nil:
		return nil, dbError(err)
	}
	return sess, nil
}

// Logout ends the session (the token family) the refresh token belongs to,
// including a pair a concurrent refresh of it hands out, and every access
// token of the user issued so far (within jwt.revocation-poll everywhere:
// authn.Revocations; the user's other sessions get new ones with their
// refresh tokens). The access tokens are revoked whenever the token is one
// the service issued, even when its session had ended already. It is
// idempotent: an unknown, expired or already revoked token is not an error,
// and the answer says nothing about which it was. A session that ended is
// recorded in the audit log. When the revocation cannot be recorded (Redis
// down) nothing changes and the answer is SERVICE_UNAVAILABLE.
func (s *Service) Logout(ctx context.Context, token string) error {
	err := s.store.inTx(ctx, func(tx pgx.Tx) error {
		r, u, err := lockRefresh(ctx, tx, token)
		if err != nil {
			return err
		}
		n, err := revokeFamily(ctx, tx, r.FamilyID)
		if err != nil {
			return err
		}
		if err := s.rev.Revoke(ctx, u.ID); err != nil {
			return err // rolls back: the session stays, the client retries
		}
		if n == 0 {
			return nil // ended before: recorded then
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "auth.logout", EntityType: "user", EntityID: u.ID, UserID: u.ID, TenantID: u.TenantID})
	})
	if errors.Is(err, errNoRows) {
		return nil // not a token of ours (or its account is gone)
	}
	return dbError(err)
}

// ForgotPassword queues a reset e-mail for email and returns at once, doing
// no lookup, so the answer and its timing are the same whether or not the
// address has an account, and whether or not the address had its mails for
// the hour (the worker applies auth.reset-mails-per-email). A full queue is
// SERVICE_UNAVAILABLE (for every address alike), never a silently dropped
// request.
func (s *Service) ForgotPassword(_ context.Context, email string) error {
	email = normalizeEmail(email)
	select {
	case s.mails <- func(ctx context.Context) { s.sendReset(ctx, email) }:
		return nil
	default:
		return errs.New(errs.ServiceUnavailable, "too many password reset requests; try again shortly")
	}
}

// StartMailer starts the worker that sends the reset mails ForgotPassword
// asks for and the welcome mails of Register. One worker handles them in
// order of arrival.
func (s *Service) StartMailer() {
	go func() {
		defer close(s.done)
		for {
			select {
			case <-s.stop:
				// Finish what was asked before the stop, unless stopping
				// runs out of time (mailCtx cancelled).
				for s.mailCtx.Err() == nil {
					select {
					case job := <-s.mails:
						job(s.mailCtx)
					default:
						return
					}
				}
				return
			case job := <-s.mails:
				job(s.mailCtx)
			}
		}
	}()
}

// StopMailer lets the worker finish the requests already queued, until ctx
// ends; whatever is left then is logged as lost (the users can ask again).
// The server stops first (fx stops in reverse order), so nothing new comes.
func (s *Service) StopMailer(ctx context.Context) error {
	s.once.Do(func() { close(s.stop) })
	select {
	case <-s.done:
	case <-ctx.Done():
		s.cancelMail()
		<-s.done
		if n := len(s.mails); n > 0 {
			s.log.Error("stopped with e-mails unsent (password resets must be asked again)", zap.Int("queued", n))
		}
	}
	s.cancelMail()
	return nil
}

// sendReset creates a reset token for email's account, if there is one, and
// mails the link, unless the address had its reset mails for now
// (auth.reset-mails-per-email, counted for unknown addresses too). When
// Redis cannot say, nothing is sent (logged): a flood of mails to one victim
// is worse than a user asking again.
func (s *Service) sendReset(ctx context.Context, email string) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ok, _, err := s.limits.take(ctx, s.limits.reset, email)
	if err != nil {
		s.log.Error("password reset: the per-address limit is unavailable; nothing sent", zap.Error(err))
		return
	}
	if !ok {
		s.log.Info("password reset: the address had its reset mails for now; nothing sent")
		return
	}
	u, err := s.store.userByEmail(ctx, schema.DefaultTenantID, email)
	if errors.Is(err, errNoRows) {
		s.log.Debug("password reset for an unknown e-mail: nothing sent")
		return
	}
	if err != nil {
		s.log.Error("password reset: lookup failed", zap.Error(err))
		return
	}
	token := authn.RandomToken(32)
	if err := s.store.insertReset(ctx, u.ID, token, s.cfg.ResetTTL); err != nil {
		s.log.Error("password reset: storing the token failed", zap.String("user_id", u.ID), zap.Error(err))
		return
	}
	s.send(ctx, &notifyv1.SendNotificationRequest{
		Template: notifyv1.Template_TEMPLATE_PASSWORD_RESET, Recipient: u.Email, UserId: u.ID,
		Data:           map[string]string{"name": displayName(u), "reset_url": resetLink(s.cfg.ResetURL, token), "ttl": spokenDuration(s.cfg.ResetTTL)},
		IdempotencyKey: "password_reset-" + uuid.NewString(),
	}, time.Minute)
}

// welcome queues the welcome mail of a new account. It is a courtesy: a
// full queue skips it, and notify gets a few seconds to take it (never a
// minute of retries that would hold up the password resets behind it);
// either is logged.
func (s *Service) welcome(u *User) {
	req := &notifyv1.SendNotificationRequest{
		Template: notifyv1.Template_TEMPLATE_WELCOME, Recipient: u.Email, UserId: u.ID,
		Data: map[string]string{"name": displayName(u)}, IdempotencyKey: "welcome-" + u.ID,
	}
	select {
	case s.mails <- func(ctx context.Context) { s.send(ctx, req, 3*time.Second) }:
	default:
		s.log.Warn("welcome e-mail skipped: the mail queue is full", zap.String("user_id", u.ID))
	}
}

// send asks notify to mail req. The notify service records the mail and
// retries the relay; asking it is retried here for up to budget (same
// idempotency key, so at most one mail) while it is briefly unreachable,
// e.g. a notify replica restarting.
func (s *Service) send(ctx context.Context, req *notifyv1.SendNotificationRequest, budget time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	wait := 250 * time.Millisecond
	for {
		_, err := s.notify.SendNotification(ctx, connect.NewRequest(req))
		if err == nil {
			return
		}
		code := connect.CodeOf(err)
		if (code != connect.CodeUnavailable && code != connect.CodeDeadlineExceeded) || ctx.Err() != nil {
			s.log.Error("e-mail not sent", zap.String("template", req.GetTemplate().String()), zap.String("user_id", req.GetUserId()), zap.Error(err))
			return
		}
		select {
		case <-ctx.Done():
			s.log.Error("e-mail not sent", zap.String("template", req.GetTemplate().String()), zap.String("user_id", req.GetUserId()), zap.Error(err))
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// resetLink is base with ?token= appended.
func resetLink(base, token string) string {
	link, _ := url.Parse(base) // validated by Config.Validate
	q := link.Query()
	q.Set("token", token)
	link.RawQuery = q.Encode()
	return link.String()
}

// spokenDuration is d as a mail says it ("1 hour 30 minutes"), to the
// second; auth.reset-ttl keeps it within a week.
func spokenDuration(d time.Duration) string {
	d = d.Round(time.Second)
	var parts []string
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		if n := d / u.d; n > 0 {
			d -= n * u.d
			p := fmt.Sprintf("%d %s", n, u.name)
			if n > 1 {
				p += "s"
			}
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

// displayName is how a mail greets u.
func displayName(u *User) string {
	if u.FullName != "" {
		return u.FullName
	}
	return u.Email
}

// ResetPassword sets a new password with a live reset token, uses the token
// up (and every other outstanding one of the user) and ends every session of
// the user, access tokens included.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) error {
	// Hash before the transaction: bcrypt is slow and must not hold locks.
	hash, err := s.hash(newPassword)
	if err != nil {
		return err
	}
	err = s.store.inTx(ctx, func(tx pgx.Tx) error {
		u, err := consumeReset(ctx, tx, token)
		if err != nil {
			return err
		}
		if err := checkPassword("new_password", u.Email, newPassword); err != nil {
			return err // rolls back: the token stays usable
		}
		if err := setPassword(ctx, tx, u.ID, hash); err != nil {
			return err
		}
		if err := s.rev.Revoke(ctx, u.ID); err != nil {
			return err // rolls back: the reset token stays usable
		}
		return audit.Record(ctx, tx, audit.Entry{
			Action: "auth.password_reset", EntityType: "user", EntityID: u.ID, UserID: u.ID, TenantID: u.TenantID,
			New: map[string]any{"sessions_revoked": true},
		})
	})
	if errors.Is(err, errNoRows) {
		return errBadReset
	}
	return dbError(err)
}

// ChangePassword replaces the calling user's password, given the current
// one, ends every session of the user (refresh tokens, access tokens and
// outstanding reset links, as a reset does) and opens a new one for the
// caller. A wrong current password changes nothing: it is a VALIDATION_ERROR
// on current_password, not UNAUTHORIZED (the caller's session is fine), it
// takes one of the address's login attempts (auth.login-per-email), so a
// stolen access token cannot guess the password faster than the sign-in
// page, and it is audited. The owner is mailed that the password changed.
func (s *Service) ChangePassword(ctx context.Context, current, newPassword string) (*User, *Session, error) {
	u, err := s.provePassword(ctx, current, "auth.password_change_failed",
		errs.Invalid("current_password", "password.current", "is not your current password"))
	if err != nil {
		return nil, nil, err
	}
	if err := checkPassword("new_password", u.Email, newPassword); err != nil {
		return nil, nil, err
	}
	if newPassword == current {
		return nil, nil, errs.Invalid("new_password", "password.changed", "must differ from the current password")
	}
	hash, err := s.hash(newPassword)
	if err != nil {
		return nil, nil, err
	}
	checked := u.PasswordHash
	var sess *Session
	err = s.store.inTx(ctx, func(tx pgx.Tx) error {
		// Locked and compared again: a change or reset that committed since
		// the check above wins, and this one fails as a wrong password.
		if u, err = lockUser(ctx, tx, u.ID); err != nil {
			return err
		}
		if u.PasswordHash != checked {
			return errPasswordMoved
		}
		if err := setPassword(ctx, tx, u.ID, hash); err != nil {
			return err
		}
		if err := s.rev.Revoke(ctx, u.ID); err != nil {
			return err // rolls back: the old password and sessions stay
		}
		if err := audit.Record(ctx, tx, audit.Entry{
			Action: "auth.password_changed", EntityType: "user", EntityID: u.ID, UserID: u.ID, TenantID: u.TenantID,
			New: map[string]any{"sessions_revoked": true},
		}); err != nil {
			return err
		}
		sess, _, err = s.openSession(ctx, tx, u, uuid.NewString())
		return err
	})
	switch {
	case errors.Is(err, errPasswordMoved):
		return nil, nil, errs.Invalid("current_password", "password.current", "is not your current password")
	case errors.Is(err, errNoRows):
		return nil, nil, errNoUser
	case err != nil:
		return nil, nil, dbError(err)
	}
	s.passwordChanged(u)
	return u, sess, nil
}

// errPasswordMoved: the password changed between the check of a Login or
// ChangePassword and its transaction.
var errPasswordMoved = errors.New("the password changed meanwhile")

// provePassword returns the calling user when password is theirs. Each try
// takes one of the address's login attempts (auth.login-per-email), so a
// stolen access token cannot guess the password faster than the sign-in
// page; a wrong one is audited as failed and answered wrong.
func (s *Service) provePassword(ctx context.Context, password, failed string, wrong error) (*User, error) {
	u, err := s.Me(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.limits.loginAllowed(ctx, u.Email); err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		s.passwordCheckFailed(ctx, u, failed)
		return nil, wrong
	}
	return u, nil
}

// passwordCheckFailed records a wrong password given by a signed-in user
// (action: to change it, to delete the account); like a failed login, a
// failed write is only logged.
func (s *Service) passwordCheckFailed(ctx context.Context, u *User, action string) {
	err := audit.Record(ctx, s.store.pool, audit.Entry{
		Action: action, EntityType: "user", EntityID: u.ID, UserID: u.ID, TenantID: u.TenantID,
		New: map[string]any{"reason": "wrong_password"},
	})
	if err != nil {
		s.log.Error("audit: wrong password not recorded", zap.String("action", action), zap.String("user_id", u.ID), zap.Error(err))
	}
}

// passwordChanged queues the mail that tells u their password changed, with
// the way back if it was not them (the forgot-password page beside
// auth.reset-url). Like the welcome mail it is queued, never waited for; a
// full queue skips it (logged).
func (s *Service) passwordChanged(u *User) {
	req := &notifyv1.SendNotificationRequest{
		Template: notifyv1.Template_TEMPLATE_PASSWORD_CHANGED, Recipient: u.Email, UserId: u.ID,
		Data: map[string]string{
			"name": displayName(u), "forgot_url": forgotLink(s.cfg.ResetURL),
			"changed_at": showtime.Format(time.Now(), "UTC"),
		},
		IdempotencyKey: "password_changed-" + uuid.NewString(),
	}
	select {
	case s.mails <- func(ctx context.Context) { s.send(ctx, req, time.Minute) }:
	default:
		s.log.Warn("password-changed e-mail skipped: the mail queue is full", zap.String("user_id", u.ID))
	}
}

// forgotLink is the forgot-password page beside the reset page.
func forgotLink(resetURL string) string {
	base, _ := url.Parse(resetURL) // validated by Config.Validate
	// Beside the page, also when the setting ends in "/" (the reference
	// would otherwise resolve below it).
	base.Path = strings.TrimRight(base.Path, "/")
	return base.ResolveReference(&url.URL{Path: "forgot-password"}).String()
}

// DeleteAccount deletes the calling user's account, given its password
// (checked as ChangePassword checks the current one: a wrong one is a
// VALIDATION_ERROR that costs a login attempt). Organizers and admins are
// refused: their events and powers need an owner, so an admin first makes
// them a user. So is an account with an unpaid booking, for which a payment
// may be on its way (booking says; when it cannot, SERVICE_UNAVAILABLE).
//
// In one transaction: the account row goes (its refresh tokens and reset
// links with it), the audit trail forgets the person (audit.Forget) and
// records the deletion, booking takes the user off every waitlist (and
// refuses while its live inventory holds seats of the user's that its
// records do not show yet), the gate revokes every check-in device the user
// registered (one left from a role taken away before the gate was told),
// every access token of the user is revoked, and
// notify erases the mails it kept for the user; a failing step rolls the
// account back, so a retry finds it as it was (the waitlist places a
// failing notify call leaves behind are gone). Bookings, payments and
// tickets stay under the bare id: money and seats are accounted for, and a
// ticket already issued still opens the door.
func (s *Service) DeleteAccount(ctx context.Context, password string) error {
	u, err := s.provePassword(ctx, password, "auth.delete_failed", errs.Invalid("password", "password.current", "is not your password"))
	if err != nil {
		return err
	}
	if u.Role != authn.RoleUser {
		return errs.New(errs.Conflict, "an "+u.Role+"'s account cannot be deleted: an admin first makes it a user's", "role", u.Role)
	}
	unpaid, err := s.bookings.Unpaid(ctx)
	if err != nil {
		return err
	}
	if unpaid > 0 {
		return errs.New(errs.Conflict, "the account has unpaid bookings: pay or cancel them first, or wait until they expire",
			"reason", "unpaid_bookings", "count", unpaid)
	}
	return s.erase(ctx, u.ID, u.ID, "")
}

// DeleteUser deletes another user's account, for an admin: as
// DeleteAccount, without the password, and without its count of unpaid
// bookings (booking's records answer the caller's own): booking's refusal
// inside the deletion (unpaid_bookings) stands for it.
func (s *Service) DeleteUser(ctx context.Context, userID string) error {
	p, err := authn.Require(ctx, authn.RoleAdmin)
	if err != nil {
		return err
	}
	id, err := uuid.Parse(userID)
	if err != nil {
		return errNoUser // protovalidate refuses it already
	}
	if id.String() == p.UserID {
		return errs.New(errs.Conflict, "an admin's own account is not deleted here: another admin makes it a user's, then it is deleted", "reason", "self")
	}
	if name := s.serviceAccount(id.String()); name != "" {
		return errs.New(errs.Conflict, "service account "+name+" is ended by removing its jwt.service-accounts entry, not deleted here",
			"reason", "service_account")
	}
	tenant := p.TenantID
	if tenant == "" {
		tenant = schema.DefaultTenantID
	}
	return s.erase(ctx, id.String(), p.UserID, tenant)
}

// erase deletes a user's account (a user's, not an organizer's or an
// admin's: CONFLICT) in one transaction, actor doing it (an account of
// another tenant than tenant, when given, does not exist): the account row
// goes (its refresh tokens and reset links with it), the audit trail
// forgets the person and records the deletion, booking takes the user off
// every waitlist (refusing while it holds seats of theirs not bought), the
// gate revokes their check-in devices, every access token of the user is
// revoked, and notify erases their mails.
func (s *Service) erase(ctx context.Context, userID, actor, tenant string) error {
	err := s.store.inTx(ctx, func(tx pgx.Tx) error {
		u, err := lockUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		if tenant != "" && u.TenantID != tenant {
			return errNoRows
		}
		if u.Role != authn.RoleUser {
			return errs.New(errs.Conflict, "an "+u.Role+"'s account cannot be deleted: an admin first makes it a user's", "reason", "role", "role", u.Role)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, u.ID); err != nil {
			return err
		}
		// Recorded first, so that Forget takes this entry's client address
		// too (when the user deletes their own account).
		if err := audit.Record(ctx, tx, audit.Entry{Action: "auth.account_deleted", EntityType: "user", EntityID: u.ID, UserID: actor, TenantID: u.TenantID}); err != nil {
			return err
		}
		if _, err := audit.Forget(ctx, tx, u.ID); err != nil {
			return err
		}
		// Before the revocation, which no rollback undoes: a hold booking
		// sees and the records did not yet refuses the deletion here.
		if err := s.bookings.Forget(ctx, u.ID); err != nil {
			return err
		}
		// A user's role: the gate revokes every device of theirs.
		if err := s.gate.SetDeviceOwnerRole(ctx, u.ID, authn.RoleUser); err != nil {
			return err
		}
		if err := s.rev.Revoke(ctx, u.ID); err != nil {
			return err
		}
		_, err = s.notify.ForgetUser(authn.AsSystem(ctx), connect.NewRequest(&notifyv1.ForgetUserRequest{UserId: u.ID}))
		if err != nil {
			return errs.Unavailable("notify is unavailable; nothing was deleted, retry", errors.New(err.Error()), "dependency", "notify")
		}
		return nil
	})
	if errors.Is(err, errNoRows) {
		return errNoUser
	}
	return dbError(err)
}

// caller returns the signed-in user's id and tenant.
func caller(ctx context.Context) (id, tenant string, err error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return "", "", err
	}
	if !isUUID(p.UserID) {
		return "", "", errNoUser // a service token is no user
	}
	tenant = p.TenantID
	if tenant == "" {
		tenant = schema.DefaultTenantID
	}
	return p.UserID, tenant, nil
}

// Me returns the calling user.
func (s *Service) Me(ctx context.Context) (*User, error) {
	id, tenant, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.store.userByID(ctx, tenant, id)
	if errors.Is(err, errNoRows) {
		return nil, errNoUser
	}
	return u, dbError(err)
}

// User returns an account: any one to the system (notify and the saga
// address their mails by it), one of their tenant's to an admin (support
// reaching a buyer). A deleted account is not found: erase removed its row.
func (s *Service) User(ctx context.Context, id string) (*User, error) {
	p, err := authn.Require(ctx, authn.RoleAdmin)
	if err != nil {
		return nil, err
	}
	var u *User
	if p.Role == authn.RoleService {
		u, err = s.store.userOf(ctx, id)
	} else {
		u, err = s.store.userByID(ctx, cmp.Or(p.TenantID, schema.DefaultTenantID), id)
	}
	if errors.Is(err, errNoRows) {
		return nil, errNoUser
	}
	return u, dbError(err)
}

// UpdateMe changes the calling user's display name.
func (s *Service) UpdateMe(ctx context.Context, fullName string) (*User, error) {
	id, tenant, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if fullName, err = checkFullName(fullName); err != nil {
		return nil, err
	}
	u, err := s.store.setFullName(ctx, tenant, id, fullName)
	if errors.Is(err, errNoRows) {
		return nil, errNoUser
	}
	return u, dbError(err)
}

// SetUserRole changes a user's role; admins only. An admin cannot change
// their own role, so the last admin cannot lock everyone out by accident.
// userID may come in any form uuid.Parse reads (upper case too): it is
// compared and recorded in its canonical form, as tokens carry it.
// Access tokens already issued carry the new role within
// jwt.revocation-poll (authn.Revocations). When that cannot be recorded
// (Redis down) the answer is SERVICE_UNAVAILABLE: the role changed for new
// tokens but older ones keep the old role until the call is repeated (or
// they expire).
//
// In the change's transaction the gate is told the new role (Gate) and
// revokes the check-in devices the user registered that the role may not
// run (all of a user's; an organizer's for events not theirs); the gate
// failing changes nothing (SERVICE_UNAVAILABLE naming it). Should the
// commit fail after the gate was told, the devices stay revoked and the
// gate holds the new role for the user's registrations for an access
// token's life: the cautious side. The gate is told on every call, so setting a user's
// role again (the same role) revokes devices left from before it was.
func (s *Service) SetUserRole(ctx context.Context, userID, role string) (*User, error) {
	p, err := authn.Require(ctx, authn.RoleAdmin)
	if err != nil {
		return nil, err
	}
	id, err := uuid.Parse(userID)
	if err != nil {
		return nil, errNoUser // protovalidate refuses it already
	}
	userID = id.String()
	if p.UserID == userID {
		return nil, errs.New(errs.Conflict, "you cannot change your own role; ask another admin")
	}
	if name := s.serviceAccount(userID); name != "" {
		return nil, errs.New(errs.Conflict, "service account "+name+" acts with the role of its jwt.service-accounts entry: change the entry to change it",
			"reason", "service_account")
	}
	tenant := p.TenantID
	if tenant == "" {
		tenant = schema.DefaultTenantID
	}
	u, err := s.store.setRole(ctx, tenant, userID, role, func() error { return s.gate.SetDeviceOwnerRole(ctx, userID, role) })
	if errors.Is(err, errNoRows) {
		return nil, errNoUser
	}
	if err != nil {
		return nil, dbError(err)
	}
	// After the commit, and on every call: a token issued meanwhile read the
	// new role already, and a retry after a failure here (the role is then
	// unchanged in Postgres) still reaches the older tokens.
	if err := s.rev.SetRole(ctx, u.ID, role); err != nil {
		return nil, err
	}
	return u, nil
}

// AuditLogs pages through the audit log, newest first; admins only. An
// admin sees the entries of their tenant and those without one (the
// system's, anonymous callers'). Page and PerPage default to 1 and 20.
func (s *Service) AuditLogs(ctx context.Context, f audit.Filter) ([]audit.Row, int, audit.Filter, error) {
	p, err := authn.Require(ctx, authn.RoleAdmin)
	if err != nil {
		return nil, 0, f, err
	}
	f.TenantID = p.TenantID
	if f.TenantID == "" {
		f.TenantID = schema.DefaultTenantID
	}
	f.Page, f.PerPage = max(f.Page, 1), cmp.Or(f.PerPage, 20)
	rows, total, err := audit.List(ctx, s.store.pool, f)
	return rows, total, f, dbError(err)
}

// ListUsers pages through the caller's tenant's accounts, newest first.
// Admin only.
func (s *Service) ListUsers(ctx context.Context, f UserFilter) ([]*User, int, UserFilter, error) {
	p, err := authn.Require(ctx, authn.RoleAdmin)
	if err != nil {
		return nil, 0, f, err
	}
	f.tenant = cmp.Or(p.TenantID, schema.DefaultTenantID)
	f.page, f.perPage = max(f.page, 1), cmp.Or(f.perPage, 20)
	users, total, err := s.store.listUsers(ctx, f)
	return users, total, f, dbError(err)
}

// BootstrapAdmin makes sure the configured admin exists with role admin
// (creating it with the configured password, or promoting the existing
// account). It is safe when several replicas start at once.
func (s *Service) BootstrapAdmin(ctx context.Context, cfg AdminConfig) error {
	if cfg.Email == "" {
		return nil
	}
	email := normalizeEmail(cfg.Email)
	hash, err := s.hash(cfg.Password.Reveal())
	if err != nil {
		return err
	}
	what, err := s.store.ensureAdmin(ctx, schema.DefaultTenantID, email, hash)
	if err != nil {
		return fmt.Errorf("auth: bootstrap admin %s: %w", email, err)
	}
	s.log.Info("bootstrap admin", zap.String("email", email), zap.String("result", what))
	return nil
}

// serviceAccount names the configured service account whose user row
// userID is, "" when it is none. Such a row only gives the account's data
// an owner: the account acts with its entry's role (jwt.service-accounts),
// so an admin changes neither its role nor its existence through auth.
func (s *Service) serviceAccount(userID string) string {
	for _, a := range s.keys.ServiceAccounts() {
		if a.UserID == userID {
			return a.Name
		}
	}
	return ""
}

// EnsureServiceAccounts gives every configured service account
// (jwt.service-accounts) its user row, with its role. It is safe when
// several replicas start at once.
func (s *Service) EnsureServiceAccounts(ctx context.Context) error {
	for _, a := range s.keys.ServiceAccounts() {
		if err := s.store.ensureServiceAccount(ctx, schema.DefaultTenantID, a); err != nil {
			return fmt.Errorf("auth: service account %s: %w", a.Name, err)
		}
	}
	return nil
}

func isUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// dbError passes domain errors through and turns a database that cannot be
// reached (postgres.Unreachable, or out of resources: SQLSTATE class 53)
// into SERVICE_UNAVAILABLE, as it does a transaction Postgres rolled back
// for a concurrent one (postgres.Contended: a deadlock or serialization
// failure; nothing was committed, a retry normally succeeds); anything else
// stays an internal error (logged by the handler, never shown to the
// caller).
func dbError(err error) error {
	if err == nil {
		return nil
	}
	var de *errs.Error
	if errors.As(err, &de) {
		return err
	}
	if postgres.Contended(err) {
		return errs.Unavailable("a concurrent request got in the way; try again", err, "dependency", "postgres")
	}
	var pe *pgconn.PgError
	if postgres.Unreachable(err) || errors.As(err, &pe) && strings.HasPrefix(pe.Code, "53") {
		return &unavailable{cause: err}
	}
	return err
}

// unavailable is a dependency failure: SERVICE_UNAVAILABLE for the caller,
// the cause for the log.
type unavailable struct{ cause error }

func (u *unavailable) Error() string { return "database unavailable: " + u.cause.Error() }
func (u *unavailable) Unwrap() error { return u.cause }
