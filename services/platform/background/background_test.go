package background_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/background"
)

func TestStartStopRestart(t *testing.T) {
	var runs, running atomic.Int32
	task := background.New(func(ctx context.Context) {
		runs.Add(1)
		running.Add(1)
		<-ctx.Done()
		running.Add(-1)
	})
	ctx := context.Background()
	if err := task.Stop(ctx); err != nil {
		t.Fatalf("stop before start: %v", err)
	}
	for range 2 {
		if err := task.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := task.Start(ctx); !errors.Is(err, background.ErrRunning) {
			t.Fatalf("second start: %v", err)
		}
		if err := task.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if running.Load() != 0 {
			t.Fatal("Stop returned before the goroutine ended")
		}
	}
	if runs.Load() != 2 {
		t.Fatalf("runs = %d", runs.Load())
	}
}

func TestStopGivesUpWithItsContext(t *testing.T) {
	release := make(chan struct{})
	task := background.New(func(context.Context) { <-release })
	_ = task.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := task.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stop of a stuck task: %v", err)
	}
	close(release)
}

func TestWaitAndSleep(t *testing.T) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	kick := make(chan struct{}, 1)
	kick <- struct{}{}
	if !background.Wait(context.Background(), tick, kick) {
		t.Fatal("a kick must wake Wait")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if background.Wait(ctx, tick, nil) || background.Sleep(ctx, time.Hour) {
		t.Fatal("an ended context must end Wait and Sleep")
	}
	if !background.Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep")
	}
}
