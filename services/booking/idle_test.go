package booking_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/faulttest"
	"github.com/bookingrush/rush/services/testkit"
)

// TestIdleEventsCostNoScriptCalls: the relay and the sweeper used to read
// every loaded event's stream every 5 ms and run expire.lua for every event
// every tick, so their idle work grew with each event ever loaded. With
// 2,000 loaded events that have nothing to do, they make no stream read and
// no script call in a second (on a Redis of the test's own, which counts
// every command); a hold on the one live event still reaches Postgres at
// once (through the notice its stream entry publishes: the relay's scan is
// set to an hour), and still expires on time.
func TestIdleEventsCostNoScriptCalls(t *testing.T) {
	t.Parallel()
	r := faulttest.StartRedis(t)
	m := startMesh(t, "-redis.url="+r.URL(), "-booking.hold-ttl=1s", "-booking.sweep-interval=100ms", "-booking.relay-scan=1h")
	f := m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 1})
	ctx := context.Background()
	idle := make([]any, 2000)
	for i := range idle {
		idle[i] = uuid.NewString()
	}
	if err := m.rdb.SAdd(ctx, m.prefix+"events", idle...).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a sweep and the relay's scan see the idle events
	if err := m.rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	stats := commandCalls(t, m.rdb)
	t.Logf("an idle second with 2,001 loaded events: %v", stats)
	// Before: about 20,000 EVALSHA (2,001 events, 10 sweeps) and one
	// XREADGROUP per event per relay pass.
	if stats["evalsha"] > 10 || stats["xreadgroup"] > 10 {
		t.Fatalf("idle second with 2,001 loaded events: %d EVALSHA, %d XREADGROUP (every command: %v)", stats["evalsha"], stats["xreadgroup"], stats)
	}

	b, err := m.reserve(ctx, m.booking(false), f, f.users[0], 2, "idle-key-1")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the hold in Postgres", m.persisted(b.GetId()))
	deadline := b.GetExpiresAt().AsTime()
	for m.checkInvariant(f)["available"] != 10 {
		if time.Since(deadline) > 2*time.Second {
			t.Fatalf("hold not released 2 s after its deadline: %v", m.zone(f))
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.waitReconciled(f, 10*time.Second)
}

// commandCalls reads INFO commandstats: calls per command name, lower case.
func commandCalls(t *testing.T, rdb *redis.Client) map[string]int {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for line := range strings.SplitSeq(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		n, _ := strconv.Atoi(calls)
		out[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return out
}

// TestRelayScanFindsUnannouncedEntries: an entry whose notice was lost (one
// published while the relay reconnected; here one added without a script,
// so without a notice) into the stream of an event the relay has gone cold
// on is relayed by the next scan. The entry repeats the hold's first state,
// which the persister ignores (it is not newer than what Postgres has).
func TestRelayScanFindsUnannouncedEntries(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-booking.relay-scan=200ms")
	f := m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 1})
	ctx := context.Background()
	b, err := m.reserve(ctx, m.booking(false), f, f.users[0], 1, "scan-key-1")
	if err != nil {
		t.Fatal(err)
	}
	m.waitReconciled(f, 10*time.Second)
	time.Sleep(1500 * time.Millisecond) // the relay goes cold on the event
	stream := m.prefix + "{ev:" + f.event + "}:stream"
	if err := m.rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{
		"kind", "reserved", "at", b.GetCreatedAt().AsTime().UnixMilli(), "id", b.GetId(), "user", f.users[0], "event", f.event,
		"show", f.show, "zone", f.zone, "qty", 1, "unit", 4990, "exp", b.GetExpiresAt().AsTime().UnixMilli(), "idem", "scan-key-1",
		"zavailable", 9, "zheld", 1, "zsold", 0, "zver", 1, "tp", "",
	}}).Err(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the unannounced entry relayed", func() bool {
		n, err := m.rdb.XLen(ctx, stream).Result()
		return err == nil && n == 0
	})
	m.waitReconciled(f, 10*time.Second)
}

