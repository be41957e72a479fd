/**
 * Buying: the waiting room when the event has one, then the reserve, then on
 * to checkout. Signed-in only (proxy.ts sends others to /login first).
 * An address whose show, zone or quantity this event cannot sell (a zone the
 * organizer removed since, a quantity above the event's limit, an address
 * cut short) goes to the event's page, where the buyer chooses again; only
 * an unknown event is "not found".
 */
import type { Metadata } from "next";
import Link from "next/link";
import { notFound, redirect } from "next/navigation";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { BuyFlow } from "@/components/buy-flow";
import { load, publicApi } from "@/lib/api/server";
import { showTime, venueZone } from "@/lib/format";

export const metadata: Metadata = { title: "Buy tickets" };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export default async function BuyPage({
  params,
  searchParams,
}: {
  params: Promise<{ slug: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { slug } = await params;
  const sp = await searchParams;
  const showId = String(sp.show ?? "");
  const zoneId = String(sp.zone ?? "");
  const qty = Number(String(sp.qty ?? "1"));
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(slug)) notFound();

  // Catalog reads only: cached and shared, they cost nothing in a rush.
  const api = publicApi();
  const ev = await load(api.catalog.event(slug));
  if (!ev.ok) return <ApiErrorPanel page error={ev.error} title="We could not load this event" />;
  const choose = `/events/${ev.data.slug}`;
  if (!UUID.test(showId) || !UUID.test(zoneId) || !Number.isInteger(qty) || qty < 1 || qty > Math.min(10, ev.data.max_per_user || 10)) redirect(choose);
  const [shows, zones] = await Promise.all([load(api.catalog.shows(ev.data.id)), load(api.catalog.zones(showId))]);
  if (!shows.ok) return <ApiErrorPanel page error={shows.error} title="We could not load this event's shows" />;
  if (!zones.ok) return <ApiErrorPanel page error={zones.error} title="We could not load this show" />;
  // The show must be this event's: a hand-made address would show one
  // event's title while reserving another's seats.
  const zone = zones.data.find((z) => z.id === zoneId);
  const show = shows.data.find((s) => s.id === showId);
  if (!zone || !show) redirect(choose);

  return (
    <div className="mx-auto max-w-xl space-y-6">
      <p className="text-sm">
        <Link href={`/events/${ev.data.slug}`} className="text-muted-foreground hover:underline">
          ← {ev.data.title}
        </Link>
      </p>
      <BuyFlow
        event={{ id: ev.data.id, slug: ev.data.slug, title: ev.data.title, queued: ev.data.queue_enabled }}
        showId={showId}
        showWhen={showTime(show, { zone: venueZone(ev.data) })}
        zone={{ id: zone.id, name: zone.name, price: zone.price, currency: zone.currency }}
        quantity={qty}
      />
    </div>
  );
}
