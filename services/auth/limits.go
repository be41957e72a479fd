package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bookingrush/rush/lua"
	"github.com/bookingrush/rush/services/platform/errs"
)

// EmailLimit is a token bucket per e-mail address, shared by every auth
// replica through Redis: Burst attempts at once, PerHour coming back each
// hour.
type EmailLimit struct {
	PerHour int `yaml:"per_hour"`
	Burst   int `yaml:"burst"`
}

// registerFlags registers <name>.per-hour and <name>.burst.
func (l *EmailLimit) registerFlags(f *flag.FlagSet, name string, perHour, burst int, what string) {
	f.IntVar(&l.PerHour, name+".per-hour", perHour, what+" per e-mail address and hour, sustained")
	f.IntVar(&l.Burst, name+".burst", burst, what+" per e-mail address at once")
}

func (l EmailLimit) validate(name string) error {
	if l.PerHour < 1 || l.Burst < 1 {
		return fmt.Errorf("%s: per-hour and burst must be at least 1 (per-hour %d, burst %d)", name, l.PerHour, l.Burst)
	}
	return nil
}

// emailLimits are auth's limits per target address, on top of the edge's per
// client: login attempts (password guessing spread over many clients) and
// password-reset mails (one victim flooded from many clients). Keys are
// <auth.key-prefix><limit>:<sha256 of the normalized e-mail>, so no address
// is stored in Redis; buckets expire once full again (lua/ratelimit.lua, the
// edge's script).
type emailLimits struct {
	rdb    *redis.Client
	script *redis.Script
	prefix string
	login  emailBucket
	reset  emailBucket
}

// emailBucket is one limit with ratelimit.lua's arguments.
type emailBucket struct {
	name string
	args []any
}

func newEmailLimits(rdb *redis.Client, cfg Config) *emailLimits {
	mk := func(name string, l EmailLimit) emailBucket {
		return emailBucket{name: name, args: []any{l.Burst, strconv.FormatFloat(float64(l.PerHour)/3600, 'g', -1, 64), 1}}
	}
	return &emailLimits{
		rdb: rdb, script: lua.Script("ratelimit.lua"), prefix: cfg.KeyPrefix,
		login: mk("login_email", cfg.LoginPerEmail), reset: mk("reset_email", cfg.ResetMailsPerEmail),
	}
}

// take takes one attempt of b for email (normalized); when none is left it
// returns false and when the next one comes back.
func (l *emailLimits) take(ctx context.Context, b emailBucket, email string) (bool, time.Duration, error) {
	sum := sha256.Sum256([]byte(email))
	res, err := l.script.Run(ctx, l.rdb, []string{l.prefix + b.name + ":" + hex.EncodeToString(sum[:16])}, b.args...).Int64Slice()
	if err != nil {
		return false, 0, err
	}
	if len(res) != 3 {
		return false, 0, fmt.Errorf("ratelimit.lua answered %v", res)
	}
	return res[0] == 1, time.Duration(res[2]) * time.Millisecond, nil
}

// loginAllowed answers RATE_LIMITED (with details.retry_after in seconds)
// when email has no login attempt left, and SERVICE_UNAVAILABLE when Redis
// cannot say: no attempt is checked against a password without the limit.
func (l *emailLimits) loginAllowed(ctx context.Context, email string) error {
	ok, retry, err := l.take(ctx, l.login, email)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return errs.Unavailable("signing in is unavailable; retry shortly", err, "dependency", "redis")
	}
	if ok {
		return nil
	}
	secs := max(int64((retry+time.Second-1)/time.Second), 1)
	return errs.New(errs.RateLimited, "too many sign-in attempts for this e-mail address; retry in "+strconv.FormatInt(secs, 10)+"s",
		"limit", l.login.name, "retry_after", secs)
}
