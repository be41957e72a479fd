/**
 * Checkout of a hold: what is bought (the event, its show's date, the zone),
 * the hold's countdown and the payment. A booking that is no longer held goes
 * to its own page.
 */
import type { Metadata } from "next";
import { notFound, redirect } from "next/navigation";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { Checkout } from "@/components/checkout";
import { load, publicApi, userApi } from "@/lib/api/server";
import { stripePublishableKey } from "@/lib/config";
import { showTime, venueZone } from "@/lib/format";
import { renderTime } from "@/lib/server-clock";

export const metadata: Metadata = { title: "Checkout" };

export default async function CheckoutPage({ params }: { params: Promise<{ bookingId: string }> }) {
  const { bookingId } = await params;
  if (!/^[0-9a-f-]{36}$/i.test(bookingId)) notFound();
  const api = await userApi();
  const b = await load(api.bookings.get(bookingId));
  if (!b.ok) {
    if (b.error.code === "NOT_FOUND") notFound();
    return <ApiErrorPanel page error={b.error} title="We could not load your booking" />;
  }
  if (b.data.status !== "reserved") redirect(`/bookings/${bookingId}`);
  const pub = publicApi();
  const [ev, shows, zones] = await Promise.all([
    load(pub.catalog.event(b.data.event_id)),
    load(pub.catalog.shows(b.data.event_id)),
    load(pub.catalog.zones(b.data.show_id)),
  ]);
  const zone = zones.ok ? zones.data.find((z) => z.id === b.data.zone_id) : undefined;
  const show = shows.ok ? shows.data.find((s) => s.id === b.data.show_id) : undefined;
  return (
    <Checkout
      booking={b.data}
      eventTitle={ev.ok ? ev.data.title : "Your event"}
      eventSlug={ev.ok ? ev.data.slug : null}
      zoneName={zone?.name ?? null}
      showWhen={show ? showTime(show, { zone: venueZone(ev.ok ? ev.data : null) }) : null}
      stripeKey={stripePublishableKey()}
      renderedAt={renderTime()}
    />
  );
}
