package booking

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/bookingrush/rush/lua"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/redisx"
)

// Engine is the booking engine's Redis side: every decision about seats is
// one atomic Lua script (lua/*.lua), so the invariant
// available + held + sold = total holds at every instant.
type Engine struct {
	rdb     *redis.Client
	hot     *redisx.Hot // the reserve's path
	prefix  string
	holdTTL time.Duration
	idemTTL time.Duration

	reserve, confirm, release, expire, load *redis.Script
	batcher                                 *reserveBatcher
	waitJoin, waitLeave, forget, drop       *redis.Script
}

// NewEngine returns the engine for keys under prefix; one reserve.lua call
// decides up to reserveBatch concurrent reserves of one event (1: each
// alone).
func NewEngine(rdb *redis.Client, prefix string, holdTTL, idemTTL time.Duration, reserveBatch int) *Engine {
	e := &Engine{
		rdb: rdb, hot: redisx.NewHot(rdb), prefix: prefix, holdTTL: holdTTL, idemTTL: idemTTL,
		reserve: lua.Script("reserve.lua"), confirm: lua.Script("confirm.lua"),
		release: lua.Script("release.lua"), expire: lua.Script("expire.lua"), load: lua.Script("load.lua"),
		waitJoin: lua.Script("waitlist_join.lua"), waitLeave: lua.Script("waitlist_leave.lua"),
		forget: lua.Script("forget_user.lua"), drop: lua.Script("drop_zones.lua"),
	}
	e.batcher = newReserveBatcher(e, max(reserveBatch, 1))
	return e
}

// keys names the keys of one event; they share the hash tag {ev:<id>} (one
// cluster slot).
func (e *Engine) keys(eventID string) lua.Keys { return lua.EventKeys(e.prefix, eventID) }

// eventsKey is the set of events with loaded inventory (what the sweeper and
// the relay walk). It lives outside any event's slot.
func (e *Engine) eventsKey() string { return e.prefix + "events" }

// Hold is a booking as the engine knows it.
type Hold struct {
	ID, UserID, EventID, ShowID, ZoneID string
	Quantity                            int
	UnitCents                           int64
	Status                              string
	ExpiresAt, CreatedAt                time.Time
	ConfirmedAt, CancelledAt            time.Time
	IdempotencyKey                      string
	Version                             int64
	// Cause is why the booking ended (CauseBuyer...); "" while it lives.
	Cause string
	// WaitlistOffer is true for a hold the waitlist created for its buyer.
	WaitlistOffer bool
}

// Why a booking ended, as Redis and Postgres store it (bookings.cancel_cause).
const (
	CauseBuyer          = "buyer"
	CauseExpired        = "expired"
	CauseEventCancelled = "event_cancelled"
	CauseSystem         = "system"
	// CauseSupport: an admin refunded it in full (payment's
	// REFUND_CAUSE_SUPPORT).
	CauseSupport = "support"
)

// ReserveInput is one reserve call, already validated and resolved to its event.
type ReserveInput struct {
	BookingID, UserID, EventID, ShowID, ZoneID string
	Quantity                                   int
	IdempotencyKey                             string
	// QueuePass is what reserve.lua checks of the caller's queue ticket:
	// "<epoch>:<sequence>", "" without one, "!<reason>" when it was refused
	// (Service.pass).
	QueuePass string
}

// passRefused explains each reason of a QUEUE_PASS_REQUIRED answer
// (details.reason), the script's and Service.pass's.
var passRefused = map[string]string{
	"missing":     "this event has a waiting room: join the queue, and reserve with your queue pass once admitted",
	"invalid":     "the queue pass is not valid",
	"other_event": "this queue pass is for another event",
	"other_user":  "this queue pass belongs to another buyer",
	"not_drawn":   "this ticket was issued before the opening: reserve with the queue_pass of your admitted status",
	"void":        "the queue pass belongs to a line that was reset: join the queue again",
	"waiting":     "not admitted yet: wait for your turn",
	"expired":     "the queue pass's shopping window ended: join the queue again",
	"used":        "the queue pass was already used for a reserve: join the queue again to shop once more",
}

