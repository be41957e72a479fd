package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/gen/bookingrush/catalog/v1/catalogv1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/showtime"
	"github.com/bookingrush/rush/services/testkit"
)

func ptr[T any](v T) *T { return &v }

func TestEventLifeCycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for proto, opts := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			c := e.client(opts)
			title := "Rush Night " + proto

			t.Run("who may create", func(t *testing.T) {
				_, err := c.CreateEvent(ctx, testkit.Bearer("", newEventReq(title)))
				testkit.WantCode(t, err, errs.Unauthorized)
				_, err = c.CreateEvent(ctx, testkit.Bearer(e.user, newEventReq(title)))
				testkit.WantCode(t, err, errs.Forbidden)
			})

			t.Run("bad dates", func(t *testing.T) {
				req := newEventReq(title)
				req.SaleEndAt = timestamppb.New(req.GetSaleStartAt().AsTime().Add(-time.Minute))
				_, err := c.CreateEvent(ctx, testkit.Bearer(e.org1, req))
				testkit.WantCode(t, err, errs.Validation)
				req = newEventReq(title)
				req.SaleStartAt, req.SaleEndAt = timestamppb.New(time.Now().Add(-48*time.Hour)), timestamppb.New(time.Now().Add(-24*time.Hour))
				_, err = c.CreateEvent(ctx, testkit.Bearer(e.org1, req))
				testkit.WantCode(t, err, errs.Validation)
			})

			ev := must[catalogv1.CreateEventResponse](t)(c.CreateEvent(ctx, testkit.Bearer(e.org1, newEventReq(title)))).GetEvent()
			if ev.GetStatus() != catalogv1.EventStatus_EVENT_STATUS_DRAFT || ev.GetOrganizerId() != e.org1ID || ev.GetMaxPerUser() != 4 {
				t.Fatalf("created %v", ev)
			}
			if want := "rush-night-" + proto; ev.GetSlug() != want {
				t.Fatalf("slug %q, want %q", ev.GetSlug(), want)
			}
			twin := must[catalogv1.CreateEventResponse](t)(c.CreateEvent(ctx, testkit.Bearer(e.org1, newEventReq(title)))).GetEvent()
			if twin.GetSlug() == ev.GetSlug() || !strings.HasPrefix(twin.GetSlug(), ev.GetSlug()+"-") {
				t.Fatalf("second slug %q next to %q", twin.GetSlug(), ev.GetSlug())
			}

			t.Run("a slug is never another event's id", func(t *testing.T) {
				// An event is found by slug or id: a draft named after a
				// live event's id would take that event's URL and every
				// lookup by its id (updates, cancel, the gate).
				req := newEventReq("Squatter " + proto)
				req.Slug = ev.GetId()
				_, err := c.CreateEvent(ctx, testkit.Bearer(e.org2, req))
				testkit.WantCode(t, err, errs.Validation)
				if f := fmt.Sprint(errs.FromConnect(err).Details["fields"]); !strings.Contains(f, "field:slug") || !strings.Contains(f, "rule:slug.not_an_id") {
					t.Fatalf("refusal names %s", f)
				}
				named := must[catalogv1.CreateEventResponse](t)(c.CreateEvent(ctx, testkit.Bearer(e.org2, newEventReq(ev.GetId())))).GetEvent()
				if named.GetSlug() == ev.GetId() || !strings.HasPrefix(named.GetSlug(), ev.GetId()+"-") {
					t.Fatalf("a title that is an id got slug %q", named.GetSlug())
				}
				got := must[catalogv1.GetEventResponse](t)(c.GetEvent(ctx, testkit.Bearer(e.org1, &catalogv1.GetEventRequest{Slug: ev.GetId()}))).GetEvent()
				if got.GetId() != ev.GetId() {
					t.Fatalf("the id %s reads event %s", ev.GetId(), got.GetId())
				}
				must[catalogv1.DeleteEventResponse](t)(c.DeleteEvent(ctx, testkit.Bearer(e.org2, &catalogv1.DeleteEventRequest{EventId: named.GetId()})))
			})

			t.Run("drafts are private", func(t *testing.T) {
				for _, token := range []string{"", e.user, e.org2} {
					_, err := c.GetEvent(ctx, testkit.Bearer(token, &catalogv1.GetEventRequest{Slug: ev.GetSlug()}))
					testkit.WantCode(t, err, errs.NotFound)
				}
				for _, token := range []string{e.org1, e.admin} {
					got := must[catalogv1.GetEventResponse](t)(c.GetEvent(ctx, testkit.Bearer(token, &catalogv1.GetEventRequest{Slug: ev.GetSlug()})))
					if got.GetEvent().GetId() != ev.GetId() {
						t.Fatalf("got %v", got)
					}
				}
				// Another organizer cannot even tell the draft exists.
				_, err := c.UpdateEvent(ctx, testkit.Bearer(e.org2, &catalogv1.UpdateEventRequest{EventId: ev.GetId(), Title: ptr("mine now")}))
				testkit.WantCode(t, err, errs.NotFound)
				_, err = c.DeleteEvent(ctx, testkit.Bearer(e.org2, &catalogv1.DeleteEventRequest{EventId: ev.GetId()}))
				testkit.WantCode(t, err, errs.NotFound)
			})

			t.Run("update by owner", func(t *testing.T) {
				got := must[catalogv1.UpdateEventResponse](t)(c.UpdateEvent(ctx, testkit.Bearer(e.org1, &catalogv1.UpdateEventRequest{
					EventId: ev.GetId(), Title: ptr(title + " (late show)"), Category: ptr("concert"), MaxPerUser: ptr[int32](2),
				}))).GetEvent()
				if got.GetTitle() != title+" (late show)" || got.GetCategory() != "concert" || got.GetMaxPerUser() != 2 || got.GetSlug() != ev.GetSlug() || got.GetVenue() != "Arena" {
					t.Fatalf("updated %v", got)
				}
				// An end before the stored start: refused, nothing changes.
				_, err := c.UpdateEvent(ctx, testkit.Bearer(e.org1, &catalogv1.UpdateEventRequest{
					EventId: ev.GetId(), Title: ptr("never"), SaleEndAt: timestamppb.New(ev.GetSaleStartAt().AsTime().Add(-time.Minute)),
				}))
				testkit.WantCode(t, err, errs.Validation)
				_, err = c.UpdateEvent(ctx, testkit.Bearer(e.org1, &catalogv1.UpdateEventRequest{EventId: ev.GetId(), Category: ptr("polka")}))
				testkit.WantCode(t, err, errs.Validation)
				again := must[catalogv1.GetEventResponse](t)(c.GetEvent(ctx, testkit.Bearer(e.org1, &catalogv1.GetEventRequest{Slug: ev.GetSlug()}))).GetEvent()
				if again.GetTitle() != title+" (late show)" || !again.GetSaleEndAt().AsTime().Equal(ev.GetSaleEndAt().AsTime()) {
					t.Fatalf("a refused update changed the event: %v", again)
				}
			})

			t.Run("publish needs shows and zones", func(t *testing.T) {
				_, err := c.PublishEvent(ctx, testkit.Bearer(e.org1, &catalogv1.PublishEventRequest{EventId: ev.GetId()}))
				testkit.WantCode(t, err, errs.Conflict)
				if n := e.fake.loadsOf(ev.GetId()); n != 0 {
					t.Fatalf("inventory loaded %d times for an event that cannot be published", n)
				}
			})

			sh := must[catalogv1.CreateShowResponse](t)(c.CreateShow(ctx, testkit.Bearer(e.org1, &catalogv1.CreateShowRequest{
				EventId: ev.GetId(), ShowDate: timestamppb.New(time.Now().Add(30 * 24 * time.Hour)),
			}))).GetShow()
			_, err := c.PublishEvent(ctx, testkit.Bearer(e.org1, &catalogv1.PublishEventRequest{EventId: ev.GetId()}))
			testkit.WantCode(t, err, errs.Conflict) // a show without a zone
			// Said in words the organizer's page shows as they are (not "1 show(s) have").
			if m, _ := errs.FromConnect(err).Details["missing"].([]any); len(m) != 1 || m[0] != "1 show has no seat zone" {
				t.Fatalf("publish with a show without zones: missing %v", errs.FromConnect(err).Details["missing"])
			}

			t.Run("zones", func(t *testing.T) {
				_, err := c.CreateZone(ctx, testkit.Bearer(e.org2, &catalogv1.CreateZoneRequest{ShowId: sh.GetId(), Name: "VIP", Price: "10", TotalSeats: 5}))
				testkit.WantCode(t, err, errs.NotFound)
				z := must[catalogv1.CreateZoneResponse](t)(c.CreateZone(ctx, testkit.Bearer(e.org1, &catalogv1.CreateZoneRequest{ShowId: sh.GetId(), Name: "VIP", Price: "99.5", TotalSeats: 10}))).GetZone()
				if z.GetPrice() != "99.50" || z.GetCurrency() != "USD" || z.GetAvailableSeats() != 10 || z.GetTotalSeats() != 10 {
					t.Fatalf("zone %v", z)
				}
				_, err = c.CreateZone(ctx, testkit.Bearer(e.org1, &catalogv1.CreateZoneRequest{ShowId: sh.GetId(), Name: "VIP", Price: "10", TotalSeats: 5}))
				testkit.WantCode(t, err, errs.Conflict)
				must[catalogv1.CreateZoneResponse](t)(c.CreateZone(ctx, testkit.Bearer(e.org1, &catalogv1.CreateZoneRequest{ShowId: sh.GetId(), Name: "Floor", Price: "25.00", TotalSeats: 90})))

				// A zone and a show added by mistake go again, for the
				// organizer only; the show's counters follow (trigger).
				typo := must[catalogv1.CreateZoneResponse](t)(c.CreateZone(ctx, testkit.Bearer(e.org1, &catalogv1.CreateZoneRequest{ShowId: sh.GetId(), Name: "Flor", Price: "2.50", TotalSeats: 9000}))).GetZone()
				_, err = c.DeleteZone(ctx, testkit.Bearer(e.org2, &catalogv1.DeleteZoneRequest{ZoneId: typo.GetId()}))
				testkit.WantCode(t, err, errs.NotFound)
				_, err = c.DeleteZone(ctx, testkit.Bearer(e.user, &catalogv1.DeleteZoneRequest{ZoneId: typo.GetId()}))
				testkit.WantCode(t, err, errs.Forbidden)
				must[catalogv1.DeleteZoneResponse](t)(c.DeleteZone(ctx, testkit.Bearer(e.org1, &catalogv1.DeleteZoneRequest{ZoneId: typo.GetId()})))
				_, err = c.DeleteZone(ctx, testkit.Bearer(e.org1, &catalogv1.DeleteZoneRequest{ZoneId: typo.GetId()}))
				testkit.WantCode(t, err, errs.NotFound)
				// A show's end, when given, is after its start and within 30 days.
				at := time.Now().Add(31 * 24 * time.Hour).Truncate(time.Second)
				for _, end := range []time.Time{at, at.Add(-time.Hour), at.Add(30*24*time.Hour + time.Second), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)} {
					_, err = c.CreateShow(ctx, testkit.Bearer(e.org1, &catalogv1.CreateShowRequest{EventId: ev.GetId(), ShowDate: timestamppb.New(at), EndsAt: timestamppb.New(end)}))
					testkit.WantCode(t, err, errs.Validation)
				}
				extra := must[catalogv1.CreateShowResponse](t)(c.CreateShow(ctx, testkit.Bearer(e.org1, &catalogv1.CreateShowRequest{
					EventId: ev.GetId(), ShowDate: timestamppb.New(at), EndsAt: timestamppb.New(at.Add(3 * time.Hour)),
				}))).GetShow()
				if !extra.GetEndsAt().AsTime().Equal(at.Add(3 * time.Hour)) {
					t.Fatalf("show's end %v, want %v", extra.GetEndsAt().AsTime(), at.Add(3*time.Hour))
				}
				must[catalogv1.CreateZoneResponse](t)(c.CreateZone(ctx, testkit.Bearer(e.org1, &catalogv1.CreateZoneRequest{ShowId: extra.GetId(), Name: "Floor", Price: "25.00", TotalSeats: 90})))
				_, err = c.DeleteShow(ctx, testkit.Bearer(e.org2, &catalogv1.DeleteShowRequest{ShowId: extra.GetId()}))
				testkit.WantCode(t, err, errs.NotFound)
				must[catalogv1.DeleteShowResponse](t)(c.DeleteShow(ctx, testkit.Bearer(e.admin, &catalogv1.DeleteShowRequest{ShowId: extra.GetId()})))
				_, err = c.ListZones(ctx, testkit.Bearer(e.org1, &catalogv1.ListZonesRequest{ShowId: extra.GetId()}))
				testkit.WantCode(t, err, errs.NotFound)

				shows := must[catalogv1.ListShowsResponse](t)(c.ListShows(ctx, testkit.Bearer(e.org1, &catalogv1.ListShowsRequest{Slug: ev.GetSlug()})))
				if len(shows.GetShows()) != 1 || shows.GetShows()[0].GetTotalSeats() != 100 || shows.GetShows()[0].GetAvailableSeats() != 100 || shows.GetShows()[0].GetEndsAt() != nil {
					t.Fatalf("show counters (trigger) %v", shows)
				}
			})

			pub := must[catalogv1.PublishEventResponse](t)(c.PublishEvent(ctx, testkit.Bearer(e.org1, &catalogv1.PublishEventRequest{EventId: ev.GetId()}))).GetEvent()
			if pub.GetStatus() != catalogv1.EventStatus_EVENT_STATUS_PUBLISHED || pub.GetPublishedAt() == nil {
				t.Fatalf("published %v", pub)
			}
			if n := e.fake.loadsOf(ev.GetId()); n != 1 {
				t.Fatalf("LoadInventory called %d times, want once", n)
			}
			e.fake.set(func(f *fakeBooking) {
				for _, r := range f.roles {
					if r != authn.RoleService {
						t.Errorf("the booking engine was called as %q, want the catalog's service token", r)
					}
				}
			})
			_, err = c.PublishEvent(ctx, testkit.Bearer(e.org1, &catalogv1.PublishEventRequest{EventId: ev.GetId()}))
			testkit.WantCode(t, err, errs.Conflict)

			t.Run("published is public; its shows and zones are only added", func(t *testing.T) {
				got := must[catalogv1.GetEventResponse](t)(c.GetEvent(ctx, testkit.Bearer("", &catalogv1.GetEventRequest{Slug: ev.GetSlug()}))).GetEvent()
				if got.GetStatus() != catalogv1.EventStatus_EVENT_STATUS_PUBLISHED {
					t.Fatalf("anonymous sees %v", got)
				}
				_, err := c.UpdateEvent(ctx, testkit.Bearer(e.org2, &catalogv1.UpdateEventRequest{EventId: ev.GetId(), Title: ptr("mine now")}))
				testkit.WantCode(t, err, errs.Forbidden)
				_, err = c.UpdateEvent(ctx, testkit.Bearer(e.user, &catalogv1.UpdateEventRequest{EventId: ev.GetId(), Title: ptr("mine now")}))
				testkit.WantCode(t, err, errs.Forbidden)
				_, err = c.CancelEvent(ctx, testkit.Bearer(e.org2, &catalogv1.CancelEventRequest{EventId: ev.GetId()}))
				testkit.WantCode(t, err, errs.Forbidden)
				_, err = c.DeleteEvent(ctx, testkit.Bearer(e.org1, &catalogv1.DeleteEventRequest{EventId: ev.GetId()}))
				testkit.WantCode(t, err, errs.Conflict)
				// A zone reserved from stays (the booking engine says so), and
				// so does its show.
				zones := must[catalogv1.ListZonesResponse](t)(c.ListZones(ctx, testkit.Bearer(e.org1, &catalogv1.ListZonesRequest{ShowId: sh.GetId()}))).GetZones()
				e.fake.set(func(f *fakeBooking) { f.reserved[zones[0].GetId()] = true })
				_, err = c.DeleteShow(ctx, testkit.Bearer(e.org1, &catalogv1.DeleteShowRequest{ShowId: sh.GetId()}))
				testkit.WantCode(t, err, errs.Conflict)
				_, err = c.DeleteZone(ctx, testkit.Bearer(e.org1, &catalogv1.DeleteZoneRequest{ZoneId: zones[0].GetId()}))
				testkit.WantCode(t, err, errs.Conflict)
				if n := len(must[catalogv1.ListZonesResponse](t)(c.ListZones(ctx, testkit.Bearer(e.org1, &catalogv1.ListZonesRequest{ShowId: sh.GetId()}))).GetZones()); n != len(zones) {
					t.Fatalf("%d zones after refused deletions, want %d", n, len(zones))
				}
				// A cosmetic change of a published event needs no reload.
				got = must[catalogv1.UpdateEventResponse](t)(c.UpdateEvent(ctx, testkit.Bearer(e.admin, &catalogv1.UpdateEventRequest{EventId: ev.GetId(), Venue: ptr("Stadium")}))).GetEvent()
				if got.GetVenue() != "Stadium" || e.fake.loadsOf(ev.GetId()) != 1 {
					t.Fatalf("admin update: %v, loads %d", got, e.fake.loadsOf(ev.GetId()))
				}
				// A sale rule change does.
				must[catalogv1.UpdateEventResponse](t)(c.UpdateEvent(ctx, testkit.Bearer(e.org1, &catalogv1.UpdateEventRequest{EventId: ev.GetId(), MaxPerUser: ptr[int32](6)})))
				if n := e.fake.loadsOf(ev.GetId()); n != 2 {
					t.Fatalf("loads after a sale rule change: %d, want 2", n)
				}

				// Released seats and an extra date go on sale at once: the
				// booking engine loads them before the answer.
				must[catalogv1.CreateZoneResponse](t)(c.CreateZone(ctx, testkit.Bearer(e.org1, &catalogv1.CreateZoneRequest{ShowId: sh.GetId(), Name: "Balcony", Price: "10", TotalSeats: 5})))
				if n := e.fake.loadsOf(ev.GetId()); n != 3 {
					t.Fatalf("loads after a zone added on sale: %d, want 3", n)
				}
				// When the engine cannot load them, they are taken back.
				e.fake.set(func(f *fakeBooking) { f.fail[ev.GetId()] = true })
				_, err = c.CreateShow(ctx, testkit.Bearer(e.org1, &catalogv1.CreateShowRequest{EventId: ev.GetId(), ShowDate: timestamppb.New(time.Now().Add(40 * 24 * time.Hour))}))
				testkit.WantCode(t, err, errs.ServiceUnavailable)
				_, err = c.CreateZone(ctx, testkit.Bearer(e.org1, &catalogv1.CreateZoneRequest{ShowId: sh.GetId(), Name: "Gallery", Price: "10", TotalSeats: 5}))
				testkit.WantCode(t, err, errs.ServiceUnavailable)
				e.fake.set(func(f *fakeBooking) { f.fail[ev.GetId()] = false })
				shows := must[catalogv1.ListShowsResponse](t)(c.ListShows(ctx, testkit.Bearer("", &catalogv1.ListShowsRequest{Slug: ev.GetSlug()}))).GetShows()
				zones = must[catalogv1.ListZonesResponse](t)(c.ListZones(ctx, testkit.Bearer("", &catalogv1.ListZonesRequest{ShowId: sh.GetId()}))).GetZones()
				if len(shows) != 1 || len(zones) != 3 || shows[0].GetTotalSeats() != 105 {
					t.Fatalf("after a failed load: %d shows, %d zones (%v)", len(shows), len(zones), shows)
				}
				extra := must[catalogv1.CreateShowResponse](t)(c.CreateShow(ctx, testkit.Bearer(e.org1, &catalogv1.CreateShowRequest{EventId: ev.GetId(), ShowDate: timestamppb.New(time.Now().Add(40 * 24 * time.Hour))}))).GetShow()
				floor := must[catalogv1.CreateZoneResponse](t)(c.CreateZone(ctx, testkit.Bearer(e.org1, &catalogv1.CreateZoneRequest{ShowId: extra.GetId(), Name: "Floor", Price: "10", TotalSeats: 5}))).GetZone()
				if n := e.fake.loadsOf(ev.GetId()); n != 7 {
					t.Fatalf("loads after an extra date: %d, want 7", n)
				}
				// ... and leave again, while nobody reserved from them, once
				// the booking engine took them off the sale.
				must[catalogv1.DeleteShowResponse](t)(c.DeleteShow(ctx, testkit.Bearer(e.org1, &catalogv1.DeleteShowRequest{ShowId: extra.GetId()})))
				e.fake.set(func(f *fakeBooking) {
					if !slices.Contains(f.dropped, floor.GetId()) {
						t.Errorf("the booking engine was not asked to drop the show's zone: %v", f.dropped)
					}
				})
				if n := len(must[catalogv1.ListShowsResponse](t)(c.ListShows(ctx, testkit.Bearer("", &catalogv1.ListShowsRequest{Slug: ev.GetSlug()}))).GetShows()); n != 1 {
					t.Fatalf("%d shows after deleting the extra date, want 1", n)
				}

				// A load that failed late (booking loaded the zone, the catalog
				// had stopped waiting): the zone leaves booking's sale too, while
				// nobody reserved from it...
				var dropped int
				e.fake.set(func(f *fakeBooking) { f.late[ev.GetId()] = true; dropped = f.droppedOf[ev.GetId()] })
				_, err = c.CreateZone(ctx, testkit.Bearer(e.org1, &catalogv1.CreateZoneRequest{ShowId: sh.GetId(), Name: "Gallery", Price: "10", TotalSeats: 5}))
				testkit.WantCode(t, err, errs.ServiceUnavailable)
				e.fake.set(func(f *fakeBooking) {
					if f.droppedOf[ev.GetId()] != dropped+1 {
						t.Errorf("the booking engine was not asked to drop the zone it loaded late: %v", f.dropped)
					}
				})
				if n := len(must[catalogv1.ListZonesResponse](t)(c.ListZones(ctx, testkit.Bearer("", &catalogv1.ListZonesRequest{ShowId: sh.GetId()}))).GetZones()); n != 3 {
					t.Fatalf("%d zones after a late load taken back, want 3", n)
				}
				// ... and stays, listed and on sale, once somebody reserved.
				e.fake.set(func(f *fakeBooking) { f.reservedIn[ev.GetId()] = true })
				gallery := must[catalogv1.CreateZoneResponse](t)(c.CreateZone(ctx, testkit.Bearer(e.org1, &catalogv1.CreateZoneRequest{ShowId: sh.GetId(), Name: "Gallery", Price: "10", TotalSeats: 5}))).GetZone()
				e.fake.set(func(f *fakeBooking) { f.late[ev.GetId()], f.reservedIn[ev.GetId()] = false, false })
				zones = must[catalogv1.ListZonesResponse](t)(c.ListZones(ctx, testkit.Bearer("", &catalogv1.ListZonesRequest{ShowId: sh.GetId()}))).GetZones()
				if len(zones) != 4 || !slices.ContainsFunc(zones, func(z *catalogv1.Zone) bool { return z.GetId() == gallery.GetId() }) {
					t.Fatalf("zones after a late load somebody reserved from: %v", zones)
				}
			})

			t.Run("cancel", func(t *testing.T) {
				got := must[catalogv1.CancelEventResponse](t)(c.CancelEvent(ctx, testkit.Bearer(e.org1, &catalogv1.CancelEventRequest{EventId: ev.GetId(), Reason: "storm"}))).GetEvent()
				if got.GetStatus() != catalogv1.EventStatus_EVENT_STATUS_CANCELLED {
					t.Fatalf("cancelled %v", got)
				}
				if n := e.fake.loadsOf(ev.GetId()); n != 10 {
					t.Fatalf("loads after cancel: %d, want 10 (the booking engine must see the status)", n)
				}
				_, err := c.CreateShow(ctx, testkit.Bearer(e.org1, &catalogv1.CreateShowRequest{EventId: ev.GetId(), ShowDate: timestamppb.New(time.Now().Add(50 * 24 * time.Hour))}))
				testkit.WantCode(t, err, errs.Conflict)
				_, err = c.DeleteShow(ctx, testkit.Bearer(e.org1, &catalogv1.DeleteShowRequest{ShowId: sh.GetId()}))
				testkit.WantCode(t, err, errs.Conflict)
				shows := must[catalogv1.ListShowsResponse](t)(c.ListShows(ctx, testkit.Bearer("", &catalogv1.ListShowsRequest{Slug: ev.GetSlug()})))
				if shows.GetShows()[0].GetStatus() != catalogv1.ShowStatus_SHOW_STATUS_CANCELLED {
					t.Fatalf("shows of a cancelled event: %v", shows)
				}
				_, err = c.UpdateEvent(ctx, testkit.Bearer(e.org1, &catalogv1.UpdateEventRequest{EventId: ev.GetId(), Title: ptr("back")}))
				testkit.WantCode(t, err, errs.Conflict)
			})

			t.Run("delete a draft", func(t *testing.T) {
				_, err := c.DeleteEvent(ctx, testkit.Bearer(e.user, &catalogv1.DeleteEventRequest{EventId: twin.GetId()}))
				testkit.WantCode(t, err, errs.Forbidden)
				must[catalogv1.DeleteEventResponse](t)(c.DeleteEvent(ctx, testkit.Bearer(e.org1, &catalogv1.DeleteEventRequest{EventId: twin.GetId()})))
				_, err = c.GetEvent(ctx, testkit.Bearer(e.org1, &catalogv1.GetEventRequest{Slug: twin.GetSlug()}))
				testkit.WantCode(t, err, errs.NotFound)
				_, err = c.DeleteEvent(ctx, testkit.Bearer(e.org1, &catalogv1.DeleteEventRequest{EventId: twin.GetId()}))
				testkit.WantCode(t, err, errs.NotFound)
				var deleted bool
				if err := e.db.QueryRow(`SELECT deleted_at IS NOT NULL FROM events WHERE id = $1`, twin.GetId()).Scan(&deleted); err != nil || !deleted {
					t.Fatalf("soft delete: deleted=%v err=%v", deleted, err)
				}
			})

			t.Run("audit trail", func(t *testing.T) {
				// Every change, once, by its actor; refused calls left nothing.
				want := "event.create:" + e.org1ID + ",event.update:" + e.org1ID + ",event.publish:" + e.org1ID +
					",event.update:" + e.admID + ",event.update:" + e.org1ID + ",event.cancel:" + e.org1ID
				if got := e.audit(t, "event", ev.GetId()); got != want {
					t.Fatalf("audit entries of the event:\n got %s\nwant %s", got, want)
				}
				if got := e.audit(t, "event", twin.GetId()); got != "event.create:"+e.org1ID+",event.delete:"+e.org1ID {
					t.Fatalf("audit entries of the deleted draft: %s", got)
				}
				if got := e.audit(t, "show", sh.GetId()); got != "show.create:"+e.org1ID {
					t.Fatalf("audit entries of the show: %s", got)
				}
				var venue, oldVenue, status, reason string
				var changed int
				if err := e.db.QueryRow(`SELECT new_values->>'venue', old_values->>'venue', (SELECT count(*) FROM jsonb_object_keys(new_values))
					FROM audit_logs WHERE entity_id = $1 AND action = 'event.update' AND user_id = $2`, ev.GetId(), e.admID).Scan(&venue, &oldVenue, &changed); err != nil {
					t.Fatal(err)
				}
				if venue != "Stadium" || oldVenue != "Arena" || changed != 2 { // venue and updated_at
					t.Fatalf("admin update recorded %q -> %q, %d fields", oldVenue, venue, changed)
				}
				if err := e.db.QueryRow(`SELECT new_values->>'status', new_values->>'cancel_reason' FROM audit_logs WHERE entity_id = $1 AND action = 'event.cancel'`,
					ev.GetId()).Scan(&status, &reason); err != nil || status != "cancelled" || reason != "storm" {
					t.Fatalf("cancel recorded %q %q %v", status, reason, err)
				}
			})
		})
	}
}

