package edge_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookingrush/rush/services/testkit"
)

// TestAnIdempotencyKeyIsItsUsersOwn: through the edge of a whole mesh, an
// Idempotency-Key replays only its own user's reserve or payment. Another
// buyer sending annika's keys (the same request, or hers as they were) gets
// a hold and a payment of their own, never annika's booking or payment nor
// a word of them; buyers sending one key at the same instant (the edge
// carries their reserves to booking together) each get their own hold; and
// each buyer's retry replays their own.
func TestAnIdempotencyKeyIsItsUsersOwn(t *testing.T) {
	t.Parallel()
	_, _, a := startWhole(t)
	users := a.people([]string{"annika", "bruno", "orla", "c1", "c2", "c3", "c4"}, "orla")
	ann, bruno := users["annika"], users["bruno"]
	_, showID, zoneID := a.onSale(users["orla"], "Orla Live", 20)
	seat := map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": 1}
	reserve := func(token, key string) apiReply {
		return a.call("POST", "/api/v1/bookings/reserve", token, seat, "Idempotency-Key", key)
	}
	pay := func(token, booking, key string) apiReply {
		return a.call("POST", "/api/v1/payments", token, map[string]any{"booking_id": booking, "payment_method": "sim_ok"}, "Idempotency-Key", key)
	}

	key, payKey := "shared-"+uuid.NewString(), "shared-pay-"+uuid.NewString()
	annHold := reserve(ann, key)
	a.want(annHold, 201, "")
	annBooking := annHold.str("id")
	annPay := pay(ann, annBooking, payKey)
	a.want(annPay, 201, "")
	annPayment := annPay.str("id")
	private := []string{annBooking, annPayment}
	names := func(r apiReply) bool {
		for _, p := range private {
			if strings.Contains(r.raw, p) {
				return true
			}
		}
		return false
	}

	// bruno, with annika's keys.
	if r := pay(bruno, annBooking, payKey); r.status != 404 || r.code() != "NOT_FOUND" || names(r) {
		t.Errorf("bruno pays annika's booking with her key: %s, want 404 NOT_FOUND naming nothing of hers", r)
	}
	brunoHold := reserve(bruno, key)
	if brunoHold.status != 201 || brunoHold.str("id") == annBooking || brunoHold.header.Get("Idempotent-Replayed") != "" || names(brunoHold) {
		t.Fatalf("bruno reserves with annika's key: %s %v, want a new hold of his own", brunoHold, brunoHold.header)
	}
	brunoBooking := brunoHold.str("id")
	brunoPay := pay(bruno, brunoBooking, payKey)
	if brunoPay.status != 201 || brunoPay.str("id") == annPayment || brunoPay.str("booking_id") != brunoBooking ||
		brunoPay.header.Get("Idempotent-Replayed") != "" || names(brunoPay) {
		t.Errorf("bruno pays his hold with annika's payment key: %s, want a new payment of his own", brunoPay)
	}
	// Each one's retry replays their own.
	if r := reserve(bruno, key); r.str("id") != brunoBooking || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("bruno's retry: %s %v, want his hold replayed", r, r.header)
	}
	if r := reserve(ann, key); r.str("id") != annBooking || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("annika's retry: %s %v, want her hold replayed", r, r.header)
	}
	if r := pay(ann, annBooking, payKey); r.str("id") != annPayment || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("annika's payment retry: %s %v, want her payment replayed", r, r.header)
	}

	// Four buyers, one key, at the same instant: four holds.
	together := "together-" + uuid.NewString()
	var wg sync.WaitGroup
	holds := make([]apiReply, 4)
	for i, name := range []string{"c1", "c2", "c3", "c4"} {
		wg.Go(func() { holds[i] = reserve(users[name], together) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, r := range holds {
		if r.status != 201 || r.header.Get("Idempotent-Replayed") != "" || seen[r.str("id")] {
			t.Errorf("buyer %d of four with one key: %s %v, want a hold of their own", i+1, r, r.header)
		}
		seen[r.str("id")] = true
		if own := a.call("GET", "/api/v1/bookings/"+r.str("id"), users["c"+string(rune('1'+i))], nil); own.status != 200 {
			t.Errorf("buyer %d reads the hold they were answered: %s", i+1, own)
		}
	}

	// annika's booking and payment are as they were, and hers alone.
	for _, c := range []struct{ who, token, path string }{{"bruno", bruno, "/api/v1/bookings/" + annBooking}, {"bruno", bruno, "/api/v1/payments/" + annPayment}} {
		if r := a.call("GET", c.path, c.token, nil); r.status != 404 {
			t.Errorf("%s: GET %s: %s, want 404", c.who, c.path, r)
		}
	}
	if r := a.call("GET", "/api/v1/payments/"+annPayment, ann, nil); r.str("booking_id") != annBooking {
		t.Errorf("annika's payment: %s", r)
	}
	// (The list is read from booking's records, which follow the holds.)
	testkit.Eventually(t, 20*time.Second, "bruno's one booking listed", func() bool {
		list := a.call("GET", "/api/v1/bookings", bruno, nil).list()
		return len(list) == 1 && list[0].(map[string]any)["id"] == brunoBooking
	})
}
