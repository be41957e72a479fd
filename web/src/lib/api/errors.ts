/**
 * API errors: the edge's error envelope as an exception, and the words a
 * person reads for it.
 *
 * Every failed answer of /api/v1 is `{"success":false,"error":{"code",
 * "message","details"}}` (edge/README.md). The app branches on `code`, never
 * on `message`; `plainWords` turns the code (and its details) into a sentence,
 * falling back to the server's message, which is written for people too.
 */

import { count } from "@/lib/format";

/** Codes the edge answers (edge/README.md, the error table), plus the app's own. */
export type ErrorCode =
  | "VALIDATION_ERROR"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "CONFLICT"
  | "INSUFFICIENT_STOCK"
  | "MAX_PER_USER_EXCEEDED"
  | "SALE_NOT_OPEN"
  | "RESERVATION_EXPIRED"
  | "PAYMENT_FAILED"
  | "QUEUE_PASS_REQUIRED"
  | "PAYLOAD_TOO_LARGE"
  | "HEADERS_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "RATE_LIMITED"
  | "INTERNAL_ERROR"
  | "NOT_IMPLEMENTED"
  | "SERVICE_UNAVAILABLE"
  // The web app's own: the API could not be reached or answered something
  // that is not the envelope; a mutating call without its CSRF token.
  | "NETWORK_ERROR"
  | "BAD_RESPONSE"
  | "CSRF_FAILED";

/** One invalid field of a VALIDATION_ERROR (`details.fields[]`). */
export interface FieldViolation {
  field: string;
  message: string;
  rule?: string;
}

/** A failed API call, as the envelope described it. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode | (string & {});
  readonly details: Record<string, unknown>;
  /** Seconds to wait before trying again (Retry-After), for 429 and 503. */
  readonly retryAfter: number | null;
  readonly requestId: string | null;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    details?: Record<string, unknown>;
    retryAfter?: number | null;
    requestId?: string | null;
  }) {
    super(init.message);
    this.name = "ApiError";
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? {};
    this.retryAfter = init.retryAfter ?? null;
    this.requestId = init.requestId ?? null;
  }

  /** Whether trying again later may succeed: the edge shed the call or a limit was hit. */
  get retryable(): boolean {
    return this.status === 429 || (this.status >= 502 && this.status <= 504) || this.code === "SERVICE_UNAVAILABLE" || this.code === "NETWORK_ERROR";
  }

  /** The invalid fields of a VALIDATION_ERROR. */
  get fields(): FieldViolation[] {
    const f = this.details.fields;
    return Array.isArray(f) ? (f as FieldViolation[]) : [];
  }

  /** A plain JSON copy, for crossing from a server component to a client one. */
  toJSON(): SerializedApiError {
    return {
      status: this.status,
      code: this.code,
      message: this.message,
      details: this.details,
      retryAfter: this.retryAfter,
      requestId: this.requestId,
    };
  }

  static from(s: SerializedApiError): ApiError {
    return new ApiError(s);
  }
}

/** What `ApiError.toJSON` writes. */
export interface SerializedApiError {
  status: number;
  code: string;
  message: string;
  details: Record<string, unknown>;
  retryAfter: number | null;
  requestId: string | null;
}

/**
 * The seconds a Retry-After header asks for: delta-seconds or an HTTP date.
 * Unparseable or absent: null. Never negative.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.max(0, Math.ceil(Number(v)));
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/**
 * The words of the forms for fields whose names in the contract read badly
 * ("sale_end_at must be after sale_start_at"); any other field name is
 * written with spaces ("full name").
 */
const FIELD_WORDS: Record<string, string> = {
  sale_start_at: "sale opening",
  sale_end_at: "sale closing",
  show_date: "show start",
  ends_at: "show end",
  max_per_user: "tickets per person",
  total_seats: "seats",
  admit_per_second: "buyers let in per second",
  max_active: "most shoppers at once",
  event_ids: "events it checks in",
  valid_days: "valid for (days)",
};

/**
 * A text with the contract's field names (snake_case) in words, wherever
 * they appear; a time "greater than now" is "in the future", and a count
 * the validator writes "1 item(s)" has its noun as the number wants it.
 */
