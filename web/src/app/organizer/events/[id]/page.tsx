/** Managing one event: details, shows and zones (added and removed while a draft or on sale), publish, waiting room, cancel. */
import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { EventForm } from "@/components/organizer/event-form";
import { AddShowForm, AddZoneForm, CancelEventDialog, DeleteDraftButton, PublishButton, QueueSettings, RemoveButton } from "@/components/organizer/manage";
import { EventRefunds } from "@/components/organizer/event-refunds";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { currentUser, load, userApi } from "@/lib/api/server";
import { badgeText, dateTime, money, showTime, statusVariant, timeZones, venueZone } from "@/lib/format";
import { mayManage } from "@/lib/roles";

export const metadata: Metadata = { title: "Manage event" };

export default async function ManageEventPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!/^[0-9a-f-]{36}$/i.test(id)) notFound();
  const api = await userApi();
  const ev = await load(api.catalog.event(id));
  if (!ev.ok) {
    if (ev.error.code === "NOT_FOUND") notFound();
    return <ApiErrorPanel page error={ev.error} title="We could not load the event" />;
  }
  const event = ev.data;
  // A published event is anybody's to read; only its organizer (or an admin) manages it.
  // By the role the API holds now (a user promoted since signing in manages their events at once).
  const me = await currentUser();
  if (!me.ok) return <ApiErrorPanel page error={me.error} title="We could not load the event" />;
  if (!mayManage(me.user, event)) notFound();
  const venue = venueZone(event);
  const cancelled = event.status === "cancelled";
  const [shows, cats, line, refunds] = await Promise.all([
    load(api.catalog.shows(id)),
    // Read fresh, as on the new-event page.
    load(api.catalog.categories()),
    load(api.queue.line(id)),
    cancelled ? load(api.payments.eventRefunds(id)) : null,
  ]);
  const zones = shows.ok ? await Promise.all(shows.data.map((s) => load(api.catalog.zones(s.id)))) : [];
  const draft = event.status === "draft";
  // Shows and zones are added to a draft, and to an event on sale (extra
  // dates, released seats: on sale at once), and removed from either (on
  // sale, while nobody reserved from them).
  const open = draft || event.status === "published";
  const hasZones = zones.some((z) => z.ok && z.data.length > 0);

  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="text-2xl font-bold" data-testid="manage-title">
          {event.title}
        </h1>
        <Badge variant={statusVariant(event.status)} data-testid="event-status">
          {badgeText(event.status)}
        </Badge>
        <div className="ml-auto flex gap-2">
          {event.status !== "draft" && (
            <Button asChild variant="outline" size="sm">
              <Link href={`/events/${event.slug}`}>Public page</Link>
            </Button>
          )}
          {event.status !== "draft" && (
            <Button asChild size="sm">
              <Link href={`/organizer/events/${event.id}/dashboard`}>Live sales</Link>
            </Button>
          )}
        </div>
      </div>
      {cancelled && (
        <div className="space-y-1" data-testid="event-cancelled">
          <p className="text-destructive">
            Cancelled{event.cancelled_at ? ` on ${dateTime(event.cancelled_at, { zone: venue })}` : ""}: sales are closed, unpaid reservations were released and
            paid bookings are refunded in full.
          </p>
          {refunds && <EventRefunds refunds={refunds} />}
          {event.cancel_reason && <p className="text-sm">Your reason, as the buyers read it: “{event.cancel_reason}”</p>}
        </div>
      )}

      <Card>
        <CardHeader>
          <CardTitle as="h2">Shows and zones</CardTitle>
        </CardHeader>
        <CardContent className="space-y-6">
          {!shows.ok ? (
            <ApiErrorPanel error={shows.error} />
          ) : (
            shows.data.map((s, i) => {
              const z = zones[i];
              return (
                <div key={s.id} className="space-y-3 rounded-lg border p-4" data-testid="manage-show">
                  <div className="flex flex-wrap items-center justify-between gap-2">
                    <h3 className="font-medium">{showTime(s, { zone: venue })}</h3>
                    {open && <RemoveButton kind="show" id={s.id} label={dateTime(s.show_date, { zone: venue })} />}
                  </div>
                  {z && z.ok && z.data.length > 0 && (
                    <Table stack>
                      <TableHeader>
                        <TableRow>
                          <TableHead>Zone</TableHead>
                          <TableHead>Price</TableHead>
                          <TableHead className="text-right">Available / total</TableHead>
                          {open && (
                            <TableHead className="w-0">
                              <span className="sr-only">Actions</span>
                            </TableHead>
                          )}
                        </TableRow>
                      </TableHeader>
                      <TableBody>
                        {z.data.map((zone) => (
                          <TableRow key={zone.id}>
                            <TableCell className="font-medium">{zone.name}</TableCell>
                            <TableCell data-label="Price">{money(zone.price, zone.currency)}</TableCell>
                            <TableCell className="text-right" data-label="Available / total">
                              {zone.available_seats} / {zone.total_seats}
                            </TableCell>
                            {open && (
                              <TableCell className="text-right max-sm:justify-start">
                                <RemoveButton kind="zone" id={zone.id} label={zone.name} />
                              </TableCell>
                            )}
                          </TableRow>
                        ))}
                      </TableBody>
                    </Table>
                  )}
                  {open && <AddZoneForm showId={s.id} />}
                </div>
              );
            })
          )}
          {open && <AddShowForm eventId={event.id} zone={venue} />}
          {event.status === "published" && (
            <p className="text-muted-foreground text-xs" data-testid="on-sale-note">
              The event is on sale: a zone added now (released seats, or an extra date&apos;s) sells at once, and one leaves only while nobody has reserved from it.
            </p>
          )}
        </CardContent>
      </Card>

      <div className="grid gap-6 md:grid-cols-2">
        <Card>
          <CardHeader>
            <CardTitle as="h2">Sale</CardTitle>
          </CardHeader>
          <CardContent className="space-y-4">
            {draft ? (
              hasZones ? (
                <PublishButton eventId={event.id} />
              ) : (
                <p className="text-muted-foreground text-sm">Add a show and a zone, then publish.</p>
              )
            ) : event.status === "cancelled" ? (
              <p className="text-sm" data-testid="sale-window">
                No longer on sale: the event was cancelled.
              </p>
            ) : (
              <p className="text-sm" data-testid="sale-window">
                On sale {dateTime(event.sale_start_at, { zone: venue })} – {dateTime(event.sale_end_at, { zone: venue })}.
              </p>
            )}
            <QueueSettings event={event} line={line.ok ? line.data : null} />
          </CardContent>
        </Card>
        <Card>
          <CardHeader>
            <CardTitle as="h2">Danger zone</CardTitle>
          </CardHeader>
          <CardContent className="space-y-2">
            {draft ? <DeleteDraftButton eventId={event.id} /> : event.status === "published" ? <CancelEventDialog event={event} /> : <p className="text-sm">Nothing left to do.</p>}
          </CardContent>
        </Card>
      </div>

      <Card>
        <CardHeader>
          <CardTitle as="h2">Details</CardTitle>
        </CardHeader>
        <CardContent>
          <EventForm event={event} categories={cats.ok ? cats.data : []} zone={venue} zones={timeZones(venue)} />
        </CardContent>
      </Card>
    </div>
  );
}
