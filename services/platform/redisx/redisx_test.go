package redisx_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/breaker"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/faulttest"
	"github.com/bookingrush/rush/services/platform/redisx"
)

// client is a redisx client of srv with short timeouts and a breaker that
// opens after 3 failures and probes every 100 ms.
func client(t *testing.T, srv *faulttest.Redis) *redis.Client {
	t.Helper()
	cfg := redisx.Config{
		URL: config.URL(srv.URL()), PoolSize: 8,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
		Breaker: breaker.Config{Failures: 3, ProbeInterval: 100 * time.Millisecond},
	}
	lc := fxtest.NewLifecycle(t)
	c, err := redisx.NewClient(lc, cfg, noop.NewTracerProvider(), zap.NewNop(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	lc.RequireStart()
	t.Cleanup(lc.RequireStop)
	return c
}

// untilOpen calls until the breaker refuses a call, and returns how long a
// refused call then takes.
func untilOpen(t *testing.T, call func() error) time.Duration {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if err := call(); errors.Is(err, breaker.ErrOpen) {
			began := time.Now()
			if err := call(); !errors.Is(err, breaker.ErrOpen) {
				t.Fatalf("call after the breaker opened: %v", err)
			}
			return time.Since(began)
		} else if err == nil {
			t.Fatal("a call succeeded while the server was down")
		}
	}
	t.Fatal("the breaker did not open")
	return 0
}

// untilUp calls until a call succeeds.
func untilUp(t *testing.T, call func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := call()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBreakerFailsFastAndRecovers(t *testing.T) {
	t.Parallel()
	srv := faulttest.StartRedis(t)
	c := client(t, srv)
	hot := redisx.NewHot(c)
	script := redis.NewScript(`return redis.call('INCR', KEYS[1])`)
	ctx := context.Background()
	calls := map[string]func() error{
		"command": func() error { return c.Get(ctx, "missing").Err() },
		"pipeline": func() error {
			_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, "k"); return nil })
			return err
		},
		"hot path": func() error { return script.Run(ctx, hot.For(ctx), []string{"n"}).Err() },
	}
	for name, call := range calls {
		if err := call(); err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("%s before any fault: %v", name, err)
		}
	}
	ok := func() error {
		if err := c.Get(ctx, "missing").Err(); !errors.Is(err, redis.Nil) {
			return err
		}
		return nil
	}

	// Frozen: replies time out, then the breaker answers at once.
	srv.Freeze()
	for name, call := range calls {
		if d := untilOpen(t, call); d > 5*time.Millisecond {
			t.Errorf("frozen, %s: a refused call took %v", name, d)
		}
	}
	srv.Thaw()
	untilUp(t, ok)
	for name, call := range calls {
		if err := call(); err != nil && !errors.Is(err, redis.Nil) {
			t.Errorf("%s after the thaw: %v", name, err)
		}
	}

	// Killed: connections are refused, then the breaker answers at once;
	// the server coming back closes it without any help.
	srv.Kill()
	if d := untilOpen(t, ok); d > 5*time.Millisecond {
		t.Errorf("killed: a refused call took %v", d)
	}
	srv.Restart()
	untilUp(t, ok)
	if err := calls["hot path"](); err != nil {
		t.Errorf("hot path after the restart: %v", err)
	}
}

// TestPingSaysHowToReachTheConfiguredServer: the hint of an unreachable
// Redis names the server configured. It said "redis-server ... --port 6379"
// whatever the URL: wrong for a local one on another port, and for a
// server on another host.
func TestPingSaysHowToReachTheConfiguredServer(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"127.0.0.1:1":         "--bind 127.0.0.1 --port 1 ",
		"localhost:1":         "--bind 127.0.0.1 --port 1 ",
		"redis.invalid:16379": "is the server at redis.invalid:16379 up and reachable from here? (RUSH_REDIS_URL)",
	} {
		c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1})
		err := redisx.Ping(context.Background(), c)
		_ = c.Close()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Ping %s: %v, want a hint with %q", addr, err, want)
		}
	}
}
