/**
 * What an event's sales dashboard asks the analytics API for. The API's
 * report covers a range of days (30 by default, 366 at most), and its
 * summary counts only that range: the dashboard asks for the whole sale.
 */

/** The most days one report may span (services/analytics maxDays). */
export const maxReportDays = 366;

const day = 24 * 60 * 60 * 1000;

/** "YYYY-MM-DD" of t in UTC. */
function utcDate(t: number): string {
  return new Date(t).toISOString().slice(0, 10);
}

/**
 * The days of an event's sale so far (UTC): from the day its sale opened
 * (bounded to the API's longest report, ending today) to today.
 */
export function saleRange(saleStartAt: string | null | undefined, now: number = Date.now()): { from: string; to: string } {
  const start = saleStartAt ? Date.parse(saleStartAt) : NaN;
  const earliest = now - (maxReportDays - 1) * day;
  const from = Number.isNaN(start) ? now : Math.min(now, Math.max(start, earliest));
  return { from: utcDate(from), to: utcDate(now) };
}

/**
 * Tickets sold in each of the 24 hours up to and including the current one,
 * oldest first: an hour the series does not have (before the range began)
 * sold none. The series runs to the end of its last day, whose later hours
 * have not happened yet, so its own last 24 points would not be these.
 */
export function lastHours(
  hourly: { start?: string | null; tickets_sold?: number | null }[],
  now: number = Date.now(),
  hours = 24,
): { start: string; tickets_sold: number }[] {
  const sold = new Map(hourly.map((p) => [(p.start ?? "").slice(0, 13), p.tickets_sold ?? 0]));
  const hour = Math.floor(now / 3_600_000) * 3_600_000;
  return Array.from({ length: hours }, (_, i) => {
    const start = new Date(hour - (hours - 1 - i) * 3_600_000).toISOString();
    return { start, tickets_sold: sold.get(start.slice(0, 13)) ?? 0 };
  });
}

/**
 * Whether a show has started: its seats are then off sale (the booking
 * engine refuses them), though its event's sale window may still be open
 * for the event's later shows.
 */
export function showStarted(show: { show_date: string | null }, now = Date.now()): boolean {
  return show.show_date !== null && Date.parse(show.show_date) <= now;
}

/**
 * Why a queued event's line says "expired" for everyone: its sale ended, or
 * it was cancelled ("" when neither: the buyer's own pass lapsed).
 */
export function saleOver(event: { status?: string | null; sale_end_at?: string | null }, now = Date.now()): "cancelled" | "ended" | "" {
  if (event.status === "cancelled") return "cancelled";
  const end = event.sale_end_at ? Date.parse(event.sale_end_at) : NaN;
  return !Number.isNaN(end) && end <= now ? "ended" : "";
}

/**
 * Where an event's sale stands at now: "closed" when the event is not
 * published (a draft, a cancelled event), "before" and "ended" outside its
 * window, "open" inside it (reservations are taken, each show until it
 * starts).
 */
export function saleState(
  event: { status: string; sale_start_at: string | null; sale_end_at: string | null },
  now = Date.now(),
): "closed" | "before" | "open" | "ended" {
  if (event.status !== "published") return "closed";
  if (event.sale_start_at && Date.parse(event.sale_start_at) > now) return "before";
  if (event.sale_end_at && Date.parse(event.sale_end_at) <= now) return "ended";
  return "open";
}

/** The first of moments (RFC 3339) after now, in ms, or null: when a page's sale state changes next. */
export function nextMoment(moments: (string | null | undefined)[], now = Date.now()): number | null {
  let next: number | null = null;
  for (const m of moments) {
    const t = m ? Date.parse(m) : NaN;
    if (t > now && (next === null || t < next)) next = t;
  }
  return next;
}