// fingerprint identifies the request behind an idempotency key: the same key
// with another show, zone or quantity is a conflict.
func fingerprint(show, zone string, qty int) string {
	return show + ":" + zone + ":" + strconv.Itoa(qty)
}

// errNotLoaded means the event's inventory is not in Redis: not published, or
// lost and being rebuilt. The service decides which.
var errNotLoaded = errors.New("inventory not loaded")

// Reserve decides one reserve with reserve.lua, in a batch with the
// concurrent reserves of its event (reserveBatcher). replay is true when
// the idempotency key had already reserved this booking (then only ID is
// set).
func (e *Engine) Reserve(ctx context.Context, in ReserveInput) (h Hold, replay bool, err error) {
	res, err := e.batcher.do(ctx, in)
	if err != nil {
		return Hold{}, false, err
	}
	return e.decided(in, res)
}

// reserveBatch runs reserve.lua once for calls, all of one event, and
// returns the script's answer to each, in order.
func (e *Engine) reserveBatch(ctx context.Context, calls []*reserveCall) ([][]string, error) {
	ev := calls[0].in.EventID
	k := e.keys(ev)
	keys := make([]string, 6, 6+4*len(calls))
	keys[0], keys[1], keys[2], keys[3], keys[4], keys[5] = k.Meta(), k.Expiry(), k.Stream(), k.Gate(), k.GateTicks(), k.GateUsed()
	args := make([]any, 3, 3+9*len(calls))
	args[0], args[1], args[2] = ev, e.holdTTL.Milliseconds(), int64(e.idemTTL/time.Second)
	for _, c := range calls {
		in := c.in
		keys = append(keys, k.Zone(in.ZoneID), k.User(in.UserID), k.Idem(in.UserID, in.IdempotencyKey), k.Hold(in.BookingID))
		args = append(args, in.BookingID, in.UserID, in.ShowID, in.ZoneID, in.Quantity, in.IdempotencyKey,
			fingerprint(in.ShowID, in.ZoneID, in.Quantity), in.QueuePass, c.tp)
	}
	raw, err := e.reserve.Run(ctx, e.hot.For(ctx), keys, args...).Slice()
	if err != nil {
		return nil, unavailable(err)
	}
	return lua.Answers(raw), nil
}

// decided turns reserve.lua's answer to in into the hold or the error.
func (e *Engine) decided(in ReserveInput, res []string) (Hold, bool, error) {
	ev := in.EventID
	if len(res) == 0 {
		return Hold{}, false, fmt.Errorf("reserve.lua: empty answer")
	}
	switch res[0] {
	case "OK":
		unit, _ := strconv.ParseInt(res[3], 10, 64)
		return Hold{
			ID: in.BookingID, UserID: in.UserID, EventID: ev, ShowID: in.ShowID, ZoneID: in.ZoneID,
			Quantity: in.Quantity, UnitCents: unit, Status: StatusReserved,
			ExpiresAt: msTime(res[2]), CreatedAt: msTime(res[4]), IdempotencyKey: in.IdempotencyKey, Version: 1,
		}, false, nil
	case "REPLAY":
		return Hold{ID: res[1]}, true, nil
	case "CONFLICT":
		return Hold{}, false, errs.New(errs.Conflict, "this Idempotency-Key was used for a different request")
	case "NOT_LOADED":
		return Hold{}, false, errNotLoaded
	case "SALE_NOT_OPEN":
		return Hold{}, false, saleNotOpen(res)
	case "NOT_FOUND":
		return Hold{}, false, errs.New(errs.NotFound, "zone not found in this show")
	case "INSUFFICIENT_STOCK":
		return Hold{}, false, errs.New(errs.InsufficientStock, "not enough seats available",
			"requested", atoi(res[1]), "available", atoi(res[2]))
	case "QUEUE_PASS_REQUIRED":
		why := res[1]
		msg, ok := passRefused[why]
		if !ok {
			msg = passRefused["invalid"]
		}
		return Hold{}, false, errs.New(errs.QueuePassRequired, msg, "reason", why)
	case "MAX_PER_USER_EXCEEDED":
		return Hold{}, false, errs.New(errs.MaxPerUserExceeded, "per-user seat limit reached",
			"limit", atoi(res[1]), "current", atoi(res[2]), "requested", in.Quantity)
	}
	return Hold{}, false, fmt.Errorf("reserve.lua: unexpected answer %q", res)
}

