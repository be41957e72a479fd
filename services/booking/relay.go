package booking

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/services/platform/background"
	"github.com/bookingrush/rush/services/platform/bookingref"
	"github.com/bookingrush/rush/services/platform/kafka"
	"github.com/bookingrush/rush/services/platform/money"
)

// relayGroup is the Redis consumer group of every event stream.
const relayGroup = "relay"

// Relay moves stream entries (the hot path's outbox) to Kafka and
// acknowledges and deletes them only after Kafka acknowledged them
// (acks=all). While Kafka is down entries wait in the stream; reservations
// go on. Several relays may run: the consumer group shares the entries, and
// entries a dead relay had claimed are taken over after ClaimIdle.
//
// A relay reads only the streams that have something: the scripts publish
// a notice when an entry lands in an empty stream (lib.lua's notice), an
// event whose stream had entries stays hot (read every gather interval:
// entries gather meanwhile, and a read costs the same whatever it carries)
// for hotFor after its last one, and a scan every scanEvery finds the streams
// with entries that no notice announced (notices are not stored: one sent
// while a relay reconnects is lost). Idle, a relay costs one scan a second
// however many events are loaded.
type Relay struct {
	*background.Task // Stop leaves entries in flight in the stream for the next run
	eng              *Engine
	producer         *kafka.Producer
	topic            string
	batch            int
	gather           time.Duration
	claimIdle        time.Duration
	scanEvery        time.Duration
	hotFor           time.Duration
	consumer         string
	spans            kafka.RelaySpans
	log              *zap.Logger
	// unacked marks the events where this relay read entries it has not
	// acknowledged (a failed publish or ack): the next pass reads them
	// again before new ones. hot holds when each hot event last had
	// entries or a notice. Only the run loop touches them.
	unacked map[string]bool
	hot     map[string]time.Time
	// noticed are the events announced since the run loop last looked
	// (rescan: every event, after the listener (re)subscribed); wake tells
	// a sleeping run loop that something was announced.
	mu      sync.Mutex
	noticed map[string]bool
	rescan  bool
	wake    chan struct{}
}

// NewRelay returns a relay publishing to topic that scans every stream
// every scan and reads a busy stream every gather; with tracing on (tp),
// each entry of a traced reserve gets a producer span in the reserve's
// trace.
func NewRelay(eng *Engine, producer *kafka.Producer, topic string, batch int, scan, gather time.Duration, tp trace.TracerProvider, log *zap.Logger) *Relay {
	host, _ := os.Hostname()
	r := &Relay{
		eng: eng, producer: producer, topic: topic, batch: batch,
		gather: gather, claimIdle: 30 * time.Second, scanEvery: scan, hotFor: time.Second,
		consumer: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8]),
		spans:    kafka.NewRelaySpans(tp, "booking-stream"),
		log:      log.Named("relay"), unacked: map[string]bool{}, hot: map[string]time.Time{},
		noticed: map[string]bool{}, wake: make(chan struct{}, 1),
	}
	r.Task = background.New(r.run)
	return r
}

func (r *Relay) run(ctx context.Context) {
	listening := make(chan struct{})
	go func() { defer close(listening); r.listen(ctx) }()
	defer func() { <-listening }()
	var lastScan, lastClaim time.Time
	var backoff time.Duration
	for ctx.Err() == nil {
		now := time.Now()
		claim := now.Sub(lastClaim) > r.claimIdle/2
		scan := claim || now.Sub(lastScan) >= r.scanEvery || r.takeRescan()
		moved, err := r.pass(ctx, scan, claim)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("relay: entries wait in the stream", zap.Error(err))
			}
			// Scan every stream again once Redis and Kafka answer.
			lastScan, lastClaim = time.Time{}, time.Time{}
			backoff = min(max(backoff*2, 100*time.Millisecond), 2*time.Second)
			background.Sleep(ctx, backoff)
			continue
		}
		backoff = 0
		if scan {
			lastScan = now
		}
		if claim {
			lastClaim = now
		}
		switch {
		case moved >= r.batch:
			// More is waiting: read again at once.
		case len(r.hot) > 0:
			// Let entries gather: under load a batch then carries many
			// entries, and each batch costs a stream read, a Kafka produce,
			// an acknowledgement and a persister transaction whatever its
			// size. A notice does not cut this short.
			background.Sleep(ctx, r.gather)
		default:
			// Nothing hot: sleep until the next scan or a notice.
			r.sleep(ctx, time.Until(lastScan.Add(r.scanEvery)))
		}
	}
}

// sleep waits d, or less when a notice comes in.
func (r *Relay) sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-r.wake:
	}
}

