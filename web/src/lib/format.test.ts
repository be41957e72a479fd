import { describe, expect, it } from "vitest";

import { aboutDuration, clock, dateTime, knownZone, money } from "./format";

describe("format", () => {
  it("writes money from decimal strings", () => {
    expect(money("49.90", "USD")).toBe("$49.90");
    expect(money("1234.5", "EUR")).toBe("€1,234.50");
    expect(money("", "USD")).toBe("—");
    expect(money("12.00", "XXX-not-a-currency")).toBe("12.00 XXX-not-a-currency");
  });
  it("writes dates, in UTC for pages everyone shares", () => {
    expect(dateTime("2026-12-03T20:30:00Z", { zone: "UTC" })).toBe("3 Dec 2026, 20:30 UTC");
    expect(dateTime(null, { zone: "UTC" })).toBe("—");
  });
  it("writes dates in the viewer's zone, saying which", () => {
    expect(dateTime("2026-12-05T07:18:00Z", { zone: "America/New_York" })).toBe("5 Dec 2026, 02:18 GMT-5");
    expect(dateTime("2026-12-05T07:18:00Z", { zone: "UTC" })).toBe("5 Dec 2026, 07:18 UTC");
  });
  it("takes only time zones it knows", () => {
    expect(knownZone("Europe/Lisbon")).toBe("Europe/Lisbon");
    expect(knownZone("utc")).toBe("UTC");
    expect(knownZone("Mars/Olympus")).toBeUndefined();
    expect(knownZone("")).toBeUndefined();
    expect(knownZone(undefined)).toBeUndefined();
  });
  it("counts down", () => {
    expect(clock(599)).toBe("9:59");
    expect(clock(3725)).toBe("1:02:05");
    expect(clock(-3)).toBe("0:00");
    expect(aboutDuration(42)).toBe("about 42 seconds");
    expect(aboutDuration(150)).toBe("about 3 minutes");
    expect(aboutDuration(null)).toBe("a moment");
  });
});