// ReasonShowStarted is details.reason of a SALE_NOT_OPEN whose event is on
// sale but whose show has started (details.show_date says when): its
// seats are off sale, the event's later shows still sell.
const ReasonShowStarted = "show_started"

// saleNotOpen turns a script's SALE_NOT_OPEN answer ({status, sale start,
// sale end, now}, and the show's start when it is the show that started)
// into the error: details status, sale_start_at and sale_end_at, plus
// reason and show_date for a started show.
func saleNotOpen(res []string) error {
	details := []any{"status", res[1],
		"sale_start_at", msTime(res[2]).UTC().Format(time.RFC3339), "sale_end_at", msTime(res[3]).UTC().Format(time.RFC3339)}
	if len(res) > 5 {
		return errs.New(errs.SaleNotOpen, "the show has started: its seats are no longer on sale", append(details,
			"reason", ReasonShowStarted, "show_date", msTime(res[5]).UTC().Format(time.RFC3339))...)
	}
	return errs.New(errs.SaleNotOpen, "the event is not on sale", details...)
}

// Confirm runs confirm.lua; owner "" confirms on behalf of the system.
func (e *Engine) Confirm(ctx context.Context, eventID, bookingID, owner string) error {
	res, err := e.confirm.Run(ctx, e.rdb, e.changeKeys(eventID, bookingID),
		e.keys(eventID).Prefix(), bookingID, owner, traceParent(ctx)).StringSlice()
	if err != nil {
		return unavailable(err)
	}
	switch res[0] {
	case "OK", "ALREADY":
		return nil
	case "NOT_LOADED":
		return errNotLoaded
	case "NOT_FOUND":
		return errs.New(errs.NotFound, "booking not found")
	case "GONE":
		if res[1] == StatusExpired {
			return errs.New(errs.ReservationExpired, "the reservation expired before it was confirmed")
		}
		if len(res) > 2 && res[2] == CauseEventCancelled {
			return errs.New(errs.Conflict, "the event was cancelled; its bookings cannot be confirmed", "status", res[1], "cause", res[2])
		}
		return errs.New(errs.Conflict, "the booking was "+res[1]+" before it was confirmed", "status", res[1])
	case "NOT_ON_SALE":
		return errs.New(errs.Conflict, "the event is not on sale (it is a "+res[1]+"); its bookings cannot be confirmed", "event_status", res[1])
	}
	return fmt.Errorf("confirm.lua: unexpected answer %q", res)
}

// Release runs release.lua: a hold is cancelled at once; a confirmed booking
// is released only when confirmedAs names what it becomes (StatusRefunded or
// StatusCancelled; "" refuses). cause says why (CauseBuyer...).
func (e *Engine) Release(ctx context.Context, eventID, bookingID, owner, confirmedAs, cause string) error {
	res, err := e.release.Run(ctx, e.rdb, e.changeKeys(eventID, bookingID),
		e.keys(eventID).Prefix(), bookingID, owner, confirmedAs, traceParent(ctx), cause).StringSlice()
	if err != nil {
		return unavailable(err)
	}
	switch res[0] {
	case "OK", "ALREADY":
		// A retired event (Retire) changed: back on the list, so the
		// relay's scan finds the change's stream entry even when its
		// notice was lost. Also on ALREADY: a retry of a release whose
		// process stopped before this line puts it back.
		if err := e.rdb.SAdd(ctx, e.eventsKey(), eventID).Err(); err != nil {
			return unavailable(err)
		}
		return nil
	case "NOT_LOADED":
		return errNotLoaded
	case "NOT_FOUND":
		return errs.New(errs.NotFound, "booking not found")
	case "CONFLICT":
		return errs.New(errs.Conflict, "a confirmed booking is cancelled through a refund", "status", res[1])
	}
	return fmt.Errorf("release.lua: unexpected answer %q", res)
}