// listen receives the streams' notices (lib.lua's notice publishes on the
// stream's name) until ctx ends. go-redis reconnects a broken subscription
// by itself; the notices sent meanwhile are lost, so every
// (re)subscription asks the run loop for a scan.
func (r *Relay) listen(ctx context.Context) {
	// Every event's stream name is head + event id + tail.
	head, tail, _ := strings.Cut(r.eng.keys("\x00").Stream(), "\x00")
	ps := r.eng.rdb.PSubscribe(ctx, globEscape(head)+"*"+globEscape(tail))
	defer ps.Close()
	ch := ps.ChannelWithSubscriptions()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			r.mu.Lock()
			switch m := m.(type) {
			case *redis.Subscription:
				r.rescan = true
			case *redis.Message:
				if ev, ok := strings.CutPrefix(m.Channel, head); ok {
					if ev, ok = strings.CutSuffix(ev, tail); ok {
						r.noticed[ev] = true
					}
				}
			}
			r.mu.Unlock()
			select {
			case r.wake <- struct{}{}:
			default:
			}
		}
	}
}

// globEscape quotes the glob characters of PSUBSCRIBE's pattern syntax.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (r *Relay) takeRescan() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rescan := r.rescan
	r.rescan = false
	return rescan
}

// pass relays what is waiting in the streams of the hot events, the
// announced ones and those with unacknowledged entries, and with scan in
// every stream that has entries; it returns how many stream entries it
// moved to Kafka (an entry of a reserve batch carries many holds: the
// count is compared with the batch size, which counts entries). With
// claim, it also takes over entries that another relay read but never
// acknowledged.
func (r *Relay) pass(ctx context.Context, scan, claim bool) (int, error) {
	now := time.Now()
	if scan {
		backlogged, err := r.eng.Backlogged(ctx)
		if err != nil {
			return 0, err
		}
		for _, ev := range backlogged {
			r.hot[ev] = now
		}
	}
	r.mu.Lock()
	for ev := range r.noticed {
		r.hot[ev] = now
	}
	clear(r.noticed)
	r.mu.Unlock()
	for ev := range r.unacked {
		r.hot[ev] = now
	}
	total := 0
	var errs []error
	for ev, last := range r.hot {
		n, err := r.relayEvent(ctx, ev, claim)
		total += n
		if err != nil {
			errs = append(errs, err)
		}
		switch {
		case n > 0:
			r.hot[ev] = now
		case now.Sub(last) >= r.hotFor: // (unacknowledged events were marked now above)
			delete(r.hot, ev)
		}
	}
	return total, errors.Join(errs...)
}

func (r *Relay) relayEvent(ctx context.Context, eventID string, claim bool) (int, error) {
	key := r.eng.keys(eventID).Stream()
	rdb := r.eng.rdb
	var msgs []redis.XMessage
	if claim {
		claimed, _, err := rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: key, Group: relayGroup, Consumer: r.consumer, MinIdle: r.claimIdle, Start: "0-0", Count: int64(r.batch),
		}).Result()
		if err != nil && !isNoGroup(err) {
			return 0, err
		}
		msgs = claimed
	}
	if len(msgs) == 0 {
		// Our own unacknowledged entries first when a publish or an
		// acknowledgement failed, then new ones.
		starts := []string{">"}
		if r.unacked[eventID] {
			starts = []string{"0", ">"}
		}
		for _, start := range starts {
			res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
				Group: relayGroup, Consumer: r.consumer, Streams: []string{key, start}, Count: int64(r.batch), Block: -1,
			}).Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if isNoGroup(err) {
				// The stream of an event loaded by an older process; create the group.
				if err := rdb.XGroupCreateMkStream(ctx, key, relayGroup, "0").Err(); err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
					return 0, err
				}
				continue
			}
			if err != nil {
				return 0, err
			}
			if len(res) > 0 && len(res[0].Messages) > 0 {
				msgs = res[0].Messages
				break
			}
		}
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	out := make([]kafka.Message, 0, len(msgs))
	ids := make([]string, 0, len(msgs))
	var spans []trace.Span
	for _, m := range msgs {
		ids = append(ids, m.ID)
		changes, err := decodeEntry(m.Values)
		if err != nil {
			// A malformed entry (or line of a batch's entry) can never be
			// relayed; keep it out of the way but loudly (it would be a bug in
			// a script). The rest of a batch's entry goes on.
			r.log.Error("relay: dropping malformed stream entry", zap.String("stream", key), zap.String("id", m.ID), zap.Error(err))
		}
		for _, c := range changes {
			b, err := proto.Marshal(c.event)
			if err != nil {
				return 0, err
			}
			headers := map[string]string{"content-type": ContentType, "stream-id": m.ID}
			if c.tp != "" {
				// The change's trace goes on in the record (see lib.lua's emit).
				headers["traceparent"] = c.tp
				spans = append(spans, r.spans.Start(ctx, r.topic, headers))
			}
			out = append(out, kafka.Message{Topic: r.topic, Key: []byte(c.event.GetBooking().GetId()), Value: b, Headers: headers})
		}
	}
	r.unacked[eventID] = true // until acknowledged below
	if len(out) > 0 {
		err := r.producer.PublishBatch(ctx, out)
		kafka.EndSpans(spans, err)
		if err != nil {
			return 0, fmt.Errorf("publish to %s: %w", r.topic, err)
		}
	}
	// Kafka has them: acknowledge and delete, so the stream holds only what
	// is still to be relayed.
	pipe := rdb.TxPipeline()
	pipe.XAck(ctx, key, relayGroup, ids...)
	pipe.XDel(ctx, key, ids...)
	if _, err := pipe.Exec(ctx); err != nil {
		// Published but not acknowledged: they will be published again;
		// consumers are idempotent by version.
		return len(msgs), err
	}
	delete(r.unacked, eventID)
	return len(msgs), nil
}

