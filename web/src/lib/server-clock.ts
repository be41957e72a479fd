/**
 * The server's clock, as the browser can tell it.
 *
 * A hold's deadline is the server's time; a countdown that subtracts the
 * device's clock from it is wrong by as much as that clock is (a phone set
 * ten minutes ahead showed a live hold as expired, and offered no Pay). So
 * the browser keeps the offset of its clock to the server's, from the Date
 * header of each answer of the app's own routes (whole seconds: read as the
 * middle of its second, and the middle of the call as when it was written),
 * or, before the first answer, from the time a page was rendered at.
 */

let offset: number | null = null;

/** A call that took longer than this tells too little to move the offset. */
const SLOW_MS = 5_000;

/** Notes the Date header of an answer to a call sent at sentAt (local ms). */
export function noteServerDate(date: string | null, sentAt: number, receivedAt: number = Date.now()): void {
  if (!date || receivedAt - sentAt > SLOW_MS) return;
  const server = Date.parse(date);
  if (Number.isNaN(server)) return;
  offset = server + 500 - (sentAt + receivedAt) / 2;
}

/**
 * Notes a page's render time (server ms) when no answer told the offset yet:
 * a page restored from the browser's cache is older than it says, so an
 * answer's Date header always wins.
 */
export function seedServerClock(renderedAt: number, now: number = Date.now()): void {
  if (offset === null && typeof window !== "undefined") offset = renderedAt - now;
}

/** The server's time now, in ms (the device's while nothing told the offset). */
export function serverNow(): number {
  return Date.now() + (offset ?? 0);
}

/**
 * The time on the server rendering a page, for a server component to hand
 * to the browser (seedServerClock): such a page renders once per request.
 */
export function renderTime(): number {
  return Date.now();
}

/** Forgets the offset (tests). */
export function resetServerClock(): void {
  offset = null;
}
