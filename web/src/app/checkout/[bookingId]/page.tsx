/**
 * Checkout of a hold: its countdown and the payment. A booking that is no
 * longer held goes to its own page.
 */
import type { Metadata } from "next";
import { notFound, redirect } from "next/navigation";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { Checkout } from "@/components/checkout";
import { load, publicApi, userApi } from "@/lib/api/server";
import { stripePublishableKey } from "@/lib/config";
import { renderTime } from "@/lib/server-clock";

export const metadata: Metadata = { title: "Checkout" };

export default async function CheckoutPage({ params }: { params: Promise<{ bookingId: string }> }) {
  const { bookingId } = await params;
  if (!/^[0-9a-f-]{36}$/i.test(bookingId)) notFound();
  const api = await userApi();
  const b = await load(api.bookings.get(bookingId));
  if (!b.ok) {
    if (b.error.code === "NOT_FOUND") notFound();
    return <ApiErrorPanel error={b.error} title="We could not load your booking" />;
  }
  if (b.data.status !== "reserved") redirect(`/bookings/${bookingId}`);
  const ev = await load(publicApi().catalog.event(b.data.event_id));
  const zones = await load(publicApi().catalog.zones(b.data.show_id));
  const zone = zones.ok ? zones.data.find((z) => z.id === b.data.zone_id) : undefined;
  return (
    <Checkout
      booking={b.data}
      eventTitle={ev.ok ? ev.data.title : "Your event"}
      eventSlug={ev.ok ? ev.data.slug : null}
      zoneName={zone?.name ?? null}
      stripeKey={stripePublishableKey()}
      renderedAt={renderTime()}
    />
  );
}
