/**
 * Payments (admins): support's money work without curl.
 * - Find a booking: the reference a buyer names (GET /admin/bookings/{reference}),
 *   the booking and its payments (GET /admin/payments?booking_id=), with a
 *   refund in full of a paid one and a retry of a failed refund.
 * - Refunds that failed: GET /admin/payments?status=refund_failed, newest
 *   failure first, each with a retry and the record of a bank transfer.
 * Both name the buyer, read by the user id the records carry
 * (GET /admin/users/{id}): name and e-mail, so that support can reach them.
 */
import type { Metadata } from "next";
import Link from "next/link";

import { RecordTransfer, RefundInFull, RetryRefund } from "@/components/admin-payments";
import { ApiErrorPanel } from "@/components/api-error-panel";
import { Pager, emptyList } from "@/components/pager";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { plainWords } from "@/lib/api/errors";
import { type Loaded, load, publicApi, userApi } from "@/lib/api/server";
import type { Booking, Payment, User } from "@/lib/api/wire";
import { bookingStatusText, cancelCauseText, dateTime, money, showTime, statusVariant, venueZone } from "@/lib/format";
import { bookingReference, paymentActions, paymentStatusText, refundFailureText, tidyReference } from "@/lib/payments";
import { viewerZone } from "@/lib/zone";

export const metadata: Metadata = { title: "Payments" };

type SP = { ref?: string; page?: string };

