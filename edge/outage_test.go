package edge_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/faulttest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/testkit"
)

// outageArgs are the flags of a whole mesh whose breakers probe every
// 100 ms, on fresh key prefixes of the Redis at redisURL.
func outageArgs(t *testing.T, redisURL string, extra ...string) []string {
	return append([]string{"-target=all", "-edge.trusted-proxies=127.0.0.1/32",
		"-redis.url=" + redisURL, "-redis.breaker.probe-interval=100ms", "-postgres.breaker.probe-interval=100ms",
		"-booking.key-prefix=" + testkit.KeyPrefix(t, redisURL), "-catalog.cache-prefix=" + testkit.KeyPrefix(t, redisURL),
		"-rate-limit.prefix=" + testkit.KeyPrefix(t, redisURL), "-queue.key-prefix=" + testkit.KeyPrefix(t, redisURL)}, extra...)
}

// detail is details[key] of an error answer (nil for a success).
func (r apiReply) detail(key string) any {
	e, _ := r.body["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	return d[key]
}

// breakerOpen reports whether the mesh's breaker of dependency is open,
// from its /metrics.
func breakerOpen(t *testing.T, m *testkit.App, dependency string) bool {
	t.Helper()
	return strings.Contains(metricsText(t, m.URL(t, "metrics")), `rush_dependency_breaker_open{dependency="`+dependency+`"} 1`)
}

// unavailable sends call until the breaker of dependency is open (every
// answer meanwhile must be 503 naming it), then checks that answers come
// fast: the median of 9 under 100 ms.
func unavailable(t *testing.T, m *testkit.App, dependency string, call func() apiReply) {
	t.Helper()
	check := func(r apiReply) {
		t.Helper()
		if r.status != http.StatusServiceUnavailable || r.code() != "SERVICE_UNAVAILABLE" || r.detail("dependency") != dependency {
			t.Fatalf("%s down: %s", dependency, r)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for !breakerOpen(t, m, dependency) {
		if time.Now().After(deadline) {
			t.Fatalf("the %s breaker did not open", dependency)
		}
		check(call())
	}
	var took []time.Duration
	for range 9 {
		began := time.Now()
		check(call())
		took = append(took, time.Since(began))
	}
	slices.Sort(took)
	if took[4] > 100*time.Millisecond {
		t.Errorf("%s down, breaker open: answers took %v", dependency, took)
	}
	t.Logf("%s down, breaker open: 503 in %v (sorted)", dependency, took)
}

// recovered waits until call answers status, the breaker closed by itself.
func recovered(t *testing.T, m *testkit.App, dependency string, status int, call func() apiReply) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, dependency+" back: "+fmt.Sprint(status), func() bool { return call().status == status })
	if breakerOpen(t, m, dependency) {
		t.Errorf("the %s breaker is still open", dependency)
	}
}

// TestPostgresOutage cuts the mesh's connections to Postgres (a proxy in
// between): catalog reads answer 503 naming postgres, in milliseconds once
// the breaker is open, and everything works again when Postgres is back.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	proxy, dsn := faulttest.PostgresProxy(t, pgtest.Migrated(t))
	m := testkit.StartApp(t, testkit.Config(t, dsn, outageArgs(t, "redis://127.0.0.1:6379/0",
		"-postgres.migrate-on-start=false", "-postgres.connect-timeout=1s")...))
	shop := m.SeedShop(t, testkit.ShopOptions{})
	a := &api{t: t, base: m.URL(t, "edge")}
	reads := []string{"/api/v1/events/" + shop.Event, "/api/v1/events/" + shop.Event + "/shows", "/api/v1/shows/" + shop.Show + "/zones", "/api/v1/events?per_page=7"}

	proxy.Cut()
	// Reads the cache has not seen need Postgres.
	unavailable(t, m, "postgres", func() apiReply { return a.call("GET", "/api/v1/events/no-such-"+uuid.NewString(), "", nil) })
	for _, path := range reads {
		r := a.call("GET", path, "", nil)
		if r.status != http.StatusServiceUnavailable || r.detail("dependency") != "postgres" {
			t.Errorf("GET %s with Postgres down: %s", path, r)
		}
	}

	proxy.Restore()
	recovered(t, m, "postgres", http.StatusNotFound, func() apiReply {
		return a.call("GET", "/api/v1/events/no-such-"+uuid.NewString(), "", nil)
	})
	for _, path := range reads {
		if r := a.call("GET", path, "", nil); r.status != http.StatusOK {
			t.Errorf("GET %s after the outage: %s", path, r)
		}
	}
}

// TestRedisOutage freezes, then kills, the mesh's Redis (a private server):
// reserves answer 503 naming redis, in milliseconds once the breaker is
// open, catalog reads go on from Postgres (user tokens get 503 once the
// revocation feed is stale), and reserves work again once Redis is back.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	srv := faulttest.StartRedis(t)
	m := testkit.StartApp(t, testkit.Config(t, pgtest.Migrated(t), outageArgs(t, srv.URL(),
		"-postgres.migrate-on-start=false", "-rate-limit.enabled=false",
		"-redis.read-timeout=300ms", "-redis.write-timeout=300ms", "-redis.dial-timeout=300ms",
		"-jwt.revocation-poll=100ms", "-jwt.revocation-max-stale=1s")...))
	shop := m.SeedShop(t, testkit.ShopOptions{Seats: 100, MaxPerUser: 10, Users: 1})
	a := &api{t: t, base: m.URL(t, "edge")}
	token := m.Token(t, shop.Users[0], authn.RoleUser)
	reserve := func() apiReply {
		return a.call("POST", "/api/v1/bookings/reserve", token, map[string]any{"show_id": shop.Show, "zone_id": shop.Zone, "quantity": 1},
			"Idempotency-Key", "outage-"+uuid.NewString())
	}
	a.want(reserve(), http.StatusCreated, "")

	srv.Freeze()
	unavailable(t, m, "redis", reserve)
	// The catalog's cache is Redis: reads fall back to Postgres.
	if r := a.call("GET", "/api/v1/events/"+shop.Event, "", nil); r.status != http.StatusOK {
		t.Errorf("event read with Redis frozen: %s", r)
	}
	srv.Thaw()
	recovered(t, m, "redis", http.StatusCreated, reserve)

	srv.Kill()
	unavailable(t, m, "redis", reserve)
	// Whether a token was revoked is unknown once the feed is older than
	// jwt.revocation-max-stale: user tokens get 503 (fail closed), anonymous
	// reads go on.
	testkit.Eventually(t, 5*time.Second, "a user token refused with 503", func() bool {
		r := a.call("GET", "/api/v1/events/"+shop.Event, token, nil)
		return r.status == http.StatusServiceUnavailable && r.detail("dependency") == "redis"
	})
	a.want(a.call("GET", "/api/v1/events/"+shop.Event, "", nil), http.StatusOK, "")
	// A new, empty Redis: the booking engine rebuilds the event's
	// inventory from Postgres (answering 503 meanwhile), then sells again.
	srv.Restart()
	recovered(t, m, "redis", http.StatusCreated, reserve)
}
