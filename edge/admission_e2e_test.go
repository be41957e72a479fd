package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bookingrush/rush/lua"
	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/testkit"
)

// TestReservesBeyondTheLimitAreShed: an edge that admits two reserves in
// flight, under 60 concurrent ones through the real mesh. Every request is
// answered: a hold or "sold out", or 503 at once with Retry-After and the
// reason; the shed ones changed nothing (Redis and Postgres agree, and the
// seats held are exactly those of the 201 answers).
func TestReservesBeyondTheLimitAreShed(t *testing.T) {
	t.Parallel()
	redisURL := "redis://127.0.0.1:6379/0"
	prefix := testkit.KeyPrefix(t, redisURL)
	app := testkit.StartApp(t, testkit.Config(t, pgtest.Migrated(t), "-postgres.migrate-on-start=false", "-target=all",
		"-rate-limit.enabled=false", "-booking.key-prefix="+prefix, "-catalog.cache-prefix="+testkit.KeyPrefix(t, redisURL),
		"-queue.key-prefix="+testkit.KeyPrefix(t, redisURL),
		"-edge.admission.initial=2", "-edge.admission.min=1", "-edge.admission.max=2"))
	s := app.SeedShop(t, testkit.ShopOptions{Seats: 40, Users: 60, MaxPerUser: 1})
	base := app.URL(t, "edge")
	type answer struct {
		status     int
		retryAfter string
		code       string
		reason     string
	}
	answers := make([]answer, len(s.Users))
	var wg sync.WaitGroup
	for i, u := range s.Users {
		wg.Go(func() {
			body, _ := json.Marshal(map[string]any{"show_id": s.Show, "zone_id": s.Zone, "quantity": 1})
			req, _ := http.NewRequest("POST", base+"/api/v1/bookings/reserve", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+app.Token(t, u, authn.RoleUser))
			req.Header.Set("Idempotency-Key", fmt.Sprintf("shed-%04d", i))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var env struct {
				Error struct {
					Code    string
					Details struct{ Reason string }
				}
			}
			_ = json.Unmarshal(raw, &env)
			answers[i] = answer{res.StatusCode, res.Header.Get("Retry-After"), env.Error.Code, env.Error.Details.Reason}
		})
	}
	wg.Wait()
	held, shed := 0, 0
	for i, a := range answers {
		switch {
		case a.status == 201:
			held++
		case a.status == 409 && a.code == "INSUFFICIENT_STOCK":
		case a.status == 503 && a.retryAfter == "1" && a.reason == "overloaded":
			shed++
		default:
			t.Errorf("request %d: %+v", i, a)
		}
	}
	if held == 0 || shed == 0 {
		t.Fatalf("%d held, %d shed of %d: the limit of 2 did not shed, or nothing got through", held, shed, len(answers))
	}
	if z := zoneSold(t, app, s); z != held {
		t.Fatalf("Redis holds %d seats, %d were answered 201", z, held)
	}
	testkit.Eventually(t, 15*time.Second, "Postgres agrees with Redis", func() bool {
		d, err := booking.Reconcile(context.Background(), app.Redis, app.Pool, prefix, s.Event)
		return err == nil && len(d) == 0
	})
	t.Logf("%d held, %d shed, %d sold out", held, shed, len(answers)-held-shed)
}

// zoneSold is the seats held or sold in the shop's zone, as Redis counts.
func zoneSold(t *testing.T, app *testkit.App, s testkit.Shop) int {
	t.Helper()
	var held, sold int
	v, err := app.Redis.HMGet(context.Background(), lua.EventKeys(app.Config.Booking.KeyPrefix, s.Event).Zone(s.Zone), "held", "sold").Result()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fmt.Sscan(fmt.Sprint(v[0]), &held)
	_, _ = fmt.Sscan(fmt.Sprint(v[1]), &sold)
	return held + sold
}

