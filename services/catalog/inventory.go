package catalog

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	notifyv1 "github.com/bookingrush/rush/gen/bookingrush/notify/v1"
	"github.com/bookingrush/rush/gen/bookingrush/notify/v1/notifyv1connect"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/gen/bookingrush/payment/v1/paymentv1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/directory"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/platform/showtime"
)

// Inventory is the catalog's view of the booking engine: it loads an
// event's inventory into Redis and reads the live seat counts.
//
// Both calls are made with the catalog's own service token, never the
// caller's: the catalog has already decided that the organizer may publish,
// and the booking engine should take inventory orders and availability
// questions from the system only.
type Inventory struct {
	store    *Store
	booking  bookingv1connect.BookingServiceClient
	payments paymentv1connect.PaymentServiceClient
	notify   notifyv1connect.NotifyServiceClient
	people   *directory.Directory
	cfg      Config
	log      *zap.Logger
	// fallbacks counts listings answered with the Postgres counters because
	// the live ones were unavailable, so a silent degradation shows on a
	// dashboard.
	fallbacks prometheus.Counter
}

// NewInventory dials the booking, payment, notify and auth components
// through the mesh.
func NewInventory(store *Store, mesh *server.Mesh, cfg Config, log *zap.Logger, reg *prometheus.Registry) (*Inventory, error) {
	fallbacks := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "catalog_availability_fallback_total",
		Help: "Zone and show listings answered with the Postgres seat counters because the booking engine's live counts were unavailable.",
	})
	if err := reg.Register(fallbacks); err != nil {
		return nil, err
	}
	return &Inventory{
		fallbacks: fallbacks,
		store:     store,
		booking:   server.Dial(mesh, "catalog", "booking", bookingv1connect.NewBookingServiceClient),
		payments:  server.Dial(mesh, "catalog", "payment", paymentv1connect.NewPaymentServiceClient),
		notify:    server.Dial(mesh, "catalog", "notify", notifyv1connect.NewNotifyServiceClient),
		people:    directory.New(mesh, "catalog"),
		cfg:       cfg,
		log:       log.With(zap.String("component", "catalog.inventory")),
	}, nil
}

// Load sends the booking engine the event's snapshot (its status, sale
// window, per-user limit and queue switch, and every zone with its show,
// price and total), which it keeps and (re)loads the inventory from.
// Any failure is SERVICE_UNAVAILABLE: the caller decides what to undo.
func (i *Inventory) Load(ctx context.Context, eventID string) error {
	ctx, cancel := context.WithTimeout(authn.AsSystem(ctx), i.cfg.InventoryTimeout)
	defer cancel()
	snap, err := i.store.inventory(ctx, eventID)
	if err == nil {
		_, err = i.booking.LoadInventory(ctx, connect.NewRequest(snap))
	}
	if err != nil {
		i.log.Warn("load inventory failed", zap.String("event_id", eventID), zap.Error(err))
		return errs.New(errs.ServiceUnavailable, "the booking engine could not load the event's inventory; try again", "event_id", eventID)
	}
	return nil
}

// Drop has the booking engine take zones off an event's inventory, all or
// none, when nobody reserved from any of them. Its refusal (CONFLICT) is
// answered as it is; any other failure is SERVICE_UNAVAILABLE.
func (i *Inventory) Drop(ctx context.Context, eventID string, zones []string) error {
	ctx, cancel := context.WithTimeout(authn.AsSystem(ctx), i.cfg.InventoryTimeout)
	defer cancel()
	_, err := i.booking.DropZones(ctx, connect.NewRequest(&bookingv1.DropZonesRequest{EventId: eventID, ZoneIds: zones}))
	if err == nil {
		return nil
	}
	if e := errs.FromConnect(err); e.Code == errs.Conflict {
		return e
	}
	i.log.Warn("drop zones failed", zap.String("event_id", eventID), zap.Error(err))
	return errs.New(errs.ServiceUnavailable, "the booking engine could not take the zones off the sale; try again", "event_id", eventID)
}

