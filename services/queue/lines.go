package queue

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bookingrush/rush/lua"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
)

// Key layout of one event E's queue. Q is queue.key-prefix, B the booking
// engine's booking.key-prefix; every key carries the hash tag {ev:E}, so the
// scripts touch one Redis Cluster slot together with the booking engine's
// meta and pass keys:
//
//	Q{ev:E}:line      ZSET   buyers waiting after the opening; score = order
//	                         (1..P: drawn from the pre-queue; 2^40 + n: the n-th join)
//	Q{ev:E}:pre       ZSET   buyers who joined before the sale opened; score = join number
//	Q{ev:E}:admitted  ZSET   admitted buyers; score = admission number
//	Q{ev:E}:state     HASH   seq (joins), admitted (admissions), tokens + ts (bucket, ms),
//	                         opened ("1" once the pre-queue was drawn: the once-only guard)
//	B{ev:E}:pass:U    STRING buyer U's queue pass, the key reserve.lua reads (TTL queue.pass-ttl)
//	Q active          SET    events with buyers in line, which the admitters tick
//
// The queue keys expire one hour after the sale ends.
const retention = time.Hour

// Place kinds: where a buyer stands, as queue_status.lua answers.
const (
	placeOpen     = "OPEN"
	placeWaiting  = "WAITING"
	placePre      = "PRE"
	placeAdmitted = "ADMITTED"
	placeExpired  = "EXPIRED"
	placeNone     = "NONE"
)

// place is a buyer's place in an event's queue.
type place struct {
	kind            string
	position, total int
	pass            string
	passExpires     time.Time
	opensAt, now    time.Time
	joined          bool // this call put the buyer in line
}

// errNotLoaded means Redis has no inventory for the event: it is not
// published, or its inventory is being rebuilt.
var errNotLoaded = errors.New("event inventory not loaded")

// Lines is the Redis side of the queue: joining, looking up places and the
// admission step.
type Lines struct {
	rdb            *redis.Client
	prefix, booker string
	passTTL        time.Duration
	status, tick   *redis.Script
	open           *redis.Script
}

// NewLines returns the queue store on rdb; prefix is queue.key-prefix and
// bookingPrefix the booking engine's key prefix (pass and meta keys).
func NewLines(rdb *redis.Client, prefix, bookingPrefix string, passTTL time.Duration) *Lines {
	return &Lines{
		rdb: rdb, prefix: prefix, booker: bookingPrefix, passTTL: passTTL,
		status: lua.Script("queue_status.lua"), tick: lua.Script("queue_tick.lua"), open: lua.Script("queue_open.lua"),
	}
}

func (l *Lines) key(ev, name string) string { return lua.EventPrefix(l.prefix, ev) + name }
func (l *Lines) meta(ev string) string      { return lua.EventKeys(l.booker, ev).Meta() }
func (l *Lines) activeKey() string          { return l.prefix + "active" }

// AdmittedKey is the sorted set of an event's admitted buyers (score =
// admission number), exported so tests and operators can audit the order.
func AdmittedKey(prefix, eventID string) string { return lua.EventPrefix(prefix, eventID) + "admitted" }

// Place looks up user's place in the event's queue, joining the line when
// join is set.
func (l *Lines) Place(ctx context.Context, ev, user string, join bool) (place, error) {
	j := "0"
	if join {
		j = "1"
	}
	keys := []string{l.meta(ev), l.key(ev, "line"), l.key(ev, "pre"), l.key(ev, "admitted"), l.key(ev, "state"),
		lua.PassKey(l.booker, ev, user)}
	res, err := l.status.Run(ctx, l.rdb, keys, user, j, retention.Milliseconds()).StringSlice()
	if err != nil {
		return place{}, unavailable(err)
	}
	p := place{kind: res[0]}
	switch res[0] {
	case "NOT_LOADED":
		return place{}, errNotLoaded
	case "SALE_NOT_OPEN":
		return place{}, errs.New(errs.SaleNotOpen, "the event is not on sale", "status", res[1],
			"sale_start_at", msTime(res[2]).UTC().Format(time.RFC3339), "sale_end_at", msTime(res[3]).UTC().Format(time.RFC3339))
	case placeOpen, placeExpired, placeNone:
	case placeWaiting:
		p.position, p.total, p.now = atoi(res[1]), atoi(res[2]), msTime(res[3])
		p.joined = len(res) > 4
	case placePre:
		p.total, p.opensAt, p.now = atoi(res[1]), msTime(res[2]), msTime(res[3])
		p.joined = len(res) > 4
	case placeAdmitted:
		p.pass, p.passExpires = res[1], msTime(res[2])
	default:
		return place{}, fmt.Errorf("queue_status.lua: unexpected answer %q", res)
	}
	if p.joined {
		if err := l.Activate(ctx, ev); err != nil {
			return place{}, err
		}
	}
	return p, nil
}

