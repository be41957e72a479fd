package gate_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	gatev1 "github.com/bookingrush/rush/gen/bookingrush/gate/v1"
	"github.com/bookingrush/rush/gen/bookingrush/gate/v1/gatev1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

// startGate runs booking, its relay, the catalog and the gate on a fresh
// schema with a shop of opts; gate(grpc) is a client of the gate.
func startGate(t *testing.T, opts testkit.ShopOptions) (*testkit.App, testkit.Shop, bookingv1connect.BookingServiceClient, func(grpc bool) gatev1connect.GateServiceClient) {
	t.Helper()
	dsn := pgtest.Migrated(t)
	redisURL := testkit.Config(t, dsn).Redis.URL.Reveal()
	a := testkit.StartApp(t, testkit.Config(t, dsn, "-postgres.migrate-on-start=false", "-target=booking,relay,catalog,gate",
		"-booking.key-prefix="+testkit.KeyPrefix(t, redisURL), "-catalog.cache-prefix="+testkit.KeyPrefix(t, redisURL)))
	gate := func(grpc bool) gatev1connect.GateServiceClient {
		var o []connect.ClientOption
		if grpc {
			o = append(o, connect.WithGRPC())
		}
		return gatev1connect.NewGateServiceClient(server.NewClient(), a.URL(t, "gate"), o...)
	}
	return a, a.SeedShop(t, opts), bookingv1connect.NewBookingServiceClient(server.NewClient(), a.URL(t, "booking")), gate
}

// door registers a check-in device of the shop's event, by its organizer.
func door(t *testing.T, a *testkit.App, gate func(bool) gatev1connect.GateServiceClient, shop testkit.Shop) *connect.Response[gatev1.CreateDeviceResponse] {
	t.Helper()
	dev, err := gate(false).CreateDevice(context.Background(), testkit.As(t, a.Mesh, shop.Organizer, authn.RoleOrganizer,
		&gatev1.CreateDeviceRequest{Name: "door", EventIds: []string{shop.Event}}))
	if err != nil {
		t.Fatal(err)
	}
	return dev
}

// purchase confirms the buyer's hold b (as the saga does) and waits for its
// tickets, one per seat.
func purchase(t *testing.T, a *testkit.App, booking bookingv1connect.BookingServiceClient, gate func(bool) gatev1connect.GateServiceClient, buyer string, b *bookingv1.Booking) []*gatev1.Ticket {
	t.Helper()
	ctx := context.Background()
	if _, err := booking.ConfirmBooking(ctx, testkit.As(t, a.Mesh, "saga", authn.RoleService, &bookingv1.ConfirmBookingRequest{BookingId: b.GetId()})); err != nil {
		t.Fatal(err)
	}
	var tickets []*gatev1.Ticket
	testkit.Eventually(t, 20*time.Second, "the tickets", func() bool {
		res, err := gate(false).ListBookingTickets(ctx, testkit.As(t, a.Mesh, buyer, authn.RoleUser, &gatev1.ListBookingTicketsRequest{BookingId: b.GetId()}))
		if err == nil {
			tickets = res.Msg.GetTickets()
		}
		return len(tickets) == int(b.GetQuantity())
	})
	return tickets
}

