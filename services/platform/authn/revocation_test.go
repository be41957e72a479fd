package authn_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/faulttest"
)

// TestRevocations runs the feed against a private Redis: role changes and
// revocations reach tokens already issued within a poll, new tokens are
// not affected, and a process that cannot read the feed refuses user
// tokens (503) and keeps what it knew once Redis is back, empty.
func TestRevocations(t *testing.T) {
	t.Parallel()
	srv := faulttest.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	cfg := authn.Config{Secret: config.Secret(secret), Issuer: "test", AccessTTL: time.Minute,
		RevocationPrefix: "t:", RevocationPoll: 20 * time.Millisecond, RevocationMaxStale: 300 * time.Millisecond}
	k, err := authn.NewKeys(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := authn.NewRevocations(cfg, rdb, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	k.UseRevocations(rev)
	ctx := context.Background()
	rev.Start(ctx)
	t.Cleanup(rev.Stop)

	issue := func(user, role string) string {
		t.Helper()
		v, err := rev.Version(ctx, user)
		if err != nil || v == 0 {
			t.Fatalf("version of %s: %d, %v", user, v, err)
		}
		tok, _, err := k.IssueAccessVersion(user, role, "", v, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// until waits for Verify(tok) to give role (or fail with code when role
	// is "").
	until := func(tok, role string, code errs.Code) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			p, err := k.Verify(tok, time.Now())
			if role != "" && err == nil && p.Role == role || role == "" && errs.Is(err, code) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("Verify = %+v, %v; want role %q / code %s", p, err, role, code)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	org := issue("u-org", authn.RoleOrganizer)
	other := issue("u-other", authn.RoleOrganizer)
	until(org, authn.RoleOrganizer, "")

	if err := rev.SetRole(ctx, "u-org", authn.RoleUser); err != nil {
		t.Fatal(err)
	}
	until(org, authn.RoleUser, "")
	until(issue("u-org", authn.RoleUser), authn.RoleUser, "")

	if err := rev.Revoke(ctx, "u-org"); err != nil {
		t.Fatal(err)
	}
	until(org, "", errs.Unauthorized)
	after := issue("u-org", authn.RoleUser)
	until(after, authn.RoleUser, "")
	until(other, authn.RoleOrganizer, "")
	service, _, err := k.IssueService("saga", time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	// Redis gone: after max-stale, user tokens get 503; the mesh's own
	// calls go on. Back (empty): what was read before still holds.
	srv.Kill()
	until(after, "", errs.ServiceUnavailable)
	if p, err := k.Verify(service, time.Now()); err != nil || p.Role != authn.RoleService {
		t.Fatalf("service token with the feed stale: %v", err)
	}
	if _, err := rev.Version(ctx, "u-org"); !errs.Is(err, errs.ServiceUnavailable) {
		t.Errorf("Version with Redis down: %v", err)
	}
	srv.Restart()
	until(after, authn.RoleUser, "")
	until(org, "", errs.Unauthorized)
}

// BenchmarkVerifyCachedToken is the reserve path's token check, a token seen
// before: without the revocation feed, and with it holding 1,000 other
// users' changes (needs the local Redis).
func BenchmarkVerifyCachedToken(b *testing.B) {
	for _, feed := range []bool{false, true} {
		b.Run(map[bool]string{false: "no feed", true: "feed"}[feed], func(b *testing.B) {
			cfg := authn.Config{Secret: config.Secret(secret), Issuer: "test", AccessTTL: time.Minute,
				RevocationPrefix: "bench:" + time.Now().Format("150405.000000") + ":", RevocationPoll: time.Second, RevocationMaxStale: 5 * time.Second}
			k, err := authn.NewKeys(cfg)
			if err != nil {
				b.Fatal(err)
			}
			if feed {
				rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
				b.Cleanup(func() {
					keys, _ := rdb.Keys(context.Background(), cfg.RevocationPrefix+"*").Result()
					if len(keys) > 0 {
						rdb.Del(context.Background(), keys...)
					}
					_ = rdb.Close()
				})
				rev, err := authn.NewRevocations(cfg, rdb, zap.NewNop(), nil)
				if err != nil {
					b.Fatal(err)
				}
				for i := range 1000 {
					if err := rev.Revoke(context.Background(), "other-"+strconv.Itoa(i)); err != nil {
						b.Fatal(err)
					}
				}
				k.UseRevocations(rev)
				rev.Start(context.Background())
				b.Cleanup(rev.Stop)
			}
			tok, _, err := k.IssueAccessVersion("buyer", authn.RoleUser, "", 1, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := k.Verify(tok, time.Now()); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