// Activate puts the event on the admitters' list.
func (l *Lines) Activate(ctx context.Context, ev string) error {
	if err := l.rdb.SAdd(ctx, l.activeKey(), ev).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// Active lists the events the admitters tick.
func (l *Lines) Active(ctx context.Context) ([]string, error) {
	evs, err := l.rdb.SMembers(ctx, l.activeKey()).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	return evs, nil
}

// deactivate takes an event off the admitters' list. A buyer may join
// between the tick that found the line empty and this call: the join's own
// SADD comes after its script, so checking the line after the SREM and
// putting the event back when someone is waiting leaves no buyer stranded.
func (l *Lines) deactivate(ctx context.Context, ev string, force bool) error {
	if err := l.rdb.SRem(ctx, l.activeKey(), ev).Err(); err != nil {
		return unavailable(err)
	}
	if force {
		return nil
	}
	n, err := l.waiting(ctx, ev)
	if err != nil {
		return err
	}
	if n > 0 {
		return l.Activate(ctx, ev)
	}
	return nil
}

func (l *Lines) waiting(ctx context.Context, ev string) (int64, error) {
	pipe := l.rdb.Pipeline()
	line := pipe.ZCard(ctx, l.key(ev, "line"))
	pre := pipe.ZCard(ctx, l.key(ev, "pre"))
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, unavailable(err)
	}
	return line.Val() + pre.Val(), nil
}

// tickResult is what one admission step did.
type tickResult struct {
	ended    bool // the sale is over: stop ticking the event
	idle     bool // nothing to admit yet: no inventory, no queue or before the opening
	admitted int
	waiting  int // buyers still in line or pre-queue
}

// Tick runs one admission step for the event at rate buyers per second,
// admitting at most batch buyers now; at the opening it first draws the
// pre-queue order (once, whichever replica gets there first).
func (l *Lines) Tick(ctx context.Context, ev string, rate, batch int) (tickResult, error) {
	keys := []string{l.meta(ev), l.key(ev, "line"), l.key(ev, "pre"), l.key(ev, "admitted"), l.key(ev, "state")}
	for range 3 {
		args := make([]any, 0, 4+batch)
		args = append(args, rate, l.passTTL.Milliseconds(), lua.PassKey(l.booker, ev, ""), retention.Milliseconds())
		for range batch {
			args = append(args, authn.RandomToken(24))
		}
		res, err := l.tick.Run(ctx, l.rdb, keys, args...).StringSlice()
		if err != nil {
			return tickResult{}, unavailable(err)
		}
		switch res[0] {
		case "ENDED":
			return tickResult{ended: true}, nil
		case "WAIT":
			return tickResult{idle: true, waiting: atoi(res[1])}, nil
		case "ADMITTED":
			return tickResult{admitted: atoi(res[1]), waiting: atoi(res[2])}, nil
		case "SHUFFLE":
			if err := l.draw(ctx, ev); err != nil {
				return tickResult{}, err
			}
			continue
		default:
			return tickResult{}, fmt.Errorf("queue_tick.lua: unexpected answer %q", res)
		}
	}
	return tickResult{}, errors.New("queue: the opening draw did not settle; next tick")
}

// draw shuffles the pre-queue (Fisher-Yates with crypto/rand) and applies
// the order with queue_open.lua, which refuses a second draw.
func (l *Lines) draw(ctx context.Context, ev string) error {
	members, err := l.rdb.ZRange(ctx, l.key(ev, "pre"), 0, -1).Result()
	if err != nil {
		return unavailable(err)
	}
	for i := len(members) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return err
		}
		members[i], members[j.Int64()] = members[j.Int64()], members[i]
	}
	args := make([]any, 0, 1+len(members))
	args = append(args, retention.Milliseconds())
	for _, m := range members {
		args = append(args, m)
	}
	keys := []string{l.meta(ev), l.key(ev, "line"), l.key(ev, "pre"), l.key(ev, "state")}
	res, err := l.open.Run(ctx, l.rdb, keys, args...).StringSlice()
	if err != nil {
		return unavailable(err)
	}
	switch res[0] {
	case "OPENED", "DONE", "STALE", "EARLY":
		// STALE and EARLY: the next tick draws again.
		return nil
	}
	return fmt.Errorf("queue_open.lua: unexpected answer %q", res)
}

func unavailable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.Unavailable("the queue store did not answer in time; retry", err)
	}
	return errs.Unavailable("the queue store is unreachable; retry", err, "dependency", "redis")
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func msTime(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.UnixMilli(n)
}
