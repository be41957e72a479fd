"use client";

/**
 * Support's money actions on /admin/payments, each a dialog that asks first
 * and then says what happened in words:
 * - RetryRefund: an admin's POST /payments/{id}/refund on a refund_failed
 *   payment sends the failed refund again through the provider;
 * - RecordTransfer: POST /admin/payments/{id}/refund-outside-provider records
 *   money support gave back by bank transfer (reference required);
 * - RefundInFull: POST /payments/{id}/refund with in_full and a reason gives
 *   the whole price back whatever the refund policy, and cancels the booking.
 * The page is read again when the dialog closes, so the outcome stays in
 * view until then (a row of the failed refunds leaves the list once settled).
 */
import { useRouter } from "next/navigation";
import { useId, useState } from "react";
import { CheckCircle2 } from "lucide-react";

import { ActionStatus } from "@/components/action-status";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle, DialogTrigger } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Textarea } from "@/components/ui/textarea";
import { useApiAction } from "@/hooks/use-api-action";
import { browserApi } from "@/lib/api/browser";
import type { Payment } from "@/lib/api/wire";
import { money } from "@/lib/format";
import { refundOutcome } from "@/lib/payments";

/** What an error means here where the app's plain words say another thing (a buyer's "not yours"). */
const paymentWords = { NOT_FOUND: "This payment no longer exists." };

/** The shell of every action: a trigger, a dialog, and the outcome in words once done. */
function ActionDialog({
  label,
  title,
  description,
  testId,
  outcome,
  onClosed,
  children,
}: {
  /** The button that opens it; testId names it, and `${testId}-dialog` the dialog. */
  label: string;
  title: string;
  description: React.ReactNode;
  testId: string;
  outcome: string | null;
  onClosed: () => void;
  children: React.ReactNode;
}) {
  const [open, setOpen] = useState(false);
  return (
    <Dialog
      open={open}
      onOpenChange={(o) => {
        setOpen(o);
        if (!o) onClosed();
      }}
    >
      <DialogTrigger asChild>
        <Button variant="outline" size="sm" data-testid={testId}>
          {label}
        </Button>
      </DialogTrigger>
      <DialogContent data-testid={`${testId}-dialog`}>
        <DialogHeader>
          <DialogTitle>{title}</DialogTitle>
          <DialogDescription>{description}</DialogDescription>
        </DialogHeader>
        {outcome ? (
          <>
            <p role="status" className="text-success flex items-start gap-2 font-medium" data-testid="action-outcome">
              <CheckCircle2 className="mt-0.5 size-4 shrink-0" /> {outcome}
            </p>
            <DialogFooter>
              <Button
                onClick={() => {
                  setOpen(false);
                  onClosed();
                }}
              >
                Done
              </Button>
            </DialogFooter>
          </>
        ) : (
          children
        )}
      </DialogContent>
    </Dialog>
  );
}

/** The outcome's state and what closing the dialog does: forget it and read the page again. */
function useOutcome() {
  const router = useRouter();
  const [outcome, setOutcome] = useState<string | null>(null);
  return {
    outcome,
    setOutcome,
    closed: () => {
      if (outcome) router.refresh();
      setOutcome(null);
    },
  };
}

const inCurrency = (currency: string) => (amount: string) => money(amount, currency);

/** Retries a refund that failed at the provider, after a confirmation. */
export function RetryRefund({ payment, owed }: { payment: Pick<Payment, "id" | "currency">; owed: string }) {
  const action = useApiAction(paymentWords);
  const { outcome, setOutcome, closed } = useOutcome();
  async function confirm() {
    const res = await action.run(() => browserApi.payments.refund(payment.id, {}));
    if (res) setOutcome(refundOutcome(res.data, inCurrency(payment.currency)));
  }
  return (
    <ActionDialog
      label="Retry the refund"
      title="Retry the refund?"
      description={
        <>
          {money(owed, payment.currency)} is sent again to the card the buyer paid with. Do this once the buyer has a card that
          works again (a closed card refuses it again, and the refund comes back to this list).
        </>
      }
      testId="retry-refund"
      outcome={outcome}
      onClosed={closed}
    >
      <ActionStatus state={action} />
      <DialogFooter>
        <Button onClick={confirm} disabled={action.running} data-testid="confirm-retry-refund">
          Send the refund again
        </Button>
      </DialogFooter>
    </ActionDialog>
  );
}

