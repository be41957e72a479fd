package queue

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/types/known/timestamppb"

	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/lua"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/groupcommit"
	"github.com/bookingrush/rush/services/platform/ticket"
)

// Key layout of one event E's waiting room. Q is queue.key-prefix, B the
// booking engine's booking.key-prefix; every key carries the hash tag
// {ev:E}, so each script touches one Redis Cluster slot, with the booking
// engine's meta and zones:
//
//	B{ev:E}:gate        HASH   the line: epoch, joins, cursor, floor, the draw, the bucket,
//	                           sold out, active... (queue_tick.lua lists the fields); under the
//	                           booking prefix because reserve.lua checks passes against it
//	B{ev:E}:gate:ticks  ZSET   admission steps: member = end of their window (ms), score = cursor
//	B{ev:E}:gate:used   ZSET   passes used by a reserve: member = "<sequence>:<user id>" (the
//	                           sequence alone on a line started before the gate had "bound":
//	                           lib.lua's pass_window), score = window end
//	Q{ev:E}:tickets     HASH   user id -> "<number>:<pre>:<issued ms>:<epoch>" (one place each)
//	Q active            SET    events with tickets waiting, which the admitters tick
//	Q ended             SET    events whose sale is over with tickets waiting, which the
//	                           admitters watch for the sale to reopen
//
// A waiting buyer has one hash field; nothing else in Redis grows or is
// touched per buyer while they wait. The keys expire one hour after the
// sale ends.
const retention = time.Hour

// entry is a ticket as Redis keeps it (queue_join.lua).
type entry struct {
	raw    string
	number uint32
	pre    bool
	issued time.Time
	epoch  uint64
}

func parseEntry(s string) (entry, error) {
	f := strings.Split(s, ":")
	if len(f) != 4 {
		return entry{}, fmt.Errorf("queue: malformed ticket entry %q", s)
	}
	n, err1 := strconv.ParseUint(f[0], 10, 32)
	ms, err2 := strconv.ParseInt(f[2], 10, 64)
	ep, err3 := strconv.ParseUint(f[3], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return entry{}, fmt.Errorf("queue: malformed ticket entry %q: %w", s, err)
	}
	return entry{raw: s, number: uint32(n), pre: f[1] == "1", issued: time.UnixMilli(ms), epoch: ep}, nil
}

// ticket is the entry's ticket for user of event ev.
func (e entry) ticket(ev, user string) ticket.Ticket {
	return ticket.Ticket{Event: ev, User: user, Epoch: e.epoch, Number: e.number, Pre: e.pre, IssuedAt: e.issued}
}

// entryOf is the entry of ticket t, as queue_join.lua keeps it.
func entryOf(t ticket.Ticket) string {
	pre := "0"
	if t.Pre {
		pre = "1"
	}
	return fmt.Sprintf("%d:%s:%d:%d", t.Number, pre, t.IssuedAt.UnixMilli(), t.Epoch)
}

// Ticket lookups: how queue_join.lua is asked.
const (
	modeJoin  = "join"
	modeLook  = "look"
	modeRenew = "renew"
	modeClaim = "claim"
)

// errNotLoaded means Redis has no inventory for the event: it is not
// published, or its inventory is being rebuilt.
var errNotLoaded = errors.New("event inventory not loaded")

// errNoQueue means the event has no waiting room: reserve needs no pass.
var errNoQueue = errors.New("the event has no queue")

// Lines is the Redis side of the waiting room: tickets, the line's state,
// passes and the admission step.
type Lines struct {
	rdb             *redis.Client
	prefix, booker  string
	window          time.Duration
	join, pass, adm *redis.Script
	joins           *groupcommit.Batcher[string, *joinCall] // by event
}

// An event's concurrent joins are decided in one queue_join.lua call
// (group commit): at most joinsInFlight calls of an event under way, each
// of at most joinsPerCall joins; a join that finds fewer calls under way
// goes at once, alone.
const (
	joinsPerCall  = 64
	joinsInFlight = 2
)

// joinCall is one ticket lookup waiting for its answer.
type joinCall struct {
	ctx             context.Context
	user, mode, old string
	res             []string
	err             error
	done            chan struct{}
}

func (c *joinCall) Context() context.Context { return c.ctx }

// Fail answers c unavailable: its caller gave up, nothing ran for it.
func (c *joinCall) Fail(err error) { c.err = unavailable(err); close(c.done) }

