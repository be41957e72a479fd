package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	analyticsv1 "github.com/bookingrush/rush/gen/bookingrush/analytics/v1"
	authv1 "github.com/bookingrush/rush/gen/bookingrush/auth/v1"
	"github.com/bookingrush/rush/gen/bookingrush/auth/v1/authv1connect"
	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	notifyv1 "github.com/bookingrush/rush/gen/bookingrush/notify/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	sagav1 "github.com/bookingrush/rush/gen/bookingrush/saga/v1"
	"github.com/bookingrush/rush/services/app"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

// services maps each component to the protobuf service it serves.
var services = map[string]protoreflect.ServiceDescriptor{
	"auth":      authv1.File_bookingrush_auth_v1_auth_proto.Services().Get(0),
	"catalog":   catalogv1.File_bookingrush_catalog_v1_catalog_proto.Services().Get(0),
	"booking":   bookingv1.File_bookingrush_booking_v1_booking_proto.Services().Get(0),
	"payment":   paymentv1.File_bookingrush_payment_v1_payment_proto.Services().Get(0),
	"notify":    notifyv1.File_bookingrush_notify_v1_notify_proto.Services().Get(0),
	"queue":     queuev1.File_bookingrush_queue_v1_queue_proto.Services().Get(0),
	"analytics": analyticsv1.File_bookingrush_analytics_v1_analytics_proto.Services().Get(0),
	"saga":      sagav1.File_bookingrush_saga_v1_saga_proto.Services().Get(0),
}

// loadConfig builds a configuration the way the binary does, on loopback
// port 0 everywhere, against dsn.
func loadConfig(t *testing.T, dsn string, extra ...string) *app.Config {
	t.Helper()
	return testkit.Config(t, dsn, extra...)
}

// startMesh runs the configured targets in-process and returns where each
// component listens.
func startMesh(t *testing.T, cfg *app.Config) (*server.Registry, *authn.Keys) {
	t.Helper()
	m := testkit.Run(t, cfg)
	return m.Registry, m.Keys
}

func url(t *testing.T, reg *server.Registry, name string) string {
	t.Helper()
	u, ok := reg.URL(name)
	if !ok {
		t.Fatalf("component %s is not listening", name)
	}
	return u
}

var protocols = map[string][]connect.ClientOption{
	"connect": nil,
	"grpc":    {connect.WithGRPC()},
	"grpcweb": {connect.WithGRPCWeb()},
}