// TestConcurrentScansAdmitOnce: two devices scan the same ticket 40 times
// at once, over gRPC and Connect: exactly one scan is valid and every other
// names it as the first; then offline scans synced at once from both
// devices, with their own scan times, end with the earliest as the
// check-in. A purchase refunded afterwards is revoked.
func TestConcurrentScansAdmitOnce(t *testing.T) {
	t.Parallel()
	a, shop, booking, gate := startGate(t, testkit.ShopOptions{Seats: 10, Users: 1})
	buyer := shop.Users[0]
	ctx := context.Background()
	b := a.Reserve(t, shop, buyer, 2)
	tickets := purchase(t, a, booking, gate, buyer, b)
	devices := make([]string, 2)
	for i := range devices {
		devices[i] = door(t, a, gate, shop).Msg.GetCredential()
	}
	// A device sends its credential as the bearer token.
	var mu sync.Mutex
	var outcomes []gatev1.CheckInOutcome
	var firsts []string
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			req := connect.NewRequest(&gatev1.CheckInRequest{Code: tickets[0].GetCode(), Gate: "G"})
			req.Header().Set("Authorization", "Bearer "+devices[i%2])
			res, err := gate(i%2 == 0).CheckIn(ctx, req)
			if err != nil {
				t.Errorf("scan %d: %v", i, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			outcomes = append(outcomes, res.Msg.GetResult().GetOutcome())
			f := res.Msg.GetResult().GetFirstScan()
			firsts = append(firsts, f.GetDeviceId()+f.GetScannedAt().AsTime().String())
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	valid := 0
	for _, o := range outcomes {
		switch o {
		case gatev1.CheckInOutcome_CHECK_IN_OUTCOME_VALID:
			valid++
		case gatev1.CheckInOutcome_CHECK_IN_OUTCOME_ALREADY_USED:
		default:
			t.Fatalf("outcome %v", o)
		}
	}
	if slices.Sort(firsts); valid != 1 || firsts[0] != firsts[len(firsts)-1] {
		t.Fatalf("%d valid scans; first scans named %v", valid, slices.Compact(firsts))
	}

	// Offline scans of the second ticket, synced at once: the earliest wins.
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i := range 20 {
		wg.Go(func() {
			at := base.Add(time.Duration(20-i) * time.Minute / 10) // scan 19 is the earliest
			req := connect.NewRequest(&gatev1.SyncCheckInsRequest{Scans: []*gatev1.Scan{{Code: tickets[1].GetCode(), Gate: "offline", ScannedAt: timestamppb.New(at)}}})
			req.Header().Set("Authorization", "Bearer "+devices[i%2])
			if _, err := gate(i%2 == 1).SyncCheckIns(ctx, req); err != nil {
				t.Errorf("sync %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	var first time.Time
	if err := a.Pool.QueryRow(ctx, `SELECT scanned_at FROM gate_checkins WHERE ticket_id = $1`, tickets[1].GetId()).Scan(&first); err != nil ||
		!first.Equal(base.Add(time.Minute/10)) {
		t.Fatalf("check-in of the synced ticket at %v, want %v (%v)", first, base.Add(time.Minute/10), err)
	}
	stats, err := gate(false).GetShowCheckInStats(ctx, testkit.As(t, a.Mesh, shop.Organizer, authn.RoleOrganizer, &gatev1.GetShowCheckInStatsRequest{ShowId: shop.Show}))
	if err != nil || stats.Msg.GetSold() != 2 || stats.Msg.GetCheckedIn() != 2 || stats.Msg.GetRevoked() != 0 {
		t.Fatalf("stats %v %v", stats, err)
	}
	var scans int
	if err := a.Pool.QueryRow(ctx, `SELECT count(*) FROM gate_scans WHERE ticket_id = ANY($1::uuid[])`,
		[]string{tickets[0].GetId(), tickets[1].GetId()}).Scan(&scans); err != nil || scans != 60 {
		t.Fatalf("%d scans recorded, want 60 (%v)", scans, err)
	}
}

// TestCheckInAtTheDoorOfItsShow: an event of two shows (Saturday, Monday);
// a door that names its show refuses the other show's ticket as wrong show,
// online and synced, over gRPC and Connect, and checks nothing in, so the
// ticket still admits once at its own show's door. A door that names no
// show (a client from before show_id) admits a ticket of any show of the
// device's events, as check-in always did.
func TestCheckInAtTheDoorOfItsShow(t *testing.T) {
	t.Parallel()
	a, shop, booking, gate := startGate(t, testkit.ShopOptions{Seats: 10, Users: 1, Shows: 2})
	saturday, monday := shop.Shows[0], shop.Shows[1]
	buyer := shop.Users[0]
	ctx := context.Background()
	tickets := purchase(t, a, booking, gate, buyer, a.ReserveIn(t, saturday, shop.Zones[0], buyer, 2))
	dev := door(t, a, gate, shop)
	scan := func(grpc bool, code, show string) *gatev1.CheckInResult {
		t.Helper()
		res, err := gate(grpc).CheckIn(ctx, testkit.Bearer(dev.Msg.GetCredential(), &gatev1.CheckInRequest{Code: code, Gate: "Main", ShowId: show}))
		if err != nil {
			t.Fatalf("scan at show %q: %v", show, err)
		}
		return res.Msg.GetResult()
	}
	checkedIn := func() int {
		t.Helper()
		return a.Count(t, `SELECT count(*) FROM gate_checkins WHERE ticket_id = $1`, tickets[0].GetId())
	}
	code := tickets[0].GetCode()

	// Saturday's ticket at Monday's door, online and synced: refused,
	// naming the ticket's show; nothing checked in (the scans' log keeps
	// the refusals).
	for _, grpc := range []bool{false, true} {
		r := scan(grpc, code, monday)
		if r.GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_WRONG_SHOW || r.GetShowId() != saturday || r.GetTicketId() != tickets[0].GetId() ||
			r.GetFirstScan() != nil || r.GetReason() == "" {
			t.Fatalf("Saturday's ticket at Monday's door (grpc %v): %v", grpc, r)
		}
		sync, err := gate(grpc).SyncCheckIns(ctx, testkit.Bearer(dev.Msg.GetCredential(), &gatev1.SyncCheckInsRequest{
			Scans: []*gatev1.Scan{{Code: code, Gate: "Main", ShowId: monday, ScannedAt: timestamppb.New(time.Now().Add(-time.Minute))}}}))
		if err != nil || sync.Msg.GetResults()[0].GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_WRONG_SHOW {
			t.Fatalf("Saturday's ticket synced from Monday's door (grpc %v): %v %v", grpc, sync, err)
		}
	}
	if n := checkedIn(); n != 0 {
		t.Fatalf("a wrong show's scans checked the ticket in (%d)", n)
	}
	if n := a.Count(t, `SELECT count(*) FROM gate_scans WHERE ticket_id = $1 AND outcome = 'wrong_show'`, tickets[0].GetId()); n != 4 {
		t.Fatalf("%d wrong_show scans logged, want 4", n)
	}
	// A door's show that is not a UUID is the client's mistake.
	_, err := gate(false).CheckIn(ctx, testkit.Bearer(dev.Msg.GetCredential(), &gatev1.CheckInRequest{Code: code, ShowId: "monday"}))
	testkit.WantCode(t, err, errs.Validation)

	// At Saturday's door: valid once, then already used.
	if r := scan(true, code, saturday); r.GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_VALID {
		t.Fatalf("Saturday's ticket at Saturday's door: %v", r)
	}
	if r := scan(false, code, saturday); r.GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_ALREADY_USED || r.GetFirstScan().GetGate() != "Main" {
		t.Fatalf("Saturday's ticket again: %v", r)
	}
	if n := checkedIn(); n != 1 {
		t.Fatalf("%d check-ins of the ticket, want 1", n)
	}
	// Monday's door still refuses it as wrong show, not as already used.
	if r := scan(false, code, monday); r.GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_WRONG_SHOW {
		t.Fatalf("a checked-in Saturday ticket at Monday's door: %v", r)
	}

	// A door that names no show admits any show of its events.
	if r := scan(false, tickets[1].GetCode(), ""); r.GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_VALID {
		t.Fatalf("a scan naming no show: %v", r)
	}
	for show, want := range map[string]int32{saturday: 2, monday: 0} {
		st, err := gate(false).GetShowCheckInStats(ctx, testkit.As(t, a.Mesh, shop.Organizer, authn.RoleOrganizer, &gatev1.GetShowCheckInStatsRequest{ShowId: show}))
		if err != nil || st.Msg.GetCheckedIn() != want {
			t.Fatalf("stats of show %s: %v %v, want %d checked in", show, st, err, want)
		}
	}
}

// TestRevokedTicketsComeWithoutCode: the tickets of a purchase refunded
// after they were issued are listed revoked, over gRPC and Connect, with
// no code and no QR code (a void ticket gets nothing that looks like it
// would scan); the code read before the refund is refused at the door. The
// buyer's other booking keeps its codes.
func TestRevokedTicketsComeWithoutCode(t *testing.T) {
	t.Parallel()
	a, shop, booking, gate := startGate(t, testkit.ShopOptions{Seats: 10, Users: 1})
	buyer := shop.Users[0]
	ctx := context.Background()
	refunded := a.Reserve(t, shop, buyer, 2)
	before := purchase(t, a, booking, gate, buyer, refunded)
	kept := a.Reserve(t, shop, buyer, 1)
	for _, tk := range append(slices.Clone(before), purchase(t, a, booking, gate, buyer, kept)...) {
		if tk.GetStatus() != gatev1.TicketStatus_TICKET_STATUS_VALID || tk.GetCode() == "" || len(tk.GetQrPng()) == 0 {
			t.Fatalf("a valid ticket: %v", tk)
		}
	}
	// The payment service refunds it (the system's cancel of a purchase).
	if _, err := booking.CancelBooking(ctx, testkit.AsService(t, a.Mesh, "payment", &bookingv1.CancelBookingRequest{BookingId: refunded.GetId()})); err != nil {
		t.Fatalf("refund: %v", err)
	}
	testkit.Eventually(t, 20*time.Second, "the tickets revoked", func() bool {
		return a.Count(t, `SELECT count(*) FROM gate_tickets WHERE booking_id = $1 AND status = 'revoked'`, refunded.GetId()) == 2
	})
	list := func(grpc bool, b string) []*gatev1.Ticket {
		t.Helper()
		res, err := gate(grpc).ListBookingTickets(ctx, testkit.As(t, a.Mesh, buyer, authn.RoleUser, &gatev1.ListBookingTicketsRequest{BookingId: b}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetTickets()
	}
	for _, grpc := range []bool{false, true} {
		ts := list(grpc, refunded.GetId())
		if len(ts) != 2 {
			t.Fatalf("%d tickets of the refunded booking (grpc %v), want 2", len(ts), grpc)
		}
		for i, tk := range ts {
			if tk.GetStatus() != gatev1.TicketStatus_TICKET_STATUS_REVOKED || tk.GetCode() != "" || len(tk.GetQrPng()) != 0 ||
				tk.GetId() != before[i].GetId() || tk.GetSeat() != int32(i+1) || tk.GetShowId() != shop.Show {
				t.Fatalf("a revoked ticket (grpc %v): %v", grpc, tk)
			}
		}
		if ts := list(grpc, kept.GetId()); len(ts) != 1 || ts[0].GetStatus() != gatev1.TicketStatus_TICKET_STATUS_VALID || ts[0].GetCode() == "" || len(ts[0].GetQrPng()) == 0 {
			t.Fatalf("the other booking's ticket (grpc %v): %v", grpc, ts)
		}
	}
	dev := door(t, a, gate, shop)
	res, err := gate(true).CheckIn(ctx, testkit.Bearer(dev.Msg.GetCredential(), &gatev1.CheckInRequest{Code: before[0].GetCode(), Gate: "Main", ShowId: shop.Show}))
	if err != nil || res.Msg.GetResult().GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_REVOKED {
		t.Fatalf("a code read before the refund at the door: %v %v", res, err)
	}
}

// TestCheckInAtADoorOfNoShowOfTheDevice: a live scan whose door names a
// show of none of the device's events (a show id that does not exist, or
// another organizer's show) is refused, a VALIDATION_ERROR naming show_id,
// whatever the code, over gRPC and Connect, and nothing is logged; a synced
// one is recorded as WRONG_SHOW; nothing is checked in. A show of the device's event
// that sold no ticket yet (known from the catalog) is a door: another
// show's ticket there is WRONG_SHOW. The ticket then admits at its door.
func TestCheckInAtADoorOfNoShowOfTheDevice(t *testing.T) {
	t.Parallel()
	a, shop, booking, gate := startGate(t, testkit.ShopOptions{Seats: 10, Users: 1, Shows: 2})
	other := a.SeedShop(t, testkit.ShopOptions{Users: 1}) // another organizer's event
	saturday, monday := shop.Shows[0], shop.Shows[1]
	buyer := shop.Users[0]
	ctx := context.Background()
	tickets := purchase(t, a, booking, gate, buyer, a.ReserveIn(t, saturday, shop.Zones[0], buyer, 1))
	dev := door(t, a, gate, shop)
	cred, code := dev.Msg.GetCredential(), tickets[0].GetCode()
	wantField := func(err error, field, what string) {
		t.Helper()
		testkit.WantCode(t, err, errs.Validation)
		fs, _ := errs.FromConnect(err).Details["fields"].([]any)
		if len(fs) != 1 || fs[0].(map[string]any)["field"] != field {
			t.Fatalf("%s: details %v, want the field %s", what, errs.FromConnect(err).Details, field)
		}
	}
	for _, grpc := range []bool{false, true} {
		for what, door := range map[string]string{"a show that does not exist": uuid.NewString(), "another organizer's show": other.Show} {
			for _, c := range []string{code, "BRT1:NOTATICKET"} {
				_, err := gate(grpc).CheckIn(ctx, testkit.Bearer(cred, &gatev1.CheckInRequest{Code: c, Gate: "Main", ShowId: door}))
				wantField(err, "show_id", what)
			}
			// Synced, the scan is a fact already: recorded as WRONG_SHOW, and
			// the batch goes through.
			res, err := gate(grpc).SyncCheckIns(ctx, testkit.Bearer(cred, &gatev1.SyncCheckInsRequest{Scans: []*gatev1.Scan{
				{Code: code, Gate: "Main", ShowId: door, ScannedAt: timestamppb.Now()}}}))
			if err != nil || len(res.Msg.GetResults()) != 1 ||
				res.Msg.GetResults()[0].GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_WRONG_SHOW {
				t.Fatalf("%s, synced: %v %v, want WRONG_SHOW", what, res, err)
			}
		}
	}
	if n := a.Count(t, `SELECT count(*) FROM gate_scans WHERE device_id = $1`, dev.Msg.GetDevice().GetId()); n != 4 {
		t.Fatalf("%d scans logged at doors of no show of the device, want the 4 synced ones", n)
	}
	if n := a.Count(t, `SELECT count(*) FROM gate_checkins`); n != 0 {
		t.Fatalf("%d check-ins at doors of no show of the device, want 0", n)
	}
	// Monday has no ticket yet: still a door of the device's event.
	r, err := gate(true).CheckIn(ctx, testkit.Bearer(cred, &gatev1.CheckInRequest{Code: code, Gate: "Main", ShowId: monday}))
	if err != nil || r.Msg.GetResult().GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_WRONG_SHOW {
		t.Fatalf("Saturday's ticket at Monday's door: %v %v", r, err)
	}
	r, err = gate(false).CheckIn(ctx, testkit.Bearer(cred, &gatev1.CheckInRequest{Code: code, Gate: "Main", ShowId: saturday}))
	if err != nil || r.Msg.GetResult().GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_VALID {
		t.Fatalf("Saturday's ticket at Saturday's door: %v %v", r, err)
	}
}

// TestOfflineEntriesTheGateWouldRefuseAreCounted: what offline doors did
// that an online door would have refused shows in the show's counts, over
// gRPC and Connect: a ticket checked in online then scanned at an offline
// door (synced later: ALREADY_USED), a ticket whose online check-in an
// earlier offline scan took (both let someone in), and a ticket scanned
// offline before its purchase was refunded (synced after: REVOKED). A sync
// sent again, and online scans refused, count nothing.
func TestOfflineEntriesTheGateWouldRefuseAreCounted(t *testing.T) {
	t.Parallel()
	a, shop, booking, gate := startGate(t, testkit.ShopOptions{Seats: 10, Users: 1})
	buyer := shop.Users[0]
	ctx := context.Background()
	kept := purchase(t, a, booking, gate, buyer, a.Reserve(t, shop, buyer, 3))
	refunded := a.Reserve(t, shop, buyer, 1)
	gone := purchase(t, a, booking, gate, buyer, refunded)
	online, offline := door(t, a, gate, shop).Msg.GetCredential(), door(t, a, gate, shop).Msg.GetCredential()
	scan := func(code string) gatev1.CheckInOutcome {
		t.Helper()
		res, err := gate(false).CheckIn(ctx, testkit.Bearer(online, &gatev1.CheckInRequest{Code: code, Gate: "Main", ShowId: shop.Show}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetResult().GetOutcome()
	}
	sync := func(grpc bool, code string, at time.Time) gatev1.CheckInOutcome {
		t.Helper()
		res, err := gate(grpc).SyncCheckIns(ctx, testkit.Bearer(offline, &gatev1.SyncCheckInsRequest{Scans: []*gatev1.Scan{
			{Code: code, Gate: "Side", ShowId: shop.Show, ScannedAt: timestamppb.New(at)}}}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetResults()[0].GetOutcome()
	}
	stats := func(grpc bool) *gatev1.GetShowCheckInStatsResponse {
		t.Helper()
		st, err := gate(grpc).GetShowCheckInStats(ctx, testkit.As(t, a.Mesh, shop.Organizer, authn.RoleOrganizer, &gatev1.GetShowCheckInStatsRequest{ShowId: shop.Show}))
		if err != nil {
			t.Fatal(err)
		}
		return st.Msg
	}
	now := time.Now().Truncate(time.Second)
	// kept[0]: in online, then at the offline door (synced twice).
	if o := scan(kept[0].GetCode()); o != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_VALID {
		t.Fatalf("kept[0] online: %v", o)
	}
	after := time.Now()
	for _, grpc := range []bool{false, true} {
		if o := sync(grpc, kept[0].GetCode(), after); o != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_ALREADY_USED {
			t.Fatalf("kept[0] offline after its check-in: %v", o)
		}
	}
	// kept[1]: in online, then an offline scan of before takes the check-in.
	if o := scan(kept[1].GetCode()); o != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_VALID {
		t.Fatalf("kept[1] online: %v", o)
	}
	if o := sync(true, kept[1].GetCode(), now.Add(-time.Minute)); o != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_VALID {
		t.Fatalf("kept[1] offline before its online check-in: %v", o)
	}
	// kept[2]: in online once, refused online after: no double entry.
	scan(kept[2].GetCode())
	if o := scan(kept[2].GetCode()); o != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_ALREADY_USED {
		t.Fatalf("kept[2] online again: %v", o)
	}
	// gone[0]: scanned offline, then refunded, then synced.
	if _, err := booking.CancelBooking(ctx, testkit.AsService(t, a.Mesh, "payment", &bookingv1.CancelBookingRequest{BookingId: refunded.GetId()})); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the refunded ticket revoked", func() bool { return stats(false).GetRevoked() == 1 })
	for _, grpc := range []bool{false, true} {
		if o := sync(grpc, gone[0].GetCode(), now); o != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_REVOKED {
			t.Fatalf("a ticket scanned offline before its refund: %v", o)
		}
	}
	for _, grpc := range []bool{false, true} {
		if st := stats(grpc); st.GetSold() != 3 || st.GetCheckedIn() != 3 || st.GetRevoked() != 1 || st.GetReused() != 2 || st.GetRevokedOffline() != 1 {
			t.Fatalf("counts (grpc %v): %v, want 3 sold, 3 checked in, 1 revoked, 2 reused, 1 revoked scanned offline", grpc, st)
		}
	}
}

// TestAScanItsDoorRefusedLetsNobodyIn: an offline door says what it did
// with each scan's holder (Scan.door), over gRPC and Connect. A scan it
// refused checks nothing in, takes no check-in from a later scan, and
// counts in neither reused nor revoked_offline: its holder stayed out (the
// door's revocation list had the ticket, or it had seen the code). Both
// counts took every synced scan for an entry. A scan that does not say (a
// client from before the field) still counts as one that may have let
// someone in, and a refused scan sent again is recorded once.
func TestAScanItsDoorRefusedLetsNobodyIn(t *testing.T) {
	t.Parallel()
	a, shop, booking, gate := startGate(t, testkit.ShopOptions{Seats: 10, MaxPerUser: 10, Users: 1})
	buyer := shop.Users[0]
	ctx := context.Background()
	kept := purchase(t, a, booking, gate, buyer, a.Reserve(t, shop, buyer, 3))
	refunded := a.Reserve(t, shop, buyer, 2)
	gone := purchase(t, a, booking, gate, buyer, refunded)
	online, offline := door(t, a, gate, shop).Msg.GetCredential(), door(t, a, gate, shop).Msg.GetCredential()
	scan := func(code string) {
		t.Helper()
		res, err := gate(false).CheckIn(ctx, testkit.Bearer(online, &gatev1.CheckInRequest{Code: code, Gate: "Main", ShowId: shop.Show}))
		if err != nil || res.Msg.GetResult().GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_VALID {
			t.Fatalf("online: %v %v", res, err)
		}
	}
	sync := func(grpc bool, code string, at time.Time, d gatev1.DoorVerdict) *gatev1.CheckInResult {
		t.Helper()
		res, err := gate(grpc).SyncCheckIns(ctx, testkit.Bearer(offline, &gatev1.SyncCheckInsRequest{Scans: []*gatev1.Scan{
			{Code: code, Gate: "Side", ShowId: shop.Show, ScannedAt: timestamppb.New(at), Door: d}}}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetResults()[0]
	}
	const (
		admitted = gatev1.DoorVerdict_DOOR_VERDICT_ADMITTED
		refused  = gatev1.DoorVerdict_DOOR_VERDICT_REFUSED
		unsaid   = gatev1.DoorVerdict_DOOR_VERDICT_UNSPECIFIED
	)
	now := time.Now().Truncate(time.Second)
	// kept[0]: refused, then admitted later, then an earlier refusal.
	if r := sync(false, kept[0].GetCode(), now.Add(-3*time.Minute), refused); r.GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_VALID ||
		r.GetFirstScan() != nil || r.GetReason() == "" {
		t.Fatalf("kept[0] refused, not checked in: %v, want VALID with a reason and no check-in", r)
	}
	if n := a.Count(t, `SELECT count(*) FROM gate_checkins`); n != 0 {
		t.Fatalf("a refused scan checked %d tickets in", n)
	}
	in := now.Add(-2 * time.Minute)
	if r := sync(true, kept[0].GetCode(), in, admitted); r.GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_VALID ||
		!r.GetFirstScan().GetScannedAt().AsTime().Equal(in) {
		t.Fatalf("kept[0] admitted: %v", r)
	}
	if r := sync(false, kept[0].GetCode(), now.Add(-4*time.Minute), refused); r.GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_ALREADY_USED ||
		!r.GetFirstScan().GetScannedAt().AsTime().Equal(in) {
		t.Fatalf("kept[0] refused before its check-in: %v, want ALREADY_USED naming the admitted scan", r)
	}
	// kept[1]: in online, then refused offline (sent twice).
	scan(kept[1].GetCode())
	after := time.Now()
	for _, grpc := range []bool{false, true} {
		if r := sync(grpc, kept[1].GetCode(), after, refused); r.GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_ALREADY_USED {
			t.Fatalf("kept[1] refused after its check-in: %v", r)
		}
	}
	// kept[2]: in online, then an offline scan that does not say: reused.
	scan(kept[2].GetCode())
	if r := sync(true, kept[2].GetCode(), time.Now(), unsaid); r.GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_ALREADY_USED {
		t.Fatalf("kept[2] offline after its check-in: %v", r)
	}
	// gone: refunded; gone[0] refused offline, gone[1] admitted.
	if _, err := booking.CancelBooking(ctx, testkit.AsService(t, a.Mesh, "payment", &bookingv1.CancelBookingRequest{BookingId: refunded.GetId()})); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the refunded tickets revoked", func() bool {
		return a.Count(t, `SELECT count(*) FROM gate_tickets WHERE booking_id = $1 AND status = 'revoked'`, refunded.GetId()) == 2
	})
	for i, d := range []gatev1.DoorVerdict{refused, admitted} {
		if r := sync(i == 0, gone[i].GetCode(), now, d); r.GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_REVOKED {
			t.Fatalf("gone[%d] (%v): %v", i, d, r)
		}
	}
	for _, grpc := range []bool{false, true} {
		st, err := gate(grpc).GetShowCheckInStats(ctx, testkit.As(t, a.Mesh, shop.Organizer, authn.RoleOrganizer, &gatev1.GetShowCheckInStatsRequest{ShowId: shop.Show}))
		if err != nil {
			t.Fatal(err)
		}
		if m := st.Msg; m.GetSold() != 3 || m.GetCheckedIn() != 3 || m.GetRevoked() != 2 || m.GetReused() != 1 || m.GetRevokedOffline() != 1 {
			t.Fatalf("counts (grpc %v): %v, want 3 sold, 3 checked in, 2 revoked, 1 reused (kept[2]), 1 revoked scanned offline (gone[1])", grpc, m)
		}
	}
	if n := a.Count(t, `SELECT count(*) FROM gate_scans WHERE door = 'refused'`); n != 4 {
		t.Errorf("%d refused scans recorded, want 4 (kept[0] twice, kept[1] once, gone[0])", n)
	}
	if n := a.Count(t, `SELECT count(*) FROM gate_scans WHERE door IS NULL AND offline`); n != 1 {
		t.Errorf("%d synced scans without a door verdict, want kept[2]'s", n)
	}
	// The organizer's devices list says when the gate last heard from each
	// door and how many scans it recorded (a sync sent again adds none).
	list, err := gate(true).ListDevices(ctx, testkit.As(t, a.Mesh, shop.Organizer, authn.RoleOrganizer, &gatev1.ListDevicesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int32]bool{}
	for _, d := range list.Msg.GetDevices() {
		if at := d.GetLastSeenAt().AsTime(); time.Since(at) > time.Minute || at.After(time.Now()) {
			t.Errorf("device %s last seen at %v, want within the last minute", d.GetId(), at)
		}
		seen[d.GetScans()] = true
	}
	if len(list.Msg.GetDevices()) != 2 || !seen[2] || !seen[7] {
		t.Errorf("devices %v, want the online door's 2 scans and the offline door's 7", list.Msg.GetDevices())
	}
	// The operator's series count each recorded scan once (kept[1]'s refusal
	// sent twice is one), by how it came and what its door did.
	res, err := http.Get(a.URL(t, "metrics") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`gate_scans_total{door="gate",outcome="valid",source="online"} 2`,
		`gate_scans_total{door="refused",outcome="valid",source="offline"} 1`,
		`gate_scans_total{door="refused",outcome="already_used",source="offline"} 2`,
		`gate_scans_total{door="refused",outcome="revoked",source="offline"} 1`,
		`gate_scans_total{door="admitted",outcome="valid",source="offline"} 1`,
		`gate_scans_total{door="admitted",outcome="revoked",source="offline"} 1`,
		`gate_scans_total{door="unsaid",outcome="already_used",source="offline"} 1`,
		`gate_scans_total{door="unsaid",outcome="valid",source="offline"} 0`,
		`gate_sync_delay_seconds_count 7`,
		`gate_sync_delay_seconds_bucket{le="60"} 4`,  // kept[1]'s, kept[2]'s and gone's: synced at once
		`gate_sync_delay_seconds_bucket{le="300"} 7`, // and kept[0]'s, made 2 to 4 minutes before
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestTheMeshRegistersNoDevice: over gRPC and Connect, the mesh's own
// services (a service token) register no device (FORBIDDEN, nothing
// recorded: a device is a user's, who runs its events), and list every
// device, as an admin does. Both were 500s: the service's id is no UUID.
func TestTheMeshRegistersNoDevice(t *testing.T) {
	t.Parallel()
	a, shop, _, gate := startGate(t, testkit.ShopOptions{Seats: 10, Users: 1})
	ctx := context.Background()
	dev := door(t, a, gate, shop)
	for _, grpc := range []bool{false, true} {
		_, err := gate(grpc).CreateDevice(ctx, testkit.AsService(t, a.Mesh, "saga", &gatev1.CreateDeviceRequest{Name: "robot", EventIds: []string{shop.Event}}))
		testkit.WantCode(t, err, errs.Forbidden)
		res, err := gate(grpc).ListDevices(ctx, testkit.AsService(t, a.Mesh, "saga", &gatev1.ListDevicesRequest{}))
		if err != nil || len(res.Msg.GetDevices()) != 1 || res.Msg.GetDevices()[0].GetId() != dev.Msg.GetDevice().GetId() ||
			res.Msg.GetDevices()[0].GetOwnerId() != shop.Organizer {
			t.Fatalf("a service lists the devices (grpc %v): %v %v", grpc, res, err)
		}
	}
	if n := a.Count(t, `SELECT count(*) FROM gate_devices`); n != 1 {
		t.Errorf("%d devices, want the organizer's only", n)
	}
}

// TestASyncAtAnImpossibleTimeRecordsNothing: over gRPC and Connect, a synced
// scan whose scanned_at is no valid time (here far beyond PostgreSQL's
// range, which the JSON API cannot even send) refuses its batch
// (INVALID_ARGUMENT on scans[1].scanned_at) and records nothing, not even
// the batch's good scan of a valid ticket. It was a 500: PostgreSQL refused
// the time.
func TestASyncAtAnImpossibleTimeRecordsNothing(t *testing.T) {
	t.Parallel()
	a, shop, booking, gate := startGate(t, testkit.ShopOptions{Seats: 10, Users: 1})
	ctx := context.Background()
	tickets := purchase(t, a, booking, gate, shop.Users[0], a.Reserve(t, shop, shop.Users[0], 1))
	dev := door(t, a, gate, shop)
	for _, grpc := range []bool{false, true} {
		_, err := gate(grpc).SyncCheckIns(ctx, testkit.Bearer(dev.Msg.GetCredential(), &gatev1.SyncCheckInsRequest{Scans: []*gatev1.Scan{
			{Code: tickets[0].GetCode(), Gate: "G", ShowId: shop.Show},
			{Code: tickets[0].GetCode(), Gate: "G", ScannedAt: &timestamppb.Timestamp{Seconds: -1e12}},
		}}))
		testkit.WantCode(t, err, errs.Validation)
		if !strings.Contains(err.Error(), "scans[1].scanned_at") {
			t.Errorf("the refusal does not name the field: %v", err)
		}
	}
	if n := a.Count(t, `SELECT (SELECT count(*) FROM gate_scans) + (SELECT count(*) FROM gate_checkins)`); n != 0 {
		t.Errorf("%d scans and check-ins recorded by refused syncs", n)
	}
}

// TestAnOnlineScanItsDoorAlsoQueuedIsOneEntry: a door that stops waiting
// for an online answer decides alone and queues the scan, though the call
// may have reached the gate. Sent with the same scanned_at, the online call
// and the synced copy are one scan, whichever arrives first: one record,
// both answered VALID, and the ticket is not counted as let in twice. A call
// that does not say scanned_at (an older client) stays a scan of its own.
func TestAnOnlineScanItsDoorAlsoQueuedIsOneEntry(t *testing.T) {
	t.Parallel()
	a, shop, booking, gate := startGate(t, testkit.ShopOptions{Seats: 10, MaxPerUser: 10, Users: 1})
	ctx := context.Background()
	tickets := purchase(t, a, booking, gate, shop.Users[0], a.Reserve(t, shop, shop.Users[0], 5))
	cred := door(t, a, gate, shop).Msg.GetCredential()
	online := func(grpc bool, code string, at time.Time) *gatev1.CheckInResult {
		t.Helper()
		req := &gatev1.CheckInRequest{Code: code, Gate: "North", ShowId: shop.Show}
		if !at.IsZero() {
			req.ScannedAt = timestamppb.New(at)
		}
		res, err := gate(grpc).CheckIn(ctx, testkit.Bearer(cred, req))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetResult()
	}
	synced := func(grpc bool, code string, at time.Time) *gatev1.CheckInResult {
		t.Helper()
		res, err := gate(grpc).SyncCheckIns(ctx, testkit.Bearer(cred, &gatev1.SyncCheckInsRequest{Scans: []*gatev1.Scan{
			{Code: code, Gate: "North", ShowId: shop.Show, ScannedAt: timestamppb.New(at), Door: gatev1.DoorVerdict_DOOR_VERDICT_ADMITTED}}}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetResults()[0]
	}
	valid := func(what string, r *gatev1.CheckInResult) {
		t.Helper()
		if r.GetOutcome() != gatev1.CheckInOutcome_CHECK_IN_OUTCOME_VALID {
			t.Fatalf("%s: %v, want VALID", what, r)
		}
	}
	at := time.Now().Add(-5 * time.Second).Truncate(time.Millisecond)
	for i, grpc := range []bool{false, true} {
		// The online call arrives first, then its copy.
		code := tickets[2*i].GetCode()
		valid("online", online(grpc, code, at))
		valid("the same online call again", online(!grpc, code, at))
		r := synced(grpc, code, at)
		valid("the synced copy of an online scan", r)
		if !r.GetFirstScan().GetScannedAt().AsTime().Equal(at) {
			t.Errorf("check-in at %v, want the device's time %v (the copy moves it there)", r.GetFirstScan().GetScannedAt().AsTime(), at)
		}
		// The copy arrives first (the call was slow), then the call.
		code = tickets[2*i+1].GetCode()
		valid("synced first", synced(!grpc, code, at))
		valid("the online call after its copy", online(grpc, code, at))
	}
	// An older client: the online call says no time, the copy is another scan.
	valid("online without scanned_at", online(false, tickets[4].GetCode(), time.Time{}))
	synced(true, tickets[4].GetCode(), at) // made before the call arrived: an earlier entry, it takes the check-in
	if n := a.Count(t, `SELECT count(*) FROM gate_scans`); n != 6 {
		t.Errorf("%d scans recorded, want 6 (one per ticket, two for the old client's)", n)
	}
	st, err := gate(false).GetShowCheckInStats(ctx, testkit.As(t, a.Mesh, shop.Organizer, authn.RoleOrganizer, &gatev1.GetShowCheckInStatsRequest{ShowId: shop.Show}))
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Msg; m.GetCheckedIn() != 5 || m.GetReused() != 1 {
		t.Fatalf("counts %v, want 5 checked in, 1 reused (the old client's ticket only)", m)
	}
}
