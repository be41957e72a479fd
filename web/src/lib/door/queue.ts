/**
 * The scans a door made offline, waiting for POST /checkin/sync.
 *
 * Each is sent with its own scanned_at and what the door did (`door`):
 * a scan is named by device, code, gate, show and scanned_at, so a batch
 * sent again (its answer lost) records nothing twice. A batch is at most
 * SYNC_BATCH scans; only the scans an answer acknowledged leave the queue,
 * so a scan queued while a batch was on its way stays.
 */
import type { ScanInput } from "@/lib/api/wire";

/** The most scans one POST /checkin/sync takes. */
export const SYNC_BATCH = 500;

/** A scan waiting to be sent; id is the queue's own. */
export interface PendingScan {
  id: string;
  code: string;
  gate: string;
  show_id: string;
  scanned_at: string;
  door: "admitted" | "refused";
}

/** The next batch to send: the oldest scans first. */
export function nextBatch(queue: readonly PendingScan[], size = SYNC_BATCH): PendingScan[] {
  return queue.slice(0, size);
}

/** The batch as the API takes it. */
export function syncBody(batch: readonly PendingScan[]): ScanInput[] {
  return batch.map(({ code, gate, show_id, scanned_at, door }) => ({ code, gate, show_id, scanned_at, door }));
}

/**
 * The queue once an answer acknowledged the first `answered` scans of
 * batch (the answer has one result per scan sent, in order): those leave,
 * every other scan stays, in its order.
 */
export function acknowledge(queue: readonly PendingScan[], batch: readonly PendingScan[], answered: number): PendingScan[] {
  const done = new Set(batch.slice(0, Math.max(0, answered)).map((s) => s.id));
  return queue.filter((s) => !done.has(s.id));
}