// NewLines returns the queue store on rdb; prefix is queue.key-prefix,
// bookingPrefix the booking engine's (the gate lives there) and window the
// shopping window of a pass (queue.pass-ttl).
func NewLines(rdb *redis.Client, prefix, bookingPrefix string, window time.Duration) *Lines {
	l := &Lines{
		rdb: rdb, prefix: prefix, booker: bookingPrefix, window: window,
		join: lua.Script("queue_join.lua"), pass: lua.Script("queue_pass.lua"), adm: lua.Script("queue_tick.lua"),
	}
	l.joins = groupcommit.New(joinsPerCall, joinsInFlight, l.runJoins)
	return l
}

func (l *Lines) bk(ev string) lua.Keys       { return lua.EventKeys(l.booker, ev) }
func (l *Lines) ticketsKey(ev string) string { return lua.EventPrefix(l.prefix, ev) + "tickets" }
func (l *Lines) activeKey() string           { return l.prefix + "active" }
func (l *Lines) endedKey() string            { return l.prefix + "ended" }

// gateKeys are the keys reserve.lua checks a pass against.
func (l *Lines) gateKeys(ev string) []string {
	k := l.bk(ev)
	return []string{k.Gate(), k.GateTicks(), k.GateUsed()}
}

// randomEpoch names a new line: 63 random bits, so a line rebuilt after
// Redis lost it never takes the name of the one whose tickets are out.
func randomEpoch() string { return strconv.FormatUint(randomUint64()>>1, 10) }

func randomUint64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}

// entry runs queue_join.lua for user: joins the event's line (modeJoin),
// looks the ticket up (modeLook: found false without one), renews it
// (modeRenew: a new place in place of old), or claims the place of the
// signed ticket whose entry is old, which a Redis crash made the line
// forget (modeClaim: found false when old is not of this line). errNoQueue,
// errNotLoaded and SALE_NOT_OPEN say why there is no line.
func (l *Lines) entry(ctx context.Context, ev, user, mode, old string) (e entry, found bool, err error) {
	c := &joinCall{ctx: ctx, user: user, mode: mode, old: old, done: make(chan struct{})}
	l.joins.Add(ev, c)
	<-c.done
	if c.err != nil {
		return entry{}, false, c.err
	}
	res := c.res
	if len(res) == 0 {
		return entry{}, false, fmt.Errorf("queue_join.lua: empty answer")
	}
	switch res[0] {
	case "NOT_LOADED":
		return entry{}, false, errNotLoaded
	case "SALE_NOT_OPEN":
		return entry{}, false, errs.New(errs.SaleNotOpen, "the event is not on sale", "status", res[1],
			"sale_start_at", msTime(res[2]).UTC().Format(time.RFC3339), "sale_end_at", msTime(res[3]).UTC().Format(time.RFC3339))
	case "OPEN":
		return entry{}, false, errNoQueue
	case "NONE":
		return entry{}, false, nil
	case "TICKET":
		e, err := parseEntry(res[1])
		if err != nil {
			return entry{}, false, err
		}
		if res[3] == "1" {
			// Nobody waited: the admitters may have let the event go.
			if err := l.Activate(ctx, ev); err != nil {
				return entry{}, false, err
			}
		}
		return e, true, nil
	}
	return entry{}, false, fmt.Errorf("queue_join.lua: unexpected answer %q", res)
}

// runJoins decides a batch of ticket lookups of event ev in one script
// call and answers each. A lookup whose caller gave up while it waited is
// not sent; the call has the latest deadline of the others, none when one
// has none (each answer is still wanted by its own caller).
func (l *Lines) runJoins(ev string, batch []*joinCall) {
	live := groupcommit.Live(batch)
	if len(live) == 0 {
		return
	}
	ctx, cancel := groupcommit.Bound(context.WithoutCancel(live[0].ctx), live, false)
	defer cancel()
	args := []any{randomEpoch(), retention.Milliseconds(), ticket.NewDrawKey()}
	for _, c := range live {
		args = append(args, c.user, c.mode, c.old)
	}
	keys := []string{l.bk(ev).Meta(), l.bk(ev).Gate(), l.ticketsKey(ev), l.bk(ev).GateTicks(), l.bk(ev).GateUsed()}
	raw, err := l.join.Run(ctx, l.rdb, keys, args...).Slice()
	res := lua.Answers(raw)
	for i, c := range live {
		switch {
		case err != nil:
			c.err = unavailable(err)
		case i >= len(res):
			c.err = fmt.Errorf("queue_join.lua: %d answers for %d lookups", len(res), len(live))
		default:
			c.res = res[i]
		}
		close(c.done)
	}
}

