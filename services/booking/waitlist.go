package booking

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
)

// WaitlistEntry is a buyer's place on a zone's waitlist.
type WaitlistEntry struct {
	EventID, ShowID, ZoneID string
	Quantity                int
	// Position is the place in line (1 first); Waiting the line's length.
	Position, Waiting int
}

// JoinWaitlist runs waitlist_join.lua: the user waits for quantity seats of
// the zone. Seats that come back are offered in line order by lib.lua's
// offer_waitlist, in the same atomic step that returns them.
func (e *Engine) JoinWaitlist(ctx context.Context, eventID, showID, zoneID, userID string, quantity int, offerTTL time.Duration) (WaitlistEntry, error) {
	k := e.keys(eventID)
	res, err := e.waitJoin.Run(ctx, e.rdb, []string{k.Meta(), k.Zone(zoneID), k.User(userID), k.Waitlist(zoneID), k.WaitlistQty(zoneID), k.WaitlistSeq()},
		userID, showID, quantity, offerTTL.Milliseconds()).StringSlice()
	if err != nil {
		return WaitlistEntry{}, unavailable(err)
	}
	entry := WaitlistEntry{EventID: eventID, ShowID: showID, ZoneID: zoneID, Quantity: quantity}
	switch res[0] {
	case "OK":
		entry.Position, entry.Waiting = atoi(res[1]), atoi(res[2])
		return entry, nil
	case "ALREADY":
		entry.Position, entry.Waiting, entry.Quantity = atoi(res[1]), atoi(res[2]), atoi(res[3])
		return entry, nil
	case "NOT_LOADED":
		return WaitlistEntry{}, errNotLoaded
	case "SALE_NOT_OPEN":
		return WaitlistEntry{}, saleNotOpen(res)
	case "NOT_FOUND":
		return WaitlistEntry{}, errs.New(errs.NotFound, "zone not found in this show")
	case "AVAILABLE":
		return WaitlistEntry{}, errs.New(errs.InsufficientStock, "the zone has the seats available now: reserve them instead of waiting",
			"requested", quantity, "available", atoi(res[1]), "reason", "available")
	case "EXCEEDS_ZONE":
		return WaitlistEntry{}, errs.New(errs.InsufficientStock, fmt.Sprintf("the zone has %s seats in all: a place in line for %d would never be served", res[1], quantity),
			"requested", quantity, "total", atoi(res[1]), "reason", "exceeds_zone")
	case "MAX_PER_USER_EXCEEDED":
		return WaitlistEntry{}, errs.New(errs.MaxPerUserExceeded, "per-user seat limit reached",
			"limit", atoi(res[1]), "current", atoi(res[2]), "requested", quantity)
	}
	return WaitlistEntry{}, fmt.Errorf("waitlist_join.lua: unexpected answer %q", res)
}

// WaitlistPlace reads the user's place on the zone's waitlist; ok is false
// when the user is not on it. Once the zone's show has started, its line
// will never be served (nothing of the show is sold or offered any more):
// the place answers SALE_NOT_OPEN with reason show_started, as a join
// would, and the line closes for everyone in it.
func (e *Engine) WaitlistPlace(ctx context.Context, eventID, showID, zoneID, userID string) (WaitlistEntry, bool, error) {
	k := e.keys(eventID)
	pipe := e.rdb.Pipeline()
	rank := pipe.ZRank(ctx, k.Waitlist(zoneID), userID)
	count := pipe.ZCard(ctx, k.Waitlist(zoneID))
	qty := pipe.HGet(ctx, k.WaitlistQty(zoneID), userID)
	starts := pipe.HGet(ctx, k.Zone(zoneID), "starts")
	sale := pipe.HMGet(ctx, k.Meta(), "status", "sale_start", "sale_end")
	clock := pipe.Time(ctx)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return WaitlistEntry{}, false, unavailable(err)
	}
	// Redis's clock, as the scripts judge a show's start: a replica whose
	// clock runs ahead must not close the line for everyone early.
	now := clock.Val().UnixMilli()
	r, err := rank.Result()
	if errors.Is(err, redis.Nil) || (err == nil && sale.Val()[0] == "cancelled") {
		// A cancelled event's lines wait only to be told and closed.
		return WaitlistEntry{}, false, nil
	}
	if err != nil {
		return WaitlistEntry{}, false, unavailable(err)
	}
	if start, err := strconv.ParseInt(starts.Val(), 10, 64); err == nil && now >= start {
		if err := e.rdb.Unlink(ctx, k.Waitlist(zoneID), k.WaitlistQty(zoneID)).Err(); err != nil {
			return WaitlistEntry{}, false, unavailable(err)
		}
		res := []string{"SALE_NOT_OPEN", "", "0", "0", strconv.FormatInt(now, 10), starts.Val()}
		for i, v := range sale.Val() {
			if v, ok := v.(string); ok {
				res[1+i] = v
			}
		}
		return WaitlistEntry{}, false, saleNotOpen(res)
	}
	return WaitlistEntry{EventID: eventID, ShowID: showID, ZoneID: zoneID, Quantity: atoi(qty.Val()),
		Position: int(r) + 1, Waiting: int(count.Val())}, true, nil
}

