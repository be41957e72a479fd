/** My bookings: every booking of the signed-in buyer, newest first, with pay and cancel. */
import type { Metadata } from "next";
import Link from "next/link";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { CancelBooking } from "@/components/cancel-booking";
import { Pager, emptyList } from "@/components/pager";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { eventsById, showsById } from "@/lib/api/events-by-id";
import { load, userApi } from "@/lib/api/server";
import { bookingStatusText, dateTime, money, showTime, statusVariant, venueZone } from "@/lib/format";
import { viewerZone } from "@/lib/zone";

export const metadata: Metadata = { title: "My bookings" };

export default async function BookingsPage({ searchParams }: { searchParams: Promise<{ page?: string }> }) {
  const page = Math.max(1, Number.parseInt((await searchParams).page ?? "1", 10) || 1);
  const api = await userApi();
  const tz = await viewerZone();
  const res = await load(api.bookings.list({ page, per_page: 20 }));
  if (!res.ok) return <ApiErrorPanel page error={res.error} title="We could not load your bookings" />;
  const ids = res.data.map((b) => b.event_id);
  const [events, shows] = await Promise.all([eventsById(ids), showsById(ids)]);
  return (
    <div className="space-y-6">
      <div className="flex items-center justify-between">
        <h1 className="text-2xl font-bold">My bookings</h1>
        <Button asChild variant="outline" size="sm">
          <Link href="/notifications">Notifications</Link>
        </Button>
      </div>
      {emptyList(res.data.length, res.meta) ? (
        <p className="text-muted-foreground" data-testid="no-bookings">
          No booking yet. <Link className="underline" href="/">Find an event</Link>.
        </p>
      ) : (
        // On a phone each booking is a block of its own (no header row), so
        // its status, Pay and Cancel show without scrolling sideways.
        <Table className="max-sm:block">
          <TableHeader className="max-sm:hidden">
            <TableRow>
              <TableHead>Reference</TableHead>
              <TableHead>Event</TableHead>
              <TableHead>Tickets</TableHead>
              <TableHead>Total</TableHead>
              <TableHead>Status</TableHead>
              <TableHead>
                <span className="sr-only">Actions</span>
              </TableHead>
            </TableRow>
          </TableHeader>
          <TableBody className="max-sm:block">
            {res.data.map((b) => (
              <TableRow
                key={b.id}
                data-testid="booking-row"
                data-reference={b.reference}
                className="max-sm:flex max-sm:flex-wrap max-sm:items-center max-sm:gap-x-2 max-sm:py-2"
              >
                <TableCell className="font-mono max-sm:w-full max-sm:py-1">
                  <Link href={`/bookings/${b.id}`} className="hover:underline">
                    {b.reference}
                  </Link>
                </TableCell>
                <TableCell className="max-sm:w-full max-sm:py-0 max-sm:whitespace-normal">
                  <Link href={`/bookings/${b.id}`} className="font-medium hover:underline">
                    {events.get(b.event_id)?.title ?? "—"}
                  </Link>
                  {/* Which date: two nights of one event read the same otherwise. */}
                  {shows.get(b.show_id) && (
                    <span className="text-muted-foreground block text-xs" data-testid="booking-show-when">
                      {showTime(shows.get(b.show_id)!, { zone: venueZone(events.get(b.event_id)) })}
                    </span>
                  )}
                </TableCell>
                <TableCell className="max-sm:py-1">
                  {b.quantity}
                  <span className="sm:hidden"> ticket{b.quantity === 1 ? "" : "s"} ·</span>
                </TableCell>
                <TableCell className="max-sm:py-1 max-sm:pl-0">{money(b.total_amount, b.currency)}</TableCell>
                <TableCell className="max-sm:w-full max-sm:py-1 max-sm:whitespace-normal">
                  <Badge variant={statusVariant(b.status)} data-testid="booking-status" data-status={b.status}>
                    {bookingStatusText(b.status)}
                  </Badge>
                  {b.status === "reserved" && <span className="text-muted-foreground ml-2 text-xs">until {dateTime(b.expires_at, { zone: tz })}</span>}
                </TableCell>
                <TableCell className="space-x-2 text-right max-sm:py-1 max-sm:text-left">
                  {b.status === "reserved" && (
                    <Button asChild size="sm">
                      <Link href={`/checkout/${b.id}`}>Pay</Link>
                    </Button>
                  )}
                  {(b.status === "reserved" || b.status === "confirmed") && <CancelBooking bookingId={b.id} reference={b.reference} />}
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
      <Pager meta={res.meta} href={(p) => `/bookings?page=${p}`} />
    </div>
  );
}
