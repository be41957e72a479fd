/**
 * An event's public page: its shows and their zones with price and seats left.
 *
 * Cacheable for everyone (ISR): rendered on the first visit, then at most once
 * every 5 seconds, and sent with `s-maxage=5, stale-while-revalidate` so a CDN
 * can hold it; it reads no cookie. The seat counts then stay live on the
 * client (ShowZones polls the shared /bff/public read).
 */
import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { CalendarDays, MapPin, Ticket, Users } from "lucide-react";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { MyReservations } from "@/components/my-reservations";
import { ShowZones } from "@/components/show-zones";
import { Badge } from "@/components/ui/badge";
import { load, publicApi } from "@/lib/api/server";
import { count, dateTime, showStatusText, showTime, statusVariant, venueZone } from "@/lib/format";
import { renderTime } from "@/lib/server-clock";

export const revalidate = 5;

/** No page is built ahead: each is rendered on its first visit, then revalidated. */
export function generateStaticParams(): { slug: string }[] {
  return [];
}

type Props = { params: Promise<{ slug: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  const { slug } = await params;
  const ev = await load(publicApi().catalog.event(slug));
  return { title: ev.ok ? ev.data.title : "Event" };
}

export default async function EventPage({ params }: Props) {
  const { slug } = await params;
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(slug)) notFound();
  const api = publicApi();
  const ev = await load(api.catalog.event(slug));
  if (!ev.ok) {
    if (ev.error.code === "NOT_FOUND") notFound();
    return <ApiErrorPanel page error={ev.error} title="We could not load this event" />;
  }
  const event = ev.data;
  const venue = venueZone(event);
  const shows = await load(api.catalog.shows(event.slug));
  const zones = shows.ok ? await Promise.all(shows.data.map((s) => load(api.catalog.zones(s.id)))) : [];
  // When this HTML was made: the buy controls start from it, then follow the
  // browser's clock (the sale opens or ends, a show starts, while a buyer watches).
  const renderedAt = renderTime();

  return (
    <article className="space-y-8">
      <header className="space-y-3">
        {/* A buyer needs no "published": only a cancelled event says its state here. */}
        {(event.status === "cancelled" || event.category || event.queue_enabled) && (
          <div className="flex flex-wrap gap-2">
            {event.status === "cancelled" && <Badge variant="destructive">Cancelled</Badge>}
            {event.category && <Badge variant="secondary">{event.category}</Badge>}
            {event.queue_enabled && (
              <Badge variant="outline">
                <Users className="size-3" /> Waiting room at the sale
              </Badge>
            )}
          </div>
        )}
        <h1 className="text-3xl font-bold tracking-tight" data-testid="event-title">
          {event.title}
        </h1>
        <p className="text-muted-foreground flex flex-wrap items-center gap-4 text-sm">
          <span className="flex items-center gap-1">
            <MapPin className="size-4" /> {event.venue}
          </span>
          {event.status !== "cancelled" && (
            <span className="flex items-center gap-1" data-testid="sale-window">
              <Ticket className="size-4" /> Tickets on sale {dateTime(event.sale_start_at, { zone: venue })} – {dateTime(event.sale_end_at, { zone: venue })}
            </span>
          )}
          <span>Up to {count(event.max_per_user, "ticket")} per person</span>
        </p>
        {event.description && <p className="max-w-3xl whitespace-pre-line">{event.description}</p>}
      </header>

      {event.status !== "cancelled" && <MyReservations eventId={event.id} />}
      {event.status === "cancelled" && (
        <div className="space-y-1" data-testid="event-cancelled">
          <p className="text-destructive font-medium">
            This event was cancelled{event.cancelled_at ? ` on ${dateTime(event.cancelled_at, { zone: venue })}` : ""}. Every booking paid for was refunded in
            full, and its buyer e-mailed.
          </p>
          {event.cancel_reason && <p>The organizer said: “{event.cancel_reason}”</p>}
        </div>
      )}
      {!shows.ok ? (
        <ApiErrorPanel error={shows.error} title="We could not load the shows" />
      ) : shows.data.length === 0 ? (
        <p className="text-muted-foreground">No show has been announced yet.</p>
      ) : (
        <section className="space-y-6" aria-label="Shows">
          {shows.data.map((show, i) => {
            const z = zones[i];
            return (
              <div key={show.id} className="rounded-xl border p-4" data-testid="show">
                <h2 className="mb-3 flex items-center gap-2 text-lg font-semibold">
                  <CalendarDays className="size-4" /> {showTime(show, { zone: venue })}
                  {showStatusText(show.status) && <Badge variant={statusVariant(show.status)}>{showStatusText(show.status)}</Badge>}
                </h2>
                {z && !z.ok ? (
                  <ApiErrorPanel error={z.error} title="We could not load the zones" />
                ) : (
                  <ShowZones
                    slug={event.slug}
                    showId={show.id}
                    initial={z && z.ok ? z.data : []}
                    maxPerUser={event.max_per_user}
                    sale={{ status: event.status, sale_start_at: event.sale_start_at, sale_end_at: event.sale_end_at }}
                    showDate={show.show_date}
                    venueZone={venue}
                    renderedAt={renderedAt}
                    queued={event.queue_enabled}
                  />
                )}
              </div>
            );
          })}
        </section>
      )}
    </article>
  );
}