// TestCancellationFinishesByItself: a cancel whose stop of the sales
// failed (503) is finished by the catalog's retry, without the organizer
// cancelling again.
func TestCancellationFinishesByItself(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "-catalog.cancel-retry=200ms")
	ctx := context.Background()
	c := e.client(nil)
	ev, _, _ := e.readyEvent(t, c, e.org1, "Stormy night")
	must[catalogv1.PublishEventResponse](t)(c.PublishEvent(ctx, testkit.Bearer(e.org1, &catalogv1.PublishEventRequest{EventId: ev.GetId()})))
	loads := e.fake.loadsOf(ev.GetId())
	e.fake.set(func(f *fakeBooking) { f.fail[ev.GetId()] = true })
	_, err := c.CancelEvent(ctx, testkit.Bearer(e.org1, &catalogv1.CancelEventRequest{EventId: ev.GetId(), Reason: "storm"}))
	testkit.WantCode(t, err, errs.ServiceUnavailable)
	settled := func() bool {
		var done bool
		if err := e.db.QueryRow(`SELECT cancel_settled_at IS NOT NULL FROM events WHERE id = $1`, ev.GetId()).Scan(&done); err != nil {
			t.Fatal(err)
		}
		return done
	}
	time.Sleep(time.Second)
	if settled() {
		t.Fatal("a cancellation the booking engine refused is recorded as finished")
	}
	e.fake.set(func(f *fakeBooking) { f.fail[ev.GetId()] = false })
	testkit.Eventually(t, 10*time.Second, "the cancellation finished by the retry", settled)
	if n := e.fake.loadsOf(ev.GetId()); n <= loads {
		t.Fatalf("the booking engine never loaded the cancelled event (%d loads)", n)
	}
	if st := e.fake.statusOf(ev.GetId()); st != "cancelled" {
		t.Fatalf("the booking engine last loaded the event as %q", st)
	}
}

