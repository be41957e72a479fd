import { afterEach, describe, expect, it, vi } from "vitest";

import { noteServerDate, resetServerClock, seedServerClock, serverNow } from "./server-clock";

describe("serverNow", () => {
  afterEach(() => {
    resetServerClock();
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("is the device's clock until something tells the offset", () => {
    vi.useFakeTimers({ now: 1_000_000 });
    expect(serverNow()).toBe(1_000_000);
  });

  it("follows an answer's Date header, read as the middle of its second at the middle of the call", () => {
    // The device runs 20 minutes ahead of the server.
    const server = Date.parse("2026-12-06T12:00:00Z");
    vi.useFakeTimers({ now: server + 20 * 60_000 + 200 });
    noteServerDate("Sun, 06 Dec 2026 12:00:00 GMT", server + 20 * 60_000);
    expect(serverNow()).toBe(server + 500 + 100);
  });

  it("ignores a missing or unreadable header and a slow call", () => {
    vi.useFakeTimers({ now: 10_000_000 });
    noteServerDate(null, 9_999_000);
    noteServerDate("yesterday", 9_999_000);
    noteServerDate("Sun, 06 Dec 2026 12:00:00 GMT", 10_000_000 - 6_000);
    expect(serverNow()).toBe(10_000_000);
  });

  it("takes a page's render time only until an answer told better", () => {
    vi.stubGlobal("window", {});
    vi.useFakeTimers({ now: 5_000_000 });
    seedServerClock(4_000_000);
    expect(serverNow()).toBe(4_000_000);
    noteServerDate(new Date(3_000_000).toUTCString(), 5_000_000);
    seedServerClock(4_000_000);
    expect(serverNow()).toBe(3_000_500);
  });

  it("is not seeded on the server, where one module serves every request", () => {
    vi.useFakeTimers({ now: 5_000_000 });
    seedServerClock(4_000_000);
    expect(serverNow()).toBe(5_000_000);
  });
});
