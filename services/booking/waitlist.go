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
	"go.uber.org/zap"

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

// joined is where a join put its buyer in line: the join's sequence (its
// place's score), when (Redis's clock), and whether this call made the
// place (fresh) or found it (a join again).
type joined struct {
	seq   int64
	at    time.Time
	fresh bool
}

// joinWaitlist runs waitlist_join.lua: the user waits for quantity seats of
// the zone. Seats that come back are offered in line order by lib.lua's
// offer_waitlist, in the same atomic step that returns them.
func (e *Engine) joinWaitlist(ctx context.Context, eventID, showID, zoneID, userID string, quantity int, offerTTL time.Duration) (WaitlistEntry, joined, error) {
	k := e.keys(eventID)
	res, err := e.waitJoin.Run(ctx, e.rdb, []string{k.Meta(), k.Zone(zoneID), k.User(userID), k.Waitlist(zoneID), k.WaitlistQty(zoneID), k.WaitlistSeq()},
		userID, showID, quantity, offerTTL.Milliseconds()).StringSlice()
	if err != nil {
		return WaitlistEntry{}, joined{}, unavailable(err)
	}
	entry := WaitlistEntry{EventID: eventID, ShowID: showID, ZoneID: zoneID, Quantity: quantity}
	switch res[0] {
	case "OK":
		entry.Position, entry.Waiting = atoi(res[1]), atoi(res[2])
		return entry, joined{seq: seqOf(res[3]), at: msTime(res[4]), fresh: true}, nil
	case "ALREADY":
		entry.Position, entry.Waiting, entry.Quantity = atoi(res[1]), atoi(res[2]), atoi(res[3])
		return entry, joined{seq: seqOf(res[4]), at: msTime(res[5])}, nil
	}
	return WaitlistEntry{}, joined{}, joinRefused(res, quantity)
}

// seqOf reads a join sequence as the scripts answer it (a sorted set's
// score: an integer).
func seqOf(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// joinRefused turns waitlist_join.lua's refusals into their errors.
func joinRefused(res []string, quantity int) error {
	switch res[0] {
	case "NOT_LOADED":
		return errNotLoaded
	case "SALE_NOT_OPEN":
		return saleNotOpen(res)
	case "NOT_FOUND":
		return errs.New(errs.NotFound, "zone not found in this show")
	case "AVAILABLE":
		return errs.New(errs.InsufficientStock, "the zone has the seats available now: reserve them instead of waiting",
			"requested", quantity, "available", atoi(res[1]), "reason", "available")
	case "EXCEEDS_ZONE":
		return errs.New(errs.InsufficientStock, fmt.Sprintf("the zone has %s seats in all: a place in line for %d would never be served", res[1], quantity),
			"requested", quantity, "total", atoi(res[1]), "reason", "exceeds_zone")
	case "MAX_PER_USER_EXCEEDED":
		return errs.New(errs.MaxPerUserExceeded, "per-user seat limit reached",
			"limit", atoi(res[1]), "current", atoi(res[2]), "requested", quantity)
	}
	return fmt.Errorf("waitlist_join.lua: unexpected answer %q", res)
}

// waitlistPlace reads the user's place on the zone's waitlist; ok is false
// when the user is not on it. Once the zone's show has started, its line
// will never be served (nothing of the show is sold or offered any more):
// the place answers SALE_NOT_OPEN with reason show_started, as a join
// would, and the line closes for everyone in it (closed says whom, for
// the caller to record).
func (e *Engine) waitlistPlace(ctx context.Context, eventID, showID, zoneID, userID string) (entry WaitlistEntry, ok bool, closed *closedLines, err error) {
	k := e.keys(eventID)
	pipe := e.rdb.Pipeline()
	rank := pipe.ZRank(ctx, k.Waitlist(zoneID), userID)
	count := pipe.ZCard(ctx, k.Waitlist(zoneID))
	qty := pipe.HGet(ctx, k.WaitlistQty(zoneID), userID)
	starts := pipe.HGet(ctx, k.Zone(zoneID), "starts")
	sale := pipe.HMGet(ctx, k.Meta(), "status", "sale_start", "sale_end")
	clock := pipe.Time(ctx)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return WaitlistEntry{}, false, nil, unavailable(err)
	}
	// Redis's clock, as the scripts judge a show's start: a replica whose
	// clock runs ahead must not close the line for everyone early.
	now := clock.Val().UnixMilli()
	r, err := rank.Result()
	if errors.Is(err, redis.Nil) || (err == nil && sale.Val()[0] == "cancelled") {
		// A cancelled event's lines wait only to be told and closed.
		return WaitlistEntry{}, false, nil, nil
	}
	if err != nil {
		return WaitlistEntry{}, false, nil, unavailable(err)
	}
	if start, err := strconv.ParseInt(starts.Val(), 10, 64); err == nil && now >= start {
		c, err := e.closeWaitlists(ctx, eventID, []string{zoneID})
		if err != nil {
			return WaitlistEntry{}, false, nil, err
		}
		res := []string{"SALE_NOT_OPEN", "", "0", "0", strconv.FormatInt(now, 10), starts.Val()}
		for i, v := range sale.Val() {
			if v, ok := v.(string); ok {
				res[1+i] = v
			}
		}
		return WaitlistEntry{}, false, &c, saleNotOpen(res)
	}
	return WaitlistEntry{EventID: eventID, ShowID: showID, ZoneID: zoneID, Quantity: atoi(qty.Val()),
		Position: int(r) + 1, Waiting: int(count.Val())}, true, nil, nil
}

