"use client";

/**
 * A show's zones with price and live seats left, and the "Buy" choice.
 *
 * The counts come with the cached page and are then read again every 10 s
 * while the tab is visible, through /bff/public (one shared, CDN-cacheable
 * read), backing off when the API is busy. Buy goes to the buy page, which
 * asks to sign in first when needed; a sold-out zone offers its waitlist.
 * Whether they show follows the clock: a page open before the sale offers
 * Buy at the opening, without a reload, and says when that is meanwhile;
 * an event with a waiting room offers its line before the opening too.
 */
import Link from "next/link";
import { useEffect, useMemo, useState } from "react";

import { JoinWaitlist } from "@/components/join-waitlist";
import { Button } from "@/components/ui/button";
import { NativeSelect } from "@/components/ui/native-select";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { ApiError } from "@/lib/api/errors";
import { readEnvelope } from "@/lib/api/transport";
import type { Zone } from "@/lib/api/wire";
import { dateTime, money } from "@/lib/format";
import { nextMoment, saleState, showStarted } from "@/lib/sales";
import { noteServerDate, serverNow } from "@/lib/server-clock";

const POLL_MS = 10_000;

/**
 * The time the buy controls are judged at: the page's render time while it
 * hydrates (so the HTML and the first render agree), then the server's
 * clock as the browser tells it (lib/server-clock, from the seat polls'
 * Date headers), read again at each of moments: the sale's opening and
 * end and the show's start, when what the page offers changes.
 */
function useSaleClock(renderedAt: number, moments: (string | null)[]): number {
  const [now, setNow] = useState(renderedAt);
  const key = moments.join(" ");
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout>;
    const tick = () => {
      const at = serverNow();
      setNow(at);
      const next = nextMoment(key.split(" "), at);
      // A little after the moment; a timer cannot wait longer than about 24 days.
      if (next !== null) timer = setTimeout(tick, Math.min(next - at + 250, 2 ** 31 - 1));
    };
    timer = setTimeout(tick, 0);
    return () => clearTimeout(timer);
  }, [key]);
  return now;
}