func TestPublishRollsBackWhenTheBookingEngineFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for proto, opts := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			c := e.client(opts)
			ev, _, _ := e.readyEvent(t, c, e.org1, "Doomed "+proto)
			e.fake.set(func(f *fakeBooking) { f.fail[ev.GetId()] = true })

			_, err := c.PublishEvent(ctx, testkit.Bearer(e.org1, &catalogv1.PublishEventRequest{EventId: ev.GetId()}))
			testkit.WantCode(t, err, errs.ServiceUnavailable)
			got := must[catalogv1.GetEventResponse](t)(c.GetEvent(ctx, testkit.Bearer(e.org1, &catalogv1.GetEventRequest{Slug: ev.GetSlug()}))).GetEvent()
			if got.GetStatus() != catalogv1.EventStatus_EVENT_STATUS_DRAFT || got.GetPublishedAt() != nil {
				t.Fatalf("after a failed publish: %v", got)
			}
			_, err = c.GetEvent(ctx, testkit.Bearer("", &catalogv1.GetEventRequest{Slug: ev.GetSlug()}))
			testkit.WantCode(t, err, errs.NotFound)

			// The booking engine recovers: the retry publishes.
			e.fake.set(func(f *fakeBooking) { f.fail[ev.GetId()] = false })
			got = must[catalogv1.PublishEventResponse](t)(c.PublishEvent(ctx, testkit.Bearer(e.org1, &catalogv1.PublishEventRequest{EventId: ev.GetId()}))).GetEvent()
			if got.GetStatus() != catalogv1.EventStatus_EVENT_STATUS_PUBLISHED {
				t.Fatalf("retry: %v", got)
			}

			// A sale-rule change the engine cannot load is put back.
			e.fake.set(func(f *fakeBooking) { f.fail[ev.GetId()] = true })
			_, err = c.UpdateEvent(ctx, testkit.Bearer(e.org1, &catalogv1.UpdateEventRequest{EventId: ev.GetId(), MaxPerUser: ptr[int32](9), Title: ptr("Renamed")}))
			testkit.WantCode(t, err, errs.ServiceUnavailable)
			got = must[catalogv1.GetEventResponse](t)(c.GetEvent(ctx, testkit.Bearer("", &catalogv1.GetEventRequest{Slug: ev.GetSlug()}))).GetEvent()
			if got.GetMaxPerUser() != 4 {
				t.Fatalf("max_per_user %d after a failed reload, want the old 4", got.GetMaxPerUser())
			}

			// Cancelling stands, answers 503 until the engine hears of it.
			_, err = c.CancelEvent(ctx, testkit.Bearer(e.org1, &catalogv1.CancelEventRequest{EventId: ev.GetId()}))
			testkit.WantCode(t, err, errs.ServiceUnavailable)
			e.fake.set(func(f *fakeBooking) { f.fail[ev.GetId()] = false })
			got = must[catalogv1.CancelEventResponse](t)(c.CancelEvent(ctx, testkit.Bearer(e.org1, &catalogv1.CancelEventRequest{EventId: ev.GetId()}))).GetEvent()
			if got.GetStatus() != catalogv1.EventStatus_EVENT_STATUS_CANCELLED {
				t.Fatalf("cancel retry: %v", got)
			}

			// The trail shows what was undone, and the retried cancel once.
			o := ":" + e.org1ID
			want := "event.create" + o + ",event.publish" + o + ",event.publish_reverted" + o + ",event.publish" + o +
				",event.update" + o + ",event.update_reverted" + o + ",event.cancel" + o
			if got := e.audit(t, "event", ev.GetId()); got != want {
				t.Fatalf("audit entries:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestListEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.client(nil)
	grpc := e.client(protocols["grpc"])

	// Five published concerts, two published sports events, a draft of each
	// organizer, one cancelled event and one deleted draft.
	var published []string
	for i := range 7 {
		title, cat := fmt.Sprintf("Concert %d", i), "concert"
		if i >= 5 {
			title, cat = fmt.Sprintf("Match %d", i), "sports"
		}
		ev, _, _ := e.readyEvent(t, c, e.org1, title)
		must[catalogv1.UpdateEventResponse](t)(c.UpdateEvent(ctx, testkit.Bearer(e.org1, &catalogv1.UpdateEventRequest{EventId: ev.GetId(), Category: &cat})))
		must[catalogv1.PublishEventResponse](t)(c.PublishEvent(ctx, testkit.Bearer(e.org1, &catalogv1.PublishEventRequest{EventId: ev.GetId()})))
		published = append(published, title)
	}
	must[catalogv1.CreateEventResponse](t)(c.CreateEvent(ctx, testkit.Bearer(e.org1, newEventReq("Draft of one"))))
	must[catalogv1.CreateEventResponse](t)(c.CreateEvent(ctx, testkit.Bearer(e.org2, newEventReq("Draft of two"))))
	gone := must[catalogv1.CreateEventResponse](t)(c.CreateEvent(ctx, testkit.Bearer(e.org1, newEventReq("Deleted draft")))).GetEvent()
	must[catalogv1.DeleteEventResponse](t)(c.DeleteEvent(ctx, testkit.Bearer(e.org1, &catalogv1.DeleteEventRequest{EventId: gone.GetId()})))
	off, _, _ := e.readyEvent(t, c, e.org2, "Called off")
	must[catalogv1.PublishEventResponse](t)(c.PublishEvent(ctx, testkit.Bearer(e.org2, &catalogv1.PublishEventRequest{EventId: off.GetId()})))
	must[catalogv1.CancelEventResponse](t)(c.CancelEvent(ctx, testkit.Bearer(e.org2, &catalogv1.CancelEventRequest{EventId: off.GetId()})))

	list := func(token string, req *catalogv1.ListEventsRequest) *catalogv1.ListEventsResponse {
		t.Helper()
		a := must[catalogv1.ListEventsResponse](t)(c.ListEvents(ctx, testkit.Bearer(token, req)))
		b := must[catalogv1.ListEventsResponse](t)(grpc.ListEvents(ctx, testkit.Bearer(token, req)))
		if fmt.Sprint(titles(a.GetEvents()), a.GetMeta()) != fmt.Sprint(titles(b.GetEvents()), b.GetMeta()) {
			t.Fatalf("connect and grpc disagree: %v / %v", a, b)
		}
		return a
	}

	t.Run("anonymous sees published only", func(t *testing.T) {
		res := list("", &catalogv1.ListEventsRequest{})
		if got := titles(res.GetEvents()); fmt.Sprint(got) != fmt.Sprint(published) {
			t.Fatalf("titles %v, want %v", got, published)
		}
		if m := res.GetMeta(); m.GetPage() != 1 || m.GetPerPage() != 20 || m.GetTotal() != 7 {
			t.Fatalf("meta %v", m)
		}
		if res := list("", &catalogv1.ListEventsRequest{Status: catalogv1.EventStatus_EVENT_STATUS_DRAFT}); len(res.GetEvents()) != 0 {
			t.Fatalf("anonymous sees drafts: %v", titles(res.GetEvents()))
		}
		if res := list(e.user, &catalogv1.ListEventsRequest{Status: catalogv1.EventStatus_EVENT_STATUS_DRAFT}); len(res.GetEvents()) != 0 {
			t.Fatalf("a user sees drafts: %v", titles(res.GetEvents()))
		}
	})

	t.Run("pages", func(t *testing.T) {
		seen := map[string]bool{}
		for page, want := range map[int32]int{1: 3, 2: 3, 3: 1, 4: 0} {
			res := list("", &catalogv1.ListEventsRequest{Page: page, PerPage: 3})
			if len(res.GetEvents()) != want || res.GetMeta().GetTotal() != 7 || res.GetMeta().GetPage() != page || res.GetMeta().GetPerPage() != 3 {
				t.Fatalf("page %d: %d events, meta %v", page, len(res.GetEvents()), res.GetMeta())
			}
			for _, ev := range res.GetEvents() {
				if seen[ev.GetId()] {
					t.Fatalf("%s on two pages", ev.GetTitle())
				}
				seen[ev.GetId()] = true
			}
		}
	})

	t.Run("filters", func(t *testing.T) {
		res := list("", &catalogv1.ListEventsRequest{Category: "sports"})
		if fmt.Sprint(titles(res.GetEvents())) != "[Match 5 Match 6]" || res.GetMeta().GetTotal() != 2 {
			t.Fatalf("sports: %v %v", titles(res.GetEvents()), res.GetMeta())
		}
		res = list("", &catalogv1.ListEventsRequest{Status: catalogv1.EventStatus_EVENT_STATUS_CANCELLED})
		if fmt.Sprint(titles(res.GetEvents())) != "[Called off]" {
			t.Fatalf("cancelled: %v", titles(res.GetEvents()))
		}
		res = list(e.org1, &catalogv1.ListEventsRequest{Status: catalogv1.EventStatus_EVENT_STATUS_DRAFT})
		if fmt.Sprint(titles(res.GetEvents())) != "[Draft of one]" {
			t.Fatalf("org1's drafts: %v", titles(res.GetEvents()))
		}
		res = list(e.admin, &catalogv1.ListEventsRequest{Status: catalogv1.EventStatus_EVENT_STATUS_DRAFT})
		if fmt.Sprint(titles(res.GetEvents())) != "[Draft of one Draft of two]" {
			t.Fatalf("admin's drafts: %v", titles(res.GetEvents()))
		}
		_, err := c.ListEvents(ctx, testkit.Bearer("", &catalogv1.ListEventsRequest{PerPage: 101}))
		testkit.WantCode(t, err, errs.Validation)
	})

	t.Run("search and mine", func(t *testing.T) {
		res := list("", &catalogv1.ListEventsRequest{Query: "mATch"})
		if fmt.Sprint(titles(res.GetEvents())) != "[Match 5 Match 6]" || res.GetMeta().GetTotal() != 2 {
			t.Fatalf("query match: %v %v", titles(res.GetEvents()), res.GetMeta())
		}
		// Cached listings tell searches apart, and a search text may hold the
		// cache key's separator.
		if res := list("", &catalogv1.ListEventsRequest{Query: "concert 3"}); fmt.Sprint(titles(res.GetEvents())) != "[Concert 3]" {
			t.Fatalf("query concert 3: %v", titles(res.GetEvents()))
		}
		if res := list("", &catalogv1.ListEventsRequest{Query: "3:0:1"}); len(res.GetEvents()) != 0 {
			t.Fatalf("query with a colon: %v", titles(res.GetEvents()))
		}
		if res := list("", &catalogv1.ListEventsRequest{Query: "%"}); len(res.GetEvents()) != 0 {
			t.Fatalf("a %% is a character, not a pattern: %v", titles(res.GetEvents()))
		}
		if res := list("", &catalogv1.ListEventsRequest{Query: "match", Category: "concert"}); len(res.GetEvents()) != 0 {
			t.Fatalf("query and category: %v", titles(res.GetEvents()))
		}
		if res := list(e.org2, &catalogv1.ListEventsRequest{Mine: true}); len(res.GetEvents()) != 0 {
			t.Fatalf("org2 runs no published event: %v", titles(res.GetEvents()))
		}
		if res := list(e.org1, &catalogv1.ListEventsRequest{Mine: true, Query: "match"}); fmt.Sprint(titles(res.GetEvents())) != "[Match 5 Match 6]" {
			t.Fatalf("org1's matches: %v", titles(res.GetEvents()))
		}
		if res := list(e.org2, &catalogv1.ListEventsRequest{Mine: true, Status: catalogv1.EventStatus_EVENT_STATUS_CANCELLED}); fmt.Sprint(titles(res.GetEvents())) != "[Called off]" {
			t.Fatalf("org2's cancelled: %v", titles(res.GetEvents()))
		}
		if res := list(e.admin, &catalogv1.ListEventsRequest{Mine: true, Status: catalogv1.EventStatus_EVENT_STATUS_DRAFT}); len(res.GetEvents()) != 0 {
			t.Fatalf("the admin's own drafts: %v", titles(res.GetEvents()))
		}
		if res := list("", &catalogv1.ListEventsRequest{Mine: true}); len(res.GetEvents()) != 0 || res.GetMeta().GetTotal() != 0 {
			t.Fatalf("anonymous mine: %v", titles(res.GetEvents()))
		}
		_, err := c.ListEvents(ctx, testkit.Bearer("", &catalogv1.ListEventsRequest{Query: strings.Repeat("x", 101)}))
		testkit.WantCode(t, err, errs.Validation)
	})

	t.Run("a new publication shows up at once", func(t *testing.T) {
		before := list("", &catalogv1.ListEventsRequest{Category: "sports"}).GetMeta().GetTotal()
		ev, _, _ := e.readyEvent(t, c, e.org2, "Match late")
		must[catalogv1.UpdateEventResponse](t)(c.UpdateEvent(ctx, testkit.Bearer(e.org2, &catalogv1.UpdateEventRequest{EventId: ev.GetId(), Category: ptr("sports")})))
		must[catalogv1.PublishEventResponse](t)(c.PublishEvent(ctx, testkit.Bearer(e.org2, &catalogv1.PublishEventRequest{EventId: ev.GetId()})))
		if after := list("", &catalogv1.ListEventsRequest{Category: "sports"}).GetMeta().GetTotal(); after != before+1 {
			t.Fatalf("cached listing: total %d -> %d", before, after)
		}
	})
}

// TestListingKeepsEventsWithAShowAhead: the buyers' listing kept every
// published event for ever, those whose last show was long over first
// (soonest sale first). It now keeps those with a show ahead, the soonest
// next show first; the organizer's own list and the event's page keep the
// others.
func TestListingKeepsEventsWithAShowAhead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.client(nil)
	publish := func(title string, showIn time.Duration) *catalogv1.Event {
		t.Helper()
		ev, sh, _ := e.readyEvent(t, c, e.org1, title)
		if showIn != 30*24*time.Hour {
			sh2 := must[catalogv1.CreateShowResponse](t)(c.CreateShow(ctx, testkit.Bearer(e.org1, &catalogv1.CreateShowRequest{
				EventId: ev.GetId(), ShowDate: timestamppb.New(time.Now().Add(showIn).Truncate(time.Minute)),
			}))).GetShow()
			must[catalogv1.CreateZoneResponse](t)(c.CreateZone(ctx, testkit.Bearer(e.org1, &catalogv1.CreateZoneRequest{ShowId: sh2.GetId(), Name: "Floor", Price: "10", TotalSeats: 5})))
			must[catalogv1.DeleteShowResponse](t)(c.DeleteShow(ctx, testkit.Bearer(e.org1, &catalogv1.DeleteShowRequest{ShowId: sh.GetId()})))
		}
		return must[catalogv1.PublishEventResponse](t)(c.PublishEvent(ctx, testkit.Bearer(e.org1, &catalogv1.PublishEventRequest{EventId: ev.GetId()}))).GetEvent()
	}
	publish("Ahead later", 30*24*time.Hour)
	publish("Ahead soon", 24*time.Hour)
	over := publish("Ahead over", 2*24*time.Hour)
	// Its show took place (moved behind the service's back: a show cannot be
	// created in the past).
	if _, err := e.db.Exec(`UPDATE shows SET show_date = now() - interval '3 hours' WHERE event_id = $1`, over.GetId()); err != nil {
		t.Fatal(err)
	}
	// (Nothing read the listings nor the event since: no cached value is stale.)

	list := func(token string, req *catalogv1.ListEventsRequest) string {
		t.Helper()
		res := must[catalogv1.ListEventsResponse](t)(c.ListEvents(ctx, testkit.Bearer(token, req)))
		var inOrder []string // (titles sorts them)
		for _, ev := range res.GetEvents() {
			inOrder = append(inOrder, ev.GetTitle())
		}
		return fmt.Sprint(inOrder, res.GetMeta().GetTotal())
	}
	if got := list("", &catalogv1.ListEventsRequest{Query: "Ahead"}); got != "[Ahead soon Ahead later] 2" {
		t.Fatalf("the buyers' listing: %s, want the soonest show first and nothing over", got)
	}
	if got := list(e.org1, &catalogv1.ListEventsRequest{Query: "Ahead", Mine: true}); got != "[Ahead soon Ahead later Ahead over] 3" {
		t.Fatalf("the organizer's own list: %s", got)
	}
	ev := must[catalogv1.GetEventResponse](t)(c.GetEvent(ctx, testkit.Bearer("", &catalogv1.GetEventRequest{Slug: over.GetSlug()}))).GetEvent()
	if ev.GetShowCount() != 1 || !ev.GetLastShowAt().AsTime().Before(time.Now()) {
		t.Fatalf("the page of an event that took place: %v", ev)
	}
}

