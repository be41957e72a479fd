import { describe, expect, it } from "vitest";

import { refundProgress } from "./refunds";

const tally = (bookings: number, amount: string) => ({ bookings, amount });
const none = tally(0, "0.00");

describe("refundProgress", () => {
  it("says how far the refunds are: refunded and for how much, in progress, failed and who acts", () => {
    const got = refundProgress({
      currency: "USD",
      paid: tally(14, "1400.00"),
      refunded: tally(12, "1230.00"),
      in_progress: tally(1, "85.00"),
      failed: tally(1, "85.00"),
      refunded_outside_provider: none,
    });
    expect(got.text).toBe("12 of 14 paid bookings refunded ($1,230.00); 1 in progress; 1 failed at the buyer's bank — our support team is on it.");
    expect(got.inFlight).toBe(true);
  });
  it("stops reading again when only failed refunds are left: support settles them, not time", () => {
    const got = refundProgress({ currency: "USD", paid: tally(2, "50.00"), refunded: tally(1, "25.00"), in_progress: none, failed: tally(1, "25.00"), refunded_outside_provider: none });
    expect(got).toEqual({ text: "1 of 2 paid bookings refunded ($25.00); 1 failed at the buyer's bank — our support team is on it.", inFlight: false });
  });
  it("says when every paid booking is refunded, and which support paid by bank transfer", () => {
    expect(
      refundProgress({ currency: "USD", paid: tally(3, "150.00"), refunded: tally(3, "150.00"), in_progress: none, failed: none, refunded_outside_provider: tally(1, "25.00") }).text,
    ).toBe("All 3 paid bookings are refunded in full ($150.00, 1 of them by bank transfer from our support team).");
    expect(refundProgress({ currency: "USD", paid: tally(1, "80.00"), refunded: tally(1, "80.00"), in_progress: none, failed: none, refunded_outside_provider: none }).text).toBe(
      "The paid booking is refunded in full ($80.00).",
    );
  });
  it("counts one paid booking in the singular, and none without a sum", () => {
    expect(refundProgress({ currency: "USD", paid: tally(1, "80.00"), refunded: none, in_progress: tally(1, "80.00"), failed: none, refunded_outside_provider: none })).toEqual({
      text: "0 of 1 paid booking refunded ($0.00); 1 in progress.",
      inFlight: true,
    });
    expect(refundProgress({ currency: "USD", paid: none, refunded: none, in_progress: none, failed: none, refunded_outside_provider: none }).text).toBe(
      "No bookings were paid: there is nothing to refund.",
    );
  });
  it("reads a tally the API left unset as none", () => {
    expect(refundProgress({ currency: "EUR", paid: tally(1, "80.00"), refunded: null, in_progress: tally(1, "80.00"), failed: null, refunded_outside_provider: null }).text).toBe(
      "0 of 1 paid booking refunded (€0.00); 1 in progress.",
    );
  });
});
