package testkit

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/services/app"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/moneyaudit"
)

// App is a mesh the test may stop itself and start again on the same
// schema and Redis keys (restart tests). It also exposes the process's
// Postgres pool, Redis client and Kafka producer.
type App struct {
	*Mesh
	Pool     *pgxpool.Pool
	Redis    *redis.Client
	Producer *kafka.Producer
	Kafka    *kafka.Cluster

	app     *fx.App
	stopped bool
}

// StartApp runs cfg's targets with extra fx options (e.g. fx.Supply of
// test hooks); the app stops at the end of the test unless stopped before.
func StartApp(t testing.TB, cfg *app.Config, extra ...fx.Option) *App {
	t.Helper()
	a := &App{Mesh: &Mesh{Config: cfg, DSN: cfg.Postgres.URL.Reveal()}}
	opts := append([]fx.Option{fx.Populate(&a.Registry, &a.Keys, &a.Pool, &a.Redis, &a.Producer, &a.Kafka), fx.NopLogger}, extra...)
	a.app = app.New(cfg, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := a.app.Start(ctx); err != nil {
		t.Fatalf("testkit: start: %v", err)
	}
	t.Cleanup(func() { a.Stop(t) })
	return a
}

// Stop stops the app now (a no-op the second time).
func (a *App) Stop(t testing.TB) {
	t.Helper()
	if a.stopped {
		return
	}
	a.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.app.Stop(ctx); err != nil {
		t.Errorf("testkit: stop: %v", err)
	}
}

// KeyPrefix returns a fresh booking.key-prefix whose Redis keys (at
// redisURL) are deleted when the test ends.
func KeyPrefix(t testing.TB, redisURL string) string {
	t.Helper()
	prefix := "mt:" + uuid.NewString()[:8] + ":"
	t.Cleanup(func() {
		opts, err := redis.ParseURL(redisURL)
		if err != nil {
			return
		}
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		ctx := context.Background()
		var keys []string
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return prefix
}

// Shop is one published event with its shows (one zone each), its
// inventory loaded in the booking engine, and its buyers.
type Shop struct {
	Organizer, Event, Show, Zone string // Show and Zone are the first show's
	// Shows and Zones are every show, by date, and its zone.
	Shows, Zones []string
	Users        []string
}

// ShopOptions shape a Shop; zero values take one show 30 days ahead, 10
// seats at 49.90, 4 per user and 2 buyers.
type ShopOptions struct {
	Seats, MaxPerUser, Users int
	Price                    string
	ShowIn                   time.Duration
	// Shows is how many shows the event has, a day apart from ShowIn on,
	// each with a zone of Seats (0: one).
	Shows int
}

// SeedShop writes users, an event, a show and a zone into Postgres and
// loads the inventory through BookingService.LoadInventory with the event's
// snapshot, as the catalog does on publish. The app must run the booking target.
func (a *App) SeedShop(t testing.TB, o ShopOptions) Shop {
	t.Helper()
	if o.Seats == 0 {
		o.Seats = 10
	}
	if o.MaxPerUser == 0 {
		o.MaxPerUser = 4
	}
	if o.Users == 0 {
		o.Users = 2
	}
	if o.Price == "" {
		o.Price = "49.90"
	}
	if o.ShowIn == 0 {
		o.ShowIn = 30 * 24 * time.Hour
	}
	if o.Shows == 0 {
		o.Shows = 1
	}
	ctx := context.Background()
	var s Shop
	q := func(dst *string, sql string, args ...any) {
		t.Helper()
		if err := a.Pool.QueryRow(ctx, sql, args...).Scan(dst); err != nil {
			t.Fatalf("testkit: %s: %v", sql, err)
		}
	}
	q(&s.Organizer, `INSERT INTO users (email, password_hash, full_name, role)
		VALUES ('org-'||gen_random_uuid()||'@x.test', 'x', 'Org', 'organizer') RETURNING id::text`)
	q(&s.Event, `INSERT INTO events (organizer_id, title, slug, status, sale_start_at, sale_end_at, max_per_user)
		VALUES ($1, 'Rush', 'rush-'||gen_random_uuid(), 'published', now() - interval '1 hour', now() + interval '1 hour', $2) RETURNING id::text`,
		s.Organizer, o.MaxPerUser)
	for i := range o.Shows {
		var show, zone string
		q(&show, `INSERT INTO shows (event_id, show_date) VALUES ($1, $2) RETURNING id::text`, s.Event, time.Now().Add(o.ShowIn+time.Duration(i)*24*time.Hour))
		q(&zone, `INSERT INTO seat_zones (show_id, name, price, total_seats, available_seats) VALUES ($1, 'Floor', $2::numeric, $3, $3) RETURNING id::text`,
			show, o.Price, o.Seats)
		s.Shows, s.Zones = append(s.Shows, show), append(s.Zones, zone)
	}
	s.Show, s.Zone = s.Shows[0], s.Zones[0]
	for i := range o.Users {
		var id string
		q(&id, `INSERT INTO users (email, password_hash, full_name) VALUES ('u-'||gen_random_uuid()||'@x.test', 'x', 'U'||$1::int) RETURNING id::text`, i)
		s.Users = append(s.Users, id)
	}
	db := stdlib.OpenDBFromPool(a.Pool)
	defer db.Close()
	LoadInventory(t, db, a.booking(t), a.Keys, s.Event)
	return s
}

// Reserve holds qty seats of the shop's (first) zone for user and fails
// the test when it cannot.
func (a *App) Reserve(t testing.TB, s Shop, user string, qty int) *bookingv1.Booking {
	t.Helper()
	return a.ReserveIn(t, s.Show, s.Zone, user, qty)
}

// ReserveIn holds qty seats of a show's zone for user and fails the test
// when it cannot.
func (a *App) ReserveIn(t testing.TB, show, zone, user string, qty int) *bookingv1.Booking {
	t.Helper()
	req := As(t, a.Mesh, user, authn.RoleUser, &bookingv1.ReserveRequest{ShowId: show, ZoneId: zone, Quantity: int32(qty)})
	req.Header().Set("Idempotency-Key", "mt-"+uuid.NewString())
	res, err := a.booking(t).Reserve(context.Background(), req)
	if err != nil {
		t.Fatalf("testkit: reserve: %v", err)
	}
	return res.Msg.GetBooking()
}

// Eventually polls cond every 50 ms until it is true, failing the test
// with what after within.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Drained waits until group has consumed everything on topics.
func (a *App) Drained(t testing.TB, group string, topics ...string) {
	t.Helper()
	Eventually(t, 20*time.Second, group+" consumed everything", func() bool {
		lags, err := a.Kafka.Lag(context.Background(), group, topics...)
		if err != nil {
			return false
		}
		for _, l := range lags {
			if l.Lag > 0 {
				return false
			}
		}
		return true
	})
}

// Republish publishes every message on topic once more, as a relay that
// lost its acknowledgement would, and returns how many.
func (a *App) Republish(t testing.TB, topic string) int {
	t.Helper()
	client, err := sarama.NewClient(a.Kafka.Brokers(), a.Kafka.NewSaramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	for _, p := range parts {
		hw, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		first, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		if hw <= first {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, first)
		if err != nil {
			t.Fatal(err)
		}
		for m := range pc.Messages() {
			h := map[string]string{}
			for _, rh := range m.Headers {
				h[string(rh.Key)] = string(rh.Value)
			}
			out = append(out, kafka.Message{Topic: topic, Key: m.Key, Value: m.Value, Headers: h})
			if m.Offset >= hw-1 {
				break
			}
		}
		_ = pc.Close()
	}
	if len(out) > 0 {
		if err := a.Producer.PublishBatch(context.Background(), out); err != nil {
			t.Fatal(err)
		}
	}
	return len(out)
}

// AuditMoney checks the money invariant over the app's database and Redis
// (moneyaudit.Check) once the system is quiet, failing the test on any
// violation or any payment still open; prefix is the booking key prefix.
func (a *App) AuditMoney(t testing.TB, prefix string) moneyaudit.Report {
	t.Helper()
	r, err := moneyaudit.Check(context.Background(), a.Pool, a.Redis, prefix)
	if err != nil {
		t.Fatalf("testkit: money audit: %v", err)
	}
	if !r.OK() || r.Open > 0 {
		t.Fatalf("testkit: money audit: %v\n%s\nsagas of succeeded payments whose booking is not confirmed:\n%s",
			r, strings.Join(r.Violations, "\n"), a.unconfirmedSagas(t))
	}
	return r
}

// AuditMoneySettled waits until every saga has completed or compensated,
// then audits the money as AuditMoney does.
func (a *App) AuditMoneySettled(t testing.TB, prefix string) moneyaudit.Report {
	t.Helper()
	Eventually(t, 15*time.Second, "sagas done", func() bool {
		return a.Count(t, `SELECT count(*) FROM sagas WHERE status NOT IN ('completed', 'compensated')`) == 0
	})
	return a.AuditMoney(t, prefix)
}

// unconfirmedSagas describes, for a failed money audit, the sagas of the
// succeeded payments whose booking is not confirmed: where each stands.
func (a *App) unconfirmedSagas(t testing.TB) string {
	rows, err := a.Pool.Query(context.Background(), `SELECT p.id::text, COALESCE(s.status, 'no saga'), COALESCE(s.last_error, ''),
			COALESCE((SELECT string_agg(st.name || '=' || st.status, ', ') FROM saga_steps st WHERE st.saga_id = s.id), '')
		FROM payments p LEFT JOIN sagas s ON s.payment_id = p.id LEFT JOIN bookings b ON b.id = p.booking_id
		WHERE p.status = 'succeeded' AND p.refund_requested_at IS NULL AND COALESCE(b.status, '') <> 'confirmed'`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, status, lastErr, steps string
		if err := rows.Scan(&id, &status, &lastErr, &steps); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "payment %s: saga %s (%s) %s\n", id, status, steps, lastErr)
	}
	return b.String()
}