// TestFinishedEventsRetireAndComeBack: an event whose sale is over, with no
// live hold and nothing left to relay, leaves the list of loaded events
// (what the relay's scan and the sweeper walk); an event on sale stays. A
// retired event's sold booking can still be refunded, and the change
// reaches Postgres (the release puts the event back on the list); new sale
// settings put it back too, and it sells again.
func TestFinishedEventsRetireAndComeBack(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-booking.hold-ttl=1s", "-booking.sweep-interval=100ms")
	ctx := context.Background()
	c := m.booking(false)
	over := m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 2, saleStart: time.Now().Add(-time.Hour), saleEnd: time.Now().Add(1500 * time.Millisecond)})
	onSale := m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 1})
	sold, err := m.reserve(ctx, c, over, over.users[0], 2, "retire-key-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ConfirmBooking(ctx, as(m, "saga", authn.RoleService, &bookingv1.ConfirmBookingRequest{BookingId: sold.GetId()})); err != nil {
		t.Fatal(err)
	}
	if _, err := m.reserve(ctx, c, over, over.users[1], 1, "retire-key-2"); err != nil { // expires in a second
		t.Fatal(err)
	}
	eng := booking.NewEngine(m.rdb, m.prefix, time.Second, time.Hour, 1)
	listed := func(f fixture) bool {
		ok, err := m.rdb.SIsMember(ctx, m.prefix+"events", f.event).Result()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if n, err := eng.Retire(ctx); err != nil || n != 0 {
		t.Fatalf("retired %d events while both sell: %v", n, err)
	}
	testkit.Eventually(t, 10*time.Second, "the finished event retired", func() bool {
		_, err := eng.Retire(ctx)
		return err == nil && !listed(over)
	})
	if !listed(onSale) {
		t.Fatal("an event on sale was retired")
	}

	res, err := c.CancelBooking(ctx, as(m, "payment", authn.RoleService, &bookingv1.CancelBookingRequest{BookingId: sold.GetId()}))
	if err != nil || res.Msg.GetBooking().GetStatus() != bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED {
		t.Fatalf("refund of a retired event's booking: %v %v", res, err)
	}
	if !listed(over) {
		t.Fatal("the refund left the event off the list")
	}
	m.waitReconciled(over, 10*time.Second)

	testkit.Eventually(t, 10*time.Second, "retired again", func() bool {
		_, err := eng.Retire(ctx)
		return err == nil && !listed(over)
	})
	// A retried refund (its first try stopped after the script) puts the
	// event back too, so the relay's scan finds what the first try wrote.
	if _, err := c.CancelBooking(ctx, as(m, "payment", authn.RoleService, &bookingv1.CancelBookingRequest{BookingId: sold.GetId()})); err != nil {
		t.Fatalf("refund retried: %v", err)
	}
	if !listed(over) {
		t.Fatal("a retried refund left the event off the list")
	}
	testkit.Eventually(t, 10*time.Second, "retired once more", func() bool {
		_, err := eng.Retire(ctx)
		return err == nil && !listed(over)
	})
	if _, err := m.db.Exec(`UPDATE events SET sale_end_at = now() + interval '1 hour' WHERE id = $1`, over.event); err != nil {
		t.Fatal(err)
	}
	m.load(over)
	if !listed(over) {
		t.Fatal("new sale settings left the event off the list")
	}
	if _, err := m.reserve(ctx, c, over, over.users[1], 1, "retire-key-3"); err != nil {
		t.Fatal(err)
	}
	m.checkInvariant(over)
	m.waitReconciled(over, 10*time.Second)
}

// TestRelayNoticesSurviveACutConnection: the relay's subscription to the
// streams' notices breaks with its Redis connection; once Redis is
// reachable again it subscribes anew, scans the streams once for what it
// missed, and a new hold reaches Postgres through the notices again (the
// periodic scan is set to an hour, so nothing else would carry it).
func TestRelayNoticesSurviveACutConnection(t *testing.T) {
	t.Parallel()
	r := faulttest.StartRedis(t)
	p := faulttest.NewProxy(t, r.Addr())
	m := startMesh(t, "-redis.url=redis://"+p.Addr()+"/0", "-booking.relay-scan=1h")
	f := m.seed(eventOpts{seats: 10, maxPerUser: 4, users: 2})
	ctx := context.Background()
	first, err := m.reserve(ctx, m.booking(false), f, f.users[0], 1, "cut-key-1")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the first hold in Postgres", m.persisted(first.GetId()))

	p.Cut()
	time.Sleep(300 * time.Millisecond)
	p.Restore()
	var second *bookingv1.Booking
	testkit.Eventually(t, 10*time.Second, "a reserve once Redis is reachable again", func() bool {
		second, err = m.reserve(ctx, m.booking(false), f, f.users[1], 1, "cut-key-2")
		return err == nil
	})
	testkit.Eventually(t, 10*time.Second, "the second hold in Postgres", m.persisted(second.GetId()))
	m.waitReconciled(f, 10*time.Second)
}

// persisted reports whether booking id is in Postgres (for testkit.Eventually).
func (m *mesh) persisted(id string) func() bool {
	return func() bool {
		var n int
		return m.db.QueryRow(`SELECT count(*) FROM bookings WHERE id = $1`, id).Scan(&n) == nil && n == 1
	}
}
