/**
 * The waiting room's progress bar: how far the buyer came from the first
 * place they were shown. Before the sale opens, places are not drawn yet
 * (position 0): the bar counts from the first drawn place, not from that 0.
 */
import type { QueueView } from "./client";

/** The place the bar counts from, given the one kept so far and a new view. */
export function firstPlace(kept: number | null, v: QueueView): number | null {
  if (kept) return kept;
  return v.phase === "waiting" && v.position > 0 ? v.position : null;
}

/** Percent of the way from first to position (0 when first is unknown). */
export function progressPercent(first: number | null, position: number): number {
  if (!first || first <= 0) return 0;
  return Math.min(100, Math.max(0, Math.round(((first - position) / first) * 100)));
}
