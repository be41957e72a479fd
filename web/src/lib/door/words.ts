/**
 * A scan's verdict as door staff read it: ADMIT or REFUSE, and why in a few
 * words ("Already used at North 2, 19:42", "Refunded or cancelled").
 */
import type { Verdict } from "./offline";

export interface VerdictWords {
  admit: boolean;
  /** "ADMIT" or "REFUSE". */
  headline: string;
  /** Why, in plain words. */
  words: string;
}

/** A moment's clock in zone ("19:42"), with its day when it is not today there ("12 Jul, 19:42"). */
export function doorClock(iso: string, zone: string, now: Date): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const day = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", timeZone: zone });
  const clock = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: zone }).format(d);
  return day.format(d) === day.format(now) ? clock : `${day.format(d)}, ${clock}`;
}

/**
 * The words of a verdict. zone is the venue's (times of an earlier scan);
 * zoneName and showName name a zone or show of the door's events when
 * known.
 */
export function verdictWords(
  v: Verdict,
  opts: { zone: string; now: Date; zoneName?: (id: string) => string | undefined; showName?: (id: string) => string | undefined },
): VerdictWords {
  const refuse = (words: string): VerdictWords => ({ admit: false, headline: "REFUSE", words });
  switch (v.outcome) {
    case "valid": {
      const zone = opts.zoneName?.(v.zone_id);
      return { admit: true, headline: "ADMIT", words: zone ? `Valid ticket · ${zone}` : "Valid ticket" };
    }
    case "already_used": {
      const f = v.first_scan;
      if (!f) return refuse("Already used");
      const at = f.scanned_at ? doorClock(f.scanned_at, opts.zone, opts.now) : "";
      const where = f.gate ? ` at ${f.gate}` : "";
      return refuse(`Already used${where}${at ? `, ${at}` : ""}`);
    }
    case "revoked":
      return refuse("Refunded or cancelled");
    case "wrong_show": {
      const show = opts.showName?.(v.show_id);
      return refuse(show ? `Another show's ticket (${show})` : "Another show's ticket");
    }
    case "wrong_event":
      return refuse("Another event's ticket");
    case "invalid":
      if (v.reason === "no longer valid") return refuse("Ticket expired");
      if (v.reason === "not valid yet") return refuse("Ticket not valid yet");
      return refuse("Not our ticket");
    default:
      return refuse("Not our ticket");
  }
}
