"use client";

/**
 * Paying for a hold.
 *
 * The hold's countdown comes from the booking's expires_at and the server's
 * clock (lib/server-clock: a device whose clock is wrong still shows the time
 * the hold has left, and its Pay while it lives). Paying creates a
 * payment (POST /payments with an Idempotency-Key: a retried click or a retry
 * after 429/503 returns the same payment; a declined payment gets a new key
 * for the next try), then follows it until the provider's verdict, then
 * follows the booking until the saga confirmed it, and shows the confirmation.
 * Once a payment exists, a read of it or of the booking that fails for good
 * (the busy answers were retried), or a wait that ends without a verdict (the
 * provider still deciding after 90 s) or a confirmation (the booking still
 * held after 60 s more), never brings Pay back nor calls the payment
 * received or the booking paid before they are: the money may be taken. The
 * page offers "Check again", which follows the same payment, and the
 * booking's own page, which tells its state from the server.
 * In dev the payment simulator's methods are offered; when the server has a
 * Stripe publishable key, Stripe's Payment Element collects the card instead
 * (loaded only then, so the simulator checkout stays light).
 */
import dynamic from "next/dynamic";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useRef, useState } from "react";
import { Clock } from "lucide-react";

import { ActionStatus } from "@/components/action-status";
import { Alert, AlertDescription } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardFooter, CardHeader, CardTitle } from "@/components/ui/card";
import { useApiAction } from "@/hooks/use-api-action";
import { useNow } from "@/hooks/use-now";
import { browserApi } from "@/lib/api/browser";
import { ApiError } from "@/lib/api/errors";
import { abortableSleep } from "@/lib/api/retry";
import type { Booking, Payment } from "@/lib/api/wire";
import { clock, money } from "@/lib/format";
import { seedServerClock, serverNow } from "@/lib/server-clock";

const StripePay = dynamic(() => import("./stripe-pay").then((m) => m.StripePay), { ssr: false });

export const SIMULATOR_METHODS = [
  { id: "sim_ok", label: "Test card — succeeds", hint: "The payment succeeds at once." },
  { id: "sim_slow", label: "Test card — slow", hint: "The payment succeeds after a few seconds." },
  { id: "sim_declined", label: "Test card — declined", hint: "The bank declines the payment." },
] as const;

/** Follows a payment until it is decided (or `limitMs` passed). */
async function settle(paymentId: string, limitMs = 90_000): Promise<Payment> {
  const until = Date.now() + limitMs;
  let wait = 500;
  for (;;) {
    const { data } = await browserApi.payments.get(paymentId);
    if (data.status !== "pending" && data.status !== "processing") return data;
    if (Date.now() > until) return data;
    await abortableSleep(wait);
    wait = Math.min(3000, wait * 1.5);
  }
}

/** Follows a paid booking until the saga confirmed it (or `limitMs` passed). */
async function confirmed(bookingId: string, limitMs = 60_000): Promise<Booking> {
  const until = Date.now() + limitMs;
  let wait = 500;
  for (;;) {
    const { data } = await browserApi.bookings.get(bookingId);
    if (data.status !== "reserved" || Date.now() > until) return data;
    await abortableSleep(wait);
    wait = Math.min(3000, wait * 1.5);
  }
}

/**
 * The payment attempt of a booking in this tab, kept in sessionStorage: a
 * declined attempt's key is spent, and a reload must not send it again.
 */
function payAttempt(bookingId: string): number {
  try {
    return Math.max(1, Number.parseInt(sessionStorage.getItem(`br:pay:${bookingId}`) ?? "1", 10) || 1);
  } catch {
    return 1;
  }
}

function setPayAttempt(bookingId: string, n: number) {
  try {
    sessionStorage.setItem(`br:pay:${bookingId}`, String(n));
  } catch {
    // storage unavailable: the attempt lives as long as the page
  }
}

/**
 * A payment's Idempotency-Key: the booking, the method and the attempt. A
 * retry of the same click (a 429/503, a double click, a reload while the
 * provider decides) finds the same payment; another method, or a new try
 * after a decline, is a new payment. The API refuses a key sent again with
 * another method (CONFLICT), so the method is part of it.
 */
