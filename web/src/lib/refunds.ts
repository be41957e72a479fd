/**
 * Where a cancelled event's refunds stand (GET /events/{id}/refunds), in the
 * words its organizer reads on the event's page and its dashboard.
 */
import type { EventRefunds } from "./api/wire";
import { count, money } from "./format";

export interface RefundProgress {
  /** "12 of 14 paid bookings refunded ($1,230.00); 1 in progress; 1 failed — our support team is on it." */
  text: string;
  /** Some refunds are still on their way: the page reads them again until they are not. */
  inFlight: boolean;
}

type Tally = { bookings: number; amount: string } | null;

const n = (t: Tally) => t?.bookings ?? 0;

/**
 * The refunds of a cancelled event in one line: how many of its paid
 * bookings are refunded and for how much, how many are still on their way,
 * how many failed at a buyer's bank and wait for support, and how many
 * support paid back by bank transfer.
 */
export function refundProgress(r: Pick<EventRefunds, "currency" | "paid" | "refunded" | "in_progress" | "failed" | "refunded_outside_provider">): RefundProgress {
  const paid = n(r.paid);
  const refunded = n(r.refunded);
  const inProgress = n(r.in_progress);
  const failed = n(r.failed);
  const outside = n(r.refunded_outside_provider);
  if (paid === 0) return { text: "No bookings were paid: there is nothing to refund.", inFlight: false };
  const amount = money(r.refunded?.amount ?? "0.00", r.currency);
  const byTransfer = outside > 0 ? `, ${outside} of them by bank transfer from our support team` : "";
  if (refunded === paid) {
    const all = paid === 1 ? "The paid booking is" : `All ${count(paid, "paid booking")} are`;
    return { text: `${all} refunded in full (${amount}${byTransfer}).`, inFlight: false };
  }
  const parts = [`${refunded} of ${count(paid, "paid booking")} refunded (${amount}${byTransfer})`];
  if (inProgress > 0) parts.push(`${inProgress} in progress`);
  if (failed > 0) parts.push(`${failed} failed at the buyer's bank — our support team is on it`);
  return { text: parts.join("; ") + ".", inFlight: inProgress > 0 };
}
