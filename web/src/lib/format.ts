/**
 * How the app writes money, dates and states for people.
 *
 * Money arrives as decimal strings ("49.90") with an ISO 4217 currency; it is
 * shown with Intl, never added up in floating point (the server computes
 * totals). Dates are RFC 3339 strings. A show's date and its event's sale
 * window are shown in the venue's time zone (venueZone), as on the tickets and
 * in the e-mails; other moments in the viewer's, saying which zone.
 */
export function money(amount: string | null | undefined, currency: string | null | undefined = "USD"): string {
  if (amount === null || amount === undefined || amount === "") return "—";
  const n = Number(amount);
  if (!Number.isFinite(n)) return amount;
  try {
    return new Intl.NumberFormat("en-US", { style: "currency", currency: currency || "USD" }).format(n);
  } catch {
    return `${amount} ${currency ?? ""}`.trim();
  }
}

/**
 * A price as an organizer types it ("49.90", or "49,90" where a comma is the
 * decimal sign), as the API takes it ("49.90"). The form's pattern
 * (pricePattern) has already refused anything else.
 */
export function priceInput(value: FormDataEntryValue | null): string {
  return String(value ?? "").trim().replace(",", ".");
}

/** The price field's pattern: the API's, with a comma allowed for the point. */
export const pricePattern = "[0-9]{1,7}([.,][0-9]{1,2})?";

/**
 * A moment as people read it, in zone (an IANA name) and saying which
 * ("5 Dec 2026, 07:18 UTC", "5 Dec 2026, 02:18 GMT-5"). Pages everyone
 * shares use UTC; a viewer's own pages their zone (lib/zone.ts on the
 * server, browserZone in the browser): never the runtime's own, which on
 * the server is nobody's.
 */
export function dateTime(iso: string | null | undefined, opts: { zone: string; weekday?: boolean }): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat("en-GB", {
    weekday: opts.weekday ? "short" : undefined,
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZone: opts.zone,
    timeZoneName: "short",
  }).format(d);
}

/**
 * A show's time as its venue reads it, with its day of the week (people pick
 * a night out by it): the start, and the end when the organizer gave one.
 * An end less than a day after the start is written as its clock alone
 * ("Sat, 12 Jun 2027, 21:00 – 23:30 WEST"), a later one whole.
 */
export function showTime(show: { show_date?: string | null; ends_at?: string | null }, opts: { zone: string }): string {
  const start = Date.parse(show.show_date ?? "");
  const end = Date.parse(show.ends_at ?? "");
  const day = { ...opts, weekday: true };
  if (Number.isNaN(start) || Number.isNaN(end) || end <= start) return dateTime(show.show_date, day);
  if (end - start >= 86400_000) return `${dateTime(show.show_date, day)} – ${dateTime(show.ends_at, day)}`;
  const from = new Intl.DateTimeFormat("en-GB", { weekday: "short", year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZone: opts.zone });
  const to = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: opts.zone, timeZoneName: "short" });
  return `${from.format(start)} – ${to.format(end)}`;
}

/**
 * When an event's shows are, for a listing, in its venue's zone: one show
 * as its start ("Wed, 6 Jan 2027, 20:00 WET", as showTime writes it),
 * several as the days they span and how many ("6 – 7 Jan 2027 · 2 shows"),
 * "" while it has none.
 */
export function showSpan(
  event: { first_show_at?: string | null; last_show_at?: string | null; show_count?: number | null },
  opts: { zone: string },
): string {
  const n = event.show_count ?? 0;
  const first = Date.parse(event.first_show_at ?? "");
  if (n <= 0 || Number.isNaN(first)) return "";
  if (n === 1) return dateTime(event.first_show_at, { ...opts, weekday: true });
  const last = Date.parse(event.last_show_at ?? "");
  const days = new Intl.DateTimeFormat("en-GB", { year: "numeric", month: "short", day: "numeric", timeZone: opts.zone });
  const span = Number.isNaN(last) || last <= first ? days.format(first) : days.formatRange(first, last);
  return `${span} · ${count(n, "show")}`;
}

/**
 * A range of calendar days ("2026-12-07" as the API writes a report's
 * range) as people read it: "7 Dec 2026", or "7 Dec 2026 – 9 Jan 2027";
 * a value that is no such day as it comes.
 */
export function dayRange(from: string, to: string): string {
  const day = (d: string) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d);
    if (!m) return d;
    return new Intl.DateTimeFormat("en-GB", { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" }).format(
      Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])),
    );
  };
  return from === to ? day(from) : `${day(from)} – ${day(to)}`;
}

/** The cookie in which the browser tells the server its time zone (components/zone-cookie.tsx, lib/zone.ts). */
export const zoneCookie = "tz";

