package gate_test

import (
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	gatev1 "github.com/bookingrush/rush/gen/bookingrush/gate/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/eticket"
	"github.com/bookingrush/rush/services/testkit"
)

// TestASyncOfFiveHundredScansIsRightAndTheSameAgain: a door offline for
// an hour sends 500 scans at once, shuffled (not in the order they were
// made), with exact copies of some, codes of another organizer's event,
// garbage and a tampered code, tickets of a purchase refunded since, and
// scan times from a clock ahead (the future) or reset (1970). Each ticket
// is checked in by its earliest scan, whatever its place in the batch, and
// every other scan of it answers ALREADY_USED naming that one: one VALID
// per ticket. Both failed: a later scan ahead in the batch was answered
// VALID and then displaced by the earlier one, also VALID. The device sends
// the batch again, over gRPC and Connect (its answer was lost): every
// answer is the same, nothing more is recorded, and the show's counts do
// not move. It answered ALREADY_USED to every scan once answered VALID,
// and each retry of a scan from the future counted its ticket as reused.
func TestASyncOfFiveHundredScansIsRightAndTheSameAgain(t *testing.T) {
	t.Parallel()
	a, shop, booking, gate := startGate(t, testkit.ShopOptions{Seats: 20, MaxPerUser: 10, Users: 1})
	other := a.SeedShop(t, testkit.ShopOptions{Users: 1})
	buyer := shop.Users[0]
	ctx := context.Background()
	kept := purchase(t, a, booking, gate, buyer, a.Reserve(t, shop, buyer, 6))
	refunded := a.Reserve(t, shop, buyer, 2)
	gone := purchase(t, a, booking, gate, buyer, refunded)
	foreign := purchase(t, a, booking, gate, other.Users[0], a.Reserve(t, other, other.Users[0], 1))
	if _, err := booking.CancelBooking(ctx, testkit.AsService(t, a.Mesh, "payment", &bookingv1.CancelBookingRequest{BookingId: refunded.GetId()})); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the refunded tickets revoked", func() bool {
		return a.Count(t, `SELECT count(*) FROM gate_tickets WHERE booking_id = $1 AND status = 'revoked'`, refunded.GetId()) == 2
	})
	cred := door(t, a, gate, shop).Msg.GetCredential()
	code := kept[0].GetCode()
	tampered := code[:100] + string("AB"[min(1, int(code[100]-'A'+1)%2)]) + code[101:]

	// The batch, and what each scan should be answered.
	type scan struct {
		ticket int // index in kept, or -1
		want   gatev1.CheckInOutcome
		at     time.Time // the device's time
		eff    time.Time // the time the gate judges it at (future: the batch's arrival)
	}
	rng := rand.New(rand.NewPCG(7, 19))
	// The tickets were issued moments ago: their codes admit from an hour
	// before (gate.clock-skew).
	base := time.Now().Add(-55 * time.Minute).Truncate(time.Second)
	future := time.Now().Add(time.Hour) // every scan from the future counts as made now, after every past one
	var scans []*gatev1.Scan
	var model []scan
	add := func(c string, s scan) {
		scans = append(scans, &gatev1.Scan{Code: c, Gate: "Side", ShowId: shop.Show, ScannedAt: timestamppb.New(s.at)})
		model = append(model, s)
	}
	for len(scans) < 478 {
		at := base.Add(time.Duration(rng.IntN(3000)) * time.Second)
		eff := at
		switch r := rng.IntN(100); {
		case r < 5:
			at = time.Now().Add(time.Duration(1+rng.IntN(48)) * time.Hour).Truncate(time.Second)
			eff = future
		case r < 8:
			at = time.Unix(int64(rng.IntN(1e6)), 0) // 1970: the ticket was not valid yet
		}
		old := at.Year() == 1970
		switch r := rng.IntN(100); {
		case r < 80:
			i := rng.IntN(len(kept) - 2)
			s := scan{ticket: i, at: at, eff: eff, want: gatev1.CheckInOutcome_CHECK_IN_OUTCOME_ALREADY_USED}
			if old {
				s.ticket, s.want = -1, gatev1.CheckInOutcome_CHECK_IN_OUTCOME_INVALID
			}
			add(kept[i].GetCode(), s)
		case r < 90:
			s := scan{ticket: -1, at: at, want: gatev1.CheckInOutcome_CHECK_IN_OUTCOME_REVOKED}
			if old {
				s.want = gatev1.CheckInOutcome_CHECK_IN_OUTCOME_INVALID
			}
			add(gone[rng.IntN(len(gone))].GetCode(), s)
		case r < 95:
			add(foreign[0].GetCode(), scan{ticket: -1, at: at, want: gatev1.CheckInOutcome_CHECK_IN_OUTCOME_WRONG_EVENT})
		case r < 98:
			add("BRT1:NOTATICKET", scan{ticket: -1, at: at, want: gatev1.CheckInOutcome_CHECK_IN_OUTCOME_INVALID})
		default:
			add(tampered, scan{ticket: -1, at: at, want: gatev1.CheckInOutcome_CHECK_IN_OUTCOME_INVALID})
		}
	}
	// The last two tickets are scanned once each, from the future and from
	// the past: neither is reused, however often the batch is sent.
	add(kept[4].GetCode(), scan{ticket: 4, at: base, eff: base})
	add(kept[5].GetCode(), scan{ticket: 5, at: time.Now().Add(time.Hour).Truncate(time.Second), eff: future})
	for len(scans) < 500 { // exact copies of earlier scans (a device that queued a scan twice)
		i := rng.IntN(len(scans))
		add(scans[i].GetCode(), model[i])
	}
	perm := rng.Perm(len(scans))
	shuffled, shuffledModel := make([]*gatev1.Scan, len(scans)), make([]scan, len(scans))
	for i, j := range perm {
		shuffled[i], shuffledModel[i] = scans[j], model[j]
	}
	scans, model = shuffled, shuffledModel
	// Each ticket's check-in is its earliest scan; among scans at the same
	// time, the first in the batch.
	winner := map[int]int{}
	for i, s := range model {
		if s.ticket < 0 {
			continue
		}
		if w, ok := winner[s.ticket]; !ok || s.eff.Before(model[w].eff) {
			winner[s.ticket] = i
		}
	}
	for _, i := range winner {
		model[i].want = gatev1.CheckInOutcome_CHECK_IN_OUTCOME_VALID
	}
	// A ticket is reused when its scans were made at more than one time
	// (a copy is the same scan; every scan from the future is made now).
	times := map[int]map[time.Time]bool{}
	for _, s := range model {
		if s.ticket >= 0 {
			if times[s.ticket] == nil {
				times[s.ticket] = map[time.Time]bool{}
			}
			times[s.ticket][s.eff] = true
		}
	}
	reused := 0
	for _, ts := range times {
		if len(ts) > 1 {
			reused++
		}
	}

	stats := func() *gatev1.GetShowCheckInStatsResponse {
		t.Helper()
		st, err := gate(false).GetShowCheckInStats(ctx, testkit.As(t, a.Mesh, shop.Organizer, authn.RoleOrganizer, &gatev1.GetShowCheckInStatsRequest{ShowId: shop.Show}))
		if err != nil {
			t.Fatal(err)
		}
		return st.Msg
	}
	var first []*gatev1.CheckInResult
	var firstStats *gatev1.GetShowCheckInStatsResponse
	var recorded int
	for round, grpc := range []bool{false, true, false} {
		start := time.Now()
		res, err := gate(grpc).SyncCheckIns(ctx, testkit.Bearer(cred, &gatev1.SyncCheckInsRequest{Scans: scans}))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		t.Logf("round %d: 500 scans judged in %v", round, time.Since(start))
		got := res.Msg.GetResults()
		if len(got) != len(scans) {
			t.Fatalf("round %d: %d results for %d scans", round, len(got), len(scans))
		}
		if round == 0 {
			first, firstStats, recorded = got, stats(), a.Count(t, `SELECT count(*) FROM gate_scans`)
			t.Logf("counts %v", firstStats)
			bad := 0
			for i, r := range got {
				s := model[i]
				ok := r.GetOutcome() == s.want
				if ok && s.ticket >= 0 {
					w := model[winner[s.ticket]]
					ok = r.GetTicketId() == kept[s.ticket].GetId() && r.GetFirstScan().GetGate() == "Side" &&
						(!w.eff.Equal(w.at) || r.GetFirstScan().GetScannedAt().AsTime().Equal(w.at))
				}
				if !ok && bad < 10 {
					bad++
					t.Errorf("scan %d (ticket %d at %v): %v, want %v", i, s.ticket, s.at, r, s.want)
				}
			}
			if st := firstStats; st.GetSold() != 6 || st.GetCheckedIn() != int32(len(winner)) || st.GetRevoked() != 2 || st.GetReused() != int32(reused) {
				t.Errorf("counts %v, want 6 sold, %d checked in, 2 revoked, %d reused", st, len(winner), reused)
			}
			continue
		}
		for i := range got {
			if !proto.Equal(got[i], first[i]) {
				t.Fatalf("round %d, scan %d: %v, the first time %v", round, i, got[i], first[i])
			}
		}
		if st := stats(); !proto.Equal(st, firstStats) {
			t.Errorf("round %d: counts %v, the first time %v", round, st, firstStats)
		}
		if n := a.Count(t, `SELECT count(*) FROM gate_scans`); n != recorded {
			t.Errorf("round %d: %d scans recorded, %d the first time", round, n, recorded)
		}
	}
}

