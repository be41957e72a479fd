import { describe, expect, it } from "vitest";

import { type PendingScan, SYNC_BATCH, acknowledge, nextBatch, syncBody } from "./queue";

const scan = (i: number): PendingScan => ({
  id: `q${i}`,
  code: `BRT1:${i}`,
  gate: "North",
  show_id: "s",
  scanned_at: new Date(Date.UTC(2027, 5, 12, 19, 0, i)).toISOString(),
  door: i % 2 ? "refused" : "admitted",
});

describe("the offline queue", () => {
  it("sends at most 500 scans a batch, each with its own time and door", () => {
    const q = Array.from({ length: 1201 }, (_, i) => scan(i));
    expect(nextBatch(q)).toHaveLength(SYNC_BATCH);
    expect(syncBody([scan(1)])).toEqual([{ code: "BRT1:1", gate: "North", show_id: "s", scanned_at: scan(1).scanned_at, door: "refused" }]);
  });
  it("drops only what an answer acknowledged, keeping scans queued meanwhile", () => {
    const q = [scan(0), scan(1), scan(2)];
    const batch = nextBatch(q);
    const later = [...q, scan(3)];
    expect(acknowledge(later, batch, 3).map((s) => s.id)).toEqual(["q3"]);
    expect(acknowledge(later, batch, 2).map((s) => s.id)).toEqual(["q2", "q3"]);
    expect(acknowledge(later, batch, 0)).toEqual(later);
  });
});
