package edge_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bookingrush/rush/services/platform/mail/mailtest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/testkit"
)

// TestCancelledEventTellsItsWaitlist: an organizer cancels an event whose
// sold-out zone has buyers waiting. Each is mailed that the event is
// cancelled and the line closed (with the organizer's reason and the seats
// they waited for), their place answers 404, and cancelling again mails
// nobody twice.
func TestCancelledEventTellsItsWaitlist(t *testing.T) {
	t.Parallel()
	_, smtp, a := startWhole(t, "-notify.poll=100ms")
	w := a.waitlisted("Storm Night")
	org, ben, cat, eventID, showID, zoneID := w.org, w.ben, w.cat, w.eventID, w.showID, w.zoneID

	a.want(a.call("POST", "/api/v1/events/"+eventID+"/cancel", org, map[string]any{"reason": "a storm"}), 200, "")
	for _, who := range []string{ben, cat} {
		a.want(a.call("GET", "/api/v1/waitlist/"+zoneID, who, nil), 404, "NOT_FOUND")
		a.want(a.call("POST", "/api/v1/waitlist", who, map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": 1}), 409, "SALE_NOT_OPEN")
	}
	waitersTold(t, smtp, "Storm Night", "a storm")
	closed := func(to string) []string { return closedMails(smtp, to) }
	// ann held seats: her mail is the cancelled hold's, not a waitlist's.
	testkit.Eventually(t, 20*time.Second, "ann's mail", func() bool { return len(smtp.To("ann@rush.test")) > 0 })
	if n := len(closed("ann@rush.test")); n != 0 {
		t.Errorf("ann, who held seats and waited for none, got %d waitlist mails", n)
	}

	a.want(a.call("POST", "/api/v1/events/"+eventID+"/cancel", org, map[string]any{"reason": "a storm"}), http.StatusOK, "")
	time.Sleep(500 * time.Millisecond)
	if n := len(closed("ben@rush.test")) + len(closed("cat@rush.test")); n != 2 {
		t.Fatalf("after a second cancel: %d waitlist mails, want 2", n)
	}
}

// TestCancelledEventWhoseKeysRedisLostTellsItsWaitlist: Redis loses a
// sold-out event's keys while another booking process holds the event's
// rebuild, and the organizer cancels it. The cancellation is kept, and
// answered 503 while booking cannot say the sales stopped (its load waits
// for the other process's rebuild); once that process is gone, cancelling
// again finishes it, and the buyers waiting on its line are mailed: who
// waits is read from booking's records of the line. (The cancellation's
// load answered success at once, with nothing rebuilt, before.)
func TestCancelledEventWhoseKeysRedisLostTellsItsWaitlist(t *testing.T) {
	t.Parallel()
	m, smtp, a := startWhole(t, "-notify.poll=100ms")
	w := a.waitlisted("Flood Night")
	org, eventID := w.org, w.eventID
	db := pgtest.Open(t, m.DSN)
	testkit.Eventually(t, 20*time.Second, "ann's hold in Postgres", func() bool {
		var n int
		return db.QueryRow(`SELECT count(*) FROM bookings WHERE event_id = $1`, eventID).Scan(&n) == nil && n == 1
	})

	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	prefix := m.Config.Booking.KeyPrefix + "{ev:" + eventID + "}:"
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("the event's keys: %v %v", keys, err)
	}
	if err := rdb.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, prefix+"rebuild", "another-booking-process", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}

	a.want(a.call("POST", "/api/v1/events/"+eventID+"/cancel", org, map[string]any{"reason": "a flood"}), 503, "SERVICE_UNAVAILABLE")
	if err := rdb.Del(ctx, prefix+"rebuild").Err(); err != nil { // the other process died; its lock lapsed
		t.Fatal(err)
	}
	a.want(a.call("POST", "/api/v1/events/"+eventID+"/cancel", org, map[string]any{"reason": "a flood"}), 200, "")
	waitersTold(t, smtp, "Flood Night", "a flood")
}

// waitlisted is a sold-out event (title, 3 seats, org's): ann holds every
// seat, ben waits for 2 and cat for 1.
type waitlisted struct{ org, ann, ben, cat, eventID, showID, zoneID string }

func (a *api) waitlisted(title string) waitlisted {
	a.t.Helper()
	users := a.people([]string{"org", "ann", "ben", "cat"}, "org")
	w := waitlisted{org: users["org"], ann: users["ann"], ben: users["ben"], cat: users["cat"]}
	w.eventID, w.showID, w.zoneID = a.onSale(w.org, title, 3)
	a.want(a.call("POST", "/api/v1/bookings/reserve", w.ann, map[string]any{"show_id": w.showID, "zone_id": w.zoneID, "quantity": 3},
		"Idempotency-Key", "ann-"+w.eventID), 201, "")
	a.want(a.call("POST", "/api/v1/waitlist", w.ben, map[string]any{"show_id": w.showID, "zone_id": w.zoneID, "quantity": 2}), 200, "")
	a.want(a.call("POST", "/api/v1/waitlist", w.cat, map[string]any{"show_id": w.showID, "zone_id": w.zoneID, "quantity": 1}), 200, "")
	return w
}

// waitersTold waits for ben's and cat's one "waitlist place is closed"
// mail each, naming the event's title, the reason and the seats each waited for.
func waitersTold(t *testing.T, smtp *mailtest.Server, title, reason string) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, "the waiting buyers' mails", func() bool {
		return len(closedMails(smtp, "ben@rush.test")) == 1 && len(closedMails(smtp, "cat@rush.test")) == 1
	})
	for who, seats := range map[string]string{"ben@rush.test": "2 seats in Floor", "cat@rush.test": "1 seat in Floor"} {
		if text := closedMails(smtp, who)[0]; !strings.Contains(text, title) || !strings.Contains(text, "Reason: "+reason) || !strings.Contains(text, seats) {
			t.Errorf("%s's mail:\n%s", who, text)
		}
	}
}

// closedMails are the texts of the "waitlist place is closed" mails to to.
func closedMails(smtp *mailtest.Server, to string) []string {
	var out []string
	for _, msg := range smtp.To(to) {
		if strings.Contains(msg.Subject, "waitlist place is closed") {
			out = append(out, msg.Text)
		}
	}
	return out
}
