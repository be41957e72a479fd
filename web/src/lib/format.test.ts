import { describe, expect, it } from "vitest";

import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";

import {
  aboutDuration,
  cancelCauseText,
  clock,
  count,
  dateTime,
  dayRange,
  deliveryStatusText,
  fromZoneInput,
  knownZone,
  money,
  priceInput,
  pricePattern,
  showSpan,
  badgeText,
  showStatusText,
  showTime,
  ticketStatusText,
  timeZones,
  toZoneInput,
  venueZone,
} from "./format";

describe("format", () => {
  it("writes money from decimal strings", () => {
    expect(money("49.90", "USD")).toBe("$49.90");
    expect(money("1234.5", "EUR")).toBe("€1,234.50");
    expect(money("", "USD")).toBe("—");
    expect(money("12.00", "XXX-not-a-currency")).toBe("12.00 XXX-not-a-currency");
  });
  it("reads a price typed with a point or a comma", () => {
    expect(priceInput("49,90")).toBe("49.90");
    expect(priceInput(" 49.9 ")).toBe("49.9");
    expect(priceInput("120")).toBe("120");
    const re = new RegExp(`^(?:${pricePattern})$`);
    for (const ok of ["49.90", "49,90", "0", "1234567.5"]) expect(re.test(ok)).toBe(true);
    for (const bad of ["$49.90", "49.999", "4,9,0", "12345678", "49.", ""]) expect(re.test(bad)).toBe(false);
  });
  it("writes dates, in UTC for pages everyone shares", () => {
    expect(dateTime("2026-12-03T20:30:00Z", { zone: "UTC" })).toBe("3 Dec 2026, 20:30 UTC");
    expect(dateTime(null, { zone: "UTC" })).toBe("—");
  });
  it("writes dates in the viewer's zone, saying which", () => {
    expect(dateTime("2026-12-05T07:18:00Z", { zone: "America/New_York" })).toBe("5 Dec 2026, 02:18 GMT-5");
    expect(dateTime("2026-12-05T07:18:00Z", { zone: "UTC" })).toBe("5 Dec 2026, 07:18 UTC");
  });
  it("says when an event's shows are, in its venue's zone", () => {
    const zone = "Europe/Lisbon";
    const span = (e: Parameters<typeof showSpan>[0]) => showSpan(e, { zone }).replace(/\s/g, " ");
    expect(span({ show_count: 0 })).toBe("");
    expect(span({ first_show_at: null, last_show_at: null, show_count: 0 })).toBe("");
    expect(span({ first_show_at: "2027-01-06T20:00:00Z", last_show_at: "2027-01-06T20:00:00Z", show_count: 1 })).toBe("Wed, 6 Jan 2027, 20:00 WET");
    expect(span({ first_show_at: "2027-01-06T20:00:00Z", last_show_at: "2027-01-07T20:00:00Z", show_count: 2 })).toBe("6 – 7 Jan 2027 · 2 shows");
    expect(span({ first_show_at: "2027-01-06T20:00:00Z", last_show_at: "2027-03-07T20:00:00Z", show_count: 5 })).toBe("6 Jan – 7 Mar 2027 · 5 shows");
    expect(span({ first_show_at: "2027-12-30T20:00:00Z", last_show_at: "2028-01-02T20:00:00Z", show_count: 3 })).toBe("30 Dec 2027 – 2 Jan 2028 · 3 shows");
    // Two shows of one day (a matinee and an evening), and a day that is
    // another one in the venue's zone than in UTC.
    expect(span({ first_show_at: "2027-01-06T15:00:00Z", last_show_at: "2027-01-06T20:00:00Z", show_count: 2 })).toBe("6 Jan 2027 · 2 shows");
    expect(showSpan({ first_show_at: "2027-01-07T02:00:00Z", last_show_at: "2027-01-07T02:00:00Z", show_count: 1 }, { zone: "America/New_York" })).toBe("Wed, 6 Jan 2027, 21:00 GMT-5");
  });
  it("takes only time zones it knows", () => {
    expect(knownZone("Europe/Lisbon")).toBe("Europe/Lisbon");
    expect(knownZone("utc")).toBe("UTC");
    expect(knownZone("Mars/Olympus")).toBeUndefined();
    expect(knownZone("")).toBeUndefined();
    expect(knownZone(undefined)).toBeUndefined();
  });
  it("writes an event's dates in its venue's zone", () => {
    expect(venueZone({ time_zone: "Europe/Paris" })).toBe("Europe/Paris");
    expect(venueZone({ time_zone: "Mars/Olympus" })).toBe("UTC");
    expect(venueZone(null)).toBe("UTC");
    expect(dateTime("2026-12-12T19:00:00Z", { zone: venueZone({ time_zone: "Europe/Paris" }) })).toBe("12 Dec 2026, 20:00 CET");
    expect(timeZones()).toContain("Europe/Paris");
    expect(timeZones()).toContain("UTC");
    expect(timeZones("Etc/Unknown")[0]).toBe("Etc/Unknown");
  });
  it("writes a show's time with its end when it has one", () => {
    const paris = { zone: "Europe/Paris" };
    // With the day of the week: a buyer picks a Saturday, not a 12th.
    expect(showTime({ show_date: "2026-12-12T19:00:00Z" }, paris)).toBe("Sat, 12 Dec 2026, 20:00 CET");
    expect(showTime({ show_date: "2026-12-12T19:00:00Z", ends_at: "2026-12-12T22:30:00Z" }, paris)).toBe("Sat, 12 Dec 2026, 20:00 – 23:30 CET");
    expect(showTime({ show_date: "2026-12-12T19:00:00Z", ends_at: "2026-12-13T01:00:00Z" }, paris)).toBe("Sat, 12 Dec 2026, 20:00 – 02:00 CET");
    expect(showTime({ show_date: "2026-12-12T19:00:00Z", ends_at: "2026-12-14T19:00:00Z" }, paris)).toBe("Sat, 12 Dec 2026, 20:00 CET – Mon, 14 Dec 2026, 20:00 CET");
    expect(showTime({ show_date: "2026-12-12T19:00:00Z", ends_at: "2026-12-12T18:00:00Z" }, paris)).toBe("Sat, 12 Dec 2026, 20:00 CET");
  });
  it("reads and writes a date input as the venue's wall clock", () => {
    expect(toZoneInput("2026-12-12T19:00:00Z", "Europe/Paris")).toBe("2026-12-12T20:00");
    expect(toZoneInput("2026-12-12T19:00:00Z", "Asia/Kolkata")).toBe("2026-12-13T00:30");
    expect(toZoneInput(null, "UTC")).toBe("");
    expect(fromZoneInput("2026-12-12T20:00", "Europe/Paris")).toBe("2026-12-12T19:00:00.000Z");
    expect(fromZoneInput("2026-07-01T20:00", "Europe/Paris")).toBe("2026-07-01T18:00:00.000Z");
    expect(fromZoneInput("2026-12-13T00:30", "Asia/Kolkata")).toBe("2026-12-12T19:00:00.000Z");
    expect(fromZoneInput("2026-12-12T14:00", "America/New_York")).toBe("2026-12-12T19:00:00.000Z");
    expect(fromZoneInput("2026-12-12T19:00", "UTC")).toBe("2026-12-12T19:00:00.000Z");
    // 02:30 does not exist in Paris on 29 March 2026 (02:00 -> 03:00): read as before the change.
    expect(fromZoneInput("2026-03-29T02:30", "Europe/Paris")).toBe("2026-03-29T01:30:00.000Z");
    // 02:30 happens twice on 25 October 2026: the first.
    expect(fromZoneInput("2026-10-25T02:30", "Europe/Paris")).toBe("2026-10-25T00:30:00.000Z");
    expect(fromZoneInput("2026-10-25T04:00", "Europe/Paris")).toBe("2026-10-25T03:00:00.000Z");
    expect(fromZoneInput("2026-03-29T04:00", "Europe/Paris")).toBe("2026-03-29T02:00:00.000Z");
    expect(fromZoneInput("not a date", "UTC")).toBe("");
    for (const zone of ["Europe/Paris", "America/Los_Angeles", "Australia/Lord_Howe", "Asia/Kathmandu"]) {
      for (const iso of ["2026-01-15T08:05:00.000Z", "2026-06-30T23:59:00.000Z", "2026-11-01T12:30:00.000Z"]) {
        expect(fromZoneInput(toZoneInput(iso, zone), zone)).toBe(iso);
      }
    }
  });
  it("counts down", () => {
    expect(clock(599)).toBe("9:59");
    expect(clock(3725)).toBe("1:02:05");
    expect(clock(-3)).toBe("0:00");
    expect(aboutDuration(42)).toBe("about 42 seconds");
    expect(aboutDuration(150)).toBe("about 3 minutes");
    expect(aboutDuration(null)).toBe("a moment");
    // Under half a second rounds to one, said in the singular.
    expect(aboutDuration(0.3)).toBe("about 1 second");
    expect(aboutDuration(60)).toBe("about 1 minute");
  });
  it("says a count in the singular for one and the plural otherwise", () => {
    expect(count(1, "seat")).toBe("1 seat");
    expect(count(0, "seat")).toBe("0 seats");
    expect(count(4, "ticket")).toBe("4 tickets");
    expect(count(2, "person", "people")).toBe("2 people");
  });
  it("leaves no \"(s)\" plural in the app's words", () => {
    // "1 seat(s)" read as a form, not a sentence: every count goes through count().
    const src = path.resolve(__dirname, "..");
    const files = readdirSync(src, { recursive: true, encoding: "utf8" }).filter(
      (f) => /\.tsx?$/.test(f) && !f.startsWith("gen") && !f.endsWith(".test.ts"),
    );
    const found = files.filter((f) => / [a-z]+\(s\)[ .,!?]/i.test(readFileSync(path.join(src, f), "utf8")));
    expect(found).toEqual([]);
  });
});