func TestCacheIsUsedAndInvalidated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for proto, opts := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			c := e.client(opts)
			ev, sh, _ := e.readyEvent(t, c, e.org1, "Cached "+proto)
			must[catalogv1.PublishEventResponse](t)(c.PublishEvent(ctx, testkit.Bearer(e.org1, &catalogv1.PublishEventRequest{EventId: ev.GetId()})))
			get := func() *catalogv1.Event {
				return must[catalogv1.GetEventResponse](t)(c.GetEvent(ctx, testkit.Bearer("", &catalogv1.GetEventRequest{Slug: ev.GetSlug()}))).GetEvent()
			}
			get()
			get() // the first read maps the slug, the second caches the event
			if n, err := e.rdb.Exists(ctx, e.prefix+"slug:"+ev.GetSlug()).Result(); err != nil || n != 1 {
				t.Fatalf("slug mapping not cached under the prefix: %d %v", n, err)
			}
			// Changed behind the service's back: the cache still answers.
			if _, err := e.db.Exec(`UPDATE events SET title = 'sneaky' WHERE id = $1`, ev.GetId()); err != nil {
				t.Fatal(err)
			}
			if got := get(); got.GetTitle() != "Cached "+proto {
				t.Fatalf("read %q: the cache was not used", got.GetTitle())
			}
			must[catalogv1.UpdateEventResponse](t)(c.UpdateEvent(ctx, testkit.Bearer(e.org1, &catalogv1.UpdateEventRequest{EventId: ev.GetId(), Title: ptr("Fresh " + proto)})))
			if got := get(); got.GetTitle() != "Fresh "+proto {
				t.Fatalf("after the update the read says %q", got.GetTitle())
			}

			// Zones: cached too, and seat counters come from Postgres when
			// the engine has none loaded.
			zones := func() []*catalogv1.Zone {
				return must[catalogv1.ListZonesResponse](t)(c.ListZones(ctx, testkit.Bearer("", &catalogv1.ListZonesRequest{ShowId: sh.GetId()}))).GetZones()
			}
			zones()
			if _, err := e.db.Exec(`UPDATE seat_zones SET name = name || '!' WHERE show_id = $1`, sh.GetId()); err != nil {
				t.Fatal(err)
			}
			if z := zones(); z[0].GetName() != "Floor" || z[1].GetName() != "VIP" {
				t.Fatalf("zones %v: the cache was not used (or the order is not cheapest first)", z)
			}
			// Any change of the event retires its zones too.
			must[catalogv1.UpdateEventResponse](t)(c.UpdateEvent(ctx, testkit.Bearer(e.org1, &catalogv1.UpdateEventRequest{EventId: ev.GetId(), Description: ptr("new")})))
			if z := zones(); z[0].GetName() != "Floor!" {
				t.Fatalf("zones after invalidation %v", z)
			}

			// A deleted draft disappears from cached reads at once.
			d := must[catalogv1.CreateEventResponse](t)(c.CreateEvent(ctx, testkit.Bearer(e.org1, newEventReq("Short-lived "+proto)))).GetEvent()
			for range 2 {
				must[catalogv1.GetEventResponse](t)(c.GetEvent(ctx, testkit.Bearer(e.org1, &catalogv1.GetEventRequest{Slug: d.GetSlug()})))
			}
			must[catalogv1.DeleteEventResponse](t)(c.DeleteEvent(ctx, testkit.Bearer(e.org1, &catalogv1.DeleteEventRequest{EventId: d.GetId()})))
			_, err := c.GetEvent(ctx, testkit.Bearer(e.org1, &catalogv1.GetEventRequest{Slug: d.GetSlug()}))
			testkit.WantCode(t, err, errs.NotFound)
		})
	}
}

