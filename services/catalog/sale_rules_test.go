package catalog_test

import (
	"context"
	"testing"

	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/testkit"
)

// TestSaleRulesPutBackReachBooking: a change of a published event's sale
// rules whose load the booking engine made but answered too late is put
// back in Postgres (the answer is 503), and the booking engine is told:
// both end with the rules as they were, not Postgres with the old ones and
// the engine enforcing the new.
func TestSaleRulesPutBackReachBooking(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.client(nil)
	ev, _, _ := e.readyEvent(t, c, e.org1, "Late rules")
	must[catalogv1.PublishEventResponse](t)(c.PublishEvent(ctx, testkit.Bearer(e.org1, &catalogv1.PublishEventRequest{EventId: ev.GetId()})))
	e.fake.set(func(f *fakeBooking) { f.late[ev.GetId()] = true })
	_, err := c.UpdateEvent(ctx, testkit.Bearer(e.org1, &catalogv1.UpdateEventRequest{EventId: ev.GetId(), MaxPerUser: ptr[int32](1), QueueEnabled: ptr(true)}))
	testkit.WantCode(t, err, errs.ServiceUnavailable)
	e.fake.set(func(f *fakeBooking) { f.late[ev.GetId()] = false })
	got := must[catalogv1.GetEventResponse](t)(c.GetEvent(ctx, testkit.Bearer("", &catalogv1.GetEventRequest{Slug: ev.GetSlug()}))).GetEvent()
	var limit int32
	var queue bool
	e.fake.set(func(f *fakeBooking) {
		limit, queue = f.snapshots[ev.GetId()].GetSale().GetMaxPerUser(), f.snapshots[ev.GetId()].GetSale().GetQueueEnabled()
	})
	if got.GetMaxPerUser() != ev.GetMaxPerUser() || got.GetQueueEnabled() != ev.GetQueueEnabled() {
		t.Fatalf("the catalog after the failed change: max_per_user %d queue %v, want %d %v",
			got.GetMaxPerUser(), got.GetQueueEnabled(), ev.GetMaxPerUser(), ev.GetQueueEnabled())
	}
	if limit != got.GetMaxPerUser() || queue != got.GetQueueEnabled() {
		t.Fatalf("the booking engine last loaded max_per_user %d queue %v; the catalog says %d %v",
			limit, queue, got.GetMaxPerUser(), got.GetQueueEnabled())
	}
}