// TestAllMode starts the whole mesh against a fresh, empty schema and checks
// every component the way an operator and a caller would.
func TestAllMode(t *testing.T) {
	t.Parallel()
	dsn, schemaName := pgtest.NewSchema(t)
	reg, _ := startMesh(t, loadConfig(t, dsn))
	client := server.NewClient()

	t.Run("migrated on start", func(t *testing.T) {
		db := pgtest.Open(t, dsn)
		var n int
		err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name IN ('bookings','seat_zones','outbox','sagas')`, schemaName).Scan(&n)
		if err != nil || n != 4 {
			t.Fatalf("core tables in fresh schema: n=%d err=%v", n, err)
		}
	})

	t.Run("edge health and readiness", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			res, err := http.Get(url(t, reg, "edge") + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d %s", path, res.StatusCode, body)
			}
			if path == "/readyz" {
				var r struct{ Checks map[string]string }
				if err := json.Unmarshal(body, &r); err != nil {
					t.Fatal(err)
				}
				for _, dep := range []string{"postgres", "redis", "kafka"} {
					if r.Checks[dep] != "ok" {
						t.Errorf("readyz %s = %q, want ok (%s)", dep, r.Checks[dep], body)
					}
				}
			}
		}
		res, err := http.Get(url(t, reg, "metrics") + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "go_goroutines") {
			t.Fatalf("/metrics = %d", res.StatusCode)
		}
	})

	for name, sd := range services {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base := url(t, reg, name)
			for proto, opts := range protocols {
				t.Run("health/"+proto, func(t *testing.T) {
					hc := grpchealth.NewClient(client, base, opts...)
					for _, svc := range []string{"", string(sd.FullName())} {
						res, err := hc.Check(context.Background(), &grpchealth.CheckRequest{Service: svc})
						if err != nil || res.Status != grpchealth.StatusServing {
							t.Fatalf("health %q: %v %v", svc, res, err)
						}
					}
					_, err := hc.Check(context.Background(), &grpchealth.CheckRequest{Service: "no.such.Service"})
					if connect.CodeOf(err) != connect.CodeNotFound {
						t.Fatalf("health of unknown service: %v", err)
					}
				})
				t.Run("every rpc reachable/"+proto, func(t *testing.T) {
					for i := range sd.Methods().Len() {
						callEmpty(t, client, base, sd.Methods().Get(i), opts)
					}
				})
			}
			t.Run("reflection", func(t *testing.T) {
				stream := grpcreflect.NewClient(client, base).NewStream(context.Background())
				defer stream.Close()
				names, err := stream.ListServices()
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, n := range names {
					found = found || n == sd.FullName()
				}
				if !found {
					t.Fatalf("reflection lists %v, not %s", names, sd.FullName())
				}
			})
		})
	}
}

// callEmpty calls md with an empty request: the call must reach the service
// (so the answer is a validation error or Unimplemented), never a 404 or a
// transport failure.
func callEmpty(t *testing.T, client *http.Client, base string, md protoreflect.MethodDescriptor, opts []connect.ClientOption) {
	t.Helper()
	procedure := fmt.Sprintf("/%s/%s", md.Parent().FullName(), md.Name())
	opts = append([]connect.ClientOption{
		connect.WithSchema(md),
		connect.WithResponseInitializer(func(_ connect.Spec, msg any) error {
			*msg.(*dynamicpb.Message) = *dynamicpb.NewMessage(md.Output())
			return nil
		}),
	}, opts...)
	c := connect.NewClient[dynamicpb.Message, dynamicpb.Message](client, base+procedure, opts...)
	req := connect.NewRequest(dynamicpb.NewMessage(md.Input()))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	if md.IsStreamingServer() {
		var stream *connect.ServerStreamForClient[dynamicpb.Message]
		if stream, err = c.CallServerStream(ctx, req); err == nil {
			for stream.Receive() {
			}
			err = stream.Err()
			stream.Close()
		}
	} else {
		_, err = c.CallUnary(ctx, req)
	}
	if err == nil {
		return // an empty request is valid for some RPCs (ListCategories): it reached the handler
	}
	switch code := connect.CodeOf(err); code {
	case connect.CodeInvalidArgument, connect.CodeUnimplemented, connect.CodeUnauthenticated:
	default:
		t.Errorf("%s with an empty request: %v (code %v)", procedure, err, code)
	}
}

func TestBadInputIsRejectedBeforeTheHandler(t *testing.T) {
	t.Parallel()
	dsn, _ := pgtest.NewSchema(t)
	reg, keys := startMesh(t, loadConfig(t, dsn, "-target=booking"))
	token, _, err := keys.IssueAccess("0195f3a0-0000-7000-8000-0000000000aa", authn.RoleUser, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for proto, opts := range protocols {
		t.Run(proto, func(t *testing.T) {
			c := bookingv1connectClient(reg, opts)
			_, err := c.Reserve(context.Background(), connect.NewRequest(validReserve()))
			if connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Fatalf("reserve without a token: %v", err)
			}
			req := connect.NewRequest(validReserve())
			req.Header().Set("Authorization", "Bearer "+token+"x")
			if _, err := c.Reserve(context.Background(), req); connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Fatalf("reserve with a forged token: %v", err)
			}

			req = connect.NewRequest(&bookingv1.ReserveRequest{ShowId: "not-a-uuid", Quantity: 0})
			req.Header().Set("Authorization", "Bearer "+token)
			_, err = c.Reserve(context.Background(), req)
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("bad reserve: %v", err)
			}
			var ce *connect.Error
			if !errors.As(err, &ce) || len(ce.Details()) == 0 {
				t.Fatalf("validation error carries no field violations: %v", err)
			}
			req = connect.NewRequest(validReserve())
			req.Header().Set("Authorization", "Bearer "+token)
			_, err = c.Reserve(context.Background(), req)
			if code := connect.CodeOf(err); code == connect.CodeInvalidArgument || code == connect.CodeUnauthenticated {
				t.Fatalf("a valid reserve was rejected: %v", err)
			}
		})
	}
}

func TestTargetsRunOnlyWhatIsAsked(t *testing.T) {
	t.Parallel()
	dsn, _ := pgtest.NewSchema(t)
	reg, _ := startMesh(t, loadConfig(t, dsn, "-target=catalog,queue"))
	for name := range services {
		_, ok := reg.URL(name)
		if want := name == "catalog" || name == "queue"; ok != want {
			t.Errorf("component %s listening = %v, want %v", name, ok, want)
		}
	}
	if _, ok := reg.URL("edge"); ok {
		t.Error("edge runs although not asked for")
	}
}

func TestSplitProcessesNeedASharedJWTSecret(t *testing.T) {
	t.Parallel()
	var cfg app.Config
	err := config.Load(&cfg, flag.NewFlagSet("rush", flag.ContinueOnError), []string{"-target=booking"}, func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "RUSH_JWT_SECRET") {
		t.Fatalf("error = %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	var cfg app.Config
	fs := flag.NewFlagSet("rush", flag.ContinueOnError)
	env := map[string]string{"RUSH_BOOKING_HOLD_TTL": "1ms", "RUSH_REDIS_URL": "mysql://nope"}
	err := config.Load(&cfg, fs, []string{"-target=booking,ticketing"}, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for _, want := range []string{`unknown component "ticketing"`, "booking.hold-ttl", "redis.url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestShutdownTimeoutFitsTheStop: the servers' drain runs inside the
// process's stop timeout; a longer one was accepted and cut short by it
// without a word (and the Helm chart's grace period is sized on the stop).
func TestShutdownTimeoutFitsTheStop(t *testing.T) {
	t.Parallel()
	for timeout, ok := range map[string]bool{"15s": true, "29s": true, "30s": false, "45s": false} {
		var cfg app.Config
		err := config.Load(&cfg, flag.NewFlagSet("rush", flag.ContinueOnError), []string{"-server.shutdown-timeout=" + timeout}, func(string) (string, bool) { return "", false })
		if ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "server.shutdown-timeout")) {
			t.Errorf("server.shutdown-timeout=%s: error %v, want accepted %v", timeout, err, ok)
		}
	}
}

// TestWaitlistRetentionIsOffOrAtLeastAnHour: booking deletes ended
// waitlist records after booking.waitlist-retention; 0 keeps them, and a
// retention shorter than an hour is refused (a tombstone must outlive the
// join record it may arrive before).
func TestWaitlistRetentionIsOffOrAtLeastAnHour(t *testing.T) {
	t.Parallel()
	for retention, ok := range map[string]bool{"0": true, "1h": true, "720h": true, "30m": false, "-1h": false} {
		var cfg app.Config
		err := config.Load(&cfg, flag.NewFlagSet("rush", flag.ContinueOnError), []string{"-booking.waitlist-retention=" + retention}, func(string) (string, bool) { return "", false })
		if ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "booking.waitlist-retention")) {
			t.Errorf("booking.waitlist-retention=%s: error %v, want accepted %v", retention, err, ok)
		}
	}
}

// TestSplitProcessOnPrivateKafkaIsLoud: a process running some components
// without kafka.brokers talks to an in-process broker nobody else reads (a
// deployment split over processes loses every event between them); it says
// so when it is built, and the whole mesh in one process does not.
func TestSplitProcessOnPrivateKafkaIsLoud(t *testing.T) {
	t.Parallel()
	warned := func(args ...string) bool {
		core, logs := observer.New(zap.WarnLevel)
		a := app.New(loadConfig(t, "postgres://postgres@127.0.0.1:1/none?sslmode=disable", args...), fx.NopLogger,
			fx.Decorate(func() *zap.Logger { return zap.New(core) }))
		if err := a.Err(); err != nil {
			t.Fatal(err)
		}
		return logs.FilterMessageSnippet("kafka.brokers is empty").Len() > 0
	}
	if !warned("-target=booking,relay") {
		t.Error("a split process on its own in-process broker said nothing")
	}
	if warned("-target=all") || warned("-target=booking", "-kafka.brokers=kafka:9092") || warned("-target=edge") {
		t.Error("warned although the process is the whole mesh, has brokers, or uses no Kafka")
	}
}

func TestUnreachablePostgresFailsClearly(t *testing.T) {
	t.Parallel()
	cfg := loadConfig(t, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=1", "-target=booking")
	a := app.New(cfg, fx.NopLogger)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := a.Start(ctx)
	if err == nil {
		_ = a.Stop(ctx)
		t.Fatal("started without a database")
	}
	if !strings.Contains(err.Error(), "postgres unreachable") || !strings.Contains(err.Error(), "RUSH_POSTGRES_URL") {
		t.Fatalf("unclear error: %v", err)
	}
}

func bookingv1connectClient(reg *server.Registry, opts []connect.ClientOption) bookingv1connect.BookingServiceClient {
	u, _ := reg.URL("booking")
	return bookingv1connect.NewBookingServiceClient(server.NewClient(), u, opts...)
}

func validReserve() *bookingv1.ReserveRequest {
	return &bookingv1.ReserveRequest{
		ShowId:         "0195f3a0-0000-7000-8000-000000000001",
		ZoneId:         "0195f3a0-0000-7000-8000-000000000002",
		Quantity:       2,
		IdempotencyKey: "key-0000001",
	}
}

// TestDevMailbox: with smtp.dev-mailbox (make run without a relay) the mails
// notify sends are kept and readable at /dev/mail on the metrics port; the
// welcome mail of a new account is there within a poll.
func TestDevMailbox(t *testing.T) {
	t.Parallel()
	m := testkit.Start(t, "-target=auth,notify", "-smtp.dev-mailbox", "-notify.poll=100ms")
	auth := authv1connect.NewAuthServiceClient(server.NewClient(), m.URL(t, "auth"))
	email := fmt.Sprintf("dev-%d@rush.test", time.Now().UnixNano())
	if _, err := auth.Register(context.Background(), connect.NewRequest(&authv1.RegisterRequest{Email: email, Password: "secret-pass-1", FullName: "Dev"})); err != nil {
		t.Fatal(err)
	}
	get := func(path, accept string) string {
		req, _ := http.NewRequest("GET", m.URL(t, "metrics")+path, nil)
		req.Header.Set("Accept", accept)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
		}
		return string(b)
	}
	var mails []struct {
		ID      int
		To      string
		Subject string
	}
	testkit.Eventually(t, 20*time.Second, "the welcome mail in the dev mailbox", func() bool {
		if err := json.Unmarshal([]byte(get("/dev/mail", "application/json")), &mails); err != nil {
			t.Fatal(err)
		}
		return len(mails) > 0 && strings.Contains(mails[0].To, email)
	})
	if page := get("/dev/mail", "text/html"); !strings.Contains(page, email) || !strings.Contains(page, fmt.Sprintf(`href="mail/%d"`, mails[0].ID)) {
		t.Errorf("the mailbox page does not list the mail:\n%s", page)
	}
	if page := get(fmt.Sprintf("/dev/mail/%d", mails[0].ID), "text/html"); !strings.Contains(page, "<pre>") {
		t.Errorf("the mail's page has no text:\n%s", page)
	}
}
