"use client";

/**
 * The waitlist of a sold-out zone: join it for a number of seats, see the
 * place in line. Seats that come back are offered in line order as a hold
 * made for the buyer, who is mailed a link to pay it (the booking then
 * shows under "My bookings").
 */
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useEffect, useState } from "react";

import { ActionStatus } from "@/components/action-status";
import { expectReservations } from "@/components/my-reservations";
import { Button } from "@/components/ui/button";
import { useApiAction } from "@/hooks/use-api-action";
import { browserApi, readSessionUser } from "@/lib/api/browser";
import type { WaitlistEntry } from "@/lib/api/wire";
import { count } from "@/lib/format";

export function JoinWaitlist({ showId, zoneId, quantity }: { showId: string; zoneId: string; quantity: number }) {
  const [entry, setEntry] = useState<WaitlistEntry | null>(null);
  const path = usePathname();
  // A visitor who is not signed in is asked to, not told their session ended.
  const joining = useApiAction({ UNAUTHORIZED: "Sign in to join the waitlist." });
  const leaving = useApiAction();

  // A buyer already on this zone's waitlist (joined before a reload, or in
  // another tab) sees their place, not the offer to join.
  useEffect(() => {
    if (!readSessionUser()) return;
    let live = true;
    browserApi.waitlist
      .get(zoneId)
      .then((r) => {
        if (!live) return;
        setEntry(r.data);
        expectReservations(r.data.event_id); // seats may come back for this place
      })
      .catch(() => undefined); // not on it (404), or unreadable now: the offer to join stays
    return () => {
      live = false;
    };
  }, [zoneId]);

  if (entry && entry.zone_id === zoneId) {
    return (
      <div className="space-y-1" data-testid="waitlist-entry">
        <p className="text-sm">
          You are number <strong>{entry.position}</strong> of {entry.waiting} on the waitlist for {count(entry.quantity, "seat")}. We e-mail you when
          seats come back for you.
        </p>
        <Button
          variant="ghost"
          size="sm"
          onClick={async () => {
            if (await leaving.run(() => browserApi.waitlist.leave(zoneId))) setEntry(null);
          }}
        >
          Leave the waitlist
        </Button>
        <ActionStatus state={leaving} />
      </div>
    );
  }
  return (
    <div className="space-y-1">
      <Button
        variant="secondary"
        data-testid="join-waitlist"
        disabled={joining.running}
        onClick={async () => {
          const res = await joining.run(() => browserApi.waitlist.join(showId, zoneId, quantity));
          if (res) {
            setEntry(res.data);
            expectReservations(res.data.event_id);
          }
        }}
      >
        Sold out: join the waitlist
      </Button>
      <ActionStatus state={joining} />
      {joining.errorCode === "UNAUTHORIZED" && (
        <Button asChild variant="outline" size="sm">
          <Link href={`/login?next=${encodeURIComponent(path)}`}>Sign in</Link>
        </Button>
      )}
    </div>
  );
}
