/** The signed-in user's notifications (the e-mails Booking Rush sent them). */
import type { Metadata } from "next";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { Pager, emptyList } from "@/components/pager";
import { Badge } from "@/components/ui/badge";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { load, userApi } from "@/lib/api/server";
import { dateTime, deliveryStatusText, statusVariant } from "@/lib/format";
import { viewerZone } from "@/lib/zone";

export const metadata: Metadata = { title: "Notifications" };

export default async function NotificationsPage({ searchParams }: { searchParams: Promise<{ page?: string }> }) {
  const page = Math.max(1, Number.parseInt((await searchParams).page ?? "1", 10) || 1);
  const res = await load((await userApi()).notifications.list({ page, per_page: 20 }));
  const tz = await viewerZone();
  if (!res.ok) return <ApiErrorPanel page error={res.error} title="We could not load your notifications" />;
  return (
    <div className="space-y-6">
      <h1 className="text-2xl font-bold">Notifications</h1>
      {emptyList(res.data.length, res.meta) ? (
        <p className="text-muted-foreground" data-testid="no-notifications">
          No e-mail sent to you yet. Your booking confirmations, tickets and refunds will be listed here.
        </p>
      ) : (
        // On a phone each mail is a block of its own, its subject wrapped.
        <Table className="max-sm:block">
          <TableHeader className="max-sm:hidden">
            <TableRow>
              <TableHead>When</TableHead>
              <TableHead>Subject</TableHead>
              <TableHead>Delivery</TableHead>
            </TableRow>
          </TableHeader>
          <TableBody className="max-sm:block">
            {res.data.map((n) => (
              <TableRow key={n.id} data-testid="notification" className="max-sm:flex max-sm:flex-wrap max-sm:items-center max-sm:py-2">
                <TableCell className="text-muted-foreground sm:text-foreground max-sm:py-0">{dateTime(n.created_at, { zone: tz })}</TableCell>
                <TableCell className="max-sm:order-last max-sm:w-full max-sm:py-1 max-sm:whitespace-normal">{n.subject}</TableCell>
                <TableCell className="max-sm:py-0">
                  <Badge variant={statusVariant(n.status)} data-testid="delivery-status" data-status={n.status}>
                    {deliveryStatusText(n.status)}
                  </Badge>
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
      <Pager meta={res.meta} href={(p) => `/notifications?page=${p}`} />
    </div>
  );
}
