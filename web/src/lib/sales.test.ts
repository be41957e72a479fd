import { describe, expect, it } from "vitest";

import { lastHours, nextMoment, saleOver, saleRange, saleState, showStarted } from "./sales";

const now = Date.parse("2026-12-05T07:30:00Z");

describe("saleRange", () => {
  it("covers the sale from the day it opened, so older sales count", () => {
    expect(saleRange("2026-09-01T18:00:00Z", now)).toEqual({ from: "2026-09-01", to: "2026-12-05" });
  });
  it("is today alone for a sale that opens later or has no start", () => {
    expect(saleRange("2027-01-10T00:00:00Z", now)).toEqual({ from: "2026-12-05", to: "2026-12-05" });
    expect(saleRange(null, now)).toEqual({ from: "2026-12-05", to: "2026-12-05" });
  });
  it("stays within the API's longest report (366 days)", () => {
    expect(saleRange("2024-01-01T00:00:00Z", now)).toEqual({ from: "2025-12-05", to: "2026-12-05" });
  });
});

describe("lastHours", () => {
  const hourly = ["2026-12-04", "2026-12-05"].flatMap((d) =>
    Array.from({ length: 24 }, (_, h) => ({ start: `${d}T${String(h).padStart(2, "0")}:00:00Z`, tickets_sold: h })),
  );
  it("ends at the current hour, not at the end of the day", () => {
    const got = lastHours(hourly, now);
    expect(got).toHaveLength(24);
    expect(got[0]).toEqual({ start: "2026-12-04T08:00:00.000Z", tickets_sold: 8 });
    expect(got[23]).toEqual({ start: "2026-12-05T07:00:00.000Z", tickets_sold: 7 });
  });
  it("counts the hours before the series began as none sold", () => {
    const got = lastHours(hourly.slice(24), now);
    expect(got).toHaveLength(24);
    expect(got[15]).toEqual({ start: "2026-12-04T23:00:00.000Z", tickets_sold: 0 });
    expect(got[16]).toEqual({ start: "2026-12-05T00:00:00.000Z", tickets_sold: 0 });
    expect(got[17].tickets_sold).toBe(1);
  });
});

describe("showStarted", () => {
  const now = Date.parse("2026-12-05T20:00:00Z");
  it("is true from the show's start on", () => {
    expect(showStarted({ show_date: "2026-12-05T20:00:00Z" }, now)).toBe(true);
    expect(showStarted({ show_date: "2026-12-01T20:00:00Z" }, now)).toBe(true);
  });
  it("is false before it, and for a show without a date", () => {
    expect(showStarted({ show_date: "2026-12-20T20:00:00Z" }, now)).toBe(false);
    expect(showStarted({ show_date: null }, now)).toBe(false);
  });
});

describe("saleOver", () => {
  const noon = Date.parse("2026-12-06T12:00:00Z");
  it("says cancelled for a cancelled event", () => {
    expect(saleOver({ status: "cancelled", sale_end_at: "2026-12-31T00:00:00Z" }, noon)).toBe("cancelled");
  });
  it("says ended once the sale's end passed", () => {
    expect(saleOver({ status: "published", sale_end_at: "2026-12-06T11:59:00Z" }, noon)).toBe("ended");
  });
  it("says nothing while the sale runs, or without an end", () => {
    expect(saleOver({ status: "published", sale_end_at: "2026-12-06T12:01:00Z" }, noon)).toBe("");
    expect(saleOver({ status: "published" }, noon)).toBe("");
  });
});

describe("saleState", () => {
  const ev = (status: string, start: string | null, end: string | null) => ({ status, sale_start_at: start, sale_end_at: end });
  it("is open inside the window of a published event, and says which side of it otherwise", () => {
    expect(saleState(ev("published", "2026-12-05T07:00:00Z", "2026-12-06T00:00:00Z"), now)).toBe("open");
    expect(saleState(ev("published", "2026-12-05T07:30:00Z", null), now)).toBe("open");
    expect(saleState(ev("published", "2026-12-05T07:30:01Z", null), now)).toBe("before");
    expect(saleState(ev("published", null, "2026-12-05T07:30:00Z"), now)).toBe("ended");
    expect(saleState(ev("cancelled", "2026-12-05T07:00:00Z", null), now)).toBe("closed");
    expect(saleState(ev("draft", null, null), now)).toBe("closed");
  });
});

describe("nextMoment", () => {
  it("is the first moment still ahead", () => {
    expect(nextMoment(["2026-12-05T07:00:00Z", "2026-12-05T09:00:00Z", null, "2026-12-05T08:00:00Z"], now)).toBe(Date.parse("2026-12-05T08:00:00Z"));
    expect(nextMoment(["2026-12-05T07:30:00Z", undefined, "nonsense"], now)).toBeNull();
  });
});
