package booking

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/background"
)

// Sweeper releases holds whose deadline passed. Every booking replica runs
// one: expire.lua releases each hold exactly once, so running it twice is
// harmless. Key TTLs are never the release mechanism.
//
// Every retireEvery it also takes the events with nothing left to do off
// the list of loaded events (Engine.Retire), so the list, which it and the
// relay walk, does not grow with every event ever sold.
type Sweeper struct {
	*background.Task
	eng         *Engine
	interval    time.Duration
	retireEvery time.Duration
	batch       int
	log         *zap.Logger
}

// NewSweeper returns a sweeper running every interval.
func NewSweeper(eng *Engine, interval time.Duration, log *zap.Logger) *Sweeper {
	s := &Sweeper{eng: eng, interval: interval, retireEvery: time.Minute, batch: 200, log: log.Named("sweeper")}
	s.Task = background.New(s.loop)
	return s
}

func (s *Sweeper) loop(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	retired := time.Now()
	for background.Wait(ctx, t, nil) {
		if _, err := s.Once(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweep failed; retrying next tick", zap.Error(err))
		}
		if time.Since(retired) >= s.retireEvery {
			retired = time.Now()
			if _, err := s.eng.Retire(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("retiring finished events failed; retrying in a minute", zap.Error(err))
			}
		}
	}
}

// Once releases the due holds of every loaded event and returns how many
// holds it looked at. It reads every event's earliest deadline in one
// round trip and runs expire.lua only for the events where one passed (or
// passes within an interval), so an idle event costs one ZRANGE per tick,
// not a script call. "Passed" is by Redis's clock, which expire.lua and
// every deadline read: a process whose clock runs behind it would release
// holds late by the difference.
func (s *Sweeper) Once(ctx context.Context) (int, error) {
	events, next, err := s.eng.NextDeadlines(ctx)
	if err != nil {
		return 0, err
	}
	now, err := s.eng.rdb.Time(ctx).Result()
	if err != nil {
		return 0, unavailable(err)
	}
	due := now.Add(s.interval).UnixMilli()
	total := 0
	for i, ev := range events {
		if next[i] > due {
			continue
		}
		n, err := s.eng.ExpireDue(ctx, ev, s.batch)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
