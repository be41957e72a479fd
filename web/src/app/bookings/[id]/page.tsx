/**
 * One booking. After payment it is the confirmation: the booking reference
 * (BR-XXXX-XXXX-XXXX, the same as in the e-mail) and what was bought.
 */
import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { CheckCircle2 } from "lucide-react";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { AutoRefresh } from "@/components/auto-refresh";
import { BookingTickets } from "@/components/booking-tickets";
import { CancelBooking } from "@/components/cancel-booking";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { load, publicApi, userApi } from "@/lib/api/server";
import { bookingStatusText, cancelCauseText, dateTime, money, showTime, statusVariant, venueZone } from "@/lib/format";
import { viewerZone } from "@/lib/zone";

export const metadata: Metadata = { title: "Booking" };

export default async function BookingPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!/^[0-9a-f-]{36}$/i.test(id)) notFound();
  const api = await userApi();
  const tz = await viewerZone();
  const res = await load(api.bookings.get(id));
  if (!res.ok) {
    if (res.error.code === "NOT_FOUND") notFound();
    return <ApiErrorPanel page error={res.error} title="We could not load your booking" />;
  }
  const b = res.data;
  const pub = publicApi(30);
  const [ev, shows, zones] = await Promise.all([load(pub.catalog.event(b.event_id)), load(pub.catalog.shows(b.event_id)), load(pub.catalog.zones(b.show_id))]);
  const show = shows.ok ? shows.data.find((s) => s.id === b.show_id) : undefined;
  // The show and its tickets (valid until, checked in) are the venue's; the
  // booking's own moments the viewer's.
  const venue = venueZone(ev.ok ? ev.data : null);
  const zone = zones.ok ? zones.data.find((z) => z.id === b.zone_id) : undefined;
  const confirmed = b.status === "confirmed";
  const tickets = confirmed || b.confirmed_at ? await load(api.bookings.tickets(b.id)) : null;
  // What became of an ended purchase's money: charged, and given back (a
  // buyer's cancel may refund 50% or nothing).
  const ended = b.status === "refunded" || b.status === "cancelled";
  const quote = ended && b.confirmed_at ? await load(api.bookings.refundQuote(b.id)) : null;
  const refund = quote?.ok && Number(quote.data.paid) > 0 ? quote.data : null;

  return (
    <Card className="mx-auto max-w-xl">
      <CardHeader>
        {confirmed && (
          <p className="text-success flex items-center gap-2 font-medium" data-testid="confirmed">
            <CheckCircle2 className="size-5" /> You are going! Your tickets are confirmed.
          </p>
        )}
        {b.waitlist_offer && b.status === "reserved" && (
          <p className="font-medium" data-testid="waitlist-offer">
            Seats came back and you were next on the waitlist: they are held for you until {dateTime(b.expires_at, { zone: tz })}.
          </p>
        )}
        <CardTitle as="h1" className="text-2xl">
          {ev.ok ? (
            <Link href={`/events/${ev.data.slug}`} className="hover:underline" data-testid="event-link">
              {ev.data.title}
            </Link>
          ) : (
            "Booking"
          )}
        </CardTitle>
        <CardDescription data-testid="show-when">
          {show ? showTime(show, { zone: venue }) : ""} {ev.ok ? `· ${ev.data.venue}` : ""}
        </CardDescription>
      </CardHeader>
      <CardContent className="space-y-4">
        <div className="bg-muted rounded-lg p-4 text-center">
          {/* Darker than text-muted-foreground, which has 4.3:1 on bg-muted (WCAG AA asks 4.5:1). */}
          <p className="text-foreground/60 text-xs uppercase">Booking reference</p>
          <p className="font-mono text-2xl font-bold tracking-wider" data-testid="booking-reference">
            {b.reference}
          </p>
        </div>
        <dl className="grid grid-cols-2 gap-2 text-sm">
          <dt className="text-muted-foreground">Status</dt>
          <dd>
            <Badge variant={statusVariant(b.status)} data-testid="booking-status" data-status={b.status}>
              {bookingStatusText(b.status)}
            </Badge>
          </dd>
          <dt className="text-muted-foreground">Tickets</dt>
          <dd>
            {b.quantity} × {zone?.name ?? "seat"} at {money(b.unit_price, b.currency)}
          </dd>
          <dt className="text-muted-foreground">Total</dt>
          <dd>{money(b.total_amount, b.currency)}</dd>
          {b.status === "reserved" && b.expires_at && (
            // The list said until when the seats are kept; this page did not.
            <>
              <dt className="text-muted-foreground">Pay by</dt>
              <dd data-testid="pay-by">{dateTime(b.expires_at, { zone: tz })}</dd>
            </>
          )}
          {b.confirmed_at && (
            <>
              <dt className="text-muted-foreground">Confirmed</dt>
              <dd data-testid="confirmed-at">{dateTime(b.confirmed_at, { zone: tz })}</dd>
            </>
          )}
          {refund && (
            <>
              <dt className="text-muted-foreground">Refunded</dt>
              <dd data-testid="refunded">
                {money(refund.refunded, refund.currency)} of {money(refund.paid, refund.currency)} paid
              </dd>
              {Number(refund.owed) > 0 && (
                <dd className="col-start-2 text-amber-700 dark:text-amber-400" data-testid="refund-owed">
                  {money(refund.owed, refund.currency)} could not be returned to your card: our support team will pay it
                  back and e-mail you when they have.
                </dd>
              )}
            </>
          )}
          {b.cancelled_at && (
            <>
              <dt className="text-muted-foreground">Ended</dt>
              <dd>
                {dateTime(b.cancelled_at, { zone: tz })}
                {cancelCauseText(b.cancel_cause) && <span data-testid="cancel-cause">: {cancelCauseText(b.cancel_cause)}</span>}
              </dd>
            </>
          )}
        </dl>
        {tickets?.ok && <BookingTickets tickets={tickets.data.tickets} confirmed={confirmed} tz={venue} />}
        {tickets && !tickets.ok && (
          <ApiErrorPanel error={tickets.error} title="We could not load your tickets just now; they are also in your confirmation e-mail" />
        )}
        <div className="flex flex-wrap items-center gap-2">
          {b.status === "reserved" && (
            <>
              <AutoRefresh everySeconds={5} />
              <Button asChild>
                <Link href={`/checkout/${b.id}`}>Pay now</Link>
              </Button>
            </>
          )}
          {(b.status === "reserved" || b.status === "confirmed") && <CancelBooking bookingId={b.id} reference={b.reference} label="Cancel booking" />}
          <Button asChild variant="ghost">
            <Link href="/bookings">All my bookings</Link>
          </Button>
        </div>
      </CardContent>
    </Card>
  );
}