export default async function PaymentsPage({ searchParams }: { searchParams: Promise<SP> }) {
  const sp = await searchParams;
  const page = Math.max(1, Number.parseInt(sp.page ?? "1", 10) || 1);
  const ref = tidyReference(sp.ref ?? "");
  const api = await userApi();
  const tz = await viewerZone();
  const [failed, found] = await Promise.all([
    load(api.admin.payments({ status: "refund_failed", page, per_page: 20 })),
    ref ? load(api.admin.findBooking(ref)) : Promise.resolve(null),
  ]);
  // Each buyer of the page read once, all at once.
  const buyers = new Map(
    await Promise.all(
      [...new Set(failed.ok ? failed.data.map((p) => p.user_id) : [])].map(async (id) => [id, await load(api.admin.getUser(id))] as const),
    ),
  );
  const href = (p: number) => `/admin/payments?${new URLSearchParams({ ...(ref ? { ref } : {}), page: String(p) })}`;
  return (
    <div className="space-y-8">
      <div className="flex items-center gap-3">
        <h1 className="text-2xl font-bold">Payments</h1>
        <Link className="text-muted-foreground ml-auto text-sm hover:underline" href="/admin/users">
          Users and roles
        </Link>
        <Link className="text-muted-foreground text-sm hover:underline" href="/admin/audit">
          Audit log
        </Link>
      </div>

      <section className="space-y-4" aria-labelledby="find-booking">
        <h2 id="find-booking" className="text-xl font-semibold">
          Find a booking
        </h2>
        <form className="flex flex-wrap items-end gap-2" method="get" role="search">
          <div className="space-y-1">
            <Label htmlFor="ref">Booking reference</Label>
            <Input id="ref" name="ref" defaultValue={ref} placeholder="BR-7KQD-M2XH-9TFA" className="w-64 font-mono" autoComplete="off" required />
          </div>
          <Button type="submit" variant="outline">
            Find
          </Button>
        </form>
        {found && <FoundBooking found={found} reference={ref} tz={tz} />}
      </section>

      <section className="space-y-4" aria-labelledby="failed-refunds">
        <h2 id="failed-refunds" className="text-xl font-semibold">
          Refunds that failed
        </h2>
        <p className="text-muted-foreground text-sm">
          The provider took these refunds and then failed them (a closed card, for one): we hold the buyer&apos;s money. Reach the
          buyer first, then send the refund again to a card that works, or pay it back by bank transfer and record that here.
        </p>
        {!failed.ok ? (
          <ApiErrorPanel error={failed.error} title="We could not load the failed refunds" />
        ) : (
          <>
            {failed.data.length > 0 && (
              <Table>
                <TableHeader>
                  <TableRow>
                    <TableHead>Booking</TableHead>
                    <TableHead>Buyer</TableHead>
                    <TableHead>Paid</TableHead>
                    <TableHead>Owed to the buyer</TableHead>
                    <TableHead>Why it failed</TableHead>
                    <TableHead>When</TableHead>
                    <TableHead>
                      <span className="sr-only">Actions</span>
                    </TableHead>
                  </TableRow>
                </TableHeader>
                <TableBody>
                  {failed.data.map((p) => (
                    <TableRow key={p.id} data-testid="failed-refund-row" data-payment={p.id}>
                      <TableCell>
                        <Link className="font-mono text-sm underline" href={`/admin/payments?ref=${bookingReference(p.booking_id)}`}>
                          {bookingReference(p.booking_id)}
                        </Link>
                      </TableCell>
                      <TableCell className="min-w-44 whitespace-normal">
                        <BuyerContact userId={p.user_id} account={buyers.get(p.user_id)} />
                      </TableCell>
                      <TableCell>{money(p.amount, p.currency)}</TableCell>
                      <TableCell className="font-medium">{money(p.refund_owed, p.currency)}</TableCell>
                      <TableCell className="max-w-xs text-sm whitespace-normal">{refundFailureText(p.refund_failure_reason)}</TableCell>
                      <TableCell className="text-sm">{dateTime(p.refund_failed_at, { zone: tz })}</TableCell>
                      <TableCell>
                        <div className="flex flex-wrap gap-2">
                          <RetryRefund payment={p} owed={p.refund_owed} />
                          <RecordTransfer payment={p} owed={p.refund_owed} />
                        </div>
                      </TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            )}
            {emptyList(failed.data.length, failed.meta) && (
              <p className="text-muted-foreground" data-testid="no-failed-refunds">
                No refund has failed: every buyer owed money has it back.
              </p>
            )}
            <Pager meta={failed.meta} href={href} />
          </>
        )}
      </section>
    </div>
  );
}

/** The booking a reference names, what it is for and its payments; or why there is none. */
async function FoundBooking({ found, reference, tz }: { found: Loaded<Booking>; reference: string; tz: string }) {
  if (!found.ok) {
    if (found.error.code === "NOT_FOUND") {
      return (
        <p role="alert" data-testid="booking-not-found">
          No booking has the reference <span className="font-mono">{reference}</span>. Check it with the buyer: it is in their
          booking&apos;s mails and on its page.
        </p>
      );
    }
    if (found.error.code === "VALIDATION_ERROR") {
      return (
        <p role="alert" className="text-destructive" data-testid="booking-reference-invalid">
          {plainWords(found.error)}
        </p>
      );
    }
    return <ApiErrorPanel error={found.error} title="We could not look the booking up" />;
  }
  const b = found.data;
  const api = await userApi();
  const pub = publicApi(30);
  // Titles when the catalog has them at hand (one read each, cached); the ids otherwise.
  const [payments, buyer, ev, shows, zones] = await Promise.all([
    load(api.admin.payments({ booking_id: b.id, per_page: 100 })),
    load(api.admin.getUser(b.user_id)),
    load(pub.catalog.event(b.event_id)),
    load(pub.catalog.shows(b.event_id)),
    load(pub.catalog.zones(b.show_id)),
  ]);
  const show = shows.ok ? shows.data.find((s) => s.id === b.show_id) : undefined;
  const zone = zones.ok ? zones.data.find((z) => z.id === b.zone_id) : undefined;
  const ended = cancelCauseText(b.cancel_cause, "staff");
  return (
    <Card data-testid="found-booking" data-booking={b.id}>
      <CardHeader>
        <CardTitle className="flex flex-wrap items-center gap-3">
          <h3 className="font-mono">{b.reference}</h3>
          <Badge variant={statusVariant(b.status)} data-testid="found-booking-status" data-status={b.status}>
            {bookingStatusText(b.status)}
          </Badge>
        </CardTitle>
        <CardDescription>
          {ev.ok ? ev.data.title : `Event ${b.event_id}`}
          {" · "}
          {show ? showTime(show, { zone: venueZone(ev.ok ? ev.data : null) }) : `show ${b.show_id}`}
          {" · "}
          {zone ? zone.name : `zone ${b.zone_id}`}
        </CardDescription>
      </CardHeader>
      <CardContent className="space-y-4">
        <dl className="grid grid-cols-[auto_1fr] gap-x-6 gap-y-1 text-sm">
          <dt className="text-muted-foreground">Seats</dt>
          <dd>{b.quantity}</dd>
          <dt className="text-muted-foreground">Total</dt>
          <dd>{money(b.total_amount, b.currency)}</dd>
          <dt className="text-muted-foreground">Reserved</dt>
          <dd>{dateTime(b.created_at, { zone: tz })}</dd>
          {b.confirmed_at && (
            <>
              <dt className="text-muted-foreground">Confirmed</dt>
              <dd>{dateTime(b.confirmed_at, { zone: tz })}</dd>
            </>
          )}
          {b.cancelled_at && (
            <>
              <dt className="text-muted-foreground">Ended</dt>
              <dd>
                {dateTime(b.cancelled_at, { zone: tz })}
                {ended && `: ${ended}`}
              </dd>
            </>
          )}
          <dt className="text-muted-foreground">Buyer</dt>
          <dd>
            <BuyerContact userId={b.user_id} account={buyer} idBelow />
          </dd>
        </dl>
        <h4 className="font-semibold">Payments</h4>
        {!payments.ok ? (
          <ApiErrorPanel error={payments.error} title="We could not load the booking's payments" />
        ) : payments.data.length === 0 ? (
          <p className="text-muted-foreground text-sm" data-testid="no-payments">
            Nothing was paid for this booking.
          </p>
        ) : (
          <Table>
            <TableHeader>
              <TableRow>
                <TableHead>Status</TableHead>
                <TableHead>Amount</TableHead>
                <TableHead>Refunded</TableHead>
                <TableHead>Created</TableHead>
                <TableHead>
                  <span className="sr-only">Actions</span>
                </TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {payments.data.map((p) => (
                <PaymentRow key={p.id} p={p} tz={tz} />
              ))}
            </TableBody>
          </Table>
        )}
      </CardContent>
    </Card>
  );
}

/**
 * Whom to reach about a booking or payment: the buyer's name and e-mail (a
 * mailto: link), the user id on hover or, with idBelow, underneath. A deleted
 * account says so (only its id stays on its bookings and payments); an
 * account that could not be read leaves the bare id.
 */
function BuyerContact({ userId, account, idBelow = false }: { userId: string; account: Loaded<User> | undefined; idBelow?: boolean }) {
  const id = idBelow && <div className="text-muted-foreground font-mono text-xs">{userId}</div>;
  if (account?.ok) {
    const u = account.data;
    return (
      <div data-testid="buyer-contact" data-user={userId} title={userId}>
        {u.full_name && <div className="font-medium">{u.full_name}</div>}
        <a className="text-sm break-words underline" href={`mailto:${u.email}`}>
          {u.email}
        </a>
        {id}
      </div>
    );
  }
  if (account?.error.code === "NOT_FOUND") {
    return (
      <div data-testid="buyer-contact" data-user={userId} title={userId}>
        <div className="text-muted-foreground text-sm">Account deleted: no name or e-mail kept</div>
        {id}
      </div>
    );
  }
  return (
    <div data-testid="buyer-contact" data-user={userId} className="font-mono text-xs" title="We could not look the account up">
      {userId}
    </div>
  );
}

function PaymentRow({ p, tz }: { p: Payment; tz: string }) {
  const can = paymentActions(p.status);
  return (
    <TableRow data-testid="booking-payment-row" data-payment={p.id}>
      <TableCell>
        <Badge variant={statusVariant(p.status)} data-testid="payment-status" data-status={p.status}>
          {paymentStatusText(p.status)}
        </Badge>
        {p.status === "refund_failed" && <p className="text-muted-foreground mt-1 text-xs">{refundFailureText(p.refund_failure_reason)}</p>}
      </TableCell>
      <TableCell>{money(p.amount, p.currency)}</TableCell>
      <TableCell data-testid="payment-refunded">{money(p.refunded_amount, p.currency)}</TableCell>
      <TableCell className="text-sm">{dateTime(p.created_at, { zone: tz })}</TableCell>
      <TableCell>
        <div className="flex flex-wrap gap-2">
          {can.refundInFull && <RefundInFull payment={p} />}
          {can.retry && <RetryRefund payment={p} owed={p.refund_owed} />}
          {can.recordTransfer && <RecordTransfer payment={p} owed={p.refund_owed} />}
        </div>
      </TableCell>
    </TableRow>
  );
}