// traceParent is the W3C traceparent of ctx's span, which the scripts keep
// in the stream entry so the relay's Kafka record continues the call's
// trace; "" when ctx carries none (tracing off: no cost beyond the lookup).
func traceParent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

func (e *Engine) changeKeys(eventID, bookingID string) []string {
	k := e.keys(eventID)
	return []string{k.Hold(bookingID), k.Expiry(), k.Stream(), k.Meta()}
}

// ExpireDue releases the event's holds whose deadline passed, about batch
// at a time, and returns how many holds it looked at.
func (e *Engine) ExpireDue(ctx context.Context, eventID string, batch int) (int, error) {
	return e.sweep(ctx, eventID, batch, "expire")
}

// CancelLive releases every live hold of a cancelled event (cause
// event_cancelled), batch at a time, and returns how many it handled; it
// does nothing unless the event's loaded status is cancelled.
func (e *Engine) CancelLive(ctx context.Context, eventID string, batch int) (int, error) {
	return e.sweep(ctx, eventID, batch, "cancel")
}

// sweep runs expire.lua in mode until a call looks at fewer than batch
// holds.
func (e *Engine) sweep(ctx context.Context, eventID string, batch int, mode string) (int, error) {
	k := e.keys(eventID)
	total := 0
	for {
		n, err := e.expire.Run(ctx, e.rdb, []string{k.Expiry(), k.Stream(), k.Meta()}, k.Prefix(), batch, mode).Int()
		if err != nil {
			return total, unavailable(err)
		}
		total += n
		if n < batch {
			return total, nil
		}
	}
}

// Hold reads one booking's record; ok is false when Redis has none.
func (e *Engine) Hold(ctx context.Context, eventID, bookingID string) (Hold, bool, error) {
	m, err := e.rdb.HGetAll(ctx, e.keys(eventID).Hold(bookingID)).Result()
	if err != nil {
		return Hold{}, false, unavailable(err)
	}
	if len(m) == 0 {
		return Hold{}, false, nil
	}
	unit, _ := strconv.ParseInt(m["unit"], 10, 64)
	ver, _ := strconv.ParseInt(m["ver"], 10, 64)
	return Hold{
		ID: m["id"], UserID: m["user"], EventID: m["event"], ShowID: m["show"], ZoneID: m["zone"],
		Quantity: atoi(m["qty"]), UnitCents: unit, Status: m["status"],
		ExpiresAt: msTime(m["exp"]), CreatedAt: msTime(m["created"]),
		ConfirmedAt: msTime(m["confirmed"]), CancelledAt: msTime(m["cancelled"]),
		IdempotencyKey: m["idem"], Version: ver, Cause: m["cause"], WaitlistOffer: m["wl"] == "1" || m["idem"] == offerKey(m["id"]),
	}, true, nil
}

// Counters are one zone's live counts.
type Counters struct {
	Total, Available, Held, Sold int
	Version                      int64
}

// Zone reads a zone's counters; ok is false when they are not loaded.
func (e *Engine) Zone(ctx context.Context, eventID, zoneID string) (Counters, bool, error) {
	v, err := e.rdb.HMGet(ctx, e.keys(eventID).Zone(zoneID), "total", "available", "held", "sold", "ver").Result()
	if err != nil {
		return Counters{}, false, unavailable(err)
	}
	if v[0] == nil {
		return Counters{}, false, nil
	}
	s := func(i int) string { x, _ := v[i].(string); return x }
	ver, _ := strconv.ParseInt(s(4), 10, 64)
	return Counters{Total: atoi(s(0)), Available: atoi(s(1)), Held: atoi(s(2)), Sold: atoi(s(3)), Version: ver}, true, nil
}