func TestCategories(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for proto, opts := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			c := e.client(opts)
			before := must[catalogv1.ListCategoriesResponse](t)(c.ListCategories(ctx, testkit.Bearer("", &catalogv1.ListCategoriesRequest{})))
			if before.GetMeta().GetTotal() < 7 || int(before.GetMeta().GetTotal()) != len(before.GetCategories()) {
				t.Fatalf("seeded categories: %v", before.GetMeta())
			}
			name := "Jazz & Blues " + proto
			_, err := c.CreateCategory(ctx, testkit.Bearer(e.org1, &catalogv1.CreateCategoryRequest{Name: name}))
			testkit.WantCode(t, err, errs.Forbidden)
			cat := must[catalogv1.CreateCategoryResponse](t)(c.CreateCategory(ctx, testkit.Bearer(e.admin, &catalogv1.CreateCategoryRequest{Name: name}))).GetCategory()
			if cat.GetSlug() != "jazz-blues-"+proto {
				t.Fatalf("category %v", cat)
			}
			_, err = c.CreateCategory(ctx, testkit.Bearer(e.admin, &catalogv1.CreateCategoryRequest{Name: "Again", Slug: cat.GetSlug()}))
			testkit.WantCode(t, err, errs.Conflict)
			after := must[catalogv1.ListCategoriesResponse](t)(c.ListCategories(ctx, testkit.Bearer("", &catalogv1.ListCategoriesRequest{})))
			found := false
			for _, c := range after.GetCategories() {
				found = found || c.GetSlug() == cat.GetSlug()
			}
			if !found {
				t.Fatalf("the new category is missing from the (cached) list")
			}
		})
	}
}

