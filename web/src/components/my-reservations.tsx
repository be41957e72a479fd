"use client";

/**
 * The viewer's unpaid reservations of this event, on its page: a buyer who
 * reserved and left, or whose waitlist place turned into seats reserved for
 * them (the zone still reads "Sold out", and the waitlist no longer knows
 * them), saw only "Sold out: join the waitlist" or Buy again, nothing of the
 * seats waiting for their payment. The page is cached for everyone and reads
 * no cookie; this asks GET /bookings/pending in the browser, for a signed-in
 * viewer this browser saw reserve, join the event's waitlist or hold a place
 * on it (expectReservations): not for everyone who opens the page at a
 * sale's opening, which would put a query per view on booking in a rush.
 */
import Link from "next/link";
import { useEffect, useState } from "react";

import { Alert, AlertDescription } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { browserApi, readSessionUser } from "@/lib/api/browser";
import type { Booking } from "@/lib/api/wire";
import { browserZone, count, dateTime } from "@/lib/format";

/** How long a reserve or a waitlist place makes the event's page look for unpaid reservations. */
const expectFor = 14 * 86_400_000;

const mark = (eventId: string) => `br_expect_reservations:${eventId}`;

/**
 * Notes that the viewer may come to hold unpaid reservations of the event
 * (they reserved, or are on its waitlist): its page then looks for them,
 * for two weeks.
 */
export function expectReservations(eventId: string) {
  try {
    localStorage.setItem(mark(eventId), String(Date.now() + expectFor));
  } catch {
    // no storage (private mode): the page shows no reservations
  }
}

function expected(eventId: string): boolean {
  try {
    if (Number(localStorage.getItem(mark(eventId))) > Date.now()) return true;
    localStorage.removeItem(mark(eventId));
  } catch {
    // no storage
  }
  return false;
}

export function MyReservations({ eventId }: { eventId: string }) {
  const [mine, setMine] = useState<Booking[]>([]);
  useEffect(() => {
    if (!readSessionUser() || !expected(eventId)) return;
    let live = true;
    browserApi.bookings
      .pending({ page: 1, per_page: 100 })
      .then((r) => live && setMine(r.data.filter((b) => b.event_id === eventId && b.status === "reserved")))
      .catch(() => undefined); // unreadable now: the page sells as it is
    return () => {
      live = false;
    };
  }, [eventId]);
  if (mine.length === 0) return null;
  const zone = browserZone();
  return (
    <Alert data-testid="my-reservations">
      <AlertDescription className="space-y-2">
        {mine.map((b) => (
          <div key={b.id} className="flex flex-wrap items-center gap-2" data-testid="my-reservation">
            <p>
              {b.waitlist_offer ? "Seats came back for you from the waitlist: " : "You have "}
              <strong>{count(b.quantity, "ticket")}</strong> reserved until {dateTime(b.expires_at, { zone })}, not paid yet.
            </p>
            <Button asChild size="sm">
              <Link href={`/checkout/${b.id}`}>Pay now</Link>
            </Button>
          </div>
        ))}
      </AlertDescription>
    </Alert>
  );
}
