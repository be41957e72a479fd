import { describe, expect, it } from "vitest";

import { ApiError } from "@/lib/api/errors";
import { firstInvalid, splitFieldErrors, type FormLike } from "@/lib/api/field-errors";

/** A form of inputs in document order: opted in by their data-field, or not (null). */
function form(...fields: (string | null)[]): FormLike & { focused: string[] } {
  const focused: string[] = [];
  const elements = fields.map((f, i) => ({
    getAttribute: (name: string) => (name === "data-field" ? f : null),
    focus: () => focused.push(f ?? `#${i}`),
  }));
  return { elements, focused };
}

function invalid(...fields: [string, string, string?][]): ApiError {
  return new ApiError({
    status: 400,
    code: "VALIDATION_ERROR",
    message: "invalid input",
    details: { fields: fields.map(([field, message, rule]) => ({ field, message, rule: rule ?? "x" })) },
  });
}

describe("splitFieldErrors", () => {
  it("writes each violation under its input, in the box's words, and leaves the box empty", () => {
    const err = invalid(["sale_end_at", "must be after sale_start_at", "sale_window.order"]);
    expect(splitFieldErrors(err, form("title", "sale_start_at", "sale_end_at"))).toEqual({
      fields: { sale_end_at: "Sale closing must be after sale opening." },
      box: null,
    });
  });

  it("keeps in the box what has no input on the form, worded as before", () => {
    const err = invalid(["title", "value length must be at most 255 characters"], ["slug", "must not have the shape of an event id (a UUID)"]);
    expect(splitFieldErrors(err, form("title", "venue"))).toEqual({
      fields: { title: "Title length must be at most 255 characters." },
      box: "Please check the form: slug must not have the shape of an event id (a UUID).",
    });
  });

  it("keeps a violation without a field (the list cut short) in the box", () => {
    const err = invalid(["max_per_user", "value must be less than or equal to 10"], ["", "3 more violations not listed", "violations.more"]);
    const out = splitFieldErrors(err, form("max_per_user"));
    expect(out.fields).toEqual({ max_per_user: "Tickets per person must be less than or equal to 10." });
    expect(out.box).toBe("Please check the form:  3 more violations not listed.");
  });

  it("joins two violations of one field under it", () => {
    const err = invalid(["price", "must be an amount"], ["price", "value must be greater than 0"]);
    expect(splitFieldErrors(err, form("name", "price")).fields).toEqual({ price: "Price must be an amount; price must be greater than 0." });
  });

  it("ignores inputs that did not opt in, and answers the box alone without a form", () => {
    const err = invalid(["admit_per_second", "value must be at most 100000"]);
    const whole = { fields: {}, box: "Please check the form: buyers let in per second must be at most 100000." };
    expect(splitFieldErrors(err, form(null, null))).toEqual(whole);
    expect(splitFieldErrors(err, undefined)).toEqual(whole);
  });

  it("writes a conflict that names its field under that input, and leaves the box empty", () => {
    const err = new ApiError({ status: 409, code: "CONFLICT", message: "the event already has a show at Sat, 14 Mar 2027, 20:30 CET", details: { field: "show_date" } });
    expect(splitFieldErrors(err, form("show_date"))).toEqual({
      fields: { show_date: "The event already has a show at Sat, 14 Mar 2027, 20:30 CET." },
      box: null,
    });
    // Without that input on the form, the box says it as before.
    expect(splitFieldErrors(err, form("ends_at"))).toEqual({
      fields: {},
      box: "That cannot be done now: the event already has a show at Sat, 14 Mar 2027, 20:30 CET.",
    });
  });

  it("leaves other errors to the box", () => {
    const err = new ApiError({ status: 409, code: "CONFLICT", message: "only a draft can be published", details: { status: "published" } });
    expect(splitFieldErrors(err, form("title"))).toEqual({ fields: {}, box: "That cannot be done now: only a draft can be published." });
  });
});

describe("firstInvalid", () => {
  it("is the first refused input in the form's order, not the API's", () => {
    const f = form("title", null, "venue", "sale_end_at");
    const err = invalid(["sale_end_at", "must be in the future"], ["venue", "must not be blank"]);
    firstInvalid(f, splitFieldErrors(err, f).fields)?.focus();
    expect(f.focused).toEqual(["venue"]);
    expect(firstInvalid(f, {})).toBeNull();
    expect(firstInvalid(null, { venue: "x" })).toBeNull();
  });
});