// LeaveWaitlist takes the user off the zone's waitlist; left is false when
// the user was not on it.
func (e *Engine) LeaveWaitlist(ctx context.Context, eventID, zoneID, userID string) (left bool, err error) {
	k := e.keys(eventID)
	n, err := e.waitLeave.Run(ctx, e.rdb, []string{k.Waitlist(zoneID), k.WaitlistQty(zoneID)}, userID).Int()
	if err != nil {
		return false, unavailable(err)
	}
	return n == 1, nil
}

// CloseWaitlists removes the waitlists of the event's zones (a cancelled
// event's).
func (e *Engine) CloseWaitlists(ctx context.Context, eventID string, zones []string) error {
	if len(zones) == 0 {
		return nil
	}
	k := e.keys(eventID)
	keys := make([]string, 0, 2*len(zones))
	for _, z := range zones {
		keys = append(keys, k.Waitlist(z), k.WaitlistQty(z))
	}
	if err := e.rdb.Unlink(ctx, keys...).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// waitingPage is a page of a zone's waitlist (Engine.waitlisted).
type waitingPage struct {
	users []string
	qty   []int
	// seq are the entries' join numbers (their scores), first is the
	// place of the first (1 first), waiting the line's length.
	seq            []int64
	first, waiting int
}

// waitlisted reads up to n buyers of a zone's waitlist who joined after
// join number after (0: from the first), in line order, with their
// quantities. Paging by join number, not by place, skips nobody when
// someone ahead leaves between two pages.
func (e *Engine) waitlisted(ctx context.Context, eventID, zoneID string, after int64, n int) (waitingPage, error) {
	k := e.keys(eventID)
	pipe := e.rdb.Pipeline()
	members := pipe.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: k.Waitlist(zoneID), ByScore: true,
		Start: "(" + strconv.FormatInt(after, 10), Stop: "+inf", Count: int64(n)})
	ahead := pipe.ZCount(ctx, k.Waitlist(zoneID), "-inf", strconv.FormatInt(after, 10))
	count := pipe.ZCard(ctx, k.Waitlist(zoneID))
	if _, err := pipe.Exec(ctx); err != nil {
		return waitingPage{}, unavailable(err)
	}
	page := waitingPage{first: int(ahead.Val()) + 1, waiting: int(count.Val())}
	for _, z := range members.Val() {
		u, _ := z.Member.(string)
		page.users = append(page.users, u)
		page.seq = append(page.seq, int64(z.Score))
	}
	page.qty = make([]int, len(page.users))
	if len(page.users) == 0 {
		return page, nil
	}
	qs, err := e.rdb.HMGet(ctx, k.WaitlistQty(zoneID), page.users...).Result()
	if err != nil {
		return waitingPage{}, unavailable(err)
	}
	for i, q := range qs {
		if q, ok := q.(string); ok {
			page.qty[i] = atoi(q)
		}
	}
	return page, nil
}

// WaitingBuyer is a buyer's place on one of an event's waitlists.
type WaitingBuyer struct {
	UserID string
	Entry  WaitlistEntry
}

