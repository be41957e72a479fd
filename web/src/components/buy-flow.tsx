"use client";

/**
 * Reserve seats (after the waiting room when the event has one), then go to
 * checkout. A reserve refused for want of a pass, or shed under overload
 * with the event's waiting room named (503, details.queue_event_id), takes
 * the buyer into the waiting room; admitted, the page reserves with the pass.
 *
 * The reserve carries an Idempotency-Key kept in sessionStorage for this
 * show, zone and quantity until it succeeds: a retry after a 429/503 (with
 * its countdown), a double click or a reload after a lost answer returns the
 * same hold instead of a second one.
 */
import { useRouter } from "next/navigation";
import { useCallback, useEffect, useRef, useState } from "react";

import { ActionStatus } from "@/components/action-status";
import { expectReservations } from "@/components/my-reservations";
import { WaitingRoom } from "@/components/waiting-room";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { useApiAction } from "@/hooks/use-api-action";
import { browserApi } from "@/lib/api/browser";
import { count, money } from "@/lib/format";
import { queueApi, unlessQueued } from "@/lib/queue/client";

function idempotencyKey(scope: string): string {
  const k = `br:reserve:${scope}`;
  try {
    const have = sessionStorage.getItem(k);
    if (have) return have;
    const fresh = crypto.randomUUID();
    sessionStorage.setItem(k, fresh);
    return fresh;
  } catch {
    return crypto.randomUUID();
  }
}

function forgetKey(scope: string) {
  try {
    sessionStorage.removeItem(`br:reserve:${scope}`);
  } catch {
    // storage unavailable: nothing to forget
  }
}

export function BuyFlow(props: {
  event: { id: string; slug: string; title: string; queued: boolean };
  showId: string;
  /** The show's date as its venue reads it: an event of several dates says which one is bought. */
  showWhen: string;
  zone: { id: string; name: string; price: string; currency: string };
  quantity: number;
}) {
  const router = useRouter();
  const action = useApiAction();
  const [admitted, setAdmitted] = useState(!props.event.queued);
  // The reserve may ask for a pass even when the page thought there was no
  // line (the queue was switched on since): then the buyer queues too.
  const [queued, setQueued] = useState(props.event.queued);
  const pass = useRef<string | null>(null);
  // Reserved: on the way to the checkout. The button stays off meanwhile: its
  // key is spent, so another click would hold a second set of seats.
  const [reserved, setReserved] = useState(false);
  // Admitted from the waiting room: reserve at once, the pass is short-lived.
  const autoReserved = useRef(false);
  const scope = `${props.showId}:${props.zone.id}:${props.quantity}`;

  const enterQueue = useCallback(() => {
    // A pass that was refused is spent: the waiting room starts from a fresh join.
    queueApi.forget(props.event.id);
    pass.current = null;
    autoReserved.current = false;
    setQueued(true);
    setAdmitted(false);
  }, [props.event.id]);

  const reserve = useCallback(async () => {
    const key = idempotencyKey(scope);
    // Shed under overload with the event's waiting room switched on: wait
    // there for a turn instead of only counting down (the same key reserves
    // afterwards; a shed reserve changed nothing).
    const res = await action.run(() =>
      unlessQueued(() =>
        browserApi.bookings.reserve(
          { show_id: props.showId, zone_id: props.zone.id, quantity: props.quantity },
          { idempotencyKey: key, queuePass: pass.current ?? undefined },
        ),
      ),
    );
    if (res === "queue") {
      enterQueue();
    } else if (res) {
      setReserved(true);
      expectReservations(props.event.id);
      forgetKey(scope);
      queueApi.forget(props.event.id);
      // Replaced, not pushed: Back from the checkout goes to the event, not
      // to this page's Reserve again (a second hold) or, for an event with a
      // waiting room, to the end of its line.
      router.replace(`/checkout/${res.data.id}`);
    }
  }, [action, props.showId, props.zone.id, props.quantity, props.event.id, router, scope, enterQueue]);

  useEffect(() => {
    if (queued && admitted && !autoReserved.current) {
      autoReserved.current = true;
      void reserve();
    }
  }, [admitted, queued, reserve]);

  return (
    <Card>
      <CardHeader>
        <CardTitle as="h1" className="text-2xl">
          {props.event.title}
        </CardTitle>
        <CardDescription>
          <span className="block font-medium text-foreground" data-testid="show-when">
            {props.showWhen}
          </span>
          {props.quantity} × {props.zone.name} at {money(props.zone.price, props.zone.currency)}
        </CardDescription>
      </CardHeader>
      <CardContent className="space-y-4">
        {queued && !admitted && (
          <WaitingRoom
            eventId={props.event.id}
            onAdmitted={(p) => {
              pass.current = p;
              setAdmitted(true);
            }}
          />
        )}
        {admitted && (
          <>
            <p className="text-muted-foreground text-sm">
              Once reserved, your seats are held for you while you pay on the next page (it shows how long).
            </p>
            <Button onClick={reserve} disabled={action.running || reserved} data-testid="reserve">
              {reserved
                ? "Reserved — going to checkout…"
                : action.running
                  ? "Reserving…"
                  : `Reserve ${count(props.quantity, "ticket")}`}
            </Button>
          </>
        )}
        <ActionStatus state={action} />
        {action.errorCode === "QUEUE_PASS_REQUIRED" && (
          <Button variant="outline" onClick={enterQueue}>
            Go to the waiting room
          </Button>
        )}
      </CardContent>
    </Card>
  );
}