function paymentKey(bookingId: string, method: string, attempt: number): string {
  return `pay-${bookingId}-${method}-${attempt}`;
}

/**
 * Creates the booking's payment, or answers the one it has already: the
 * API refuses a second payment (CONFLICT naming it) when another tab of the
 * same checkout paid, or is paying, with another test card or attempt, so
 * this tab follows that payment instead of saying "this booking already has
 * a payment" beside a Pay that cannot work. "ended": the booking is no
 * longer held (paid and confirmed, or cancelled, meanwhile).
 */
async function createPayment(bookingId: string, method: string, key: string): Promise<Payment | "ended"> {
  try {
    return (await browserApi.payments.create({ booking_id: bookingId, payment_method: method }, { idempotencyKey: key })).data;
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== "CONFLICT") throw err;
    const other = err.details.payment_id;
    if (typeof other === "string" && other !== "") return (await browserApi.payments.get(other)).data;
    if ((await browserApi.bookings.get(bookingId)).data.status !== "reserved") return "ended";
    throw err;
  }
}

export function Checkout(props: {
  booking: Booking;
  eventTitle: string;
  eventSlug: string | null;
  zoneName: string | null;
  /** The show's date as its venue reads it, when the catalog told it. */
  showWhen: string | null;
  stripeKey: string | null;
  /** The server's time when the page was rendered (ms). */
  renderedAt: number;
}) {
  const { booking } = props;
  const router = useRouter();
  useState(() => seedServerClock(props.renderedAt));
  const now = useNow(1000, serverNow);
  const action = useApiAction();
  const [method, setMethod] = useState<string>("sim_ok");
  const [phase, setPhase] = useState<"choose" | "paying" | "confirming" | "declined">("choose");
  const [stripe, setStripe] = useState<{ clientSecret: string; paymentId: string } | null>(null);
  const attempt = useRef<number | null>(null);
  // The payment whose verdict or confirmation a failed read left unknown.
  const [stuck, setStuck] = useState<string | null>(null);
  // Back after paying shows this page from the router's cache, as it was
  // (held, with Pay); so may a second tab. Ask the booking again: one no
  // longer held goes to its own page, as the server sends it.
  useEffect(() => {
    let live = true;
    browserApi.bookings
      .get(booking.id)
      .then((r) => {
        if (live && r.data.status !== "reserved") router.replace(`/bookings/${booking.id}`);
      })
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [booking.id, router]);
  const left = booking.expires_at ? Math.floor((Date.parse(booking.expires_at) - now) / 1000) : 0;
  const expired = left <= 0;

  /** Follows the payment to its verdict (unless it was `received` already), then the booking to its confirmation. */
  async function finish(paymentId: string, received = false) {
    setStuck(null);
    if (!received) {
      setPhase("paying");
      const p = await action.run(() => settle(paymentId));
      // No verdict: a read failed, or the provider was still deciding when the wait ended.
      if (!p || p.status === "pending" || p.status === "processing") return setStuck(paymentId);
      if (p.status === "failed") {
        attempt.current = (attempt.current ?? payAttempt(booking.id)) + 1;
        setPayAttempt(booking.id, attempt.current);
        setStripe(null);
        return setPhase("declined");
      }
    }
    setPhase("confirming");
    const b = await action.run(() => confirmed(booking.id));
    // Still held when the wait ended: not confirmed yet (its page would call it paid).
    if (b && b.status !== "reserved") router.push(`/bookings/${booking.id}?paid=1`);
    else setStuck(paymentId);
  }

  async function pay() {
    attempt.current ??= payAttempt(booking.id);
    const paymentMethod = props.stripeKey ? "card" : method;
    const key = paymentKey(booking.id, paymentMethod, attempt.current);
    const created = await action.run(() => createPayment(booking.id, paymentMethod, key));
    if (!created) return;
    // Its own page says what became of it, as the server sends a booking no longer held.
    if (created === "ended") return router.replace(`/bookings/${booking.id}`);
    // (A payment followed from another tab comes without its client secret: this tab waits for its verdict.)
    if (props.stripeKey && created.client_secret) {
      setStripe({ clientSecret: created.client_secret, paymentId: created.id });
      return;
    }
    await finish(created.id);
  }

  return (
    <Card className="mx-auto max-w-xl">
      <CardHeader>
        <CardTitle as="h1" className="text-2xl">
          Checkout
        </CardTitle>
        <CardDescription>
          {props.eventTitle} · {booking.quantity} × {props.zoneName ?? "seat"}
          {props.showWhen && (
            <span className="block font-medium text-foreground" data-testid="show-when">
              {props.showWhen}
            </span>
          )}
        </CardDescription>
      </CardHeader>
      <CardContent className="space-y-5">
        <div className="flex items-center justify-between rounded-lg border p-3">
          <span className="flex items-center gap-2 text-sm">
            <Clock className="size-4" /> Seats held for
          </span>
          <span className={`font-mono text-xl ${left < 60 ? "text-destructive" : ""}`} data-testid="hold-countdown">
            {expired ? "expired" : clock(left)}
          </span>
        </div>
        <div className="flex items-center justify-between text-lg">
          <span>Total</span>
          <strong data-testid="total">{money(booking.total_amount, booking.currency)}</strong>
        </div>
        {expired && phase !== "paying" && phase !== "confirming" ? (
          <Alert variant="destructive">
            <AlertDescription>
              Your reservation expired and the seats went back on sale.{" "}
              {props.eventSlug && (
                <Link className="underline" href={`/events/${props.eventSlug}`}>
                  Choose seats again
                </Link>
              )}
            </AlertDescription>
          </Alert>
        ) : props.stripeKey ? (
          stripe ? (
            <StripePay publishableKey={props.stripeKey} clientSecret={stripe.clientSecret} onDone={() => finish(stripe.paymentId)} />
          ) : null
        ) : (
          <fieldset className="space-y-2" disabled={phase !== "choose" && phase !== "declined"}>
            <legend className="mb-2 text-sm font-medium">Payment method (test mode)</legend>
            {SIMULATOR_METHODS.map((m) => (
              <label key={m.id} className="hover:bg-muted/50 flex cursor-pointer items-start gap-3 rounded-md border p-3">
                <input
                  type="radio"
                  name="method"
                  value={m.id}
                  aria-label={m.label}
                  checked={method === m.id}
                  onChange={() => setMethod(m.id)}
                  className="mt-1"
                />
                <span>
                  <span className="block font-medium">{m.label}</span>
                  <span className="text-muted-foreground block text-xs">{m.hint}</span>
                </span>
              </label>
            ))}
          </fieldset>
        )}
        {phase === "declined" && (
          <Alert variant="destructive" data-testid="payment-declined">
            <AlertDescription>The payment was declined. No money was taken; your seats are still held. Try another method.</AlertDescription>
          </Alert>
        )}
        {phase === "paying" && (
          <p role="status" data-testid="payment-state">
            {stuck ? "Your payment was sent; we could not learn its outcome yet." : "Waiting for the payment provider…"}
          </p>
        )}
        {phase === "confirming" && (
          <p role="status" data-testid="payment-state">
            {stuck ? "Payment received. We could not confirm your tickets yet." : "Payment received. Confirming your tickets…"}
          </p>
        )}
        <ActionStatus state={action} />
      </CardContent>
      {stuck ? (
        <CardFooter className="flex-wrap gap-2">
          <Button className="flex-1" size="lg" onClick={() => finish(stuck, phase === "confirming")} disabled={action.running} data-testid="check-again">
            Check again
          </Button>
          <Button asChild className="flex-1" size="lg" variant="outline">
            <Link href={`/bookings/${booking.id}`} data-testid="booking-link">
              See my booking
            </Link>
          </Button>
        </CardFooter>
      ) : !expired && !stripe ? (
        <CardFooter>
          <Button className="w-full" size="lg" onClick={pay} disabled={action.running || phase === "paying" || phase === "confirming"} data-testid="pay">
            Pay {money(booking.total_amount, booking.currency)}
          </Button>
        </CardFooter>
      ) : null}
    </Card>
  );
}