// TestAForgedCodeIsInvalidWhateverItClaims: a code whose signature does not
// verify is INVALID, online and synced, over gRPC and Connect, and names no
// ticket, show or zone (what it says is not ours), whatever event it
// claims: one forged for another organizer's event, or for an event that
// does not exist, was answered WRONG_EVENT, sending staff to look for
// another venue, and a tampered code named the ticket it claimed. A
// genuine code of the other event is still WRONG_EVENT, naming its ticket.
// Nothing is checked in.
func TestAForgedCodeIsInvalidWhateverItClaims(t *testing.T) {
	t.Parallel()
	a, shop, booking, gate := startGate(t, testkit.ShopOptions{Seats: 10, Users: 1})
	other := a.SeedShop(t, testkit.ShopOptions{Users: 1})
	ctx := context.Background()
	mine := purchase(t, a, booking, gate, shop.Users[0], a.Reserve(t, shop, shop.Users[0], 1))[0]
	theirs := purchase(t, a, booking, gate, other.Users[0], a.Reserve(t, other, other.Users[0], 1))[0]
	cred := door(t, a, gate, shop).Msg.GetCredential()
	_, forger, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	forge := func(code, event string) string {
		tk, err := eticket.Parse(code)
		if err != nil {
			t.Fatal(err)
		}
		tk.EventID = uuid.MustParse(event)
		return eticket.Sign(tk, forger)
	}
	flipped := []byte(mine.GetCode())
	flipped[len(flipped)-10] ^= 'A' ^ 'B' // a letter of the signature
	invalid := map[string]string{
		"my ticket claimed for the other event":  forge(mine.GetCode(), other.Event),
		"my ticket claimed for no event":         forge(mine.GetCode(), uuid.NewString()),
		"the other event's ticket, re-signed":    forge(theirs.GetCode(), other.Event),
		"my ticket with its signature tampered":  string(flipped),
		"my ticket signed by another key of one": forge(mine.GetCode(), shop.Event),
	}
	judge := func(grpc bool, code string) []*gatev1.CheckInResult {
		t.Helper()
		on, err := gate(grpc).CheckIn(ctx, testkit.Bearer(cred, &gatev1.CheckInRequest{Code: code, Gate: "Main", ShowId: shop.Show}))
		if err != nil {
			t.Fatal(err)
		}
		off, err := gate(grpc).SyncCheckIns(ctx, testkit.Bearer(cred, &gatev1.SyncCheckInsRequest{Scans: []*gatev1.Scan{
			{Code: code, Gate: "Main", ShowId: shop.Show, ScannedAt: timestamppb.Now()}}}))
		if err != nil {
			t.Fatal(err)
		}
		return []*gatev1.CheckInResult{on.Msg.GetResult(), off.Msg.GetResults()[0]}
	}
	for _, grpc := range []bool{false, true} {
		for what, code := range invalid {
			for _, r := range judge(grpc, code) {
				if r.GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_INVALID || r.GetReason() == "" ||
					r.GetTicketId() != "" || r.GetShowId() != "" || r.GetZoneId() != "" {
					t.Errorf("%s (grpc %v): %v, want INVALID with a reason and no ticket", what, grpc, r)
				}
			}
		}
		for _, r := range judge(grpc, theirs.GetCode()) {
			if r.GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_WRONG_EVENT || r.GetTicketId() != theirs.GetId() {
				t.Errorf("the other event's ticket (grpc %v): %v, want WRONG_EVENT naming it", grpc, r)
			}
		}
	}
	if n := a.Count(t, `SELECT count(*) FROM gate_checkins`); n != 0 {
		t.Errorf("%d check-ins by forged codes", n)
	}
	if n := a.Count(t, `SELECT count(*) FROM gate_scans WHERE ticket_id IS NOT NULL`); n != 0 {
		t.Errorf("%d scans of forged or foreign codes name a ticket", n)
	}
}
