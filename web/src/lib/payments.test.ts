import { describe, expect, it } from "vitest";

import { bookingReference, paymentActions, paymentStatusText, refundFailureText, refundOutcome, tidyReference } from "./payments";

describe("bookingReference", () => {
  it("is the reference the API computes (bookingref.Of)", () => {
    // Pairs written by services/platform/bookingref's Of.
    expect(bookingReference("0190a1b2-c3d4-7e5f-8a12-3456789abcde")).toBe("BR-M4HM-ASW9-NF6Y");
    expect(bookingReference("01a24d9c-a194-7cb8-a58b-2597ce1a0960")).toBe("BR-B2S5-JZ71-M2B0");
    expect(bookingReference("ffffffff-ffff-7fff-bfff-ffffffffffff")).toBe("BR-ZZZZ-ZZZZ-ZZZZ");
    expect(bookingReference("00000000-0000-7000-8000-000000000000")).toBe("BR-0000-0000-0000");
  });
  it("is empty for what is not a UUID", () => {
    expect(bookingReference("not-a-uuid")).toBe("");
    expect(bookingReference("")).toBe("");
  });
});

describe("tidyReference", () => {
  it("drops spaces and upper-cases, keeping the dashes the API reads", () => {
    expect(tidyReference("  br-7kqd m2xh-9tfa \n")).toBe("BR-7KQDM2XH-9TFA");
    expect(tidyReference("x".repeat(100))).toHaveLength(64);
  });
});

describe("words", () => {
  it("says every payment status without enum names", () => {
    for (const s of ["pending", "processing", "succeeded", "failed", "refunded", "partially_refunded", "refund_failed"]) {
      expect(paymentStatusText(s)).not.toMatch(/_/);
    }
    expect(paymentStatusText("refund_failed")).toBe("Refund failed (we hold the money)");
    expect(paymentStatusText("some_new_state")).toBe("some new state");
  });
  it("says why a refund failed", () => {
    expect(refundFailureText("expired_or_canceled_card")).toBe("The card was expired or closed.");
    expect(refundFailureText("")).toBe("No reason was given.");
    expect(refundFailureText("insufficient_funds")).toBe("The provider said: insufficient funds.");
  });
});

describe("paymentActions", () => {
  it("offers a refund in full on a paid payment, a retry and a transfer on a failed refund", () => {
    expect(paymentActions("succeeded")).toEqual({ refundInFull: true, retry: false, recordTransfer: false });
    expect(paymentActions("partially_refunded").refundInFull).toBe(true);
    expect(paymentActions("refund_failed")).toEqual({ refundInFull: false, retry: true, recordTransfer: true });
    for (const s of ["pending", "processing", "failed", "refunded"]) {
      expect(paymentActions(s)).toEqual({ refundInFull: false, retry: false, recordTransfer: false });
    }
  });
});

describe("refundOutcome", () => {
  const usd = (a: string) => `$${a}`;
  const p = { amount: "50.00", refunded_amount: "50.00", refund_failure_reason: "" };
  it("says what went back", () => {
    expect(refundOutcome({ ...p, status: "refunded" }, usd)).toBe("Refunded: $50.00 goes back to the buyer. The buyer is mailed.");
    expect(refundOutcome({ ...p, status: "partially_refunded", refunded_amount: "25.00" }, usd)).toBe("Refunded $25.00 of $50.00. The buyer is mailed.");
    expect(refundOutcome({ ...p, status: "refund_failed", refund_failure_reason: "lost_or_stolen_card" }, usd)).toBe(
      "The refund failed again. The card was reported lost or stolen.",
    );
    expect(refundOutcome({ ...p, status: "succeeded" }, usd)).toBe("The payment is now: paid.");
  });
});
