import { describe, expect, it } from "vitest";

import type { Event } from "@/lib/api/wire";
import { changed, type EventFields } from "@/lib/event-fields";

const event = {
  id: "e1",
  title: "Midnight Opera",
  description: "",
  venue: "Teatro",
  time_zone: "Europe/Lisbon",
  category: "opera",
  sale_start_at: "2026-12-01T10:00:00Z",
  sale_end_at: "2026-12-20T10:00:00Z",
  max_per_user: 4,
  queue_enabled: true,
} as unknown as Event;

const same: EventFields = {
  title: "Midnight Opera",
  description: "",
  venue: "Teatro",
  time_zone: "Europe/Lisbon",
  category: "opera",
  sale_start_at: "2026-12-01T10:00:00.000Z",
  sale_end_at: "2026-12-20T10:00:00.000Z",
  max_per_user: 4,
  queue_enabled: true,
};

describe("changed", () => {
  it("sends nothing when nothing changed (instants compared as instants)", () => {
    expect(changed(same, event)).toEqual({});
  });
  it("sends only the fields that changed", () => {
    expect(changed({ ...same, title: "Opera", time_zone: "UTC" }, event)).toEqual({ title: "Opera", time_zone: "UTC" });
  });
  it("leaves a waiting room switched on elsewhere alone when the organizer only renames", () => {
    const on = { ...event, queue_enabled: true } as Event;
    expect(changed({ ...same, title: "Renamed" }, on)).not.toHaveProperty("queue_enabled");
  });
  it("sends a moved sale end", () => {
    expect(changed({ ...same, sale_end_at: "2026-12-21T10:00:00.000Z" }, event)).toEqual({ sale_end_at: "2026-12-21T10:00:00.000Z" });
  });
});
