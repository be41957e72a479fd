import { describe, expect, it } from "vitest";

import { mayManage } from "./roles";

describe("mayManage", () => {
  const event = { organizer_id: "org-1" };
  it("lets the event's organizer and admins manage it", () => {
    expect(mayManage({ id: "org-1", role: "organizer" }, event)).toBe(true);
    expect(mayManage({ id: "adm", role: "admin" }, event)).toBe(true);
  });
  it("keeps other organizers and buyers out", () => {
    expect(mayManage({ id: "org-2", role: "organizer" }, event)).toBe(false);
    expect(mayManage({ id: "org-1", role: "user" }, event)).toBe(false);
  });
  it("leaves an unknown viewer to the API", () => {
    expect(mayManage(null, event)).toBe(true);
  });
});
