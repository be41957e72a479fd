"use client";

/**
 * The waiting room: the buyer's live place in line, the expected wait, and
 * what the connection is doing. Deliberately light (plain elements, and the
 * buy page's own ActionStatus for an error), since it is the page a crowd
 * keeps open. All queue traffic goes through lib/queue/client.ts (the live
 * place on the edge's ticket stream, not through this app's servers).
 *
 * A join or stream that failed for good (the busy answers were retried, a
 * 401 renewed the session) says why with the app's ways on: "Try again"
 * joins the line again and follows it, and an ended session offers "Sign in
 * again", back to this page.
 */
import { useEffect, useRef, useState } from "react";

import { ActionStatus } from "@/components/action-status";
import { Button } from "@/components/ui/button";
import { failedState, type ActionState } from "@/hooks/use-api-action";
import { browserApi } from "@/lib/api/browser";
import { retryBusy } from "@/lib/api/retry";
import { aboutDuration } from "@/lib/format";
import { queueApi, type QueueConnection, type QueueView } from "@/lib/queue/client";
import { firstPlace, progressPercent } from "@/lib/queue/progress";
import { saleOver } from "@/lib/sales";

export function WaitingRoom({ eventId, onAdmitted }: { eventId: string; onAdmitted: (pass: string | null) => void }) {
  const [view, setView] = useState<QueueView | null>(null);
  const [conn, setConn] = useState<QueueConnection>({ state: "connecting" });
  const [retryIn, setRetryIn] = useState<number | null>(null);
  const [error, setError] = useState<ActionState | null>(null);
  const [round, setRound] = useState(0);
  const [first, setFirst] = useState<number | null>(null);
  const [over, setOver] = useState<"cancelled" | "ended" | "">("");
  const admitted = useRef(onAdmitted);
  useEffect(() => {
    admitted.current = onAdmitted;
  });

  useEffect(() => {
    const ctl = new AbortController();
    let stop: (() => void) | null = null;
    const show = (v: QueueView) => {
      setView(v);
      setFirst((f) => firstPlace(f, v));
      if (v.phase === "admitted") admitted.current(v.pass);
    };
    retryBusy(() => queueApi.join(eventId), { signal: ctl.signal, onWait: (s) => setRetryIn(s > 0 ? s : null) })
      .then((v) => {
        if (ctl.signal.aborted) return;
        show(v);
        if (v.phase === "waiting") {
          stop = queueApi.watch(eventId, {
            view: show,
            connection: setConn,
            fatal: (e) => setError(failedState(e)),
          });
        }
      })
      .catch((e) => {
        if (!ctl.signal.aborted) setError(failedState(e));
      });
    return () => {
      ctl.abort();
      stop?.();
    };
  }, [eventId, round]);

  // The line says "expired" to everyone once the sale is over: tell the
  // buyer so, instead of "your turn passed" (the organizer may still
  // extend the sale: the line then keeps everyone's place).
  const expired = view?.phase === "expired";
  useEffect(() => {
    if (!expired) return;
    let live = true;
    browserApi.catalog
      .event(eventId)
      .then((r) => live && setOver(saleOver(r.data)))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [expired, eventId, round]);

  if (error) {
    return (
      <div data-testid="queue-error">
        <ActionStatus state={error}>
          <Button
            size="sm"
            variant="outline"
            data-testid="queue-try-again"
            onClick={() => {
              setError(null);
              setView(null);
              setRound((r) => r + 1);
            }}
          >
            Try again
          </Button>
        </ActionStatus>
      </div>
    );
  }
  if (!view) {
    return (
      <p role="status" aria-live="polite" className="text-muted-foreground" data-testid="queue-joining">
        {retryIn ? `The line is busy — joining again in ${retryIn} s…` : "Joining the waiting room…"}
      </p>
    );
  }
  if (view.phase === "sold_out") {
    return (
      <div className="rounded-lg border p-6 text-center" data-testid="queue-sold-out">
        <p className="text-xl font-semibold">Sold out</p>
        <p className="text-muted-foreground">
          Every seat is sold or held right now. You keep your place: when held seats come back, the line moves again and this page
          follows it.
        </p>
      </div>
    );
  }
  if (view.phase === "expired" && over) {
    return (
      <div className="space-y-3 rounded-lg border p-6 text-center" data-testid="queue-sale-over">
        <p className="text-lg font-semibold">{over === "cancelled" ? "The event was cancelled" : "The sale has ended"}</p>
        <p className="text-muted-foreground">
          {over === "cancelled"
            ? "Nothing more is sold for it. Thank you for waiting."
            : "Nothing more is sold now. If the organizer extends the sale, your place in line is kept: join again then."}
        </p>
        <button
          className="bg-primary text-primary-foreground rounded-md px-4 py-2"
          onClick={() => {
            setOver("");
            setRound((r) => r + 1);
          }}
        >
          Try again
        </button>
      </div>
    );
  }
  if (view.phase === "expired") {
    return (
      <div className="space-y-3 rounded-lg border p-6 text-center" data-testid="queue-expired">
        <p className="text-lg font-semibold">Your turn passed</p>
        <p className="text-muted-foreground">Your pass lapsed before a reserve, or was used already. You can join the line again.</p>
        <button className="bg-primary text-primary-foreground rounded-md px-4 py-2" onClick={() => setRound((r) => r + 1)}>
          Join again
        </button>
      </div>
    );
  }
  if (view.phase === "admitted") {
    return (
      <p role="status" className="text-success font-medium" data-testid="queue-admitted">
        It is your turn! Holding your seats…
      </p>
    );
  }
  const done = progressPercent(first, view.position);
  return (
    <div className="space-y-4 rounded-lg border p-6" data-testid="waiting-room">
      <p className="text-lg font-semibold">You are in line</p>
      {view.position > 0 ? (
        <p aria-live="polite">
          Your place: <strong data-testid="queue-position">{view.position}</strong>
          {view.total > 0 && <> of {view.total} waiting</>}
        </p>
      ) : (
        <p aria-live="polite">The sale has not opened yet. Everyone here now gets a fair, random place when it opens.</p>
      )}
      <div className="bg-muted h-2 w-full overflow-hidden rounded" aria-hidden>
        <div className="bg-primary h-full transition-all" style={{ width: `${done}%` }} />
      </div>
      <p className="text-muted-foreground text-sm" data-testid="queue-wait">
        {/* Before the opening the API's estimate is the time to it: the wait in line comes after. */}
        {view.position > 0 ? `Expected wait: ${aboutDuration(view.etaSeconds)}.` : `The sale opens in ${aboutDuration(view.etaSeconds)}.`} Keep this page open; you
        keep your place.
      </p>
      <p className="text-muted-foreground text-xs" data-testid="queue-connection">
        {conn.state === "live"
          ? "Live"
          : conn.state === "connecting"
            ? "Connecting…"
            : `Connection lost (${conn.reason}) — reconnecting in ${conn.inSeconds} s`}
      </p>
    </div>
  );
}
