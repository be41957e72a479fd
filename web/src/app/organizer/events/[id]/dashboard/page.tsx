/**
 * The live sales dashboard of one event: the analytics API's totals since the
 * sale opened and its hourly series of the last 24 hours
 * (GET /analytics/events/{id}?from=...), each show's check-in counts
 * (GET /shows/{id}/checkin-stats), and each zone's sold, held and
 * available seats from the live inventory (ListZones tells the organizer the
 * split); of a cancelled event, how far its refunds are
 * (GET /events/{id}/refunds). Re-read every 10 s.
 */
import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { AutoRefresh } from "@/components/auto-refresh";
import { BarChart } from "@/components/bar-chart";
import { EventRefunds } from "@/components/organizer/event-refunds";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { currentUser, load, userApi } from "@/lib/api/server";
import { dayRange, money, showTime, venueZone } from "@/lib/format";
import { mayManage } from "@/lib/roles";
import { lastHours, saleRange } from "@/lib/sales";

export const metadata: Metadata = { title: "Live sales" };

function Stat({ label, value, testid }: { label: string; value: string; testid?: string }) {
  return (
    <Card className="gap-1 py-4">
      <CardHeader className="px-4">
        <CardDescription>{label}</CardDescription>
      </CardHeader>
      <CardContent className="px-4 text-2xl font-bold" data-testid={testid}>
        {value}
      </CardContent>
    </Card>
  );
}

