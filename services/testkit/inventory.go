package testkit

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	"github.com/bookingrush/rush/services/platform/authn"
)

// Inventory reads the snapshot of an event that the catalog sends the
// booking service (BookingService.LoadInventory): its sale settings and
// every zone of its shows, from the catalog's tables, for tests that seed
// those tables directly instead of going through the catalog.
func Inventory(ctx context.Context, db *sql.DB, eventID string) (*bookingv1.LoadInventoryRequest, error) {
	req := &bookingv1.LoadInventoryRequest{EventId: eventID, Sale: &bookingv1.EventSale{}}
	var start, end sql.Null[time.Time]
	err := db.QueryRowContext(ctx, `SELECT status, sale_start_at, sale_end_at, max_per_user, queue_enabled
		FROM events WHERE id = $1`, eventID).
		Scan(&req.Sale.Status, &start, &end, &req.Sale.MaxPerUser, &req.Sale.QueueEnabled)
	if err != nil {
		return nil, err
	}
	if start.Valid {
		req.Sale.SaleStartAt = timestamppb.New(start.V)
	}
	if end.Valid {
		req.Sale.SaleEndAt = timestamppb.New(end.V)
	}
	rows, err := db.QueryContext(ctx, `SELECT z.id::text, z.show_id::text, (z.price * 100)::bigint, z.total_seats, sh.show_date
		FROM seat_zones z JOIN shows sh ON sh.id = z.show_id WHERE sh.event_id = $1 ORDER BY z.id`, eventID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		z := new(bookingv1.InventoryZone)
		var starts time.Time
		if err := rows.Scan(&z.ZoneId, &z.ShowId, &z.PriceCents, &z.TotalSeats, &starts); err != nil {
			return nil, err
		}
		z.ShowDate = timestamppb.New(starts)
		req.Zones = append(req.Zones, z)
	}
	return req, rows.Err()
}

// LoadInventory sends the booking service the event's snapshot as the
// catalog does on publish and after a change of its sale settings (with a
// service token of keys, as the catalog), and fails the test when it is
// refused.
func LoadInventory(t testing.TB, db *sql.DB, c bookingv1connect.BookingServiceClient, keys *authn.Keys, eventID string) {
	t.Helper()
	token, _, err := keys.IssueService("catalog", time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := Inventory(context.Background(), db, eventID)
	if err != nil {
		t.Fatalf("testkit: the event's snapshot: %v", err)
	}
	req := connect.NewRequest(snap)
	req.Header().Set("Authorization", "Bearer "+token)
	if _, err := c.LoadInventory(context.Background(), req); err != nil {
		t.Fatalf("testkit: load inventory: %v", err)
	}
}
