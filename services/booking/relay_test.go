package booking_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bookingrush/rush/services/booking"
)

// TestStreamEntryOfABatchDecodesAsOnePerHold: reserve.lua's one entry for a
// batch's new holds becomes, per hold, exactly the Kafka event that the
// previous layout's entry of that hold (one compact "reserved" entry each)
// became, with the hold's own traceparent; entries of the previous layout
// still decode (a stream written by an older booking process).
func TestStreamEntryOfABatchDecodesAsOnePerHold(t *testing.T) {
	const (
		ev, show, zone = "e0000000-0000-4000-8000-000000000001", "50000000-0000-4000-8000-000000000002", "20000000-0000-4000-8000-000000000003"
		tp             = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"
	)
	batch := map[string]any{"kind": "holds", "at": "1764770000000", "event": ev, "exp": "1764770600000",
		"holds": "b0000000-0000-4000-8000-00000000000a,u0000000-0000-4000-8000-00000000000a," + show + "," + zone + ",2,4990,key-aaaaaaaa,98,2,0,1," + tp + "\n" +
			"b0000000-0000-4000-8000-00000000000b,u0000000-0000-4000-8000-00000000000b," + show + "," + zone + ",1,4990,key-bbbbbbbb,97,3,0,2,"}
	old := []map[string]any{
		{"kind": "reserved", "at": "1764770000000", "id": "b0000000-0000-4000-8000-00000000000a", "user": "u0000000-0000-4000-8000-00000000000a",
			"event": ev, "show": show, "zone": zone, "qty": "2", "unit": "4990", "exp": "1764770600000", "idem": "key-aaaaaaaa",
			"zavailable": "98", "zheld": "2", "zsold": "0", "zver": "1", "tp": tp},
		{"kind": "reserved", "at": "1764770000000", "id": "b0000000-0000-4000-8000-00000000000b", "user": "u0000000-0000-4000-8000-00000000000b",
			"event": ev, "show": show, "zone": zone, "qty": "1", "unit": "4990", "exp": "1764770600000", "idem": "key-bbbbbbbb",
			"zavailable": "97", "zheld": "3", "zsold": "0", "zver": "2", "tp": ""},
	}
	got, tps, err := booking.DecodeEntry(batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(old) {
		t.Fatalf("%d events from the batch's entry, want %d", len(got), len(old))
	}
	for i, o := range old {
		want, wantTP, err := booking.DecodeEntry(o)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got[i], want[0]) {
			t.Errorf("hold %d:\n got %v\nwant %v", i, got[i], want[0])
		}
		if tps[i] != wantTP[0] {
			t.Errorf("hold %d: traceparent %q, want %q", i, tps[i], wantTP[0])
		}
	}
	if b := got[0].GetBooking(); b.GetStatus().String() != "BOOKING_STATUS_RESERVED" || got[0].GetVersion() != 1 ||
		b.GetTotalAmount() != "99.80" || got[0].GetZone().GetTotal() != 100 || !b.GetCreatedAt().AsTime().Equal(b.GetUpdatedAt().AsTime()) {
		t.Errorf("a new hold's implied fields: %v", got[0])
	}
	// A malformed line costs its own hold, not the batch's others.
	bad := map[string]any{"kind": "holds", "at": batch["at"], "event": ev, "exp": batch["exp"],
		"holds": "a,b,c\n" + strings.SplitN(batch["holds"].(string), "\n", 2)[1]}
	if got, _, err := booking.DecodeEntry(bad); err == nil || len(got) != 1 || got[0].GetBooking().GetIdempotencyKey() != "key-bbbbbbbb" {
		t.Errorf("a holds entry with a malformed line: %d events, error %v", len(got), err)
	}
}
