/**
 * The organizer's check-in devices: each scanning device is registered for
 * some of their events and gets a credential (shown once), and is revoked
 * when lost or done (GET, POST /checkin/devices, DELETE /checkin/devices/{id}).
 */
import type { Metadata } from "next";
import Link from "next/link";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { AutoRefresh } from "@/components/auto-refresh";
import { DeviceForm, RevokeDeviceButton } from "@/components/organizer/devices";
import { NotOrganizer } from "@/components/organizer/not-organizer";
import { SessionRoleSync } from "@/components/session-role-sync";
import { Pager } from "@/components/pager";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { currentUser, isStaff, load, userApi } from "@/lib/api/server";
import type { Device } from "@/lib/api/wire";
import { badgeText, count, dateTime } from "@/lib/format";
import { viewerZone } from "@/lib/zone";

export const metadata: Metadata = { title: "Check-in devices" };

function state(d: Device, now = Date.now()): "revoked" | "expired" | "active" {
  if (d.revoked_at) return "revoked";
  if (d.expires_at && Date.parse(d.expires_at) <= now) return "expired";
  return "active";
}

export default async function DevicesPage({ searchParams }: { searchParams: Promise<{ page?: string }> }) {
  // The role the API holds now (a user promoted since signing in is an organizer at once).
  const me = await currentUser();
  if (!me.ok) return <ApiErrorPanel page error={me.error} />;
  if (me.user && !isStaff(me.user)) return <NotOrganizer title="Check-in devices" />;
  const page = Math.max(1, Number.parseInt((await searchParams).page ?? "1", 10) || 1);
  const api = await userApi();
  const tz = await viewerZone();
  const [devices, drafts, published] = await Promise.all([
    load(api.gate.devices({ page, per_page: 50 })),
    load(api.catalog.events({ mine: true, status: "draft", per_page: 100 })),
    load(api.catalog.events({ mine: true, status: "published", per_page: 100 })),
  ]);
  // A device checks in the organizer's events that sell, or will.
  const events = [...(published.ok ? published.data : []), ...(drafts.ok ? drafts.data : [])];
  const titles = new Map(events.map((e) => [e.id, e.title]));
  // A device's event outside those lists (a cancelled one, or past the first
  // hundred) is asked for by id, a few at most per page.
  const unlisted = [...new Set(devices.ok ? devices.data.flatMap((d) => d.event_ids) : [])].filter((id) => !titles.has(id)).slice(0, 40);
  for (const res of await Promise.all(unlisted.map((id) => load(api.catalog.event(id))))) {
    if (res.ok) titles.set(res.data.id, res.data.status === "cancelled" ? `${res.data.title} (cancelled)` : res.data.title);
  }
  return (
    <div className="space-y-6">
      {me.stale && <SessionRoleSync />}
      <div className="flex items-center gap-3">
        <h1 className="text-2xl font-bold">Check-in devices</h1>
        <Link href="/organizer" className="text-muted-foreground ml-auto text-sm hover:underline">
          Your events
        </Link>
      </div>
      <Card>
        <CardHeader>
          <CardTitle as="h2">Register a device</CardTitle>
          <CardDescription>
            A phone, tablet or laptop at the gates: it checks in the tickets of the events you choose, until it expires or you revoke it. Open the{" "}
            <Link href="/door" className="underline">
              door check-in page
            </Link>{" "}
            on it and enter its credential.
          </CardDescription>
        </CardHeader>
        <CardContent>
          <DeviceForm events={events.map((e) => ({ id: e.id, title: e.title }))} />
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle as="h2">Your devices</CardTitle>
          <CardDescription>
            Times in your time zone ({tz}). Updated every 10 s while this page is open: a door whose last scan falls behind the others&apos; may be offline.
          </CardDescription>
          {/* The doors' last scans move during the event; the organizer watches them here. */}
          <AutoRefresh everySeconds={10} />
        </CardHeader>
        <CardContent>
          {!devices.ok ? (
            <ApiErrorPanel error={devices.error} title="We could not load your devices" />
          ) : devices.data.length === 0 && !(devices.meta && devices.meta.total > 0) ? (
            <p className="text-muted-foreground text-sm" data-testid="no-devices">
              No device yet.
            </p>
          ) : (
            <>
              <Table stack>
                <TableHeader>
                  <TableRow>
                    <TableHead>Device</TableHead>
                    <TableHead>Events</TableHead>
                    <TableHead>Registered</TableHead>
                    <TableHead>Valid until</TableHead>
                    <TableHead>Last scan</TableHead>
                    <TableHead>State</TableHead>
                    <TableHead>
                      <span className="sr-only">Actions</span>
                    </TableHead>
                  </TableRow>
                </TableHeader>
                <TableBody>
                  {devices.data.map((d) => {
                    const st = state(d);
                    return (
                      <TableRow key={d.id} data-testid="device-row" data-name={d.name}>
                        <TableCell className="font-medium">{d.name}</TableCell>
                        <TableCell className="text-sm whitespace-normal" data-label="Events">{d.event_ids.map((id) => titles.get(id) ?? "an event no longer listed").join(", ")}</TableCell>
                        <TableCell data-label="Registered">{dateTime(d.created_at, { zone: tz })}</TableCell>
                        <TableCell data-label="Valid until">{dateTime(d.expires_at, { zone: tz })}</TableCell>
                        {/* When the gate last heard from the door: one silent while the others scan may be offline. */}
                        <TableCell className="whitespace-normal" data-label="Last scan" data-testid="device-last-scan">
                          {d.last_seen_at ? `${dateTime(d.last_seen_at, { zone: tz })} · ${count(d.scans ?? 0, "scan")}` : "No scan yet"}
                        </TableCell>
                        <TableCell data-label="State">
                          <Badge variant={st === "active" ? "success" : "secondary"} data-testid="device-state">
                            {badgeText(st)}
                          </Badge>
                        </TableCell>
                        <TableCell className="text-right max-sm:justify-start">{st === "active" && <RevokeDeviceButton deviceId={d.id} name={d.name} />}</TableCell>
                      </TableRow>
                    );
                  })}
                </TableBody>
              </Table>
              <Pager meta={devices.meta} href={(p) => `/organizer/devices?page=${p}`} />
            </>
          )}
        </CardContent>
      </Card>
    </div>
  );
}
