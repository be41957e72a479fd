import { describe, expect, it } from "vitest";

import type { Verdict } from "./offline";
import { verdictWords } from "./words";

const base: Verdict = { outcome: "valid", ticket_id: "t", show_id: "s", zone_id: "z", first_scan: null, reason: "" };
const now = new Date("2027-06-12T19:50:00Z");
const opts = { zone: "Europe/Lisbon", now, zoneName: (id: string) => (id === "z" ? "Floor" : undefined), showName: () => "Sun, 13 Jun 2027, 21:00 WEST" };

describe("verdictWords", () => {
  it("say ADMIT or REFUSE, and why in plain words", () => {
    expect(verdictWords(base, opts)).toEqual({ admit: true, headline: "ADMIT", words: "Valid ticket · Floor" });
    const used = { ...base, outcome: "already_used" as const, first_scan: { scanned_at: "2027-06-12T18:42:00Z", gate: "North 2", device_id: "d" } };
    expect(verdictWords(used, opts)).toEqual({ admit: false, headline: "REFUSE", words: "Already used at North 2, 19:42" });
    expect(verdictWords({ ...used, first_scan: { ...used.first_scan, scanned_at: "2027-06-11T18:42:00Z" } }, opts).words).toBe("Already used at North 2, 11 Jun, 19:42");
    expect(verdictWords({ ...base, outcome: "revoked" }, opts).words).toBe("Refunded or cancelled");
    expect(verdictWords({ ...base, outcome: "wrong_show" }, opts).words).toBe("Another show's ticket (Sun, 13 Jun 2027, 21:00 WEST)");
    expect(verdictWords({ ...base, outcome: "wrong_event" }, opts).words).toBe("Another event's ticket");
    expect(verdictWords({ ...base, outcome: "invalid", reason: "signature does not verify" }, opts).words).toBe("Not our ticket");
    expect(verdictWords({ ...base, outcome: "invalid", reason: "no longer valid" }, opts).words).toBe("Ticket expired");
  });
});