// Pass states (queue_pass.lua).
const (
	passLive    = "LIVE"
	passUsed    = "USED"
	passWaiting = "waiting"
	passExpired = "expired"
	passVoid    = "void"
)

// Pass says exactly where user's pass of sequence seq of line epoch
// stands: passLive (until ends), passUsed (by user: after a crash lost
// joins, another buyer may hold a pass of the same sequence), or
// passWaiting, passExpired, passVoid.
func (l *Lines) Pass(ctx context.Context, ev string, epoch uint64, seq uint32, user string) (state string, ends time.Time, err error) {
	res, err := l.pass.Run(ctx, l.rdb, l.gateKeys(ev), strconv.FormatUint(epoch, 10), seq, user).StringSlice()
	if err != nil {
		return "", time.Time{}, unavailable(err)
	}
	switch res[0] {
	case passLive, passUsed:
		return res[0], msTime(res[1]), nil
	case passWaiting, passExpired, passVoid:
		return res[0], time.Time{}, nil
	}
	return "", time.Time{}, fmt.Errorf("queue_pass.lua: unexpected answer %q", res)
}

// Read reads the state of the event's line: its gate and the sale settings
// of the booking engine's meta, in one round trip of two reads, whatever
// the number of buyers. The knobs are the last admission step's. The sale
// is over (Ended) by the sale settings as they are now, which the organizer
// may change: an extended sale's line is live again at once. It is over by
// Redis's clock, as the scripts that admit and reserve judge it: a queue
// process whose clock runs ahead would otherwise send a join of the sale's
// last seconds to the end of the line.
func (l *Lines) Read(ctx context.Context, ev string) (*queuev1.WatchLineResponse, error) {
	pipe := l.rdb.Pipeline()
	gc := pipe.HGetAll(ctx, l.bk(ev).Gate())
	mc := pipe.HMGet(ctx, l.bk(ev).Meta(), "status", "sale_start", "sale_end", "queue")
	now := pipe.Time(ctx)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	g, meta := gc.Val(), mc.Val()
	str := func(v any) string { s, _ := v.(string); return s }
	num := func(k string) int32 { n, _ := strconv.ParseInt(g[k], 10, 32); return int32(n) }
	ms := func(s string) *timestamppb.Timestamp {
		if s == "" {
			return nil
		}
		return timestamppb.New(msTime(s))
	}
	status, saleEnd := str(meta[0]), str(meta[2])
	cursor, joins := num("cursor"), num("joins")
	out := &queuev1.WatchLineResponse{
		Line: &queuev1.Line{
			EventId: ev, Enabled: str(meta[3]) == "1", Opened: g["opened"] == "1", OpensAt: ms(str(meta[1])),
			AdmittedUpTo: cursor, Joined: joins, Waiting: max(joins-cursor, 0), SoldOut: g["soldout"] == "1",
			AdmitPerSecond: num("rate"), MaxActive: num("cap"), Active: num("active"), UpdatedAt: ms(g["updated"]),
			Pace: pace(num("rate"), num("cap"), g["leave"], l.windowOf(g["window"])),
		},
		Epoch: g["epoch"], Draw: g["draw"], Drawn: num("drawn"), WindowFloor: num("floor"),
		Ended: (status != "" && status != "published") || (saleEnd != "" && !now.Val().Before(msTime(saleEnd))),
	}
	if at := g["cursor_at"]; at != "" {
		out.WindowEndsAt = timestamppb.New(msTime(at).Add(l.windowOf(g["window"])))
	}
	return out, nil
}

// pace is how many buyers a second a line admits at its cap (Line.Pace):
// cap times the share of active shoppers who leave each second (leave, as
// queue_tick.lua measured it), at least cap over the shopping window and
// at most the rate; the rate without a cap.
func pace(rate, limit int32, leave string, window time.Duration) float64 {
	if limit <= 0 || rate <= 0 {
		return float64(max(rate, 0))
	}
	share, _ := strconv.ParseFloat(leave, 64)
	least := float64(limit) / window.Seconds()
	return min(max(float64(limit)*share, least), float64(rate))
}

