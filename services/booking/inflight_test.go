package booking_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bookingrush/rush/lua"
	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/faulttest"
)

// TestRebuildOutdatesARelayBatchInFlight: the relay has read a hold from
// the stream and its produce to Kafka is slow (a broker taking its time to
// get acks=all) when Redis restarts empty. The stream is gone, so the
// rebuild finds no backlog and no persister lag and loads the inventory
// from Postgres without that hold; the produce lands afterwards. The
// persister must leave that hold out (it is older than the rebuild's
// fence, booking_events.fenced_at). Before, it wrote it: Postgres had a
// hold the rebuilt Redis never counted, its seats were sold again (6 seats
// of a 4-seat zone booked) and the hold, in no expiry set, never came back.
//
// The rebuild starts from the next reserve, or from the catalog's next
// load (a change of the sale settings). The load took Postgres holding no
// booking of the event for a first publish and loaded unfenced: the same
// oversold Postgres, whenever Redis lost an event before its first holds
// were persisted.
func TestRebuildOutdatesARelayBatchInFlight(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		catalogLoads bool
	}{{"a reserve rebuilds", false}, {"the catalog's load rebuilds", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rebuildOutdatesARelayBatchInFlight(t, tc.catalogLoads)
		})
	}
}

func rebuildOutdatesARelayBatchInFlight(t *testing.T, catalogLoads bool) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	var slow atomic.Bool
	held := make(chan struct{}, 16)
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	kc.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		if !slow.Load() {
			return nil, nil, false
		}
		for _, tp := range req.(*kmsg.ProduceRequest).Topics {
			if tp.Topic == booking.TopicBookingEvents {
				select {
				case held <- struct{}{}:
				default:
				}
				kc.SleepControl(func() { <-release })
				break
			}
		}
		return nil, nil, false
	})

	r := faulttest.StartRedis(t)
	m := startMesh(t, "-kafka.brokers="+kc.ListenAddrs()[0], "-redis.url="+r.URL(), "-booking.drain-timeout=5s", "-booking.hold-ttl=2s")
	f := m.seed(eventOpts{seats: 4, maxPerUser: 4, users: 3})
	c := m.booking(true)
	ctx := context.Background()

	slow.Store(true)
	inFlight, err := m.reserve(ctx, c, f, f.users[0], 2, "in-flight")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the relay never produced the hold")
	}

	r.Restart()
	if catalogLoads {
		m.load(f)
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err = m.reserve(ctx, c, f, f.users[1], 2, "after-restart-1")
		if err == nil {
			break
		}
		if !errs.Is(err, errs.ServiceUnavailable) || time.Now().After(deadline) {
			t.Fatalf("reserve after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := m.reserve(ctx, c, f, f.users[2], 2, "after-restart-2"); err != nil {
		t.Fatalf("second reserve after the restart: %v", err)
	}
	slow.Store(false)
	releaseOnce.Do(func() { close(release) })

	// The hold produced before the restart reaches Postgres after the
	// rebuild; the rebuilt Redis sold its seats again meanwhile.
	var booked int
	deadline = time.Now().Add(10 * time.Second)
	for {
		if err := m.db.QueryRow(`SELECT COALESCE(sum(quantity), 0) FROM bookings WHERE zone_id = $1 AND status IN ('reserved', 'confirmed')`, f.zone).Scan(&booked); err != nil {
			t.Fatal(err)
		}
		if booked > 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if booked > 4 {
		t.Errorf("oversold: %d seats of a 4-seat zone are held or sold in Postgres (Redis zone %v)", booked, m.zone(f))
	}
	// Every hold's 2 s life ends; the sweeper gives the seats back.
	time.Sleep(5 * time.Second)
	var status string
	if err := m.db.QueryRow(`SELECT status FROM bookings WHERE id = $1`, inFlight.GetId()).Scan(&status); err != nil {
		t.Logf("the in-flight hold is not in Postgres: %v", err)
	}
	diffs, err := booking.Reconcile(ctx, m.rdb, m.pool, m.prefix, f.event)
	if err != nil {
		t.Fatal(err)
	}
	if status == "reserved" || len(diffs) > 0 {
		t.Fatalf("the hold made before the restart is still %q in Postgres long after its 2 s life; Redis zone %v; mismatches %v",
			status, m.zone(f), diffs)
	}
}

// TestRebuildDuringAnotherEventsBusySale: Redis lost one event while
// another sells steadily. The rebuild waited for the persister's lag on
// the whole booking.events topic to be 0, and the other sale keeps it a
// few records behind at every instant (here: the persister's fetches take
// 150 ms, as a loaded broker's would): every rebuild ran out its drain
// timeout and its reserves answered 503. It waits only for what the topic
// held once the lost event's stream was empty.
func TestRebuildDuringAnotherEventsBusySale(t *testing.T) {
	t.Parallel()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	var slow atomic.Bool
	kc.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		if slow.Load() {
			for _, tp := range req.(*kmsg.FetchRequest).Topics {
				if tp.Topic == booking.TopicBookingEvents {
					kc.SleepControl(func() { time.Sleep(150 * time.Millisecond) })
					break
				}
			}
		}
		return nil, nil, false
	})
	m := startMesh(t, "-kafka.brokers="+kc.ListenAddrs()[0], "-booking.drain-timeout=3s")
	lost := m.seed(eventOpts{seats: 4, maxPerUser: 4, users: 1})
	busy := m.seed(eventOpts{seats: 100000, maxPerUser: 10, users: 1000})
	c := m.booking(true)
	ctx := context.Background()
	if _, err := m.reserve(ctx, c, lost, lost.users[0], 1, "before-the-loss"); err != nil {
		t.Fatal(err)
	}
	m.waitReconciled(lost, 10*time.Second)

	slow.Store(true)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond): // about 400 holds a second
				}
				if _, err := m.reserve(ctx, c, busy, busy.users[(i*4+w)%len(busy.users)], 1, fmt.Sprintf("busy-%d-%d", w, i)); err != nil {
					t.Errorf("the busy sale's reserve: %v", err)
					return
				}
			}
		})
	}
	time.Sleep(time.Second) // the busy sale's records reach the topic

	keys := lua.EventKeys(m.prefix, lost.event)
	iter := m.rdb.Scan(ctx, 0, keys.Prefix()+"*", 1000).Iterator()
	for iter.Next(ctx) {
		m.rdb.Del(ctx, iter.Val())
	}
	start := time.Now()
	deadline := start.Add(10 * time.Second)
	for {
		_, err := m.reserve(ctx, c, lost, lost.users[0], 1, "after-the-loss")
		if err == nil {
			break
		}
		if !errs.Is(err, errs.ServiceUnavailable) || time.Now().After(deadline) {
			t.Fatalf("reserve of the lost event %v after its loss: %v", time.Since(start).Round(time.Millisecond), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if z := m.zone(lost); z["held"] != 2 || z["available"] != 2 {
		t.Fatalf("the rebuilt zone %v, want the hold before the loss and the one after", z)
	}
}