export default async function DashboardPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!/^[0-9a-f-]{36}$/i.test(id)) notFound();
  const api = await userApi();
  const [ev, shows] = await Promise.all([load(api.catalog.event(id)), load(api.catalog.shows(id))]);
  if (!ev.ok) {
    if (ev.error.code === "NOT_FOUND") notFound();
    return <ApiErrorPanel page error={ev.error} title="We could not load the event" />;
  }
  // A published event is anybody's to read; its sales are its organizer's (or an admin's).
  // By the role the API holds now (a user promoted since signing in manages their events at once).
  const me = await currentUser();
  if (!me.ok) return <ApiErrorPanel page error={me.error} title="We could not load the event" />;
  if (!mayManage(me.user, ev.data)) notFound();
  const tz = venueZone(ev.data);
  const perShow = shows.ok ? shows.data : [];
  const [an, zones, checkins, refunds] = await Promise.all([
    // The whole sale: the API's default range is the last 30 days.
    load(api.analytics.event(id, saleRange(ev.data.sale_start_at))),
    Promise.all(perShow.map((s) => load(api.catalog.zones(s.id)))),
    Promise.all(perShow.map((s) => load(api.gate.stats(s.id)))),
    ev.data.status === "cancelled" ? load(api.payments.eventRefunds(id)) : null,
  ]);
  const s = an.ok ? an.data.summary : null;
  const hourly = an.ok ? lastHours(an.data.hourly) : [];

  return (
    <div className="space-y-6">
      <AutoRefresh everySeconds={10} />
      <div className="flex items-center gap-3">
        <h1 className="text-2xl font-bold">Live sales · {ev.data.title}</h1>
        <Link href={`/organizer/events/${id}`} className="text-muted-foreground ml-auto text-sm hover:underline">
          Manage event
        </Link>
      </div>
      {refunds && (
        <div className="space-y-1" data-testid="dashboard-cancelled">
          <p className="text-destructive text-sm">Cancelled: paid bookings are refunded in full.</p>
          {/* The page is read again every 10 s already. */}
          <EventRefunds refunds={refunds} refresh={false} />
        </div>
      )}
      {!an.ok ? (
        <ApiErrorPanel error={an.error} title="We could not load the sales figures" />
      ) : (
        <>
          <p className="text-muted-foreground text-sm" data-testid="sales-range">
            Since the sale opened ({dayRange(an.data.from, an.data.to)}, UTC) · refunded {money(s?.refunded, s?.currency)} · reservations expired unpaid{" "}
            {s?.expired_bookings ?? 0} · cancelled {s?.cancelled_bookings ?? 0}
          </p>
          <div className="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
            <Stat label="Tickets sold" value={String(s?.tickets_sold ?? 0)} testid="tickets-sold" />
            <Stat label="Revenue (net of refunds)" value={money(s?.revenue, s?.currency)} testid="revenue" />
            <Stat label="Reservations" value={String(s?.reservations ?? 0)} />
            <Stat label="Conversion" value={`${Math.round((s?.conversion_rate ?? 0) * 100)}%`} />
          </div>
          <Card>
            <CardHeader>
              <CardTitle as="h2">Tickets sold per hour (UTC, last 24 hours)</CardTitle>
            </CardHeader>
            <CardContent>
              <BarChart
                label="Tickets sold per hour"
                points={hourly.map((p) => ({ x: p.start.slice(11, 13) + "h", y: p.tickets_sold }))}
              />
            </CardContent>
          </Card>
        </>
      )}
      <Card>
        <CardHeader>
          <CardTitle as="h2">Check-in (live)</CardTitle>
          <CardDescription>
            Tickets scanned at the gates by your{" "}
            <Link href="/organizer/devices" className="underline">
              check-in devices
            </Link>
            , per show. A door offline decides alone: &ldquo;Let in twice&rdquo; counts tickets that two doors may
            both have let in (a shared screenshot), &ldquo;Revoked, scanned offline&rdquo; revoked tickets an offline door
            scanned and did not say it refused (the holder may be inside).
          </CardDescription>
        </CardHeader>
        <CardContent>
          <Table stack>
            <TableHeader>
              <TableRow>
                <TableHead>Show</TableHead>
                <TableHead className="text-right">Checked in</TableHead>
                <TableHead className="text-right">Tickets sold</TableHead>
                <TableHead className="text-right">Revoked</TableHead>
                <TableHead className="text-right">Let in twice</TableHead>
                <TableHead className="text-right">Revoked, scanned offline</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {shows.ok &&
                shows.data.map((show, i) => {
                  const c = checkins[i];
                  return (
                    <TableRow key={show.id} data-testid="dashboard-checkin">
                      <TableCell className="font-medium">{showTime(show, { zone: tz })}</TableCell>
                      <TableCell className="text-right" data-label="Checked in" data-testid="checked-in">
                        {c?.ok ? c.data.checked_in : "–"}
                      </TableCell>
                      <TableCell className="text-right" data-label="Tickets sold">
                        {c?.ok ? c.data.sold : "–"}
                      </TableCell>
                      <TableCell className="text-right" data-label="Revoked">
                        {c?.ok ? c.data.revoked : "–"}
                      </TableCell>
                      <TableCell className="text-right" data-label="Let in twice" data-testid="reused">
                        {c?.ok ? c.data.reused : "–"}
                      </TableCell>
                      <TableCell className="text-right" data-label="Revoked, scanned offline" data-testid="revoked-offline">
                        {c?.ok ? c.data.revoked_offline : "–"}
                      </TableCell>
                    </TableRow>
                  );
                })}
            </TableBody>
          </Table>
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle as="h2">Seats per zone (live)</CardTitle>
        </CardHeader>
        <CardContent>
          <Table stack>
            <TableHeader>
              <TableRow>
                <TableHead>Show</TableHead>
                <TableHead>Zone</TableHead>
                <TableHead className="text-right">Sold</TableHead>
                <TableHead className="text-right">Reserved (unpaid)</TableHead>
                <TableHead className="text-right">Available</TableHead>
                <TableHead className="text-right">Total</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {shows.ok &&
                shows.data.flatMap((show, i) => {
                  const z = zones[i];
                  return z && z.ok
                    ? z.data.map((zone) => (
                        <TableRow key={zone.id} data-testid="dashboard-zone">
                          <TableCell data-label="Show">{showTime(show, { zone: tz })}</TableCell>
                          <TableCell className="font-medium max-sm:order-first" data-label="Zone">
                            {zone.name}
                          </TableCell>
                          <TableCell className="text-right" data-label="Sold" data-testid="zone-sold">
                            {zone.sold_seats}
                          </TableCell>
                          <TableCell className="text-right" data-label="Reserved (unpaid)">
                            {zone.held_seats}
                          </TableCell>
                          <TableCell className="text-right" data-label="Available">
                            {zone.available_seats}
                          </TableCell>
                          <TableCell className="text-right" data-label="Total">
                            {zone.total_seats}
                          </TableCell>
                        </TableRow>
                      ))
                    : [];
                })}
            </TableBody>
          </Table>
        </CardContent>
      </Card>
    </div>
  );
}
