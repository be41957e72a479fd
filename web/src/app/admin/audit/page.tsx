/** The audit log (admins): who changed what, newest first, with filters. */
import type { Metadata } from "next";
import Link from "next/link";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { Pager } from "@/components/pager";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { load, userApi } from "@/lib/api/server";
import { type AuditChange, auditChanges } from "@/lib/audit";
import { dateTime } from "@/lib/format";
import { viewerZone } from "@/lib/zone";

export const metadata: Metadata = { title: "Audit log" };

type SP = Record<string, string | undefined>;

export default async function AuditPage({ searchParams }: { searchParams: Promise<SP> }) {
  const sp = await searchParams;
  const page = Math.max(1, Number.parseInt(sp.page ?? "1", 10) || 1);
  const filters = { action: sp.action ?? "", entity_type: sp.entity_type ?? "", user_id: sp.user_id ?? "", entity_id: sp.entity_id ?? "" };
  const res = await load((await userApi()).admin.auditLogs({ ...filters, page, per_page: 50 }));
  const tz = await viewerZone();
  const href = (p: number) => `/admin/audit?${new URLSearchParams({ ...Object.fromEntries(Object.entries(filters).filter(([, v]) => v)), page: String(p) })}`;
  return (
    <div className="space-y-6">
      <div className="flex items-center gap-3">
        <h1 className="text-2xl font-bold">Audit log</h1>
        <Link className="text-muted-foreground ml-auto text-sm hover:underline" href="/admin/users">
          Users and roles
        </Link>
        <Link className="text-muted-foreground text-sm hover:underline" href="/admin/payments">
          Payments
        </Link>
      </div>
      <form className="flex flex-wrap gap-2" method="get">
        {/* A placeholder is no label: it is gone once the field has a value. */}
        <Input name="action" aria-label="Action" placeholder="action, e.g. booking.cancel" defaultValue={filters.action} className="w-56" />
        <Input name="entity_type" aria-label="Entity type" placeholder="entity, e.g. event" defaultValue={filters.entity_type} className="w-40" />
        <Input name="user_id" aria-label="Actor id" placeholder="actor id" defaultValue={filters.user_id} className="w-80" />
        <Input name="entity_id" aria-label="Entity id" placeholder="entity id" defaultValue={filters.entity_id} className="w-80" />
        <Button type="submit" variant="outline">
          Filter
        </Button>
      </form>
      {!res.ok ? (
        <ApiErrorPanel error={res.error} title="We could not load the audit log" />
      ) : (
        <>
          {/* Stacked on a phone, a block per entry: a table wider than the screen scrolled sideways in a box the keyboard could not reach (axe, scrollable-region-focusable). */}
          <Table stack>
            <TableHeader>
              <TableRow>
                <TableHead>When</TableHead>
                <TableHead>Action</TableHead>
                <TableHead>Entity</TableHead>
                <TableHead>Actor</TableHead>
                <TableHead>Change</TableHead>
                <TableHead>From</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {res.data.map((a) => (
                <TableRow key={a.id} data-testid="audit-row">
                  <TableCell className="font-medium">{dateTime(a.created_at, { zone: tz })}</TableCell>
                  <TableCell data-label="Action" className="font-mono text-xs">
                    {a.action}
                  </TableCell>
                  <TableCell data-label="Entity" className="font-mono text-xs">
                    {a.entity_type} {a.entity_id.slice(0, 8)}
                  </TableCell>
                  <TableCell data-label="Actor" className="font-mono text-xs">
                    {a.user_id ? a.user_id.slice(0, 8) : "system"}
                  </TableCell>
                  <TableCell data-label="Change" className="max-w-md text-xs" title={JSON.stringify({ old: a.old_values, new: a.new_values })}>
                    <Changes changes={auditChanges(a.old_values, a.new_values)} />
                  </TableCell>
                  <TableCell data-label="From" className="text-xs">
                    {a.ip_address}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          <Pager meta={res.meta} href={href} />
        </>
      )}
    </div>
  );
}

/** How many changed fields a row shows; the rest are counted. */
const shown = 4;

/** An entry's changed fields, "title: Rush → Rush Live", one a line. */
function Changes({ changes }: { changes: AuditChange[] }) {
  return (
    <ul className="space-y-0.5" data-testid="audit-changes">
      {changes.slice(0, shown).map((c) => (
        <li key={c.field} className="truncate">
          <span className="text-muted-foreground">{c.field}:</span> {c.from !== null && <>{c.from} → </>}
          {c.to ?? <em>none</em>}
        </li>
      ))}
      {changes.length > shown && <li className="text-muted-foreground">and {changes.length - shown} more</li>}
    </ul>
  );
}
