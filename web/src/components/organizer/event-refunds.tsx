/**
 * Where a cancelled event's refunds stand, for its organizer (the manage
 * page and the dashboard): one line in plain words from
 * GET /events/{id}/refunds, read again every 5 s while some refunds are on
 * their way.
 */
import { ApiErrorPanel } from "@/components/api-error-panel";
import { AutoRefresh } from "@/components/auto-refresh";
import type { Loaded } from "@/lib/api/server";
import type { EventRefunds as Refunds } from "@/lib/api/wire";
import { refundProgress } from "@/lib/refunds";

export function EventRefunds({ refunds, refresh = true }: { refunds: Loaded<Refunds>; refresh?: boolean }) {
  if (!refunds.ok) return <ApiErrorPanel error={refunds.error} title="We could not load how far the refunds are" />;
  const p = refundProgress(refunds.data);
  return (
    <>
      {refresh && p.inFlight && <AutoRefresh everySeconds={5} />}
      <p className="text-sm" data-testid="event-refunds" data-in-flight={p.inFlight}>
        {p.text}
      </p>
    </>
  );
}