/** Records money support gave back by bank transfer for a failed refund. */
export function RecordTransfer({ payment, owed }: { payment: Pick<Payment, "id" | "currency">; owed: string }) {
  // The API's CONFLICT names the payment's status as stored: say it instead.
  const action = useApiAction({
    ...paymentWords,
    CONFLICT:
      "There is nothing to record now: this payment's refund no longer stands failed (it was settled meanwhile), or a retry to the card is under way. Close this and look again.",
  });
  const { outcome, setOutcome, closed } = useOutcome();
  const id = useId();
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const reference = String(f.get("reference") ?? "").trim();
    const note = String(f.get("note") ?? "").trim();
    const res = await action.run(() => browserApi.admin.refundOutsideProvider(payment.id, { reference, note }));
    if (res) {
      setOutcome(
        `Recorded: ${money(res.data.refunded_amount, payment.currency)} counts as paid back by bank transfer ${reference}. The buyer is mailed that our support team paid it.`,
      );
    }
  }
  return (
    <ActionDialog
      label="Record a bank transfer"
      title="Record a bank transfer"
      description={
        <>
          Only once the money ({money(owed, payment.currency)}) has left our bank account: nothing is sent to the card, and
          the payment counts as refunded.
        </>
      }
      testId="record-transfer"
      outcome={outcome}
      onClosed={closed}
    >
      <form onSubmit={submit} className="space-y-3">
        <div className="space-y-1">
          <Label htmlFor={`${id}-reference`}>Transfer reference</Label>
          <Input id={`${id}-reference`} name="reference" required maxLength={200} autoComplete="off" />
        </div>
        <div className="space-y-1">
          <Label htmlFor={`${id}-note`}>Note (optional)</Label>
          <Textarea id={`${id}-note`} name="note" maxLength={1000} />
        </div>
        <ActionStatus state={action} />
        <DialogFooter>
          <Button type="submit" disabled={action.running} data-testid="confirm-record-transfer">
            Record the transfer
          </Button>
        </DialogFooter>
      </form>
    </ActionDialog>
  );
}

/** Refunds a payment in full whatever the refund policy (support's goodwill), with a reason. */
export function RefundInFull({ payment }: { payment: Pick<Payment, "id" | "currency" | "amount" | "refunded_amount" | "status"> }) {
  const action = useApiAction(paymentWords);
  const { outcome, setOutcome, closed } = useOutcome();
  const id = useId();
  const rest = payment.status === "partially_refunded";
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const reason = String(new FormData(e.currentTarget).get("reason") ?? "").trim();
    const res = await action.run(() => browserApi.payments.refund(payment.id, { in_full: true, reason }));
    if (res) setOutcome(refundOutcome(res.data, inCurrency(payment.currency)));
  }
  return (
    <ActionDialog
      label="Refund in full"
      title="Refund the whole price?"
      description={
        <>
          {rest ? (
            <>
              The rest of the price goes back: {money(payment.refunded_amount, payment.currency)} of{" "}
              {money(payment.amount, payment.currency)} was refunded already.
            </>
          ) : (
            <>The whole price, {money(payment.amount, payment.currency)}, goes back to the buyer&apos;s card</>
          )}{" "}
          whatever the refund policy would give. The booking is cancelled, its tickets stop working and its seats go back on
          sale. The buyer is mailed. This cannot be undone.
        </>
      }
      testId="refund-in-full"
      outcome={outcome}
      onClosed={closed}
    >
      <form onSubmit={submit} className="space-y-3">
        <div className="space-y-1">
          <Label htmlFor={`${id}-reason`}>Reason (kept with the refund and in the audit log)</Label>
          <Textarea id={`${id}-reason`} name="reason" required maxLength={500} />
        </div>
        <ActionStatus state={action} />
        <DialogFooter>
          <Button type="submit" variant="destructive" disabled={action.running} data-testid="confirm-refund-in-full">
            Refund in full and cancel the booking
          </Button>
        </DialogFooter>
      </form>
    </ActionDialog>
  );
}
