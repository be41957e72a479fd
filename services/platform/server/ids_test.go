package server

import (
	"strings"
	"testing"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	gatev1 "github.com/bookingrush/rush/gen/bookingrush/gate/v1"
)

// TestCanonicalIDs: the UUID fields of a request (by the contract's
// string.uuid rules: singular, repeated, in nested messages) are written in
// lower case, and so is a UUID given for a slug; other strings keep their
// case.
func TestCanonicalIDs(t *testing.T) {
	const id = "7C9E6679-7425-40DE-944B-E07FC1F90AE7"
	lower := strings.ToLower(id)

	c := &catalogv1.CancelEventRequest{EventId: id, Reason: "Storm ABC"}
	canonical(c.ProtoReflect())
	if c.GetEventId() != lower || c.GetReason() != "Storm ABC" {
		t.Fatalf("cancel: %v", c)
	}
	d := &bookingv1.DropZonesRequest{EventId: id, ZoneIds: []string{id, lower}}
	canonical(d.ProtoReflect())
	if d.GetEventId() != lower || d.GetZoneIds()[0] != lower || d.GetZoneIds()[1] != lower {
		t.Fatalf("drop zones: %v", d)
	}
	s := &gatev1.SyncCheckInsRequest{Scans: []*gatev1.Scan{{Code: "BRT1:ABCDEF", ShowId: id}}}
	canonical(s.ProtoReflect())
	if s.GetScans()[0].GetShowId() != lower || s.GetScans()[0].GetCode() != "BRT1:ABCDEF" {
		t.Fatalf("sync: %v", s)
	}
	// A slug field takes an event's id too: an id there is lower-cased,
	// anything else kept.
	for in, want := range map[string]string{id: lower, "Not-A-UUID": "Not-A-UUID", strings.ToUpper("abcdef-" + lower[7:]): strings.ToUpper("abcdef-" + lower[7:])} {
		g := &catalogv1.GetEventRequest{Slug: in}
		canonical(g.ProtoReflect())
		if g.GetSlug() != want {
			t.Fatalf("get event %q: %q, want %q", in, g.GetSlug(), want)
		}
	}
	r := &bookingv1.ReserveRequest{}
	canonical(r.ProtoReflect()) // nothing set: nothing to do
	if r.GetShowId() != "" {
		t.Fatalf("reserve: %v", r)
	}
}
