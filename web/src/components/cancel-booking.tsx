"use client";

/**
 * Cancelling a booking, after saying what it would refund: the dialog asks
 * the API for a refund quote (GET /bookings/{id}/refund-quote: paid amount,
 * the share given back now and the policy in words) before the buyer confirms.
 */
import { useRouter } from "next/navigation";
import { useState } from "react";

import { ActionStatus } from "@/components/action-status";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle, DialogTrigger } from "@/components/ui/dialog";
import { useApiAction } from "@/hooks/use-api-action";
import { browserApi } from "@/lib/api/browser";
import type { RefundQuote } from "@/lib/api/wire";
import { browserZone, dateTime, money } from "@/lib/format";

/** label: the button's words ("Cancel" in a row of bookings; "Cancel booking" beside Pay now, where "Cancel" read as leaving the payment). */
export function CancelBooking({ bookingId, reference, label = "Cancel" }: { bookingId: string; reference: string; label?: string }) {
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const [quote, setQuote] = useState<RefundQuote | null>(null);
  const loading = useApiAction();
  const cancelling = useApiAction();

  async function onOpen(next: boolean) {
    setOpen(next);
    if (!next) return;
    setQuote(null);
    const q = await loading.run(() => browserApi.bookings.refundQuote(bookingId));
    if (q) setQuote(q.data);
  }

  async function confirm() {
    const res = await cancelling.run(() => browserApi.bookings.cancel(bookingId, "cancelled by the buyer in the web app"));
    if (res) {
      setOpen(false);
      router.refresh();
    }
  }

  const paid = quote && Number(quote.paid) > 0;
  return (
    <Dialog open={open} onOpenChange={onOpen}>
      <DialogTrigger asChild>
        <Button variant="outline" size="sm" data-testid="cancel-booking">
          {label}
        </Button>
      </DialogTrigger>
      <DialogContent>
        <DialogHeader>
          <DialogTitle>Cancel booking {reference}?</DialogTitle>
          <DialogDescription>Your seats go back on sale at once. This cannot be undone.</DialogDescription>
        </DialogHeader>
        {loading.running && !quote && <p role="status">Checking what a cancel would refund…</p>}
        <ActionStatus state={loading} />
        {quote &&
          (!quote.cancellable ? (
            // The API says why: the booking ended, or a ticket of it was
            // used at the door.
            <p data-testid="not-cancellable">{quote.policy || "This booking cannot be cancelled."}</p>
          ) : paid ? (
            <div className="space-y-1 rounded-md border p-3" data-testid="refund-quote">
              <p>
                You paid <strong>{money(quote.paid, quote.currency)}</strong>. Cancelling now refunds{" "}
                <strong data-testid="refund-amount">{money(quote.refund_amount, quote.currency)}</strong> ({quote.refund_percent}%).
              </p>
              <p className="text-muted-foreground text-sm">{quote.policy}</p>
              {quote.valid_until && <p className="text-muted-foreground text-xs">This quote holds until {dateTime(quote.valid_until, { zone: browserZone() })}.</p>}
            </div>
          ) : (
            <p data-testid="refund-quote">Nothing was paid for this reservation, so nothing is refunded.</p>
          ))}
        <ActionStatus state={cancelling} />
        <DialogFooter>
          <Button variant="outline" onClick={() => setOpen(false)}>
            Keep it
          </Button>
          <Button variant="destructive" onClick={confirm} disabled={!quote?.cancellable || cancelling.running} data-testid="confirm-cancel">
            {/* A quote of nothing back (the show is under 3 days away) is no "refund $0.00". */}
            {paid && Number(quote!.refund_amount) > 0
              ? `Cancel and refund ${money(quote!.refund_amount, quote!.currency)}`
              : paid
                ? "Cancel without a refund"
                : "Cancel booking"}
          </Button>
        </DialogFooter>
      </DialogContent>
    </Dialog>
  );
}