func TestLiveAvailability(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.client(nil)
	grpc := e.client(protocols["grpc"])
	ev, sh, zones := e.readyEvent(t, c, e.org1, "Rush hour")
	vip, floor := zones[0], zones[1]

	// A draft is not asked about: it has no inventory.
	must[catalogv1.ListZonesResponse](t)(c.ListZones(ctx, testkit.Bearer(e.org1, &catalogv1.ListZonesRequest{ShowId: sh.GetId()})))
	e.fake.set(func(f *fakeBooking) {
		if f.asking != 0 {
			t.Errorf("GetAvailability called %d times for a draft", f.asking)
		}
	})
	_, err := c.ListZones(ctx, testkit.Bearer("", &catalogv1.ListZonesRequest{ShowId: sh.GetId()}))
	testkit.WantCode(t, err, errs.NotFound) // a draft's show is invisible

	must[catalogv1.PublishEventResponse](t)(c.PublishEvent(ctx, testkit.Bearer(e.org1, &catalogv1.PublishEventRequest{EventId: ev.GetId()})))

	// Not loaded yet (the engine answers no zones): Postgres counters.
	counts := func(client catalogv1connect.CatalogServiceClient) map[string]int32 {
		res := must[catalogv1.ListZonesResponse](t)(client.ListZones(ctx, testkit.Bearer("", &catalogv1.ListZonesRequest{ShowId: sh.GetId()})))
		out := map[string]int32{}
		for _, z := range res.GetZones() {
			out[z.GetName()] = z.GetAvailableSeats()
		}
		return out
	}
	if got := counts(c); got["VIP"] != 10 || got["Floor"] != 100 {
		t.Fatalf("before load: %v", got)
	}

	// Live: VIP has 3 left; Floor is not in the answer (Postgres counter).
	e.fake.set(func(f *fakeBooking) {
		f.avail[sh.GetId()] = []*bookingv1.ZoneAvailability{{ZoneId: vip.GetId(), Total: 10, Available: 3, Held: 5, Sold: 2}}
	})
	if _, err := e.db.Exec(`UPDATE seat_zones SET available_seats = 80, held_seats = 20 WHERE id = $1`, floor.GetId()); err != nil {
		t.Fatal(err)
	}
	for _, client := range []catalogv1connect.CatalogServiceClient{c, grpc} {
		if got := counts(client); got["VIP"] != 3 || got["Floor"] != 100 {
			// Floor: the static part is cached, 100 until the event changes.
			t.Fatalf("live overlay: %v", got)
		}
	}
	// Held and sold: for the organizer (and admins) only.
	split := func(token string) string {
		res := must[catalogv1.ListZonesResponse](t)(grpc.ListZones(ctx, testkit.Bearer(token, &catalogv1.ListZonesRequest{ShowId: sh.GetId()})))
		var out []string
		for _, z := range res.GetZones() {
			out = append(out, fmt.Sprintf("%s:%d/%d/%d", z.GetName(), z.GetAvailableSeats(), z.GetHeldSeats(), z.GetSoldSeats()))
		}
		return strings.Join(out, " ")
	}
	for token, want := range map[string]string{
		e.org1: "Floor:100/0/0 VIP:3/5/2", e.admin: "Floor:100/0/0 VIP:3/5/2",
		"": "Floor:100/0/0 VIP:3/0/0", e.org2: "Floor:100/0/0 VIP:3/0/0", e.user: "Floor:100/0/0 VIP:3/0/0",
	} {
		if got := split(token); got != want {
			t.Errorf("available/held/sold for %.12s…: %s, want %s", token, got, want)
		}
	}
	e.fake.set(func(f *fakeBooking) {
		f.avail[sh.GetId()] = []*bookingv1.ZoneAvailability{
			{ZoneId: vip.GetId(), Total: 10, Available: 0, Held: 5, Sold: 5},
			{ZoneId: floor.GetId(), Total: 100, Available: 0, Sold: 100},
		}
	})
	if got := counts(c); got["VIP"] != 0 || got["Floor"] != 0 {
		t.Fatalf("live counts change at once (not cached): %v", got)
	}
	shows := must[catalogv1.ListShowsResponse](t)(c.ListShows(ctx, testkit.Bearer("", &catalogv1.ListShowsRequest{Slug: ev.GetSlug()}))).GetShows()
	if shows[0].GetAvailableSeats() != 0 || shows[0].GetTotalSeats() != 110 || shows[0].GetStatus() != catalogv1.ShowStatus_SHOW_STATUS_SOLD_OUT {
		t.Fatalf("sold-out show %v", shows[0])
	}
	e.fake.set(func(f *fakeBooking) {
		f.avail[sh.GetId()] = []*bookingv1.ZoneAvailability{
			{ZoneId: vip.GetId(), Total: 10, Available: 4},
			{ZoneId: floor.GetId(), Total: 100, Available: 7},
		}
	})
	shows = must[catalogv1.ListShowsResponse](t)(grpc.ListShows(ctx, testkit.Bearer("", &catalogv1.ListShowsRequest{Slug: ev.GetSlug()}))).GetShows()
	if shows[0].GetAvailableSeats() != 11 || shows[0].GetStatus() != catalogv1.ShowStatus_SHOW_STATUS_ACTIVE {
		t.Fatalf("show with live counts %v", shows[0])
	}

	// The booking engine goes down: reads answer the Postgres counters,
	// quickly, and never fail.
	e.bookings.CloseClientConnections()
	e.bookings.Close()
	start := time.Now()
	if got := counts(grpc); got["VIP"] != 10 || got["Floor"] != 100 {
		t.Fatalf("fallback: %v", got)
	}
	shows = must[catalogv1.ListShowsResponse](t)(c.ListShows(ctx, testkit.Bearer("", &catalogv1.ListShowsRequest{Slug: ev.GetSlug()}))).GetShows()
	if shows[0].GetAvailableSeats() != 90 { // the trigger summed Floor's 80 + VIP's 10
		t.Fatalf("fallback show %v", shows[0])
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("fallback took %v", d)
	}
}

