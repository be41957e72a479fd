package gate_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	gatev1 "github.com/bookingrush/rush/gen/bookingrush/gate/v1"
	"github.com/bookingrush/rush/gen/bookingrush/gate/v1/gatev1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

// TestConcurrentScansAdmitOnce: two devices scan the same ticket 40 times
// at once, over gRPC and Connect: exactly one scan is valid and every other
// names it as the first; then offline scans synced at once from both
// devices, with their own scan times, end with the earliest as the
// check-in. A purchase refunded afterwards is revoked.
func TestConcurrentScansAdmitOnce(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Migrated(t)
	redisURL := testkit.Config(t, dsn).Redis.URL.Reveal()
	a := testkit.StartApp(t, testkit.Config(t, dsn, "-postgres.migrate-on-start=false", "-target=booking,relay,catalog,gate",
		"-booking.key-prefix="+testkit.KeyPrefix(t, redisURL), "-catalog.cache-prefix="+testkit.KeyPrefix(t, redisURL)))
	shop := a.SeedShop(t, testkit.ShopOptions{Seats: 10, Users: 1})
	buyer := shop.Users[0]
	ctx := context.Background()
	booking := bookingv1connect.NewBookingServiceClient(server.NewClient(), a.URL(t, "booking"))
	gate := func(grpc bool) gatev1connect.GateServiceClient {
		var opts []connect.ClientOption
		if grpc {
			opts = append(opts, connect.WithGRPC())
		}
		return gatev1connect.NewGateServiceClient(server.NewClient(), a.URL(t, "gate"), opts...)
	}

	b := a.Reserve(t, shop, buyer, 2)
	if _, err := booking.ConfirmBooking(ctx, testkit.As(t, a.Mesh, "saga", authn.RoleService, &bookingv1.ConfirmBookingRequest{BookingId: b.GetId()})); err != nil {
		t.Fatal(err)
	}
	var tickets []*gatev1.Ticket
	testkit.Eventually(t, 20*time.Second, "the tickets", func() bool {
		res, err := gate(false).ListBookingTickets(ctx, testkit.As(t, a.Mesh, buyer, authn.RoleUser, &gatev1.ListBookingTicketsRequest{BookingId: b.GetId()}))
		if err == nil {
			tickets = res.Msg.GetTickets()
		}
		return len(tickets) == 2
	})
	devices := make([]string, 2)
	for i := range devices {
		res, err := gate(true).CreateDevice(ctx, testkit.As(t, a.Mesh, shop.Organizer, authn.RoleOrganizer,
			&gatev1.CreateDeviceRequest{Name: "gate", EventIds: []string{shop.Event}}))
		if err != nil {
			t.Fatal(err)
		}
		devices[i] = res.Msg.GetCredential()
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
