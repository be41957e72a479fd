/**
 * How the app writes money, dates and states for people.
 *
 * Money arrives as decimal strings ("49.90") with an ISO 4217 currency; it is
 * shown with Intl, never added up in floating point (the server computes
 * totals). Dates are RFC 3339 strings, shown in the viewer's time zone, except
 * on server-rendered pages, which say UTC (their HTML is shared by everyone).
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
 * A moment as people read it, in zone (an IANA name) and saying which
 * ("5 Dec 2026, 07:18 UTC", "5 Dec 2026, 02:18 GMT-5"). Pages everyone
 * shares use UTC; a viewer's own pages their zone (lib/zone.ts on the
 * server, browserZone in the browser): never the runtime's own, which on
 * the server is nobody's.
 */
export function dateTime(iso: string | null | undefined, opts: { zone: string }): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat("en-GB", {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZone: opts.zone,
    timeZoneName: "short",
  }).format(d);
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

/** 125 -> "2:05"; 3725 -> "1:02:05". */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** "about 3 minutes" for a wait. */
export function aboutDuration(seconds: number | null): string {
  if (seconds === null) return "a moment";
  if (seconds < 60) return `about ${Math.max(1, Math.round(seconds))} second${Math.round(seconds) === 1 ? "" : "s"}`;
  const m = Math.round(seconds / 60);
  if (m < 60) return `about ${m} minute${m === 1 ? "" : "s"}`;
  const h = Math.round(m / 60);
  return `about ${h} hour${h === 1 ? "" : "s"}`;
}

/** Status words and badge colours of bookings, events and payments. */
export const bookingStatusLabel: Record<string, string> = {
  reserved: "Held, awaiting payment",
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
      return "destructive";
    case "refunded":
    case "partially_refunded":
    case "withdrawn":
      return "secondary";
    default:
      return "outline";
  }
}
