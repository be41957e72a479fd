import { describe, expect, it } from "vitest";

import { auditChanges, valueText } from "./audit";

describe("auditChanges", () => {
  it("lists only the fields an update changed, enums in the API's words", () => {
    const old = { id: "e1", title: "Rush", status: "EVENT_STATUS_DRAFT", max_per_user: 4, category_ids: [] };
    const now = { id: "e1", title: "Rush Live", status: "EVENT_STATUS_PUBLISHED", max_per_user: 4, category_ids: [] };
    expect(auditChanges(old, now)).toEqual([
      { field: "title", from: "Rush", to: "Rush Live" },
      { field: "status", from: "draft", to: "published" },
    ]);
  });
  it("lists what a creation set, not its empty fields", () => {
    expect(auditChanges(null, { title: "Rush", description: "", status: "EVENT_STATUS_UNSPECIFIED", queue_enabled: false, seats: 0 })).toEqual([
      { field: "title", from: null, to: "Rush" },
    ]);
  });
  it("says a role change as recorded", () => {
    expect(auditChanges({ role: "user" }, { role: "organizer" })).toEqual([{ field: "role", from: "user", to: "organizer" }]);
  });
});

describe("valueText", () => {
  it("keeps upper-case text that is no enum of the field", () => {
    expect(valueText("reference", "BR-7QX2")).toBe("BR-7QX2");
    expect(valueText("cause", "REFUND_CAUSE_BUYER_CANCELLED")).toBe("buyer_cancelled");
    expect(valueText("reason", "NOT_AN_ENUM_OF_REASON")).toBe("NOT_AN_ENUM_OF_REASON");
  });
  it("writes nested values as JSON, cut to a readable length", () => {
    expect(valueText("sale", { start: "x" })).toBe('{"start":"x"}');
    expect(valueText("note", "a".repeat(200))).toHaveLength(80);
  });
});