// RefundEvent asks the payment service to refund every paid booking of a
// cancelled event in full (it finds them in its own table: the catalog
// knows nothing of payments). Each refund happens once, so calling it again
// after a partial failure only finishes the work. It answers how many
// refunds were due and how many failed.
func (i *Inventory) RefundEvent(ctx context.Context, eventID, reason string) (total, failed int, err error) {
	res, err := i.payments.RefundEvent(authn.AsSystem(context.WithoutCancel(ctx)), connect.NewRequest(&paymentv1.RefundEventRequest{
		EventId: eventID, Reason: reason,
	}))
	if err != nil {
		i.log.Warn("refunds of a cancelled event failed", zap.String("event_id", eventID), zap.Error(err))
		return 0, 0, errs.FromConnect(err)
	}
	return int(res.Msg.GetRefunds()), int(res.Msg.GetFailed()), nil
}

// TellWaitlisted mails every buyer waiting on a cancelled event's
// waitlists that the event is cancelled and the line closed (one mail per
// buyer and zone, under a key naming both: telling again mails nobody
// twice), then has the booking engine close the lines. A buyer whose
// account is gone is skipped. Any failure leaves the lines open for the
// next try.
func (i *Inventory) TellWaitlisted(ctx context.Context, eventID, reason string) error {
	ctx = authn.AsSystem(context.WithoutCancel(ctx))
	shows := map[string]*catalogv1.GetShowResponse{}
	token := ""
	for {
		res, err := i.booking.ListWaitlisted(ctx, connect.NewRequest(&bookingv1.ListWaitlistedRequest{EventId: eventID, PageToken: token}))
		if err != nil {
			return errs.FromConnect(err)
		}
		for _, b := range res.Msg.GetBuyers() {
			e := b.GetEntry()
			show, ok := shows[e.GetShowId()]
			if !ok {
				if show, err = i.store.Show(ctx, e.GetShowId()); err != nil {
					return err
				}
				shows[e.GetShowId()] = show
			}
			if err := i.tellWaiting(ctx, b, show, reason); err != nil {
				return err
			}
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			break
		}
	}
	if _, err := i.booking.CloseWaitlists(ctx, connect.NewRequest(&bookingv1.CloseWaitlistsRequest{EventId: eventID})); err != nil {
		return errs.FromConnect(err)
	}
	return nil
}

// tellWaiting mails one waiting buyer (TellWaitlisted).
func (i *Inventory) tellWaiting(ctx context.Context, b *bookingv1.WaitingBuyer, show *catalogv1.GetShowResponse, reason string) error {
	u, err := i.people.User(ctx, b.GetUserId())
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	e := b.GetEntry()
	data := map[string]string{
		"name": u.Name, "event_id": e.GetEventId(), "event_title": show.GetEventTitle(), "venue": show.GetEventVenue(),
		"show_id": e.GetShowId(), "show_date": showtime.Format(show.GetShow().GetShowDate().AsTime(), show.GetEventTimeZone()),
		"zone_id": e.GetZoneId(), "zone": show.GetZoneNames()[e.GetZoneId()], "quantity": fmt.Sprint(e.GetQuantity()), "reason": reason,
	}
	_, err = i.notify.SendNotification(ctx, connect.NewRequest(&notifyv1.SendNotificationRequest{
		Template: notifyv1.Template_TEMPLATE_WAITLIST_CLOSED, Recipient: u.Email, UserId: b.GetUserId(), Data: data,
		IdempotencyKey: "waitlist_closed-" + e.GetEventId() + "-" + e.GetZoneId() + "-" + b.GetUserId(),
	}))
	if err != nil {
		return errs.FromConnect(err)
	}
	return nil
}

// Availability returns the live counters of a show's loaded zones by zone
// id. An error (booking unreachable, slow, failing) means "unknown": the
// caller answers the Postgres counters instead.
func (i *Inventory) Availability(ctx context.Context, showID string) (map[string]*bookingv1.ZoneAvailability, error) {
	ctx, cancel := context.WithTimeout(authn.AsSystem(ctx), i.cfg.AvailabilityTimeout)
	defer cancel()
	res, err := i.booking.GetAvailability(ctx, connect.NewRequest(&bookingv1.GetAvailabilityRequest{ShowId: showID}))
	if err != nil {
		i.fallbacks.Inc()
		i.log.Debug("live availability unavailable; answering Postgres counters", zap.String("show_id", showID), zap.Error(err))
		return nil, err
	}
	out := make(map[string]*bookingv1.ZoneAvailability, len(res.Msg.GetZones()))
	for _, z := range res.Msg.GetZones() {
		out[z.GetZoneId()] = z
	}
	return out, nil
}
