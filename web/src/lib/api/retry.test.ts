import { describe, expect, it } from "vitest";

import { ApiError } from "./errors";
import { retryBusy, retryDelayMs } from "./retry";

const busy = (retryAfter: number | null, status = 503) =>
  new ApiError({ status, code: status === 429 ? "RATE_LIMITED" : "SERVICE_UNAVAILABLE", message: "busy", retryAfter });

describe("retryDelayMs", () => {
  it("waits at least Retry-After, at least doubling per attempt, with jitter under 0.4 s", () => {
    expect(retryDelayMs(busy(3), 1, 60, () => 0)).toBe(3000);
    expect(retryDelayMs(busy(1), 1, 60, () => 0)).toBe(1000);
    expect(retryDelayMs(busy(1), 3, 60, () => 0)).toBe(4000);
    expect(retryDelayMs(busy(1), 10, 60, () => 0)).toBe(60000);
    expect(retryDelayMs(busy(120), 1, 60, () => 0)).toBe(60000);
    expect(retryDelayMs(busy(null), 1, 60, () => 0.99)).toBe(1396);
  });
});

describe("retryBusy", () => {
  it("retries 429 and 503 after Retry-After, counting down each second, and returns the success", async () => {
    const slept: number[] = [];
    const waits: number[] = [];
    let calls = 0;
    const out = await retryBusy(
      async () => {
        calls++;
        if (calls === 1) throw busy(2, 429);
        if (calls === 2) throw busy(1);
        return "held";
      },
      { sleep: async (ms) => void slept.push(ms), random: () => 0, onWait: (s) => waits.push(s) },
    );
    expect(out).toBe("held");
    expect(calls).toBe(3);
    // 2 s (Retry-After) then 2 s (backoff of the 2nd attempt beats Retry-After 1)
    expect(slept.reduce((a, b) => a + b, 0)).toBe(4000);
    expect(waits).toEqual([2, 1, 0, 2, 1, 0]);
  });

  it("does not retry what a retry cannot fix", async () => {
    let calls = 0;
    const e = new ApiError({ status: 409, code: "INSUFFICIENT_STOCK", message: "no" });
    await expect(
      retryBusy(async () => {
        calls++;
        throw e;
      }),
    ).rejects.toBe(e);
    expect(calls).toBe(1);
  });

  it("gives up after maxAttempts, with the last error", async () => {
    let calls = 0;
    await expect(
      retryBusy(
        async () => {
          calls++;
          throw busy(1);
        },
        { maxAttempts: 3, sleep: async () => undefined },
      ),
    ).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    expect(calls).toBe(3);
  });

  it("stops waiting when aborted", async () => {
    const ctl = new AbortController();
    const p = retryBusy(
      async () => {
        throw busy(30);
      },
      { signal: ctl.signal },
    );
    ctl.abort();
    await expect(p).rejects.toThrow();
  });
});