// TestShedEventSwitchesOnItsWaitingRoom: an event whose organizer allowed
// it (queue auto) gets its waiting room by itself once the edge has shed
// most of its reserves for a sustained while: reserves without a pass are
// then refused with QUEUE_PASS_REQUIRED, and a shed answer tells the client
// which event's line to join. Once the organizer switched the queue off
// again, a shed answer stops naming the line as soon as a reserve without a
// pass held seats: before, the edge named it until it restarted, and a
// client sent there was let in at once (no queue), reserved, was shed and
// was sent to the line again, with no pause, while the edge was overloaded.
func TestShedEventSwitchesOnItsWaitingRoom(t *testing.T) {
	t.Parallel()
	redisURL := "redis://127.0.0.1:6379/0"
	app := testkit.StartApp(t, testkit.Config(t, pgtest.Migrated(t), "-postgres.migrate-on-start=false", "-target=all",
		"-rate-limit.enabled=false", "-booking.key-prefix="+testkit.KeyPrefix(t, redisURL), "-catalog.cache-prefix="+testkit.KeyPrefix(t, redisURL),
		"-queue.key-prefix="+testkit.KeyPrefix(t, redisURL),
		"-edge.admission.initial=1", "-edge.admission.min=1", "-edge.admission.max=1", "-edge.admission.auto-queue-after=1s"))
	s := app.SeedShop(t, testkit.ShopOptions{Seats: 50000, Users: 80, MaxPerUser: 10})
	base := app.URL(t, "edge")
	call := func(method, path, token string, body any, key string) (int, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return 0, nil
		}
		defer res.Body.Close()
		var env map[string]any
		raw, _ := io.ReadAll(res.Body)
		_ = json.Unmarshal(raw, &env)
		return res.StatusCode, env
	}
	org := app.Token(t, s.Organizer, authn.RoleOrganizer)
	if st, env := call("PUT", "/api/v1/events/"+s.Event+"/queue", org, map[string]any{"enabled": false, "auto": true}, ""); st != 200 {
		t.Fatalf("queue settings: %d %v", st, env)
	}
	reserve := func(i, n int) (int, map[string]any) {
		return call("POST", "/api/v1/bookings/reserve", app.Token(t, s.Users[i], authn.RoleUser),
			map[string]any{"show_id": s.Show, "zone_id": s.Zone, "quantity": 1}, fmt.Sprintf("auto-%02d-%04d", i, n))
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		shedHint string
		refused  bool
	)
	stop := time.Now().Add(20 * time.Second)
	for i := range 40 {
		wg.Go(func() {
			for n := 0; time.Now().Before(stop); n++ {
				st, env := reserve(i, n)
				e, _ := env["error"].(map[string]any)
				d, _ := e["details"].(map[string]any)
				mu.Lock()
				if ev, _ := d["queue_event_id"].(string); st == 503 && ev != "" {
					shedHint = ev
				}
				if st == 403 && e["code"] == "QUEUE_PASS_REQUIRED" {
					refused = true
				}
				done := shedHint != "" && refused
				mu.Unlock()
				if done {
					return
				}
			}
		})
	}
	wg.Wait()
	if shedHint != s.Event || !refused {
		t.Fatalf("after 20 s of shedding: shed answers name the line of %q (want %s), a reserve without a pass refused: %v", shedHint, s.Event, refused)
	}
	if st, env := call("GET", "/api/v1/queue/lines/"+s.Event, org, nil, ""); st != 200 || env["data"].(map[string]any)["enabled"] != true {
		t.Fatalf("the line after the switch: %d %v", st, env)
	}

	// The organizer switches the queue off (and the automatic switch).
	if st, env := call("PUT", "/api/v1/events/"+s.Event+"/queue", org, map[string]any{"enabled": false, "auto": false}, ""); st != 200 {
		t.Fatalf("queue settings: %d %v", st, env)
	}
	var firstHold, lastNamed time.Time
	stop = time.Now().Add(10 * time.Second)
	for i := 40; i < 80; i++ { // buyers who hold nothing yet
		wg.Go(func() {
			for n := 0; time.Now().Before(stop); n++ {
				st, env := call("POST", "/api/v1/bookings/reserve", app.Token(t, s.Users[i], authn.RoleUser),
					map[string]any{"show_id": s.Show, "zone_id": s.Zone, "quantity": 1}, fmt.Sprintf("off-%02d-%04d", i, n))
				e, _ := env["error"].(map[string]any)
				d, _ := e["details"].(map[string]any)
				now := time.Now()
				mu.Lock()
				if st == 201 && firstHold.IsZero() {
					firstHold = now
				}
				if ev, _ := d["queue_event_id"].(string); st == 503 && ev != "" {
					lastNamed = now
				}
				done := !firstHold.IsZero() && now.Sub(firstHold) > 3*time.Second
				mu.Unlock()
				if done {
					return
				}
			}
		})
	}
	wg.Wait()
	if firstHold.IsZero() {
		t.Fatal("no reserve held seats in 10 s once the queue was off")
	}
	if lastNamed.After(firstHold.Add(500 * time.Millisecond)) {
		t.Fatalf("a shed answer named the line %v after a reserve without a pass held seats (the queue is off)", lastNamed.Sub(firstHold).Round(time.Millisecond))
	}
}