// ContentType is the content-type header of booking.events messages.
const ContentType = "application/x-protobuf; proto=bookingrush.booking.v1.BookingEvent"

func isNoGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOGROUP") }

// change is one booking's change as a stream entry carries it, with the
// traceparent of the call that made it ("" when untraced).
type change struct {
	event *bookingv1.BookingEvent
	tp    string
}

// decodeEntry turns a stream entry into the Kafka events it carries: one
// for an entry of lib.lua's emit, one per hold for reserve.lua's entry of a
// batch's new holds (kind "holds"). The error names what could not be
// decoded; the changes returned with it are the ones that could.
func decodeEntry(v map[string]any) ([]change, error) {
	if k, _ := v["kind"].(string); k == kindHolds {
		return decodeHolds(v)
	}
	ev, err := decodeChange(func(k string) string { x, _ := v[k].(string); return x })
	if err != nil {
		return nil, err
	}
	tp, _ := v["tp"].(string)
	return []change{{ev, tp}}, nil
}

// kindHolds is the kind of reserve.lua's stream entry: the new holds of
// one batch, one line each (reserve.lua documents the layout).
const kindHolds = "holds"

// holdFields are the comma-separated fields of one line of a "holds" entry.
var holdFields = []string{"id", "user", "show", "zone", "qty", "unit", "idem", "zavailable", "zheld", "zsold", "zver", "tp"}

// holdField is the index of each of holdFields.
var holdField = func() map[string]int {
	m := make(map[string]int, len(holdFields))
	for i, name := range holdFields {
		m[name] = i
	}
	return m
}()

// decodeHolds expands a "holds" entry into one change per new hold; each
// is the compact entry of a new hold (decodeChange fills in the rest), read
// from the line's fields where it is (no map built per hold: the relay
// decodes every hold). A malformed line costs its own hold only.
func decodeHolds(v map[string]any) ([]change, error) {
	packed, _ := v["holds"].(string)
	if packed == "" {
		return nil, errors.New("holds entry without holds")
	}
	at, _ := v["at"].(string)
	event, _ := v["event"].(string)
	exp, _ := v["exp"].(string)
	lines := strings.Split(packed, "\n")
	out := make([]change, 0, len(lines))
	var errs []error
	for i, line := range lines {
		f := strings.Split(line, ",")
		if len(f) != len(holdFields) {
			errs = append(errs, fmt.Errorf("holds entry, line %d: %d fields, want %d", i+1, len(f), len(holdFields)))
			continue
		}
		ev, err := decodeChange(func(k string) string {
			switch k {
			case "kind":
				return StatusReserved
			case "at":
				return at
			case "event":
				return event
			case "exp":
				return exp
			}
			if j, ok := holdField[k]; ok {
				return f[j]
			}
			return ""
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("holds entry, line %d: %w", i+1, err))
			continue
		}
		out = append(out, change{ev, f[len(f)-1]})
	}
	return out, errors.Join(errs...)
}

