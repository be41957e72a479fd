package edge

import (
	"context"
	"sync"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/zap"

	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/gen/bookingrush/queue/v1/queuev1connect"
	"github.com/bookingrush/rush/services/platform/authn"
)

// autoQueue switches on the waiting room of an event whose reserves the
// edge keeps shedding (docs/architecture.md "Overload": an event with queue_auto gets
// its queue by itself after a sustained while of shedding). It counts, per
// event and per second, the reserves shed and taken; once more than ratio of
// them were shed in every second for after, it asks the queue service
// (SwitchOnForOverload), which turns the queue on if the organizer allowed
// it. The edge learns a show's event from the holds it answers (a shed
// request never reached booking), and a request for an event whose queue is
// on is told to join it.
type autoQueue struct {
	after time.Duration
	ratio float64
	queue queuev1connect.QueueServiceClient
	log   *zap.Logger

	mu     sync.Mutex
	shows  map[string]string // show id -> event id
	events map[string]*eventLoad
}

// eventLoad is one event's shedding as this edge sees it.
type eventLoad struct {
	second      time.Time // the second being counted
	shed, taken int
	since       time.Time // first second of the current run of shedding; zero: none
	asked       time.Time // last SwitchOnForOverload call
	queued      bool      // the event's queue is on
}

// minPerSecond is the fewest reserves of an event in a second for that
// second to count as overloaded: a trickle is no rush.
const minPerSecond = 20

func newAutoQueue(after time.Duration, ratio float64, q queuev1connect.QueueServiceClient, log *zap.Logger) *autoQueue {
	return &autoQueue{after: after, ratio: ratio, queue: q, log: log, shows: map[string]string{}, events: map[string]*eventLoad{}}
}

// learn records that show belongs to event (from a hold's answer; "" when
// the answer named none), that the event's queue is on when a reserve of it
// was refused for want of a pass, and that it is off (the organizer
// switched it off since) when one held seats without a pass (open): shed
// answers then stop sending clients to a line that is not there, which
// would let them in at once to reserve, be shed and be sent there again.
func (a *autoQueue) learn(show, event string, queued, open bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if event == "" {
		event = a.shows[show]
	} else if show != "" && len(a.shows) < 100_000 { // a bound: shows are few, ids from clients are not
		a.shows[show] = event
	}
	switch {
	case event == "":
	case queued:
		a.load(event).queued = true
	case open:
		if l := a.events[event]; l != nil {
			l.queued = false
		}
	}
}

func (a *autoQueue) load(event string) *eventLoad {
	l := a.events[event]
	if l == nil {
		l = &eventLoad{}
		a.events[event] = l
	}
	return l
}

// observe counts a reserve of show (shed or taken) at now, and answers the
// event's id when its queue is known to be on ("" otherwise). When the
// event has been shed long enough, it asks the queue service, once a
// minute at most, in the background.
func (a *autoQueue) observe(show string, shed bool, now time.Time) (queuedEvent string) {
	a.mu.Lock()
	event, ok := a.shows[show]
	if !ok {
		a.mu.Unlock()
		return ""
	}
	l := a.load(event)
	if sec := now.Truncate(time.Second); !sec.Equal(l.second) {
		total := l.shed + l.taken
		overloaded := total >= minPerSecond && float64(l.shed) > a.ratio*float64(total) && sec.Sub(l.second) <= time.Second
		switch {
		case !overloaded:
			l.since = time.Time{}
		case l.since.IsZero():
			l.since = l.second
		}
		l.second, l.shed, l.taken = sec, 0, 0
	}
	if shed {
		l.shed++
	} else {
		l.taken++
	}
	ask := !l.queued && !l.since.IsZero() && now.Sub(l.since) >= a.after && now.Sub(l.asked) >= time.Minute
	if ask {
		l.asked = now
	}
	queued := l.queued
	a.mu.Unlock()
	if ask {
		go a.switchOn(event)
	}
	if queued {
		return event
	}
	return ""
}

// switchOn asks the queue service to turn the event's queue on.
func (a *autoQueue) switchOn(event string) {
	ctx, cancel := context.WithTimeout(authn.AsSystem(context.Background()), 10*time.Second)
	defer cancel()
	res, err := a.queue.SwitchOnForOverload(ctx, connect.NewRequest(&queuev1.SwitchOnForOverloadRequest{EventId: event}))
	if err != nil {
		a.log.Warn("could not ask for the waiting room of a shed event", zap.String("event_id", event), zap.Error(err))
		return
	}
	if res.Msg.GetSettings().GetEnabled() {
		a.mu.Lock()
		a.load(event).queued = true
		a.mu.Unlock()
	}
	if res.Msg.GetSwitched() {
		a.log.Warn("switched an event's waiting room on: its reserves were shed for a sustained while", zap.String("event_id", event),
			zap.Duration("after", a.after))
	}
}
