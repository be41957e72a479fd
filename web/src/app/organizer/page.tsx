/** An organizer's events: drafts, on sale and cancelled (ListEvents ?mine=true per status), each section paged on its own. */
import type { Metadata } from "next";
import Link from "next/link";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { Pager, emptyList } from "@/components/pager";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { NotOrganizer } from "@/components/organizer/not-organizer";
import { SessionRoleSync } from "@/components/session-role-sync";
import { currentUser, isStaff, load, userApi } from "@/lib/api/server";
import type { Event, EventStatus } from "@/lib/api/wire";
import { badgeText, dateTime, statusVariant, venueZone } from "@/lib/format";

export const metadata: Metadata = { title: "Your events" };

const SECTIONS: { status: EventStatus; title: string }[] = [
  { status: "draft", title: "Drafts" },
  { status: "published", title: "Published" },
  { status: "cancelled", title: "Cancelled" },
];

function Events({ events }: { events: Event[] }) {
  return (
    <Table stack>
      <TableHeader>
        <TableRow>
          <TableHead>Title</TableHead>
          <TableHead>Sale opens</TableHead>
          <TableHead>Status</TableHead>
          <TableHead>
            <span className="sr-only">Actions</span>
          </TableHead>
        </TableRow>
      </TableHeader>
      <TableBody>
        {events.map((e) => (
          <TableRow key={e.id} data-testid="organizer-event" data-title={e.title}>
            <TableCell className="font-medium">
              <Link href={`/organizer/events/${e.id}`} className="hover:underline">
                {e.title}
              </Link>
            </TableCell>
            <TableCell data-label="Sale opens">{dateTime(e.sale_start_at, { zone: venueZone(e) })}</TableCell>
            <TableCell data-label="Status">
              <Badge variant={statusVariant(e.status)}>{badgeText(e.status)}</Badge>
              {e.queue_enabled && (
                <Badge variant="outline" className="ml-1">
                  Waiting room
                </Badge>
              )}
            </TableCell>
            <TableCell className="space-x-2 text-right max-sm:justify-start">
              <Button asChild size="sm" variant="outline">
                <Link href={`/organizer/events/${e.id}`}>Manage</Link>
              </Button>
              {e.status !== "draft" && (
                <Button asChild size="sm" variant="ghost">
                  <Link href={`/organizer/events/${e.id}/dashboard`}>Sales</Link>
                </Button>
              )}
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}

/** Events per page of each section. */
const PER_PAGE = 50;

export default async function OrganizerPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const sp = await searchParams;
  // Each section pages on its own (?draft=2&published=1&cancelled=3).
  const pageOf = (status: EventStatus) => Math.max(1, Number.parseInt(String(sp[status] ?? "1"), 10) || 1);
  const href = (status: EventStatus, page: number) =>
    `/organizer?${new URLSearchParams({ ...Object.fromEntries(SECTIONS.map((s) => [s.status, String(pageOf(s.status))])), [status]: String(page) })}`;
  // The role the API holds now, not br_user's alone: a user promoted since
  // signing in is an organizer here at once.
  const me = await currentUser();
  if (!me.ok) return <ApiErrorPanel page error={me.error} />;
  if (me.user && !isStaff(me.user)) return <NotOrganizer title="Your events" />;
  const api = await userApi();
  const lists = await Promise.all(
    SECTIONS.map((s) => load(api.catalog.events({ mine: true, status: s.status, page: pageOf(s.status), per_page: PER_PAGE }))),
  );
  return (
    <div className="space-y-8">
      {me.stale && <SessionRoleSync />}
      <div className="flex items-center justify-between">
        <h1 className="text-2xl font-bold">Your events</h1>
        <div className="flex gap-2">
          <Button asChild variant="outline">
            <Link href="/organizer/devices">Check-in devices</Link>
          </Button>
          <Button asChild>
            <Link href="/organizer/events/new">New event</Link>
          </Button>
        </div>
      </div>
      {/* A new organizer met three "None." and no word on what to do. */}
      {lists.every((r) => r.ok && emptyList(r.data.length, r.meta)) ? (
        <div className="space-y-3 rounded-xl border border-dashed p-8 text-center" data-testid="no-events">
          <p className="font-medium">You have no events yet.</p>
          <p className="text-muted-foreground text-sm">
            Create a draft, add its dates and zones with their prices and seats, then publish it: buyers can find it and buy at once, or when its sale
            opens.
          </p>
          <Button asChild>
            <Link href="/organizer/events/new">Create your first event</Link>
          </Button>
        </div>
      ) : (
        SECTIONS.map((s, i) => {
          const r = lists[i];
          return (
            <section key={s.status} className="space-y-2">
              <h2 className="text-lg font-semibold">{s.title}</h2>
              {!r.ok ? (
                <ApiErrorPanel error={r.error} />
              ) : emptyList(r.data.length, r.meta) ? (
                <p className="text-muted-foreground text-sm">None.</p>
              ) : (
                <>
                  {r.data.length > 0 && <Events events={r.data} />}
                  <Pager meta={r.meta} href={(p) => href(s.status, p)} />
                </>
              )}
            </section>
          );
        })
      )}
    </div>
  );
}
