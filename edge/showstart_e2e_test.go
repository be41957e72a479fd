package edge_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/testkit"
)

// TestStartedShowThroughTheAPI: through the public API of a whole mesh, an
// event on sale with two dates stops selling the first once it has started
// (409 SALE_NOT_OPEN, details.reason "show_started" and the show's
// show_date beside the event's status and sale window) and its waitlist
// takes no one, while the later date sells; a show dated in the past is
// refused with a 400 on show_date.
func TestStartedShowThroughTheAPI(t *testing.T) {
	t.Parallel()
	redisURL := "redis://127.0.0.1:6379/0"
	app := testkit.StartApp(t, testkit.Config(t, pgtest.Migrated(t), "-postgres.migrate-on-start=false", "-target=all",
		"-admin.email=root@rush.test", "-admin.password=root-password-1",
		"-booking.key-prefix="+testkit.KeyPrefix(t, redisURL), "-catalog.cache-prefix="+testkit.KeyPrefix(t, redisURL),
		"-rate-limit.prefix="+testkit.KeyPrefix(t, redisURL), "-queue.key-prefix="+testkit.KeyPrefix(t, redisURL),
		"-edge.trusted-proxies=127.0.0.1/32"))
	a := &api{t: t, base: app.URL(t, "edge")}

	adm := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"}).str("access_token")
	r := a.call("POST", "/api/v1/auth/register", "", map[string]any{"email": "org@rush.test", "password": "secret-pass-1", "full_name": "Org"})
	a.want(r, http.StatusCreated, "")
	a.want(a.call("PUT", "/api/v1/admin/users/"+r.str("user", "id")+"/role", adm, map[string]any{"role": "organizer"}), 200, "")
	org := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "org@rush.test", "password": "secret-pass-1"}).str("access_token")
	buyer := a.call("POST", "/api/v1/auth/register", "", map[string]any{"email": "buyer@rush.test", "password": "secret-pass-1", "full_name": "Buyer"})
	a.want(buyer, http.StatusCreated, "")
	tok := buyer.str("access_token")

	ev := a.call("POST", "/api/v1/events", org, map[string]any{"title": "Two Nights", "venue": "Hall", "max_per_user": 4,
		"sale_start_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "sale_end_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)})
	a.want(ev, http.StatusCreated, "")
	eventID := ev.str("id")
	a.want(a.call("POST", "/api/v1/events/"+eventID+"/shows", org, map[string]any{"show_date": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}),
		http.StatusBadRequest, "VALIDATION_ERROR")
	soon := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	first := a.call("POST", "/api/v1/events/"+eventID+"/shows", org, map[string]any{"show_date": soon.Format(time.RFC3339)})
	a.want(first, http.StatusCreated, "")
	later := a.call("POST", "/api/v1/events/"+eventID+"/shows", org, map[string]any{"show_date": time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)})
	a.want(later, http.StatusCreated, "")
	zones := map[string]string{}
	for _, sh := range []apiReply{first, later} {
		z := a.call("POST", "/api/v1/shows/"+sh.str("id")+"/zones", org, map[string]any{"name": "Floor", "price": "20.00", "total_seats": 10})
		a.want(z, http.StatusCreated, "")
		zones[sh.str("id")] = z.str("id")
	}
	a.want(a.call("POST", "/api/v1/events/"+eventID+"/publish", org, nil), 200, "")
	time.Sleep(time.Until(soon) + 100*time.Millisecond)

	reserve := func(show apiReply, key string) apiReply {
		t.Helper()
		return a.call("POST", "/api/v1/bookings/reserve", tok, map[string]any{"show_id": show.str("id"), "zone_id": zones[show.str("id")], "quantity": 1},
			"Idempotency-Key", key)
	}
	refused := reserve(first, "started-0001")
	a.want(refused, http.StatusConflict, "SALE_NOT_OPEN")
	if refused.detail("reason") != "show_started" || refused.detail("show_date") != soon.Format(time.RFC3339) || refused.detail("status") != "published" {
		t.Fatalf("reserve of the started show: %s", refused)
	}
	joined := a.call("POST", "/api/v1/waitlist", tok, map[string]any{"show_id": first.str("id"), "zone_id": zones[first.str("id")], "quantity": 1})
	if joined.status != http.StatusConflict || joined.detail("reason") != "show_started" {
		t.Fatalf("waitlist of the started show: %s", joined)
	}
	a.want(reserve(later, "later-0001"), http.StatusCreated, "")
}
