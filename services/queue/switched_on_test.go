package queue_test

import (
	"context"
	"testing"
	"time"
)

// TestAJoinJustAfterTheQueueWasSwitchedOnIsInLine: the queue is switched on
// (by another replica, the organizer's page or the overload switch) while
// this replica's state of the line, read less than a tick ago, still says
// it is off. A join then is put in line (a ticket, then a pass), as the
// join script decided. Before, the join answered "admitted" without a pass
// from that stale state: the buyer's reserve was refused QUEUE_PASS_REQUIRED
// and the page had to send them back to join.
func TestAJoinJustAfterTheQueueWasSwitchedOnIsInLine(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-queue.tick=1s")
	f := m.seed(eventOpts{queue: false, rate: 1000, users: 1})
	u := f.users[0]
	if l := m.line(f); l.GetEnabled() {
		t.Fatalf("line before the switch: %v", l)
	}
	// Switched on elsewhere: the catalog's switch, which booking reloads.
	if _, err := m.db.Exec(`UPDATE events SET queue_enabled = true WHERE id = $1`, f.event); err != nil {
		t.Fatal(err)
	}
	m.load(f)
	st, err := m.join(context.Background(), false, f, u)
	if err != nil {
		t.Fatal(err)
	}
	if st.GetTicket() == "" || (st.GetStatus() != waiting && st.GetQueuePass() == "") {
		t.Fatalf("a join once the queue is on: %v, want a place in line (waiting, or admitted with a pass)", st)
	}
	if err := m.reserve(false, f, u, m.waitAdmitted(f, u, 5*time.Second).GetQueuePass()); err != nil {
		t.Fatalf("reserve with the pass: %v", err)
	}
}
