package edge_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/redis/go-redis/v9"
)

// randomIP is a client address no other test uses.
func randomIP() string {
	return fmt.Sprintf("10.%d.%d.%d", rand.IntN(256), rand.IntN(256), 1+rand.IntN(254))
}

const login = `{"email":"a@example.com","password":"secret-password"}`

func TestSixthLoginInAMinuteIsRateLimited(t *testing.T) {
	t.Parallel()
	e := start(t, "-edge.trusted-proxies=127.0.0.1/32")
	ip := randomIP()
	for i := 1; i <= 5; i++ {
		r := e.do("POST", "/api/v1/auth/login", login, "X-Forwarded-For", ip)
		if r.status == http.StatusTooManyRequests {
			t.Fatalf("login %d refused: %s", i, r)
		}
		if r.header.Get("X-Ratelimit-Limit") != "5" || r.header.Get("X-Ratelimit-Remaining") != strconv.Itoa(5-i) {
			t.Errorf("login %d: limit %q remaining %q", i, r.header.Get("X-Ratelimit-Limit"), r.header.Get("X-Ratelimit-Remaining"))
		}
	}
	r := e.do("POST", "/api/v1/auth/login", login, "X-Forwarded-For", ip, "X-Request-ID", "sixth-login")
	if r.status != http.StatusTooManyRequests || r.errorCode() != "RATE_LIMITED" || r.header.Get("X-Request-Id") != "sixth-login" {
		t.Fatalf("6th login = %s", r)
	}
	// 5 per minute: the next token is back in 12 s.
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 12 {
		t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	if r.header.Get("X-Ratelimit-Remaining") != "0" {
		t.Errorf("remaining = %q", r.header.Get("X-Ratelimit-Remaining"))
	}
	if _, reached := e.rec.get("sixth-login"); reached {
		t.Error("a refused login reached the auth service")
	}

	// Another client is not affected, nor is another limit of the same one.
	if r := e.do("POST", "/api/v1/auth/login", login, "X-Forwarded-For", randomIP()); r.status == http.StatusTooManyRequests {
		t.Errorf("another address refused: %s", r)
	}
	if r := e.do("GET", "/api/v1/events", "", "X-Forwarded-For", ip); r.status != 200 || r.header.Get("X-Ratelimit-Limit") != "100" {
		t.Errorf("general API for the limited address: %s", r)
	}
	// A proxy chain: the client is the right-most untrusted address; what
	// the client wrote further left does not change its bucket.
	if r := e.do("POST", "/api/v1/auth/login", login, "X-Forwarded-For", randomIP()+", "+ip); r.status != http.StatusTooManyRequests {
		t.Errorf("spoofed left-most X-Forwarded-For escaped the limit: %s", r)
	}
}

func TestForwardedForIsIgnoredFromUntrustedPeers(t *testing.T) {
	t.Parallel()
	e := start(t, "-rate-limit.register.rate=2", "-rate-limit.register.burst=2")
	// No trusted proxies: every request is the loopback peer, whatever it
	// claims, so rotating X-Forwarded-For does not buy more attempts.
	refused := 0
	for range 4 {
		r := e.do("POST", "/api/v1/auth/register", `{}`, "X-Forwarded-For", randomIP())
		if r.status == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused != 2 {
		t.Fatalf("%d of 4 registrations refused, want 2", refused)
	}
}

func TestAuthenticatedCallersAreLimitedPerUser(t *testing.T) {
	t.Parallel()
	e := start(t, "-rate-limit.reserve.rate=2", "-rate-limit.reserve.burst=2")
	alice, _ := e.token(authn.RoleUser)
	bob, _ := e.token(authn.RoleUser)
	body := `{"show_id":"` + showID + `","zone_id":"` + zoneID + `","quantity":1}`
	statuses := func(token string, n int) []int {
		var out []int
		for range n {
			out = append(out, e.do("POST", "/api/v1/bookings/reserve", body, "Authorization", "Bearer "+token, "Idempotency-Key", "key-12345678").status)
		}
		return out
	}
	// Same address, two users: each has their own bucket.
	if got := fmt.Sprint(statuses(alice, 3)); got != "[201 201 429]" {
		t.Errorf("alice: %s", got)
	}
	if got := fmt.Sprint(statuses(bob, 3)); got != "[201 201 429]" {
		t.Errorf("bob: %s", got)
	}
	// A bad token is refused before it could use anyone's bucket.
	if r := e.do("POST", "/api/v1/bookings/reserve", body, "Authorization", "Bearer "+alice+"x"); r.status != 401 {
		t.Errorf("forged token: %s", r)
	}
}

func TestRedisDown(t *testing.T) {
	t.Parallel()
	t.Run("deny", func(t *testing.T) {
		t.Parallel()
		e := start(t, "-redis.url=redis://127.0.0.1:1/0", "-redis.dial-timeout=200ms")
		r := e.do("POST", "/api/v1/auth/login", login, "X-Request-ID", "redis-down")
		if r.status != http.StatusServiceUnavailable || r.errorCode() != "SERVICE_UNAVAILABLE" || r.header.Get("Retry-After") == "" {
			t.Fatalf("login with Redis down = %s", r)
		}
		if _, reached := e.rec.get("redis-down"); reached {
			t.Error("request passed without a rate limit decision")
		}
		// While Redis stays down the edge does not wait for it again.
		began := time.Now()
		if r := e.do("POST", "/api/v1/auth/login", login); r.status != http.StatusServiceUnavailable || time.Since(began) > 500*time.Millisecond {
			t.Errorf("second login with Redis down = %s after %v", r, time.Since(began))
		}
		body := scrape(t, e)
		if !strings.Contains(body, `rush_edge_rate_limit_store_errors_total{limit="login"} 2`) {
			t.Errorf("store errors not counted:\n%s", body)
		}
	})
	t.Run("local fallback", func(t *testing.T) {
		t.Parallel()
		e := start(t, "-redis.url=redis://127.0.0.1:1/0", "-redis.dial-timeout=200ms", "-rate-limit.on-redis-error=local")
		var got []int
		for range 6 {
			got = append(got, e.do("POST", "/api/v1/auth/login", login).status)
		}
		if fmt.Sprint(got[5]) != "429" || got[4] == 429 {
			t.Fatalf("local buckets: %v", got)
		}
	})
}

// scrape reads the edge process's /metrics.
func scrape(t *testing.T, e *env) string {
	t.Helper()
	u, ok := e.reg.URL("metrics")
	if !ok {
		t.Fatal("no metrics listener")
	}
	return metricsText(t, u)
}

// metricsText reads /metrics of the metrics listener at base.
func metricsText(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGeneralLimitIsDecidedInMemory: the general limit (the queue join's,
// every route but the credential ones) costs no Redis call per request:
// the edge decides it in memory, refuses beyond the burst with the same
// 429, and hands what it took to the shared bucket at the next sync.
func TestGeneralLimitIsDecidedInMemory(t *testing.T) {
	t.Parallel()
	e := start(t, "-rate-limit.general.rate=2", "-rate-limit.general.burst=2", "-rate-limit.sync=20ms")
	alice, id := e.token(authn.RoleUser)
	var got []int
	for range 3 {
		got = append(got, e.do("GET", "/api/v1/bookings", "", "Authorization", "Bearer "+alice).status)
	}
	if got[0] == 429 || got[1] == 429 || got[2] != 429 {
		t.Fatalf("three calls with a burst of 2: %v", got)
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	if n, err := rdb.Exists(ctx, e.prefix+"general:u:"+id).Result(); err != nil || n != 0 {
		t.Errorf("a per-request bucket in Redis (%d, %v): the general limit took its tokens from Redis", n, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		// The shared bucket: <prefix>general:{s<shard>}u:<user>.
		keys, _ := rdb.Keys(ctx, e.prefix+"general:{s*}u:"+id).Result()
		var left float64
		var err error = redis.Nil
		if len(keys) == 1 {
			left, err = rdb.HGet(ctx, keys[0], "t").Float64()
		}
		if err == nil && left < 0.5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shared bucket after the sync: %v %v, %v (want the 2 tokens taken)", keys, left, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWebhookHasItsOwnLimit: the payment provider's webhook does not
// spend the general budget of its sending address (a sale's webhooks come
// by the thousand a minute from a few addresses), and has a limit of its
// own.
func TestWebhookHasItsOwnLimit(t *testing.T) {
	t.Parallel()
	e := start(t, "-rate-limit.general.rate=2", "-rate-limit.general.burst=2",
		"-rate-limit.webhook.rate=3", "-rate-limit.webhook.burst=3", "-rate-limit.sync=20ms")
	var got []int
	for range 4 {
		r := e.do("POST", "/api/v1/webhooks/stripe", `{"id":"evt_x"}`, "Stripe-Signature", "t=1,v1=00")
		got = append(got, r.status)
	}
	if got[0] == 429 || got[1] == 429 || got[2] == 429 || got[3] != 429 {
		t.Fatalf("four webhooks with a webhook burst of 3 and a general one of 2: %v", got)
	}
	if r := e.do("GET", "/api/v1/events", ""); r.status == 429 {
		t.Fatalf("the webhooks spent the general budget: %d", r.status)
	}
}
