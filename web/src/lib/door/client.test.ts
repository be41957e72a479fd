import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { adoptScans, keepQueue, otherQueues, storedQueue } from "./client";
import type { PendingScan } from "./queue";
import { MemoryStorage } from "@/test/memory-storage";

const scan = (id: string, show: string): PendingScan => ({ id, code: `BRT1:${id}`, gate: "North", show_id: show, scanned_at: "2026-12-07T20:00:00.000Z", door: "admitted" });

describe("scans another device of this browser left", () => {
  beforeEach(() => vi.stubGlobal("localStorage", new MemoryStorage()));
  afterEach(() => vi.unstubAllGlobals());

  it("are offered, and those of this device's shows move to its queue; the rest stay", () => {
    keepQueue("old", [scan("a", "show-1"), scan("b", "show-2"), scan("c", "show-1")]);
    keepQueue("empty", []);
    keepQueue("new", [scan("n", "show-1")]);
    expect(otherQueues("new").map((o) => [o.deviceId, o.scans.length])).toEqual([["old", 3]]);

    expect(adoptScans("new", new Set(["show-1"]))).toBe(2);
    expect(storedQueue("new").map((s) => s.id)).toEqual(["n", "a", "c"]);
    expect(storedQueue("old").map((s) => s.id)).toEqual(["b"]);
    // Nothing more of this device's shows: nothing moves twice.
    expect(adoptScans("new", new Set(["show-1"]))).toBe(0);
    expect(storedQueue("new")).toHaveLength(3);
  });
});
