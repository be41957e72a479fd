package ticket_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/services/platform/ticket"
)

// TestWhere: a ticket's place from the line's state alone.
func TestWhere(t *testing.T) {
	t.Parallel()
	ev, now := uuid.NewString(), time.Now()
	line := func(cursor, joined int32, mod func(*queuev1.WatchLineResponse)) *queuev1.WatchLineResponse {
		l := &queuev1.WatchLineResponse{Epoch: "7", WindowFloor: 10, Line: &queuev1.Line{EventId: ev, Enabled: true, Opened: true,
			AdmittedUpTo: cursor, Joined: joined, AdmitPerSecond: 50, OpensAt: timestamppb.New(now.Add(-time.Minute))}}
		if mod != nil {
			mod(l)
		}
		return l
	}
	tk := func(n uint32, pre bool) ticket.Ticket { return ticket.Ticket{Event: ev, Epoch: 7, Number: n, Pre: pre} }
	const (
		waiting  = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING
		admitted = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_ADMITTED
		expired  = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_EXPIRED
		soldOut  = queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_SOLD_OUT
	)
	draw, _ := ticket.NewDraw(ticket.NewDrawKey(), 20)
	preSeq := draw.Seq(3)
	for _, c := range []struct {
		name string
		t    ticket.Ticket
		l    *queuev1.WatchLineResponse
		draw *ticket.Draw
		want ticket.Place
	}{
		{"waiting", tk(150, false), line(100, 300, nil), nil, ticket.Place{Status: waiting, Seq: 150, Position: 50, Total: 200, Wait: time.Second}},
		// With a cap: the free places go at the rate (50/s), the rest at
		// the pace, as fast as shoppers leave.
		{"waiting behind a full cap", tk(150, false), line(100, 300, func(l *queuev1.WatchLineResponse) {
			l.Line.MaxActive, l.Line.Active, l.Line.Pace = 20, 20, 0.5
		}), nil, ticket.Place{Status: waiting, Seq: 150, Position: 50, Total: 200, Wait: 100 * time.Second}},
		{"waiting behind a cap with free places", tk(150, false), line(100, 300, func(l *queuev1.WatchLineResponse) {
			l.Line.MaxActive, l.Line.Active, l.Line.Pace = 20, 10, 2
		}), nil, ticket.Place{Status: waiting, Seq: 150, Position: 50, Total: 200, Wait: 10*time.Second/50 + 20*time.Second}},
		{"a state without a pace", tk(150, false), line(100, 300, func(l *queuev1.WatchLineResponse) {
			l.Line.MaxActive, l.Line.Active = 20, 20
		}), nil, ticket.Place{Status: waiting, Seq: 150, Position: 50, Total: 200, Wait: time.Second}},
		{"admitted", tk(100, false), line(100, 300, nil), nil, ticket.Place{Status: admitted, Seq: 100, Total: 200, Live: true}},
		{"window over", tk(10, false), line(100, 300, nil), nil, ticket.Place{Status: expired, Seq: 10, Total: 200}},
		{"sold out", tk(150, false), line(100, 300, func(l *queuev1.WatchLineResponse) { l.Line.SoldOut = true }), nil,
			ticket.Place{Status: soldOut, Seq: 150, Position: 50, Total: 200}},
		{"admitted while sold out", tk(90, false), line(100, 300, func(l *queuev1.WatchLineResponse) { l.Line.SoldOut = true }), nil,
			ticket.Place{Status: admitted, Seq: 90, Total: 200, Live: true}},
		{"pre-queue before the draw", tk(3, true), line(0, 20, func(l *queuev1.WatchLineResponse) {
			l.Line.Opened, l.Line.OpensAt = false, timestamppb.New(now.Add(time.Hour))
		}), nil, ticket.Place{Status: waiting, Total: 20, Wait: time.Hour}},
		{"pre-queue drawn", tk(3, true), line(0, 25, nil), draw,
			ticket.Place{Status: waiting, Seq: preSeq, Position: int32(preSeq), Total: 25, Wait: time.Duration(preSeq) * time.Second / 50}},
		{"no queue", tk(150, false), line(100, 300, func(l *queuev1.WatchLineResponse) { l.Line.Enabled = false }), nil,
			ticket.Place{Status: admitted, NoQueue: true}},
		{"not loaded, the line lost", tk(150, false), line(100, 300, func(l *queuev1.WatchLineResponse) {
			l.Line.Enabled, l.Line.OpensAt, l.Epoch = false, nil, ""
		}), nil, ticket.Place{Status: expired, Void: true}},
		{"not loaded, the line kept", tk(150, false), line(100, 300, func(l *queuev1.WatchLineResponse) {
			l.Line.Enabled, l.Line.OpensAt = false, nil
		}), nil, ticket.Place{Status: waiting, Seq: 150, Position: 50, Total: 200, Wait: time.Second}},
		{"sale over", tk(150, false), line(100, 300, func(l *queuev1.WatchLineResponse) { l.Ended = true }), nil,
			ticket.Place{Status: expired, Ended: true}},
		{"another epoch", tk(150, false), line(100, 300, func(l *queuev1.WatchLineResponse) { l.Epoch = "8" }), nil,
			ticket.Place{Status: expired, Void: true}},
		{"another event", ticket.Ticket{Event: uuid.NewString(), Epoch: 7, Number: 1}, line(100, 300, nil), nil,
			ticket.Place{Status: expired, Void: true}},
	} {
		got := ticket.Where(c.t, c.l, c.draw, now)
		got.Wait = got.Wait.Round(time.Millisecond)
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	if d := ticket.DrawOf(line(0, 20, func(l *queuev1.WatchLineResponse) { l.Draw, l.Drawn = ticket.NewDrawKey(), 20 })); d == nil {
		t.Fatal("DrawOf a drawn line: nil")
	}
	if ticket.DrawOf(line(0, 20, nil)) != nil {
		t.Fatal("DrawOf a line not drawn yet")
	}
}
