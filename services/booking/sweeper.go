package booking

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Sweeper releases holds whose deadline passed. Every booking replica runs
// one: expire.lua releases each hold exactly once, so running it twice is
// harmless. Key TTLs are never the release mechanism.
type Sweeper struct {
	eng      *Engine
	interval time.Duration
	batch    int
	log      *zap.Logger

	stop context.CancelFunc
	done chan struct{}
}

// NewSweeper returns a sweeper running every interval.
func NewSweeper(eng *Engine, interval time.Duration, log *zap.Logger) *Sweeper {
	return &Sweeper{eng: eng, interval: interval, batch: 200, log: log.Named("sweeper")}
}

// Start runs the sweeper until Stop.
func (s *Sweeper) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := s.Once(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("sweep failed; retrying next tick", zap.Error(err))
				}
			}
		}
	}()
	return nil
}

// Stop ends the sweeper.
func (s *Sweeper) Stop(ctx context.Context) error {
	if s.stop == nil {
		return nil
	}
	s.stop()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Once sweeps every loaded event and returns how many holds it released.
func (s *Sweeper) Once(ctx context.Context) (int, error) {
	events, err := s.eng.Events(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, ev := range events {
		n, err := s.eng.ExpireDue(ctx, ev, s.batch)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