function fieldWords(s: string): string {
  return s
    .replace(/\b[a-z]+(?:_[a-z]+)+\b/g, (f) => FIELD_WORDS[f] ?? f.replaceAll("_", " "))
    .replace(/\bgreater than now\b/, "in the future")
    .replace(/\b(\d+) (\w+)\(s\)/g, (_, n: string, noun: string) => count(Number(n), noun));
}

/**
 * One violation in the words of the forms ("sale closing must be after sale
 * opening"): its field, then what the value must be.
 */
export function violationWords(f: FieldViolation): string {
  return fieldWords(`${f.field} ${f.message.replace(/^value /, "")}`);
}

/** What a person reads for an error: a sentence from the code, with its details. */
export function plainWords(err: Pick<ApiError, "code" | "message" | "details" | "status">): string {
  const d = err.details ?? {};
  switch (err.code) {
    case "VALIDATION_ERROR": {
      const fields = Array.isArray(d.fields) ? (d.fields as FieldViolation[]) : [];
      if (fields.length > 0) {
        return "Please check the form: " + fields.map(violationWords).join("; ") + ".";
      }
      return err.message ? `Please check what you entered: ${fieldWords(err.message)}.` : "Please check what you entered.";
    }
    case "UNAUTHORIZED":
      return "Your session has ended. Please sign in again.";
    case "FORBIDDEN":
      return "You are not allowed to do that." + (err.message ? ` (${err.message})` : "");
    case "NOT_FOUND":
      return "We could not find that. It may have been removed, or it is not yours.";
    case "INSUFFICIENT_STOCK": {
      const available = num(d.available);
      if (available === 0) return "Sold out: there are no seats left in this zone.";
      if (available !== null) return `Only ${count(available, "seat")} left in this zone. Choose fewer seats.`;
      return "Not enough seats left in this zone.";
    }
    case "MAX_PER_USER_EXCEEDED": {
      const limit = num(d.limit);
      const current = num(d.current);
      if (limit === null) return "You have reached the most seats one person may buy for this event.";
      return (
        `You can reserve or buy at most ${count(limit, "seat")} for this event` +
        (current ? ` and already have ${current}.` : ".")
      );
    }
    case "SALE_NOT_OPEN":
      return "Tickets for this event are not on sale right now.";
    case "RESERVATION_EXPIRED":
      return "Your reservation of these seats has expired, and the seats went back on sale. Please reserve again.";
    case "PAYMENT_FAILED":
      return "The payment did not go through. No money was taken; you can try another method.";
    case "QUEUE_PASS_REQUIRED":
      return "This event has a waiting room. Please wait for your turn, then reserve.";
    case "CONFLICT": {
      // What is missing, when the API lists it (a publish refused: "the
      // event needs at least one show", "1 show has no seat zone").
      const missing = Array.isArray(d.missing) ? d.missing.filter((m): m is string => typeof m === "string" && m !== "") : [];
      const why = missing.length > 0 ? `: ${missing.join("; ")}` : "";
      return err.message ? `That cannot be done now: ${fieldWords(err.message + why)}.` : "That cannot be done now.";
    }
    // Said once the retries are over (useApiAction, the waiting room) or
    // next to the page's own countdown (ApiErrorPanel): no promise that
    // something tries again by itself.
    case "RATE_LIMITED":
      return "Too many requests in a short time. Please wait a moment and try again.";
    case "SERVICE_UNAVAILABLE":
      return d.reason === "overloaded"
        ? "Lots of people are buying right now. Please try again in a moment."
        : "The service is briefly unavailable. Please try again in a moment.";
    case "NETWORK_ERROR":
      return "We could not reach Booking Rush. Check your connection and try again.";
    case "CSRF_FAILED":
      return "This page is out of date. Please reload it and try again.";
    case "PAYLOAD_TOO_LARGE":
      return "What you sent is too large.";
    case "INTERNAL_ERROR":
      return "Something went wrong on our side. Please try again; if it keeps happening, contact support.";
    default:
      return err.message || "Something went wrong. Please try again.";
  }
}