// DropZones takes zones off a loaded event's inventory (drop_zones.lua), all
// or none, in one atomic step with the check that nothing was ever reserved
// from any of them; reserved names the first that was (and nothing is
// dropped then). deleted says the catalog deleted them: Redis remembers
// them (meta's dropped), so no refresh writes them back.
func (e *Engine) DropZones(ctx context.Context, eventID string, zones []string, deleted bool) (reserved string, err error) {
	k := e.keys(eventID)
	keys := []string{k.Meta()}
	args := make([]any, 1, 1+len(zones))
	args[0] = "0"
	if deleted {
		args[0] = "1"
	}
	for _, z := range zones {
		keys, args = append(keys, k.Zone(z)), append(args, z)
	}
	res, err := e.drop.Run(ctx, e.rdb, keys, args...).StringSlice()
	if err != nil {
		return "", unavailable(err)
	}
	if res[0] == "RESERVED" {
		return res[1], nil
	}
	return "", nil
}

// zoneGone reports whether the event is loaded and the zone is not in it.
func (e *Engine) zoneGone(ctx context.Context, eventID, zoneID string) (bool, error) {
	k := e.keys(eventID)
	pipe := e.rdb.Pipeline()
	meta, zone := pipe.Exists(ctx, k.Meta()), pipe.Exists(ctx, k.Zone(zoneID))
	if _, err := pipe.Exec(ctx); err != nil {
		return false, unavailable(err)
	}
	return meta.Val() == 1 && zone.Val() == 0, nil
}

// Loaded reports whether the event's inventory is in Redis.
func (e *Engine) Loaded(ctx context.Context, eventID string) (bool, error) {
	n, err := e.rdb.Exists(ctx, e.keys(eventID).Meta()).Result()
	if err != nil {
		return false, unavailable(err)
	}
	return n == 1, nil
}

// Events lists the events whose inventory is loaded.
func (e *Engine) Events(ctx context.Context) ([]string, error) {
	return e.rdb.SMembers(ctx, e.eventsKey()).Result()
}

// EventOf finds the event of a booking that Postgres does not know yet (the
// persister writes it moments after the reserve): the loaded event whose
// hold it is. One round trip for the event list and one pipelined EXISTS per
// loaded event; only lookups in that short window pay it, and the reserve
// writes nothing for it.
func (e *Engine) EventOf(ctx context.Context, bookingID string) (string, bool, error) {
	events, err := e.Events(ctx)
	if err != nil {
		return "", false, unavailable(err)
	}
	if len(events) == 0 {
		return "", false, nil
	}
	pipe := e.rdb.Pipeline()
	found := make([]*redis.IntCmd, len(events))
	for i, ev := range events {
		found[i] = pipe.Exists(ctx, e.keys(ev).Hold(bookingID))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return "", false, unavailable(err)
	}
	for i, c := range found {
		if c.Val() == 1 {
			return events[i], true, nil
		}
	}
	return "", false, nil
}

// unavailable wraps a Redis failure: the caller answers SERVICE_UNAVAILABLE
// and nothing changed (a script either ran whole or not at all).
func unavailable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.Unavailable("the booking engine did not answer in time; retry", err)
	}
	return errs.Unavailable("the booking engine's store is unreachable; retry", err, "dependency", "redis")
}

func msTime(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// Booking statuses, as Redis and Postgres store them.
const (
	StatusReserved  = "reserved"
	StatusConfirmed = "confirmed"
	StatusCancelled = "cancelled"
	StatusExpired   = "expired"
	StatusRefunded  = "refunded"
)