// decodeChange turns one booking's change (an entry of lib.lua's emit, or
// a new hold's compact entry), whose fields field reads, into its Kafka
// event.
func decodeChange(field func(string) string) (*bookingv1.BookingEvent, error) {
	s := field
	// A new hold's entry is compact (a line of reserve.lua's "holds" entry,
	// or an entry of kind reserved written before that layout): no status,
	// version, created, or zone total; they follow from its kind and counters.
	if s("kind") == StatusReserved && s("ver") == "" {
		n := func(k string) int64 { x, _ := strconv.ParseInt(field(k), 10, 64); return x }
		total := strconv.FormatInt(n("zavailable")+n("zheld")+n("zsold"), 10)
		s = func(k string) string {
			switch k {
			case "status":
				return StatusReserved
			case "ver":
				return "1"
			case "created":
				return field("at")
			case "ztotal":
				return total
			}
			return field(k)
		}
	}
	i64 := func(k string) int64 { n, _ := strconv.ParseInt(s(k), 10, 64); return n }
	ts := func(k string) *timestamppb.Timestamp {
		if ms := i64(k); ms > 0 {
			return timestamppb.New(time.UnixMilli(ms))
		}
		return nil
	}
	if s("id") == "" || s("zone") == "" || s("ver") == "" {
		return nil, errors.New("missing id, zone or ver")
	}
	status, ok := statusToProto[s("status")]
	if !ok {
		return nil, fmt.Errorf("unknown status %q", s("status"))
	}
	qty := i64("qty")
	unit := i64("unit")
	return &bookingv1.BookingEvent{
		Booking: &bookingv1.Booking{
			Id: s("id"), UserId: s("user"), EventId: s("event"), ShowId: s("show"), ZoneId: s("zone"),
			Quantity: int32(qty), UnitPrice: money.Format(unit), TotalAmount: money.Format(unit * qty), Currency: Currency,
			Status: status, IdempotencyKey: s("idem"), Reference: bookingref.Of(s("id")), CancelCause: causeToProto[s("cause")],
			WaitlistOffer: s("wl") == "1" || s("idem") == offerKey(s("id")), ExpiresAt: ts("exp"), ConfirmedAt: ts("confirmed"), CancelledAt: ts("cancelled"), CreatedAt: ts("created"), UpdatedAt: ts("at"),
		},
		Version: i64("ver"),
		Zone: &bookingv1.ZoneAvailability{ZoneId: s("zone"), Total: int32(i64("ztotal")), Available: int32(i64("zavailable")),
			Held: int32(i64("zheld")), Sold: int32(i64("zsold"))},
		ZoneVersion:     i64("zver"),
		OccurredAt:      ts("at"),
		WaitlistSeq:     i64("wlseq"),
		WaitlistDropped: waitlistPlaces(s("wldrop")),
	}, nil
}

// waitlistPlaces reads the places of an entry's wldrop field
// ("<user>:<join sequence>", comma-separated: lib.lua's offer_waitlist);
// a malformed one is left out (its record then stays waiting, as before
// the field existed).
func waitlistPlaces(field string) []*bookingv1.WaitlistPlace {
	if field == "" {
		return nil
	}
	var out []*bookingv1.WaitlistPlace
	for p := range strings.SplitSeq(field, ",") {
		u, seq, ok := strings.Cut(p, ":")
		n, err := strconv.ParseInt(seq, 10, 64)
		if ok && err == nil && u != "" && n > 0 {
			out = append(out, &bookingv1.WaitlistPlace{UserId: u, Seq: n})
		}
	}
	return out
}

// Currency of every amount (zone prices carry none).
const Currency = "USD"

var statusToProto = map[string]bookingv1.BookingStatus{
	StatusReserved:  bookingv1.BookingStatus_BOOKING_STATUS_RESERVED,
	StatusConfirmed: bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED,
	StatusCancelled: bookingv1.BookingStatus_BOOKING_STATUS_CANCELLED,
	StatusExpired:   bookingv1.BookingStatus_BOOKING_STATUS_EXPIRED,
	StatusRefunded:  bookingv1.BookingStatus_BOOKING_STATUS_REFUNDED,
}

var causeToProto = map[string]bookingv1.CancelCause{
	CauseBuyer:          bookingv1.CancelCause_CANCEL_CAUSE_BUYER,
	CauseExpired:        bookingv1.CancelCause_CANCEL_CAUSE_EXPIRED,
	CauseEventCancelled: bookingv1.CancelCause_CANCEL_CAUSE_EVENT_CANCELLED,
	CauseSystem:         bookingv1.CancelCause_CANCEL_CAUSE_SYSTEM,
	CauseSupport:        bookingv1.CancelCause_CANCEL_CAUSE_SUPPORT,
}

// causeName is the stored name of a cancel cause ("" for none).
func causeName(c bookingv1.CancelCause) string {
	for k, v := range causeToProto {
		if v == c {
			return k
		}
	}
	return ""
}