// ListWaitlisted pages through the buyers waiting on the event's
// waitlists, zone by zone (by zone id), each zone's in line order. The
// token is "<zone id>:<join number of the page's last buyer>"; "" when
// done.
func (s *Service) ListWaitlisted(ctx context.Context, eventID string, size int, token string) ([]WaitingBuyer, string, error) {
	if size <= 0 {
		size = 500
	}
	startZone, after := "", int64(0)
	if token != "" {
		z, seq, ok := strings.Cut(token, ":")
		n, err := strconv.ParseInt(seq, 10, 64)
		if !ok || err != nil || n < 0 || uuid.Validate(z) != nil {
			return nil, "", errs.New(errs.Validation, "page_token is not one this call answered", "field", "page_token")
		}
		startZone, after = z, n
	}
	zones, err := s.store.eventZones(ctx, eventID)
	if err != nil {
		return nil, "", err
	}
	var out []WaitingBuyer
	for _, z := range zones {
		if z[0] < startZone {
			continue
		}
		if z[0] > startZone {
			after = 0
		}
		page, err := s.eng.waitlisted(ctx, eventID, z[0], after, size-len(out))
		if err != nil {
			return nil, "", err
		}
		for i, u := range page.users {
			out = append(out, WaitingBuyer{UserID: u, Entry: WaitlistEntry{EventID: eventID, ShowID: z[1], ZoneID: z[0],
				Quantity: page.qty[i], Position: page.first + i, Waiting: page.waiting}})
		}
		if len(out) == size {
			return out, z[0] + ":" + strconv.FormatInt(page.seq[len(page.seq)-1], 10), nil
		}
		startZone = z[0]
	}
	return out, "", nil
}

// CloseWaitlists ends the waitlists of a cancelled event (the catalog
// calls it once their buyers are told).
func (s *Service) CloseWaitlists(ctx context.Context, eventID string) error {
	status, err := s.store.EventStatus(ctx, eventID)
	if err != nil {
		return err
	}
	if status != "cancelled" {
		return errs.New(errs.Conflict, "only a cancelled event's waitlists are closed", "reason", "not_cancelled", "status", status)
	}
	zones, err := s.store.eventZones(ctx, eventID)
	if err != nil {
		return err
	}
	ids := make([]string, len(zones))
	for i, z := range zones {
		ids[i] = z[0]
	}
	return s.eng.CloseWaitlists(ctx, eventID, ids)
}

// JoinWaitlist puts the caller on a zone's waitlist.
func (s *Service) JoinWaitlist(ctx context.Context, p *authn.Principal, showID, zoneID string, quantity int) (WaitlistEntry, error) {
	ref, err := s.zoneOfShow(ctx, showID, zoneID)
	if err != nil {
		return WaitlistEntry{}, err
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RedisTimeout)
	defer cancel()
	entry, err := s.eng.JoinWaitlist(rctx, ref.EventID, showID, zoneID, p.UserID, quantity, s.cfg.WaitlistOfferTTL)
	if errors.Is(err, errNotLoaded) {
		return WaitlistEntry{}, s.zoneNotLoaded(ctx, ref.EventID, zoneID)
	}
	return entry, err
}

// WaitlistEntry answers the caller's place on a zone's waitlist.
func (s *Service) WaitlistEntry(ctx context.Context, p *authn.Principal, zoneID string) (WaitlistEntry, error) {
	ref, err := s.store.zoneOf(ctx, zoneID)
	if err != nil {
		return WaitlistEntry{}, err
	}
	entry, ok, err := s.eng.WaitlistPlace(ctx, ref.EventID, ref.ShowID, zoneID, p.UserID)
	if err != nil {
		return WaitlistEntry{}, err
	}
	if !ok {
		return WaitlistEntry{}, errs.New(errs.NotFound, "not on this zone's waitlist")
	}
	return entry, nil
}

// LeaveWaitlist takes the caller off a zone's waitlist (leaving twice is
// harmless).
func (s *Service) LeaveWaitlist(ctx context.Context, p *authn.Principal, zoneID string) error {
	ref, err := s.store.zoneOf(ctx, zoneID)
	if err != nil {
		return err
	}
	_, err = s.eng.LeaveWaitlist(ctx, ref.EventID, zoneID, p.UserID)
	return err
}

// zoneOfShow resolves a zone that must belong to showID.
func (s *Service) zoneOfShow(ctx context.Context, showID, zoneID string) (zoneRef, error) {
	ref, err := s.store.zoneOf(ctx, zoneID)
	if err != nil {
		return zoneRef{}, err
	}
	if ref.ShowID != showID {
		return zoneRef{}, errs.New(errs.NotFound, "zone not found in this show")
	}
	return ref, nil
}
