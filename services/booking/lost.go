package booking

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/background"
)

// RecoverLost rebuilds the inventory of every event that Postgres says is
// on sale or has held seats and that Redis no longer has (a restart without
// persistence, a flush). A reserve, confirm or cancel of such an event
// rebuilds it too, but when none comes (the zone showed sold out, the sale
// is over) nothing else would: the sweeper walks only the events Redis
// lists, so the lost holds' seats would never come back, and the queue's
// line of a queued event answers "retry" for good (a buyer without a pass
// never reserves). Returns how many events it rebuilt.
func (s *Service) RecoverLost(ctx context.Context) (int, error) {
	events, err := s.store.eventsWithHolds(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ev := range events {
		loaded, err := s.eng.Loaded(ctx, ev)
		if err != nil {
			return n, err
		}
		if loaded {
			continue
		}
		_, err, _ = s.rebuilds.Do(ev, func() (any, error) { return s.rebuild(ctx, ev) })
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// recoverIfLost runs RecoverLost when Redis has lost its data: the marker
// key, written after every complete pass, is gone (Redis restarted without
// persistence, or was flushed; or this is a new Redis). One EXISTS a tick
// otherwise, whatever the number of events.
func (s *Service) recoverIfLost(ctx context.Context) (int, error) {
	marker := s.eng.prefix + "inventory-recovered"
	if done, err := s.eng.rdb.Exists(ctx, marker).Result(); err != nil {
		return 0, unavailable(err)
	} else if done == 1 {
		return 0, nil
	}
	n, err := s.RecoverLost(ctx)
	if err != nil {
		return n, err
	}
	if err := s.eng.rdb.Set(ctx, marker, time.Now().UTC().Format(time.RFC3339), 0).Err(); err != nil {
		return n, unavailable(err)
	}
	return n, nil
}

// eventsWithHolds lists the events on sale (published, the sale not over)
// and those (published or cancelled) whose zones count held seats in
// Postgres.
func (s *Store) eventsWithHolds(ctx context.Context) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT z.event_id::text FROM booking_zones z JOIN booking_events e USING (event_id)
		WHERE (z.held_seats > 0 AND e.status <> 'draft')
		   OR (e.status = 'published' AND (e.sale_end_at IS NULL OR e.sale_end_at > now()))`)
	if err != nil {
		return nil, dbUnavailable(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, dbUnavailable(err)
}

// newLostWatcher runs recoverIfLost every interval, and, once after the
// process started (each tick until it succeeds), recordUnrecordedPlaces:
// the waitlist places taken before booking recorded its lines get their
// rows before a rebuild could lose them. With retention > 0 it also
// deletes the waitlist records that ended more than retention ago, at its
// first tick and then every pruneEvery.
func newLostWatcher(s *Service, interval, retention time.Duration, log *zap.Logger) *background.Task {
	log = log.Named("lost-inventory")
	return background.New(func(ctx context.Context) {
		t := time.NewTicker(interval)
		defer t.Stop()
		recorded := false
		var pruned time.Time
		for background.Wait(ctx, t, nil) {
			if retention > 0 && time.Since(pruned) >= pruneEvery {
				pruned = time.Now()
				if n, err := s.store.pruneWaitlist(ctx, retention); err != nil && ctx.Err() == nil {
					log.Warn("deleting old waitlist records failed; retrying in an hour", zap.Error(err))
				} else if n > 0 {
					log.Info("deleted waitlist records that ended long ago", zap.Int64("rows", n), zap.Duration("retention", retention))
				}
			}
			if n, err := s.recoverIfLost(ctx); err != nil && ctx.Err() == nil {
				log.Warn("rebuilding a lost inventory failed; retrying next tick", zap.Error(err))
			} else if n > 0 {
				log.Warn("rebuilt inventories Redis had lost", zap.Int("events", n))
			}
			if recorded {
				continue
			}
			n, err := s.recordUnrecordedPlaces(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("recording the waitlist places taken before their records existed failed; retrying next tick", zap.Error(err))
			case err == nil:
				recorded = true
				if n > 0 {
					log.Info("recorded waitlist places taken before their records existed", zap.Int("places", n))
				}
			}
		}
	})
}
