import { describe, expect, it } from "vitest";

import { ApiError, parseRetryAfter, plainWords } from "./errors";

const err = (code: string, details: Record<string, unknown> = {}, status = 409, message = "m") => new ApiError({ status, code, message, details });

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates, never negative", () => {
    expect(parseRetryAfter("3")).toBe(3);
    expect(parseRetryAfter("0.2")).toBe(1);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter("soon")).toBeNull();
    const now = Date.parse("2026-12-03T10:00:00Z");
    expect(parseRetryAfter("Thu, 03 Dec 2026 10:00:05 GMT", now)).toBe(5);
    expect(parseRetryAfter("Thu, 03 Dec 2026 09:00:00 GMT", now)).toBe(0);
  });
});

describe("plainWords", () => {
  it("says what the buyer can do, with the details", () => {
    expect(plainWords(err("INSUFFICIENT_STOCK", { requested: 4, available: 2 }))).toBe("Only 2 seats left in this zone. Choose fewer seats.");
    expect(plainWords(err("INSUFFICIENT_STOCK", { requested: 4, available: 1 }))).toBe("Only 1 seat left in this zone. Choose fewer seats.");
    expect(plainWords(err("INSUFFICIENT_STOCK", { requested: 1, available: 0 }))).toMatch(/^Sold out/);
    expect(plainWords(err("MAX_PER_USER_EXCEEDED", { limit: 4, current: 3, requested: 2 }))).toBe(
      "You can reserve or buy at most 4 seats for this event and already have 3.",
    );
    expect(plainWords(err("RESERVATION_EXPIRED", {}, 410))).toMatch(/expired/);
    expect(plainWords(err("SERVICE_UNAVAILABLE", { reason: "overloaded" }, 503))).toMatch(/Lots of people/);
    expect(plainWords(err("SERVICE_UNAVAILABLE", { dependency: "redis" }, 503))).toMatch(/briefly unavailable/);
    expect(plainWords(err("RATE_LIMITED", {}, 429))).toMatch(/wait a moment and try again/);
  });

  it("promises no retry for a busy API: the words are shown once the retries are over", () => {
    // A reserve that was still refused after its six tries said "We will try
    // again in a moment", and nothing did.
    for (const e of [
      err("RATE_LIMITED", {}, 429),
      err("SERVICE_UNAVAILABLE", { reason: "overloaded" }, 503),
      err("SERVICE_UNAVAILABLE", { dependency: "redis" }, 503),
      err("NETWORK_ERROR", {}, 0),
    ]) {
      expect(plainWords(e)).not.toMatch(/we will try/i);
      expect(plainWords(e)).toMatch(/try again/);
    }
  });

  it("names the invalid fields of a VALIDATION_ERROR", () => {
    const e = err("VALIDATION_ERROR", { fields: [{ field: "full_name", message: "value length must be at least 1 characters", rule: "string.min_len" }] }, 400);
    expect(plainWords(e)).toBe("Please check the form: full name length must be at least 1 characters.");
    expect(e.fields).toHaveLength(1);
  });

  it("writes the contract's field names as the forms name them, in the message too", () => {
    const v = (field: string, message: string) => err("VALIDATION_ERROR", { fields: [{ field, message }] }, 400);
    // The event form's sale window, the show form's start and end.
    expect(plainWords(v("sale_end_at", "must be after sale_start_at"))).toBe("Please check the form: sale closing must be after sale opening.");
    expect(plainWords(v("show_date", "must be greater than now"))).toBe("Please check the form: show start must be in the future.");
    expect(plainWords(v("ends_at", "must be after show_date, and at most 30 days after it"))).toBe(
      "Please check the form: show end must be after show start, and at most 30 days after it.",
    );
    expect(plainWords(err("VALIDATION_ERROR", {}, 400, "invalid input: max_per_user"))).toBe("Please check what you entered: invalid input: tickets per person.");
  });

  it("says what a publish lacks, in the forms' words", () => {
    // Before: "That cannot be done now: the event is not ready to publish." and nothing on what to add.
    const e = err("CONFLICT", { missing: ["1 show has no seat zone", "every show starts before the sale opens: add a show whose show_date is after sale_start_at, or open the sale earlier"] }, 409, "the event is not ready to publish");
    expect(plainWords(e)).toBe(
      "That cannot be done now: the event is not ready to publish: 1 show has no seat zone; every show starts before the sale opens: add a show whose show start is after sale opening, or open the sale earlier.",
    );
    expect(plainWords(err("CONFLICT", {}, 409, "every show starts before the sale would open: move sale_start_at before a show's show_date"))).toBe(
      "That cannot be done now: every show starts before the sale would open: move sale opening before a show's show start.",
    );
  });

  it("writes a validator's counted noun in the singular or plural, and the organizer forms' fields by their labels", () => {
    const v = (field: string, message: string) => err("VALIDATION_ERROR", { fields: [{ field, message }] }, 400);
    // Before: "event ids must contain at least 1 item(s)", "admit per second must be ...".
    expect(plainWords(v("event_ids", "value must contain at least 1 item(s)"))).toBe("Please check the form: events it checks in must contain at least 1 item.");
    expect(plainWords(v("event_ids", "value must contain no more than 20 item(s)"))).toBe("Please check the form: events it checks in must contain no more than 20 items.");
    expect(plainWords(v("admit_per_second", "must be greater than or equal to 1 and less than or equal to 100000"))).toBe(
      "Please check the form: buyers let in per second must be greater than or equal to 1 and less than or equal to 100000.",
    );
    expect(plainWords(v("max_active", "must be greater than or equal to 0"))).toBe("Please check the form: most shoppers at once must be greater than or equal to 0.");
  });

  it("falls back to the server's message for codes it does not know", () => {
    expect(plainWords(err("SOMETHING_NEW", {}, 418, "the teapot is busy"))).toBe("the teapot is busy");
  });

  it("knows which errors are worth retrying", () => {
    expect(err("RATE_LIMITED", {}, 429).retryable).toBe(true);
    expect(err("SERVICE_UNAVAILABLE", {}, 503).retryable).toBe(true);
    expect(err("NETWORK_ERROR", {}, 0).retryable).toBe(true);
    expect(err("CONFLICT", {}, 409).retryable).toBe(false);
  });

  it("crosses the server/client boundary as plain JSON", () => {
    const e = new ApiError({ status: 429, code: "RATE_LIMITED", message: "slow down", retryAfter: 7, requestId: "r1" });
    const back = ApiError.from(JSON.parse(JSON.stringify(e.toJSON())));
    expect(back).toBeInstanceOf(ApiError);
    expect([back.status, back.code, back.retryAfter, back.requestId]).toEqual([429, "RATE_LIMITED", 7, "r1"]);
  });
});
