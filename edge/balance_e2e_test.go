package edge_test

import (
	"context"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/fx"

	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/faulttest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

// TestTwoBookingProcessesBehindOneNameBothServe: two booking processes
// listen on one port of two addresses, as the pods of a headless Service
// do, and the edge (a third process) reaches booking by that one name,
// which resolves to both. Reserves through the edge reach both processes,
// and every hold is one: the seats held are the answers' and Postgres
// agrees with Redis.
func TestTwoBookingProcessesBehindOneNameBothServe(t *testing.T) {
	t.Parallel()
	// One port free on both addresses.
	_, port, _ := net.SplitHostPort(faulttest.FreeAddr(t, "127.0.0.2"))

	redisURL := "redis://127.0.0.1:6379/0"
	prefix := testkit.KeyPrefix(t, redisURL)
	dsn := pgtest.Migrated(t)
	common := []string{"-postgres.migrate-on-start=false", "-booking.key-prefix=" + prefix}
	// The first pod also relays to Kafka (its embedded broker) and persists.
	podA := testkit.StartApp(t, testkit.Config(t, dsn, append(common, "-target=booking,relay,persister", "-booking.addr=127.0.0.1:"+port)...))
	podB := testkit.StartApp(t, testkit.Config(t, dsn, append(common, "-target=booking", "-booking.addr=127.0.0.2:"+port)...))
	var lookups atomic.Int64
	resolve := server.Resolver(func(_ context.Context, host string) ([]string, error) {
		if host != "booking-pods" {
			return net.DefaultResolver.LookupHost(context.Background(), host)
		}
		lookups.Add(1)
		return []string{"127.0.0.1", "127.0.0.2"}, nil
	})
	edge := testkit.StartApp(t, testkit.Config(t, dsn, append(common, "-target=edge", "-rate-limit.enabled=false",
		"-peer.booking=booking-pods:"+port)...), fx.Supply(resolve))

	s := podA.SeedShop(t, testkit.ShopOptions{Seats: 100, Users: 40, MaxPerUser: 1})
	a := &api{t: t, base: edge.URL(t, "edge")}
	for _, user := range s.Users {
		r := a.call("POST", "/api/v1/bookings/reserve", edge.Token(t, user, authn.RoleUser),
			map[string]any{"show_id": s.Show, "zone_id": s.Zone, "quantity": 1}, "Idempotency-Key", "two-pods-"+uuid.NewString())
		a.want(r, http.StatusCreated, "")
	}
	if lookups.Load() == 0 {
		t.Fatal("the edge never resolved booking-pods")
	}
	reserves := func(pod *testkit.App) int {
		m := regexp.MustCompile(`(?m)^booking_reservations_total (\d+)$`).FindStringSubmatch(metricsText(t, pod.URL(t, "metrics")))
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	na, nb := reserves(podA), reserves(podB)
	if na == 0 || nb == 0 || na+nb != len(s.Users) {
		t.Fatalf("pod A made %d holds, pod B %d: want both some, %d in all", na, nb, len(s.Users))
	}
	t.Logf("pod A %d holds, pod B %d", na, nb)
	testkit.Eventually(t, 20*time.Second, "Postgres agrees with Redis", func() bool {
		diffs, err := booking.Reconcile(context.Background(), podA.Redis, podA.Pool, prefix, s.Event)
		return err == nil && len(diffs) == 0
	})
	held, err := podA.Redis.HGet(context.Background(), prefix+"{ev:"+s.Event+"}:zone:"+s.Zone, "held").Int()
	if err != nil || held != len(s.Users) {
		t.Fatalf("zone holds %d seats (%v), want %d", held, err, len(s.Users))
	}
}
