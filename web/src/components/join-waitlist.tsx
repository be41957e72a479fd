"use client";

/**
 * The waitlist of a sold-out zone: join it for a number of seats, see the
 * place in line. Seats that come back are offered in line order as a hold
 * made for the buyer, who is mailed a link to pay it (the booking then
 * shows under "My bookings").
 */
import { useState } from "react";

import { ActionStatus } from "@/components/action-status";
import { Button } from "@/components/ui/button";
import { useApiAction } from "@/hooks/use-api-action";
import { browserApi } from "@/lib/api/browser";
import type { WaitlistEntry } from "@/lib/api/wire";

export function JoinWaitlist({ showId, zoneId, quantity }: { showId: string; zoneId: string; quantity: number }) {
  const [entry, setEntry] = useState<WaitlistEntry | null>(null);
  const joining = useApiAction();
  const leaving = useApiAction();

  if (entry && entry.zone_id === zoneId) {
    return (
      <div className="space-y-1" data-testid="waitlist-entry">
        <p className="text-sm">
          You are number <strong>{entry.position}</strong> of {entry.waiting} on the waitlist for {entry.quantity} seat(s). We e-mail you when
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
          if (res) setEntry(res.data);
        }}
      >
        Sold out: join the waitlist
      </Button>
      <ActionStatus state={joining} />
    </div>
  );
}
