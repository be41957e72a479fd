package ticket

import (
	"strconv"
	"time"

	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
)

// Place is where a ticket stands in its line, as the line's state tells it:
// from the ticket and the event's cursor alone, no per-buyer lookup.
type Place struct {
	// Status is WAITING, ADMITTED, SOLD_OUT or EXPIRED.
	Status queuev1.QueueEntryStatus
	// Seq is the ticket's sequence (0 while the pre-queue is not drawn).
	Seq uint32
	// Position is Seq less the cursor while waiting (0 before the opening).
	Position int32
	// Total is how many tickets wait.
	Total int32
	// Wait is the estimated time to admission while waiting.
	Wait time.Duration
	// NoQueue: the event has no waiting room (any more): reserve needs no
	// pass. Only the sale settings say so (never their absence).
	NoQueue bool
	// Ended: the sale is over (EXPIRED).
	Ended bool
	// Void: the ticket belongs to a line that was reset (EXPIRED).
	Void bool
	// Live: ADMITTED by the cursor and the window not known to be over;
	// whether the pass was used, or its window ended since the state was
	// read, only Redis knows.
	Live bool
	// Unplaced: the line's state does not count the ticket (WAITING): its
	// number is past the joins the state counts, or, a pre-queue ticket,
	// past the opening's draw. Either the state was read before the ticket
	// was issued, or Redis lost the join (a crash that lost its last second
	// of writes) and the cursor would never reach it: a state read after
	// the ticket was shown tells which, and the queue then enters the
	// ticket again (services/queue).
	Unplaced bool
}

// Where places t in l (the state of t's event's line); draw is l's opening
// draw (nil before the opening). A ticket of another event is void.
func Where(t Ticket, l *queuev1.WatchLineResponse, draw *Draw, now time.Time) Place {
	line := l.GetLine()
	switch {
	case !line.GetEnabled() && line.GetOpensAt() != nil:
		// (A state without the sale settings, OpensAt nil, is of an event
		// whose inventory Redis does not have, lost or being rebuilt: its
		// line is placed from the gate, void when that was lost too.)
		return Place{Status: queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_ADMITTED, NoQueue: true}
	case l.GetEnded():
		return Place{Status: queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_EXPIRED, Ended: true}
	case t.Event != line.GetEventId() || l.GetEpoch() != strconv.FormatUint(t.Epoch, 10):
		return Place{Status: queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_EXPIRED, Void: true}
	}
	// The line holds at least the ticket's own number (a state read just
	// before the ticket was issued does not count it yet).
	cursor, joined := line.GetAdmittedUpTo(), max(line.GetJoined(), int32(t.Number))
	unplaced := int64(t.Number) > int64(line.GetJoined())
	seq, drawn := t.Sequence(draw)
	if !drawn {
		// Places are drawn at the opening: until then the wait is at
		// least the time to the opening. (After it, a pre-queue ticket the
		// draw does not cover is one whose join Redis lost.)
		return Place{Status: queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING, Total: joined,
			Wait: max(line.GetOpensAt().AsTime().Sub(now), 0), Unplaced: unplaced || draw != nil}
	}
	p := Place{Seq: seq, Total: max(joined-cursor, 0), Unplaced: unplaced}
	switch {
	case int64(seq) > int64(cursor) && line.GetSoldOut():
		p.Status = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_SOLD_OUT
		p.Position = int32(int64(seq) - int64(cursor))
	case int64(seq) > int64(cursor):
		p.Status = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING
		p.Position = int32(int64(seq) - int64(cursor))
		p.Wait = wait(p.Position, line)
	case int64(seq) <= int64(l.GetWindowFloor()):
		p.Status = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_EXPIRED
	default:
		p.Status, p.Live = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_ADMITTED, true
	}
	return p
}

// wait is the estimated time until the cursor passes position: the places
// free under the cap of active shoppers go at the admission rate, the rest
// at the line's pace (Line.Pace: as fast as shoppers leave). 0 when the
// line has no rate yet.
func wait(position int32, line *queuev1.Line) time.Duration {
	rate := line.GetAdmitPerSecond()
	if rate <= 0 || position <= 0 {
		return 0
	}
	first := position
	if c := line.GetMaxActive(); c > 0 {
		first = min(first, max(c-line.GetActive(), 0))
	}
	d := time.Duration(first) * time.Second / time.Duration(rate)
	if rest := position - first; rest > 0 {
		pace := line.GetPace()
		if pace <= 0 || pace > float64(rate) {
			// A state without a pace (a queue of an earlier release).
			pace = float64(rate)
		}
		d += time.Duration(float64(rest) / pace * float64(time.Second))
	}
	return d
}

// DrawOf is the draw of l's opening, nil before it (or when l's draw is
// malformed, which places every pre-queue ticket as not drawn yet).
func DrawOf(l *queuev1.WatchLineResponse) *Draw {
	if l.GetDraw() == "" {
		return nil
	}
	d, err := NewDraw(l.GetDraw(), uint32(max(l.GetDrawn(), 0)))
	if err != nil {
		return nil
	}
	return d
}
