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
// not written yet: a retry a moment later passes). Bookings stay. It
// answers the number of waitlists the user was taken off.
func (s *Service) ForgetUser(ctx context.Context, userID string) (int, error) {
	zones, err := s.store.zonesOnSale(ctx)
	if err != nil {
		return 0, err
	}
	if len(zones) == 0 {
		return 0, nil
	}
	bought, err := s.store.seatsBought(ctx, userID)
	if err != nil {
		return 0, err
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RedisTimeout)
	defer cancel()
	return s.eng.forgetUser(rctx, userID, zones, bought)
}

// forgetUser runs forget_user.lua for each event of zones (event -> its
// zones), given the seats the user bought in each (event -> seats). The
// counters are read for all events first, so that a refusal leaves every
// waitlist as it was; the script checks its event's counter again, in the
// same atomic step that takes the user off its waitlists.
func (e *Engine) forgetUser(ctx context.Context, userID string, zones map[string][]string, bought map[string]int) (int, error) {
	events := make([]string, 0, len(zones))
	counts := make([]*redis.StringCmd, 0, len(zones))
	pipe := e.rdb.Pipeline()
	for ev := range zones {
		events = append(events, ev)
		counts = append(counts, pipe.Get(ctx, e.keys(ev).User(userID)))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, unavailable(err)
	}
	for i, c := range counts {
		if n, err := c.Int(); err == nil && n > bought[events[i]] {
			return 0, errUnpaid
		}
	}
	// A pipeline does not fall back from EVALSHA to EVAL: load the script
	// first (a rare call; one round trip more).
	if err := e.forget.Load(ctx, e.rdb).Err(); err != nil {
		return 0, unavailable(err)
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
		return 0, unavailable(err)
	}
	left := 0
	for _, r := range runs {
		n, err := r.Int()
		if err != nil {
			return 0, fmt.Errorf("forget_user.lua: %w", err)
		}
		if n < 0 {
			return 0, errUnpaid
		}
		left += n
	}
	return left, nil
}