// An event's venue time zone: UTC unless the organizer names one of the tz
// database; a name it does not have is a 400 that changes nothing; the
// show's answer carries it (and the venue, and the zones' names) for the
// mails.
func TestEventTimeZone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.client(nil)
	utc := must[catalogv1.CreateEventResponse](t)(c.CreateEvent(ctx, testkit.Bearer(e.org1, newEventReq("Zone UTC")))).GetEvent()
	if utc.GetTimeZone() != "UTC" {
		t.Fatalf("default time zone %q", utc.GetTimeZone())
	}
	req := newEventReq("Zone Paris")
	req.TimeZone = "Europe/Paris"
	paris := must[catalogv1.CreateEventResponse](t)(c.CreateEvent(ctx, testkit.Bearer(e.org1, req))).GetEvent()
	if paris.GetTimeZone() != "Europe/Paris" {
		t.Fatalf("time zone %q", paris.GetTimeZone())
	}
	for _, bad := range []string{"Mars/Olympus_Mons", "Local", "europe/paris", "../../etc/passwd", "Europe/Paris\n"} {
		req := newEventReq("Zone bad")
		req.TimeZone = bad
		_, err := c.CreateEvent(ctx, testkit.Bearer(e.org1, req))
		testkit.WantCode(t, err, errs.Validation)
		_, err = c.UpdateEvent(ctx, testkit.Bearer(e.org1, &catalogv1.UpdateEventRequest{EventId: paris.GetId(), TimeZone: ptr(bad)}))
		testkit.WantCode(t, err, errs.Validation)
	}
	_, err := c.UpdateEvent(ctx, testkit.Bearer(e.org1, &catalogv1.UpdateEventRequest{EventId: paris.GetId(), TimeZone: ptr("")}))
	testkit.WantCode(t, err, errs.Validation)
	got := must[catalogv1.GetEventResponse](t)(c.GetEvent(ctx, testkit.Bearer(e.org1, &catalogv1.GetEventRequest{Slug: paris.GetSlug()}))).GetEvent()
	if got.GetTimeZone() != "Europe/Paris" {
		t.Fatalf("a refused update changed the time zone to %q", got.GetTimeZone())
	}
	moved := must[catalogv1.UpdateEventResponse](t)(c.UpdateEvent(ctx, testkit.Bearer(e.org1, &catalogv1.UpdateEventRequest{
		EventId: paris.GetId(), TimeZone: ptr("America/Argentina/Buenos_Aires"),
	}))).GetEvent()
	if moved.GetTimeZone() != "America/Argentina/Buenos_Aires" {
		t.Fatalf("updated time zone %q", moved.GetTimeZone())
	}
	sh := must[catalogv1.CreateShowResponse](t)(c.CreateShow(ctx, testkit.Bearer(e.org1, &catalogv1.CreateShowRequest{
		EventId: paris.GetId(), ShowDate: timestamppb.New(time.Now().Add(30 * 24 * time.Hour)),
	}))).GetShow()
	z := must[catalogv1.CreateZoneResponse](t)(c.CreateZone(ctx, testkit.Bearer(e.org1, &catalogv1.CreateZoneRequest{ShowId: sh.GetId(), Name: "Balcony", Price: "20", TotalSeats: 5}))).GetZone()
	// What a mail says of a show: its event's zone and venue, its zones' names.
	res := must[catalogv1.GetShowResponse](t)(c.GetShow(ctx, testkit.Bearer(e.admin, &catalogv1.GetShowRequest{ShowId: sh.GetId()})))
	if res.GetEventTimeZone() != "America/Argentina/Buenos_Aires" || res.GetEventVenue() != "Arena" || len(res.GetZoneNames()) != 1 || res.GetZoneNames()[z.GetId()] != "Balcony" {
		t.Fatalf("the show's event time zone %q, venue %q, zones %v", res.GetEventTimeZone(), res.GetEventVenue(), res.GetZoneNames())
	}
}

