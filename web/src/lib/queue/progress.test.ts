/**
 * The waiting room's progress bar: it moves for a buyer who joined before
 * the opening (places 0 until drawn) as for one who joined after.
 */
import { describe, expect, it } from "vitest";

import type { QueueView } from "./client";
import { firstPlace, progressPercent } from "./progress";

const at = (position: number, phase: QueueView["phase"] = "waiting"): QueueView => ({
  phase,
  position,
  total: 100,
  etaSeconds: null,
  pass: null,
  passExpiresAt: null,
});

describe("waiting room progress", () => {
  it("counts a pre-queue buyer from the first drawn place, not from the 0 before the draw", () => {
    let first: number | null = null;
    for (const v of [at(0), at(0), at(80), at(60), at(20)]) first = firstPlace(first, v);
    expect(first).toBe(80);
    expect(progressPercent(first, 20)).toBe(75);
  });

  it("counts a later join from its first place, and says 0 while none is known", () => {
    let first: number | null = null;
    first = firstPlace(first, at(40));
    first = firstPlace(first, at(0, "sold_out"));
    first = firstPlace(first, at(10));
    expect(first).toBe(40);
    expect(progressPercent(first, 10)).toBe(75);
    expect(progressPercent(null, 10)).toBe(0);
    expect(progressPercent(40, 50)).toBe(0);
  });
});