// leaveWaitlist takes the user off the zone's waitlist (waitlist_leave.lua),
// only from the place of join sequence seq when seq is not 0; left is
// false when the user was not there. end is what the caller records: the
// place left, or, when the user was not on the line, every join up to the
// event's last (Seq 0 when there was none).
func (e *Engine) leaveWaitlist(ctx context.Context, eventID, zoneID, userID string, seq int64) (end waitlistEnd, left bool, err error) {
	k := e.keys(eventID)
	res, err := e.waitLeave.Run(ctx, e.rdb, []string{k.Meta(), k.Waitlist(zoneID), k.WaitlistQty(zoneID), k.WaitlistSeq()},
		userID, seq).StringSlice()
	if err != nil {
		return waitlistEnd{}, false, unavailable(err)
	}
	switch res[0] {
	case "NOT_LOADED":
		return waitlistEnd{}, false, errNotLoaded
	case "LEFT", "NOT_ON":
		return waitlistEnd{EventID: eventID, ZoneID: zoneID, UserID: userID, Seq: seqOf(res[1]), At: msTime(res[2])}, res[0] == "LEFT", nil
	}
	return waitlistEnd{}, false, fmt.Errorf("waitlist_leave.lua: unexpected answer %q", res)
}

// closeWaitlists removes the waitlists of the event's zones (a cancelled
// event's, or a started show's) in one atomic step, and answers whom they
// held.
func (e *Engine) closeWaitlists(ctx context.Context, eventID string, zones []string) (closedLines, error) {
	k := e.keys(eventID)
	c := closedLines{eventID: eventID, zones: zones}
	keys := make([]string, 0, 2*len(zones))
	lines := make([]*redis.ZSliceCmd, len(zones))
	var clock *redis.TimeCmd
	_, err := e.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		clock = pipe.Time(ctx)
		for i, z := range zones {
			lines[i] = pipe.ZRangeWithScores(ctx, k.Waitlist(z), 0, -1)
			keys = append(keys, k.Waitlist(z), k.WaitlistQty(z))
		}
		if len(keys) > 0 {
			pipe.Unlink(ctx, keys...)
		}
		return nil
	})
	if err != nil {
		return closedLines{}, unavailable(err)
	}
	c.at = clock.Val()
	for i, line := range lines {
		for _, m := range line.Val() {
			u, _ := m.Member.(string)
			c.ends = append(c.ends, waitlistEnd{EventID: eventID, ZoneID: zones[i], UserID: u, Seq: int64(m.Score), At: c.at})
		}
	}
	return c, nil
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
//
// The buyers are read from booking's records of the lines
// (waitlist_entries, the rows still waiting), not from Redis: the catalog
// asks once an event is cancelled, to mail everyone in line, and an
// event whose keys Redis lost (and that nobody rebuilt since) has no line
// there, while its records have every place. The records follow Redis by
// the persister's lag for an offer or a drop (their ends come through
// booking.events): a buyer offered seats moments before may still be
// listed.
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
		page, err := s.store.waitlisted(ctx, eventID, z[0], after, size-len(out))
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
	if len(ids) == 0 {
		return nil
	}
	closed, err := s.eng.closeWaitlists(ctx, eventID, ids)
	if err != nil {
		return err
	}
	// A failure here is answered (503): the catalog closes again, and the
	// records of every zone's rows still waiting end then.
	return s.store.recordClosed(ctx, closed)
}