export function ShowZones(props: {
  slug: string;
  showId: string;
  initial: Zone[];
  maxPerUser: number;
  /** The event's sale: the buy controls show while it is open and the show has not started. */
  sale: { status: string; sale_start_at: string | null; sale_end_at: string | null };
  showDate: string | null;
  /** The venue's time zone, for the opening's date. */
  venueZone: string;
  /** When the page was rendered (ms): the state it shows until the browser's clock takes over. */
  renderedAt: number;
  queued: boolean;
}) {
  const [zones, setZones] = useState<Zone[]>(props.initial);
  const now = useSaleClock(props.renderedAt, [props.sale.sale_start_at, props.sale.sale_end_at, props.showDate]);
  const state = saleState(props.sale, now);
  const started = showStarted({ show_date: props.showDate }, now);
  // An event with a waiting room takes its line before the sale: whoever
  // joins before the opening gets a fair, random place at it (the
  // pre-queue), instead of racing for the first places at the second it opens.
  const preQueue = state === "before" && props.queued && !started;
  const onSale = (state === "open" && !started) || preQueue;
  const closedNote =
    state === "before" && props.sale.sale_start_at
      ? `The sale opens ${dateTime(props.sale.sale_start_at, { zone: props.venueZone })}.`
      : state === "ended"
        ? "The sale has ended."
        : state === "open" && started
          ? "This show has started: its tickets are no longer sold."
          : props.sale.status === "cancelled"
            ? "This event was cancelled: its tickets are no longer sold."
            : "Tickets are not on sale right now.";
  // The first zone with seats; when every one is sold out, the first (its waitlist is offered).
  const [zoneId, setZoneId] = useState<string>(() => (props.initial.find((z) => z.available_seats > 0) ?? props.initial[0])?.id ?? "");
  const [qty, setQty] = useState(1);

  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    let delay = POLL_MS;
    const tick = async () => {
      if (document.visibilityState === "visible") {
        try {
          const sentAt = Date.now();
          const res = await fetch(`/bff/public/shows/${props.showId}/zones`, { cache: "no-store" });
          noteServerDate(res.headers.get("date"), sentAt);
          const { data } = await readEnvelope<Zone[]>(res);
          if (!stop) setZones(data);
          delay = POLL_MS;
        } catch (err) {
          // Busy or offline: wait what the API asks, and longer each time.
          const asked = err instanceof ApiError && err.retryAfter ? err.retryAfter * 1000 : 0;
          delay = Math.min(60_000, Math.max(asked, delay * 2));
        }
      }
      if (!stop) timer = setTimeout(tick, delay + Math.random() * 1000);
    };
    timer = setTimeout(tick, POLL_MS);
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [props.showId]);

  const zone = zones.find((z) => z.id === zoneId);
  // A sold-out zone takes a waitlist place for up to the per-user limit.
  const soldOut = zone !== undefined && zone.available_seats <= 0;
  const most = Math.max(1, Math.min(props.maxPerUser || 1, 10, soldOut ? 10 : (zone?.available_seats ?? 1)));
  const buyHref = useMemo(
    () => `/events/${props.slug}/buy?show=${props.showId}&zone=${zoneId}&qty=${Math.min(qty, most)}`,
    [props.slug, props.showId, zoneId, qty, most],
  );

  if (zones.length === 0) return <p className="text-muted-foreground text-sm">No seats are on sale for this show yet.</p>;
  return (
    <div className="space-y-4">
      <Table>
        <TableHeader>
          <TableRow>
            {/* The choice only while there is something to buy: a radio that leads nowhere is noise. */}
            {onSale && (
              <TableHead className="w-8">
                <span className="sr-only">Choose</span>
              </TableHead>
            )}
            <TableHead>Zone</TableHead>
            <TableHead>Price</TableHead>
            <TableHead className="text-right">Seats left</TableHead>
          </TableRow>
        </TableHeader>
        <TableBody>
          {zones.map((z) => (
            <TableRow
              key={z.id}
              data-testid="zone-row"
              data-zone={z.name}
              data-state={onSale && zoneId === z.id ? "selected" : undefined}
              // The whole row chooses its zone (the radio alone was a 13 px target).
              className={onSale ? "data-[state=selected]:bg-muted cursor-pointer" : undefined}
              onClick={onSale ? () => setZoneId(z.id) : undefined}
            >
              {onSale && (
                <TableCell>
                  <input
                    type="radio"
                    id={`zone-${props.showId}-${z.id}`}
                    name={`zone-${props.showId}`}
                    aria-label={`Choose ${z.name}`}
                    value={z.id}
                    checked={zoneId === z.id}
                    onChange={() => setZoneId(z.id)}
                    className="size-4 cursor-pointer"
                  />
                </TableCell>
              )}
              <TableCell className="font-medium">
                {onSale ? (
                  <label htmlFor={`zone-${props.showId}-${z.id}`} className="cursor-pointer">
                    {z.name}
                  </label>
                ) : (
                  z.name
                )}
              </TableCell>
              <TableCell>{money(z.price, z.currency)}</TableCell>
              <TableCell className="text-right" data-testid="zone-available">
                {z.available_seats > 0 ? `${z.available_seats} of ${z.total_seats}` : <span className="text-destructive">Sold out</span>}
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      {preQueue && props.sale.sale_start_at && (
        <p className="text-sm" data-testid="pre-queue">
          The sale opens {dateTime(props.sale.sale_start_at, { zone: props.venueZone })}. Join the waiting room now: everyone in it before
          then gets a random place in line at the opening.
        </p>
      )}
      {onSale ? (
        <div className="flex flex-wrap items-center gap-2">
          <label className="text-sm" htmlFor={`qty-${props.showId}`}>
            Tickets
          </label>
          <NativeSelect id={`qty-${props.showId}`} className="w-20" value={Math.min(qty, most)} onChange={(e) => setQty(Number(e.target.value))}>
            {Array.from({ length: most }, (_, i) => i + 1).map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </NativeSelect>
          {zone && zone.available_seats > 0 ? (
            <Button asChild data-testid="buy">
              <Link href={buyHref} prefetch={false}>
                {props.queued ? "Join the waiting room" : "Buy"}
              </Link>
            </Button>
          ) : soldOut ? (
            <JoinWaitlist showId={props.showId} zoneId={zoneId} quantity={Math.min(qty, most)} />
          ) : (
            <Button disabled>Sold out</Button>
          )}
        </div>
      ) : (
        <p className="text-muted-foreground text-sm" data-testid="sale-closed">
          {closedNote}
        </p>
      )}
    </div>
  );
}
