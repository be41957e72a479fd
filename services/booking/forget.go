package booking

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/bookingrush/rush/services/platform/errs"
)

// errUnpaid refuses to forget an account while the live inventory counts
// seats of it that are not bought.
var errUnpaid = errs.New(errs.Conflict, "the account has unpaid bookings: pay or cancel them first, or wait until they expire",
	"reason", "unpaid_bookings")

// ForgetUser takes an account that is being deleted off every waitlist of
// the events on sale (or whose sale ended within a day: a hold of its last
// moment may still be paid), so that no seat is offered to nobody. It
// refuses while the live inventory of one of those events counts more seats
// of the user's than booking's records show bought: a hold, even one made
// a moment ago that the persister has not written yet (or a purchase it has
// not written yet: a retry a moment later passes). Bookings stay. Then it
// ends the records of the account's places (every event's: a line restored
// by a rebuild must not hold it again); when that fails the answer is 503,
// and the deletion's retry ends them. It answers the number of waitlists
// the user was taken off.
func (s *Service) ForgetUser(ctx context.Context, userID string) (int, error) {
	zones, err := s.store.zonesOnSale(ctx)
	if err != nil {
		return 0, err
	}
	left, ends := 0, []waitlistEnd(nil)
	if len(zones) > 0 {
		bought, err := s.store.seatsBought(ctx, userID)
		if err != nil {
			return 0, err
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RedisTimeout)
		defer cancel()
		if left, ends, err = s.eng.forgetUser(rctx, userID, zones, bought); err != nil {
			// Refused for one event (errUnpaid) after others took the
			// user off: those places are ended all the same.
			if rerr := s.store.recordEnded(ctx, ends); rerr != nil {
				return 0, rerr
			}
			return 0, err
		}
	}
	return left, s.store.recordForgotten(ctx, userID, ends)
}

// forgetUser runs forget_user.lua for each event of zones (event -> its
// zones), given the seats the user bought in each (event -> seats). The
// counters are read for all events first, so that a refusal leaves every
// waitlist as it was; the script checks its event's counter again, in the
// same atomic step that takes the user off its waitlists. It answers how
// many waitlists the user was taken off, and those places' ends.
func (e *Engine) forgetUser(ctx context.Context, userID string, zones map[string][]string, bought map[string]int) (int, []waitlistEnd, error) {
	events := make([]string, 0, len(zones))
	counts := make([]*redis.StringCmd, 0, len(zones))
	pipe := e.rdb.Pipeline()
	for ev := range zones {
		events = append(events, ev)
		counts = append(counts, pipe.Get(ctx, e.keys(ev).User(userID)))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, nil, unavailable(err)
	}
	for i, c := range counts {
		if n, err := c.Int(); err == nil && n > bought[events[i]] {
			return 0, nil, errUnpaid
		}
	}
	// A pipeline does not fall back from EVALSHA to EVAL: load the script
	// first (a rare call; one round trip more).
	if err := e.forget.Load(ctx, e.rdb).Err(); err != nil {
		return 0, nil, unavailable(err)
	}
	runs := make([]*redis.Cmd, len(events))
	pipe = e.rdb.Pipeline()
	for i, ev := range events {
		k := e.keys(ev)
		keys := []string{k.User(userID)}
		for _, z := range zones[ev] {
			keys = append(keys, k.Waitlist(z), k.WaitlistQty(z))
		}
		runs[i] = e.forget.EvalSha(ctx, pipe, keys, userID, bought[ev])
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, nil, unavailable(err)
	}
	var ends []waitlistEnd
	for i, r := range runs {
		res, err := r.StringSlice()
		if err != nil {
			return 0, nil, fmt.Errorf("forget_user.lua: %w", err)
		}
		if res[0] == "UNPAID" {
			// An event refused after others took the user off: the
			// deletion is refused, and those places stay ended.
			return 0, ends, errUnpaid
		}
		at := msTime(res[1])
		for j := 2; j+1 < len(res); j += 2 {
			ends = append(ends, waitlistEnd{EventID: events[i], ZoneID: zones[events[i]][atoi(res[j])], UserID: userID,
				Seq: seqOf(res[j+1]), At: at})
		}
	}
	return len(ends), ends, nil
}