// violatedFields lists the fields of the protovalidate violations err
// carries (what the edge answers as details.fields).
func violatedFields(err error) []string {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return nil
	}
	var out []string
	for _, d := range ce.Details() {
		if v, derr := d.Value(); derr == nil {
			if vs, ok := v.(*validate.Violations); ok {
				for _, viol := range vs.GetViolations() {
					out = append(out, protovalidate.FieldPathString(viol.GetField()))
				}
			}
		}
	}
	return out
}

// TestPublishNeedsAShowAhead: a show is created with a date in the future
// (VALIDATION_ERROR on show_date otherwise); a draft all of whose shows
// started meanwhile is not published (CONFLICT, details.missing naming
// show_date; nothing is loaded), and once it has a show ahead it is, its
// snapshot giving the booking engine each zone's show start (from which
// that show's seats are off sale).
func TestPublishNeedsAShowAhead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.client(nil)
	ev, sh, _ := e.readyEvent(t, c, e.org1, "Yesterday's Night")
	_, err := c.CreateShow(ctx, testkit.Bearer(e.org1, &catalogv1.CreateShowRequest{EventId: ev.GetId(), ShowDate: timestamppb.New(time.Now().Add(-time.Hour))}))
	testkit.WantCode(t, err, errs.Validation)
	if fields := violatedFields(err); len(fields) != 1 || fields[0] != "show_date" {
		t.Fatalf("a show in the past: %v (fields %v)", err, fields)
	}
	if _, err := e.db.Exec(`UPDATE shows SET show_date = now() - interval '1 day' WHERE id = $1`, sh.GetId()); err != nil {
		t.Fatal(err)
	}
	_, err = c.PublishEvent(ctx, testkit.Bearer(e.org1, &catalogv1.PublishEventRequest{EventId: ev.GetId()}))
	testkit.WantCode(t, err, errs.Conflict)
	if m, _ := errs.FromConnect(err).Details["missing"].([]any); len(m) != 1 || !strings.Contains(fmt.Sprint(m[0]), "show_date") {
		t.Fatalf("publish with every show started: %v", errs.FromConnect(err).Details)
	}
	if n := e.fake.loadsOf(ev.GetId()); n != 0 {
		t.Fatalf("inventory loaded %d times for an event that cannot be published", n)
	}

	later := must[catalogv1.CreateShowResponse](t)(c.CreateShow(ctx, testkit.Bearer(e.org1, &catalogv1.CreateShowRequest{
		EventId: ev.GetId(), ShowDate: timestamppb.New(time.Now().Add(10 * 24 * time.Hour)),
	}))).GetShow()
	must[catalogv1.CreateZoneResponse](t)(c.CreateZone(ctx, testkit.Bearer(e.org1, &catalogv1.CreateZoneRequest{ShowId: later.GetId(), Name: "Floor", Price: "25", TotalSeats: 50})))
	must[catalogv1.PublishEventResponse](t)(c.PublishEvent(ctx, testkit.Bearer(e.org1, &catalogv1.PublishEventRequest{EventId: ev.GetId()})))
	starts := map[string]time.Time{}
	for _, s := range must[catalogv1.ListShowsResponse](t)(c.ListShows(ctx, testkit.Bearer(e.org1, &catalogv1.ListShowsRequest{Slug: ev.GetSlug()}))).GetShows() {
		starts[s.GetId()] = s.GetShowDate().AsTime()
	}
	var snap *bookingv1.LoadInventoryRequest
	e.fake.set(func(f *fakeBooking) { snap = f.snapshots[ev.GetId()] })
	if len(snap.GetZones()) != 3 {
		t.Fatalf("snapshot %v", snap)
	}
	for _, z := range snap.GetZones() {
		if at, ok := starts[z.GetShowId()]; !ok || z.GetShowDate() == nil || !z.GetShowDate().AsTime().Equal(at) {
			t.Fatalf("zone %s of show %s starts %v in the snapshot, want %v", z.GetZoneId(), z.GetShowId(), z.GetShowDate(), at)
		}
	}
}

// TestShowAtTheSameInstantIsRefused: a second show of an event at the
// instant of one it has (a double click, a copied form) is 409 CONFLICT,
// details.reason "show_exists", its message naming the time in the event's
// zone; another instant, or another event at that instant, is a show.
func TestShowAtTheSameInstantIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.client(nil)
	req := newEventReq("Twice Night")
	req.TimeZone = "Europe/Paris"
	ev := must[catalogv1.CreateEventResponse](t)(c.CreateEvent(ctx, testkit.Bearer(e.org1, req))).GetEvent()
	at := time.Date(time.Now().Year()+1, time.March, 14, 19, 30, 0, 0, time.UTC)
	first := must[catalogv1.CreateShowResponse](t)(c.CreateShow(ctx, testkit.Bearer(e.org1, &catalogv1.CreateShowRequest{
		EventId: ev.GetId(), ShowDate: timestamppb.New(at),
	}))).GetShow()
	_, err := c.CreateShow(ctx, testkit.Bearer(e.org1, &catalogv1.CreateShowRequest{EventId: ev.GetId(), ShowDate: timestamppb.New(at)}))
	testkit.WantCode(t, err, errs.Conflict)
	got := errs.FromConnect(err)
	if got.Details["reason"] != "show_exists" || got.Details["show_id"] != first.GetId() {
		t.Fatalf("details %v", got.Details)
	}
	if want := "the event already has a show at " + showtime.Format(at, "Europe/Paris"); got.Message != want || !strings.Contains(want, "20:30 CET") {
		t.Fatalf("message %q, want %q", got.Message, want)
	}
	shows := must[catalogv1.ListShowsResponse](t)(c.ListShows(ctx, testkit.Bearer(e.org1, &catalogv1.ListShowsRequest{Slug: ev.GetSlug()}))).GetShows()
	if len(shows) != 1 {
		t.Fatalf("%d shows after a refused second one", len(shows))
	}
	must[catalogv1.CreateShowResponse](t)(c.CreateShow(ctx, testkit.Bearer(e.org1, &catalogv1.CreateShowRequest{
		EventId: ev.GetId(), ShowDate: timestamppb.New(at.Add(time.Minute)),
	})))
	other := must[catalogv1.CreateEventResponse](t)(c.CreateEvent(ctx, testkit.Bearer(e.org1, newEventReq("Other Night")))).GetEvent()
	must[catalogv1.CreateShowResponse](t)(c.CreateShow(ctx, testkit.Bearer(e.org1, &catalogv1.CreateShowRequest{
		EventId: other.GetId(), ShowDate: timestamppb.New(at),
	})))
}