/** The browser's time zone (in a client component, after it rendered). */
export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** zone when it is a time zone this runtime knows (an IANA name), else undefined. */
export function knownZone(zone: string | null | undefined): string | undefined {
  if (!zone || zone.length > 64) return undefined;
  try {
    return new Intl.DateTimeFormat("en-GB", { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/**
 * The zone an event's shows are written in on every page: its venue's
 * (`time_zone`, an IANA name), as on the tickets and in the e-mails; UTC
 * for a name this runtime does not know.
 */
export function venueZone(event: { time_zone?: string | null } | null | undefined): string {
  return knownZone(event?.time_zone) ?? "UTC";
}

/** Every time zone this runtime knows, for a picker (zone first when it is missing). */
export function timeZones(zone?: string): string[] {
  let all: string[] = [];
  try {
    all = Intl.supportedValuesOf("timeZone");
  } catch {
    all = [];
  }
  if (!all.includes("UTC")) all = [...all, "UTC"];
  return zone && !all.includes(zone) ? [zone, ...all] : all;
}

/** The wall clock of a moment in zone: [year, month, day, hour, minute, second]. */
function wallClock(ms: number, zone: string): number[] {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(ms));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return [get("year"), get("month"), get("day"), get("hour"), get("minute"), get("second")];
}

/** RFC 3339 -> the value of a datetime-local input showing that moment in zone ("2026-12-12T20:00"). */
export function toZoneInput(iso: string | null | undefined, zone: string): string {
  if (!iso) return "";
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return "";
  const [y, mo, d, h, mi] = wallClock(ms, zone);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(y, 4)}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}`;
}

/**
 * A datetime-local value read as a wall clock in zone -> RFC 3339 UTC. A
 * time that does not exist there (skipped by the spring change) is read
 * with the offset before the change; one that happens twice, as its first.
 */
export function fromZoneInput(value: FormDataEntryValue | null, zone: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(String(value ?? ""));
  if (!m) return "";
  const [y, mo, d, h, mi, se] = m.slice(1).map((x) => Number(x ?? 0));
  const wall = Date.UTC(y, mo - 1, d, h, mi, se);
  const offset = (ms: number) => {
    const [cy, cmo, cd, ch, cmi, cse] = wallClock(ms, zone);
    return Date.UTC(cy, cmo - 1, cd, ch, cmi, cse) - ms;
  };
  const before = offset(wall - offset(wall) - 6 * 3600_000);
  let ms = wall - offset(wall - offset(wall));
  if (offset(ms) !== wall - ms) ms = wall - before; // a skipped wall time
  else if (wall - before !== ms && offset(wall - before) === before) ms = Math.min(ms, wall - before); // a repeated one: the first
  return new Date(ms).toISOString();
}

/** 125 -> "2:05"; 3725 -> "1:02:05". */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * A count and its noun, singular for one: count(1, "seat") is "1 seat",
 * count(3, "seat") "3 seats" (an irregular plural is given: count(2,
 * "person", "people")). Every count the app says goes through it, never "seat(s)".
 */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "about 3 minutes" for a wait. */
export function aboutDuration(seconds: number | null): string {
  if (seconds === null) return "a moment";
  if (seconds < 60) return `about ${count(Math.max(1, Math.round(seconds)), "second")}`;
  const m = Math.round(seconds / 60);
  if (m < 60) return `about ${count(m, "minute")}`;
  const h = Math.round(m / 60);
  return `about ${count(h, "hour")}`;
}

/**
 * A booking's status as the buyer reads it (the API's enum names, "reserved"
 * above all, are not words a buyer uses); an unknown status as it comes.
 */
export function bookingStatusText(status: string): string {
  return bookingStatusLabel[status] ?? status;
}

/**
 * Why a booking ended, in words: as its buyer reads it on the booking's page
 * after "Ended <when>: ", or as staff (support) read it; "" for none (a live
 * booking's "unspecified"), and an unknown cause as it comes.
 */
export function cancelCauseText(cause: string, reader: "buyer" | "staff" = "buyer"): string {
  if (!cause || cause === "unspecified") return "";
  return cancelCauseWords[cause]?.[reader === "buyer" ? 0 : 1] ?? cause.replaceAll("_", " ");
}

/** Each cause's words: [to its buyer, to staff]. */
const cancelCauseWords: Record<string, [string, string]> = {
  buyer: ["you cancelled it", "the buyer cancelled it"],
  expired: ["not paid in time", "not paid in time"],
  event_cancelled: ["the event was cancelled", "the event was cancelled"],
  system: ["the payment came too late for it, and was refunded", "the payment came too late for it, and was refunded"],
  support: ["our support team cancelled it, with a full refund", "support refunded it in full"],
};

/**
 * A ticket's state as its holder reads it: the API's "valid" and "revoked"
 * are a gate's words; a ticket used at the door says so.
 */
export function ticketStatusText(ticket: { status: string; checked_in_at?: string | null }): string {
  if (ticket.status === "valid") return ticket.checked_in_at ? "Checked in" : "Valid";
  if (ticket.status === "revoked") return "Void";
  return ticket.status;
}

/** A show's state on its event's public page ("" for one on sale: nothing to say). */
export function showStatusText(status: string): string {
  return showStatusLabel[status] ?? status.replaceAll("_", " ");
}

const showStatusLabel: Record<string, string> = { active: "", sold_out: "Sold out", cancelled: "Cancelled" };

/**
 * An organizer's badge of a state the API names in one word (an event's
 * "draft", "published", "cancelled"; a door device's "active", "revoked"):
 * the word, capitalised, as the other badges read.
 */
export function badgeText(state: string): string {
  const s = state.replaceAll("_", " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A mail's delivery, in words (the notifications page). */
export function deliveryStatusText(status: string): string {
  return deliveryStatusLabel[status] ?? status;
}

const deliveryStatusLabel: Record<string, string> = { pending: "Sending", sent: "Sent", failed: "Not delivered", withdrawn: "Withdrawn" };

/** Status words and badge colours of bookings, events and payments. */
const bookingStatusLabel: Record<string, string> = {
  reserved: "Awaiting payment",
  confirmed: "Confirmed",
  cancelled: "Cancelled",
  expired: "Expired",
  refunded: "Refunded",
};

export function statusVariant(status: string): "default" | "secondary" | "destructive" | "success" | "warning" | "outline" {
  switch (status) {
    case "confirmed":
    case "published":
    case "succeeded":
    case "sent":
      return "success";
    case "reserved":
    case "pending":
    case "processing":
    case "draft":
      return "warning";
    case "cancelled":
    case "failed":
    case "expired":
    case "refund_failed":
      return "destructive";
    case "refunded":
    case "partially_refunded":
    case "withdrawn":
      return "secondary";
    default:
      return "outline";
  }
}