// JoinWaitlist puts the caller on a zone's waitlist.
func (s *Service) JoinWaitlist(ctx context.Context, p *authn.Principal, showID, zoneID string, quantity int) (WaitlistEntry, error) {
	ref, err := s.zoneOfShow(ctx, showID, zoneID)
	if err != nil {
		return WaitlistEntry{}, err
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RedisTimeout)
	defer cancel()
	entry, place, err := s.eng.joinWaitlist(rctx, ref.EventID, showID, zoneID, p.UserID, quantity, s.cfg.WaitlistOfferTTL)
	if errors.Is(err, errNotLoaded) {
		return WaitlistEntry{}, s.zoneNotLoaded(ctx, ref.EventID, zoneID)
	}
	if err != nil {
		return WaitlistEntry{}, err
	}
	// A place is answered only once it is durable: a rebuild of the
	// inventory writes the lines back from these records. A join again
	// records its place too (idempotent), which makes durable a place
	// whose first join could neither be recorded nor taken back.
	if err := s.store.recordJoined(ctx, ref.EventID, zoneID, p.UserID, place.seq, entry.Quantity, place.at); err != nil {
		if place.fresh {
			s.undoJoin(ctx, ref.EventID, zoneID, p.UserID, place.seq)
		}
		return WaitlistEntry{}, err
	}
	return entry, nil
}

// undoJoin takes back a join that could not be recorded (its buyer is
// answered 503 and may retry): a place in Redis alone would be lost,
// silently, by a rebuild. Only that join's place (seq) goes, never a later
// one; its end is recorded too when Postgres answers (the join's row may
// have been written with its answer lost). When Redis fails too, the place
// stays, unrecorded, until the buyer joins again (which records it) or
// leaves.
func (s *Service) undoJoin(ctx context.Context, eventID, zoneID, userID string, seq int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RedisTimeout)
	defer cancel()
	end, left, err := s.eng.leaveWaitlist(ctx, eventID, zoneID, userID, seq)
	if err == nil && left {
		err = s.store.recordEnded(ctx, []waitlistEnd{end})
	}
	if err != nil && !errors.Is(err, errNotLoaded) {
		s.log.Warn("taking back a waitlist join that was not recorded failed", zap.String("event", eventID), zap.String("zone", zoneID), zap.Error(err))
	}
}

// WaitlistEntry answers the caller's place on a zone's waitlist.
func (s *Service) WaitlistEntry(ctx context.Context, p *authn.Principal, zoneID string) (WaitlistEntry, error) {
	ref, err := s.store.zoneOf(ctx, zoneID)
	if err != nil {
		return WaitlistEntry{}, err
	}
	entry, ok, closed, err := s.eng.waitlistPlace(ctx, ref.EventID, ref.ShowID, zoneID, p.UserID)
	if closed != nil {
		// The show started: the line closed in Redis, its records end too
		// (or the answer is a 503, and the place asked again finds nobody
		// in line; a rebuild restores no started show's line either).
		if rerr := s.store.recordClosed(ctx, *closed); rerr != nil {
			return WaitlistEntry{}, rerr
		}
	}
	if err != nil {
		return WaitlistEntry{}, err
	}
	if !ok {
		return WaitlistEntry{}, errs.New(errs.NotFound, "not on this zone's waitlist")
	}
	return entry, nil
}

// LeaveWaitlist takes the caller off a zone's waitlist (leaving twice is
// harmless), and then ends the place's record, so that a rebuild does not
// put the caller back in line. A leave whose record failed answers 503; its
// retry finds the caller off the line and ends the record up to the
// event's last join.
func (s *Service) LeaveWaitlist(ctx context.Context, p *authn.Principal, zoneID string) error {
	ref, err := s.store.zoneOf(ctx, zoneID)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RedisTimeout)
	defer cancel()
	end, _, err := s.eng.leaveWaitlist(rctx, ref.EventID, zoneID, p.UserID, 0)
	if errors.Is(err, errNotLoaded) {
		err = s.zoneNotLoaded(ctx, ref.EventID, zoneID)
		if errs.Is(err, errs.SaleNotOpen) || errs.Is(err, errs.NotFound) {
			// No inventory, none coming (the event is not on sale): no
			// line holds the caller.
			return s.store.recordLeftUnloaded(ctx, ref.EventID, zoneID, p.UserID)
		}
		return err
	}
	if err != nil || end.Seq == 0 {
		return err
	}
	return s.store.recordEnded(ctx, []waitlistEnd{end})
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