// windowOf is the shopping window the admitter recorded (ms), else this
// process's own.
func (l *Lines) windowOf(ms string) time.Duration {
	if n, err := strconv.ParseInt(ms, 10, 64); err == nil && n > 0 {
		return time.Duration(n) * time.Millisecond
	}
	return l.window
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

// park moves an event whose sale is over, with tickets waiting, from the
// admitters' list to the list they watch for a reopening, at once (MULTI):
// it is never on neither.
func (l *Lines) park(ctx context.Context, ev string) error {
	_, err := l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, l.endedKey(), ev)
		p.SRem(ctx, l.activeKey(), ev)
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// reopen looks at the events parked when their sale was over (one read
// of the list, then one pipelined round trip of two reads each), and puts
// back on the admitters' list each whose sale settings say it is on sale
// again (published, the sale's end ahead by Redis's clock): the organizer
// extended it, or moved the window later. It forgets the events that were
// cancelled and those whose line is gone (the keys expired): a join after a
// reopening starts a new line and wakes the admitters itself. The others
// stay parked. It returns the events it put back.
func (l *Lines) reopen(ctx context.Context) ([]string, error) {
	evs, err := l.rdb.SMembers(ctx, l.endedKey()).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	if len(evs) == 0 {
		return nil, nil
	}
	pipe := l.rdb.Pipeline()
	now := pipe.Time(ctx)
	metas := make([]*redis.SliceCmd, len(evs))
	gates := make([]*redis.IntCmd, len(evs))
	for i, ev := range evs {
		metas[i] = pipe.HMGet(ctx, l.bk(ev).Meta(), "status", "sale_end")
		gates[i] = pipe.Exists(ctx, l.bk(ev).Gate())
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, unavailable(err)
	}
	var back, gone []string
	for i, ev := range evs {
		m := metas[i].Val()
		status, _ := m[0].(string)
		end, _ := m[1].(string)
		switch {
		case status == "cancelled" || gates[i].Val() == 0:
			gone = append(gone, ev)
		case status == "published" && now.Val().Before(msTime(end)):
			back = append(back, ev)
		}
	}
	if len(back)+len(gone) == 0 {
		return nil, nil
	}
	// One MULTI, so an event put back is never on neither list. go-redis
	// spreads a []string argument into one argument per member.
	_, err = l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SRem(ctx, l.endedKey(), append(append([]string{}, back...), gone...))
		if len(back) > 0 {
			p.SAdd(ctx, l.activeKey(), back)
		}
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	return back, nil
}

// deactivate takes an event off the admitters' list. A buyer may join
// between the step that found nobody waiting and this call: the join's own
// SADD comes after its script, so checking the line after the SREM and
// putting the event back when someone waits leaves no buyer stranded.
func (l *Lines) deactivate(ctx context.Context, ev string, force bool) error {
	if err := l.rdb.SRem(ctx, l.activeKey(), ev).Err(); err != nil {
		return unavailable(err)
	}
	if force {
		return nil
	}
	v, err := l.rdb.HMGet(ctx, l.bk(ev).Gate(), "joins", "cursor").Result()
	if err != nil {
		return unavailable(err)
	}
	joins, _ := strconv.Atoi(fmt.Sprint(v[0]))
	cursor, _ := strconv.Atoi(fmt.Sprint(v[1]))
	if joins > cursor {
		return l.Activate(ctx, ev)
	}
	return nil
}

// tickResult is what one admission step did.
type tickResult struct {
	closed   bool // cancelled, or over without a line: stop ticking the event for good
	ended    bool // the sale is over, or the event is not published: waiting tickets stay in line
	idle     bool // nothing to admit: no inventory, no line, no queue or before the opening
	admitted int
	waiting  int // tickets the cursor has not passed
}

// tick runs one admission step for the event: the cursor moves at rate
// tickets a second, while fewer than maxActive (0: no cap) admitted buyers
// shop and seats are left; at the opening the pre-queue is drawn.
func (l *Lines) tick(ctx context.Context, ev string, rate, maxActive int) (tickResult, error) {
	keys := append(append([]string{l.bk(ev).Meta()}, l.gateKeys(ev)...), l.ticketsKey(ev))
	res, err := l.adm.Run(ctx, l.rdb, keys, rate, maxActive, l.window.Milliseconds(), retention.Milliseconds(),
		ticket.NewDrawKey()).StringSlice()
	if err != nil {
		return tickResult{}, unavailable(err)
	}
	switch res[0] {
	case "CLOSED":
		return tickResult{closed: true}, nil
	case "ENDED":
		return tickResult{ended: true, waiting: atoi(res[1])}, nil
	case "IDLE":
		return tickResult{idle: true}, nil
	case "WAIT":
		return tickResult{idle: true, waiting: atoi(res[1])}, nil
	case "ADMITTED":
		return tickResult{admitted: atoi(res[1]), waiting: atoi(res[2])}, nil
	}
	return tickResult{}, fmt.Errorf("queue_tick.lua: unexpected answer %q", res)
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