describe("cancelCauseText", () => {
  it("says why a booking ended in words, nothing for a live one", () => {
    expect(cancelCauseText("support")).toBe("our support team cancelled it, with a full refund");
    expect(cancelCauseText("event_cancelled")).toBe("the event was cancelled");
    expect(cancelCauseText("unspecified")).toBe("");
    expect(cancelCauseText("later_cause")).toBe("later cause");
    expect(cancelCauseText("")).toBe("");
    // Staff (support) read it of the buyer.
    expect(cancelCauseText("buyer", "staff")).toBe("the buyer cancelled it");
    expect(cancelCauseText("support", "staff")).toBe("support refunded it in full");
  });
});

describe("status words", () => {
  it("says a ticket's, a show's and a mail's state in words, not the API's enum names", () => {
    expect(ticketStatusText({ status: "valid" })).toBe("Valid");
    expect(ticketStatusText({ status: "valid", checked_in_at: "2026-12-12T19:00:00Z" })).toBe("Checked in");
    expect(ticketStatusText({ status: "revoked" })).toBe("Void");
    expect(showStatusText("active")).toBe("");
    expect(showStatusText("sold_out")).toBe("Sold out");
    expect(badgeText("published")).toBe("Published");
    expect(badgeText("revoked")).toBe("Revoked");
    expect(badgeText("sold_out")).toBe("Sold out");
    expect(showStatusText("cancelled")).toBe("Cancelled");
    expect(deliveryStatusText("sent")).toBe("Sent");
    expect(deliveryStatusText("failed")).toBe("Not delivered");
  });
});

describe("dayRange", () => {
  it("writes a report's days as the rest of the app writes dates", () => {
    expect(dayRange("2026-12-07", "2026-12-07")).toBe("7 Dec 2026");
    expect(dayRange("2026-12-07", "2027-01-09")).toBe("7 Dec 2026 – 9 Jan 2027");
    expect(dayRange("soon", "2026-12-07")).toBe("soon – 7 Dec 2026");
  });
});
