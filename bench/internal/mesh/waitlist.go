package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/bookingrush/rush/bench/internal/load"
	"github.com/bookingrush/rush/lua"
)

// JoinWaitlistHTTP returns a Doer whose request seq puts users[seq] on the
// waitlist of ev's zone 0 for one seat (POST /api/v1/waitlist); the place
// it was given goes to places[seq] (joins only append, so that is the
// order in line).
func JoinWaitlistHTTP(c *http.Client, base string, ev *Event, users []User, places []int) load.Doer {
	body, _ := json.Marshal(map[string]any{"show_id": ev.ShowID, "zone_id": ev.Zones[0], "quantity": 1})
	return func(ctx context.Context, seq uint64) load.Answer {
		var data struct {
			Position int `json:"position"`
		}
		r := send(ctx, c, base+"/api/v1/waitlist", "Bearer "+users[seq].Token, "", body, &data)
		if r.failed != "" {
			return load.Answer{Outcome: r.failed}
		}
		places[seq] = data.Position
		return load.Answer{Outcome: outcome(r.status, r.code), Expected: r.status == http.StatusOK && data.Position > 0}
	}
}

// Offer is a waitlist offer as the booking engine keeps it.
type Offer struct {
	BookingID, UserID string
	Seats             int
}

// Offers reads the waitlist offers of ev from Redis (holds marked wl).
func Offers(ctx context.Context, rdb *redis.Client, prefix string, ev *Event) ([]Offer, error) {
	var out []Offer
	iter := rdb.Scan(ctx, 0, lua.EventKeys(prefix, ev.ID).Prefix()+"hold:*", 1000).Iterator()
	for iter.Next(ctx) {
		h, err := rdb.HGetAll(ctx, iter.Val()).Result()
		if err != nil {
			return nil, err
		}
		if h["wl"] == "1" {
			n, _ := strconv.Atoi(h["qty"])
			out = append(out, Offer{BookingID: h["id"], UserID: h["user"], Seats: n})
		}
	}
	return out, iter.Err()
}

// WaitlistAudit checks the offers of ev's zone 0 after returned seats came
// back to a waitlist whose buyers (waiters, one seat each) had the places
// places: offers = seats returned (while the line was longer), no booking
// and no buyer offered twice, every offer to a buyer of the line and in
// line order (the first len(offers) places), the zone's invariant intact,
// nothing held but the offers (every holder cancelled), and Postgres
// holding every offer once the persister caught up.
func WaitlistAudit(ctx context.Context, rdb *redis.Client, db *pgxpool.Pool, prefix string, ev *Event, waiters []User, places []int, returned int, wait time.Duration) *Audit {
	a := &Audit{}
	fail := func(format string, args ...any) { a.Failed = append(a.Failed, fmt.Sprintf(format, args...)) }
	offers, err := Offers(ctx, rdb, prefix, ev)
	if err != nil {
		fail("offers: %v", err)
		return a
	}
	place := map[string]int{}
	for i, u := range waiters {
		place[u.ID] = places[i]
	}
	seats, byUser, ids := 0, map[string]bool{}, map[string]bool{}
	var offered []int
	for _, o := range offers {
		seats += o.Seats
		if ids[o.BookingID] {
			fail("booking %s offered twice", o.BookingID)
		}
		ids[o.BookingID] = true
		if byUser[o.UserID] {
			fail("buyer %s offered twice", o.UserID)
		}
		byUser[o.UserID] = true
		p, ok := place[o.UserID]
		if !ok {
			fail("offer %s to %s, who was not on the waitlist", o.BookingID, o.UserID)
		}
		offered = append(offered, p)
	}
	want := min(returned, len(waiters))
	a.Lines = append(a.Lines, fmt.Sprintf("waitlist: %d seats returned to a line of %d; %d offers of %d seats", returned, len(waiters), len(offers), seats))
	if seats != want {
		fail("offers = %d seats, seats returned (to a line at least that long) = %d", seats, want)
	}
	sort.Ints(offered)
	for i, p := range offered {
		if p != i+1 {
			fail("offers went to places %v..., not the first %d in line", offered[:min(len(offered), 10)], len(offered))
			break
		}
	}
	v, err := rdb.HMGet(ctx, zoneKey(prefix, ev.ID, ev.Zones[0]), "total", "available", "held", "sold").Result()
	if err != nil {
		fail("zone: %v", err)
		return a
	}
	n := make([]int, 4)
	for i, x := range v {
		s, _ := x.(string)
		n[i], _ = strconv.Atoi(s)
	}
	a.Lines = append(a.Lines, fmt.Sprintf("zone: Redis total %d available %d held %d sold %d", n[0], n[1], n[2], n[3]))
	if n[1] < 0 || n[1]+n[2]+n[3] != n[0] || n[2] != seats {
		fail("zone invariant or offers not counted as held: %v, %d seats offered", n, seats)
	}
	start := time.Now()
	for {
		var rows, rowSeats int
		err := db.QueryRow(ctx, `SELECT count(*), COALESCE(sum(quantity), 0) FROM bookings
			WHERE event_id = $1 AND reservation_id = 'waitlist-' || id::text AND status = 'reserved'`, ev.ID).Scan(&rows, &rowSeats)
		if err == nil && rows == len(offers) && rowSeats == seats {
			a.Lines = append(a.Lines, fmt.Sprintf("Postgres: the %d offers persisted in %v", rows, time.Since(start).Round(time.Millisecond)))
			break
		}
		if time.Since(start) > wait {
			fail("Postgres has %d offers of %d seats, Redis %d of %d (%v)", rows, rowSeats, len(offers), seats, err)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	return a
}
