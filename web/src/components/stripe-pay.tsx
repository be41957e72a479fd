"use client";

/**
 * Stripe's Payment Element for a PaymentIntent the payment service created
 * (its client_secret). Loaded only when the server has a publishable key
 * (STRIPE_PUBLISHABLE_KEY); Stripe.js comes from js.stripe.com at run time.
 * After Stripe confirms, the payment service learns the verdict from Stripe's
 * webhook; `onDone` then follows our payment until it is decided.
 */
import { Elements, PaymentElement, useElements, useStripe } from "@stripe/react-stripe-js";
import { loadStripe, type Stripe } from "@stripe/stripe-js";
import { useMemo, useState } from "react";

import { Button } from "@/components/ui/button";

let stripePromise: Promise<Stripe | null> | null = null;
let stripeKey: string | null = null;

function getStripe(key: string) {
  if (!stripePromise || stripeKey !== key) {
    stripeKey = key;
    stripePromise = loadStripe(key);
  }
  return stripePromise;
}

function PayForm({ onDone }: { onDone: () => void }) {
  const stripe = useStripe();
  const elements = useElements();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    if (!stripe || !elements) return;
    setBusy(true);
    setError(null);
    const res = await stripe.confirmPayment({ elements, redirect: "if_required" });
    setBusy(false);
    if (res.error) setError(res.error.message ?? "The card was not accepted.");
    else onDone();
  }

  return (
    <form onSubmit={submit} className="space-y-4">
      <PaymentElement />
      {error && <p className="text-destructive text-sm">{error}</p>}
      <Button type="submit" className="w-full" disabled={!stripe || busy}>
        {busy ? "Paying…" : "Pay"}
      </Button>
    </form>
  );
}

export function StripePay({ publishableKey, clientSecret, onDone }: { publishableKey: string; clientSecret: string; onDone: () => void }) {
  const stripe = useMemo(() => getStripe(publishableKey), [publishableKey]);
  return (
    <Elements stripe={stripe} options={{ clientSecret }}>
      <PayForm onDone={onDone} />
    </Elements>
  );
}
