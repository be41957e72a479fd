/**
 * Shared pieces of the app's own routes under /bff (backend for frontend):
 * answering in the API's envelope, the CSRF check, and setting cookies.
 */
import "server-only";

import { NextResponse, type NextRequest } from "next/server";

import { cookieSecure } from "@/lib/config";
import { type CookieSpec, csrfCookie } from "@/lib/session/cookies";
import { csrfProblem, newCsrfToken } from "@/lib/session/csrf";

/** An error answer in the API's envelope. */
export function errorResponse(
  status: number,
  code: string,
  message: string,
  init: { details?: Record<string, unknown>; headers?: HeadersInit } = {},
): NextResponse {
  return NextResponse.json(
    { success: false, error: { code, message, details: init.details ?? {} } },
    { status, headers: { "Cache-Control": "no-store", ...Object.fromEntries(new Headers(init.headers)) } },
  );
}

/**
 * The largest body the app's own routes read, as the edge's default
 * (edge.max-body-bytes): theirs are a few hundred bytes.
 */
const maxBodyBytes = 1 << 20;

/**
 * The request's JSON body as an object, or the 400 that says it is not one:
 * a body of `null`, a number, a string or a list is no request of these
 * routes (reading a field of `null` threw, which answered 500). A body
 * larger than maxBodyBytes is a 413, as at the edge (it was read whole and
 * answered "not a JSON object", or, past Next's 10 MB, cut and answered so).
 */
export async function jsonObject<T extends object>(req: NextRequest): Promise<T | NextResponse> {
  const tooLarge = () => errorResponse(413, "PAYLOAD_TOO_LARGE", `request body larger than ${maxBodyBytes} bytes`);
  if (Number(req.headers.get("content-length") ?? 0) > maxBodyBytes) return tooLarge();
  let text = "";
  try {
    text = await req.text();
  } catch {
    text = "";
  }
  if (Buffer.byteLength(text) > maxBodyBytes) return tooLarge();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) return errorResponse(400, "VALIDATION_ERROR", "the body must be a JSON object");
  return body as T;
}

/**
 * Handlers for the methods a route does not take (export those it lacks):
 * a 405 in the API's envelope with `Allow`, where Next's own 405 had neither
 * a body nor `Allow`; OPTIONS answers 204 with the same `Allow` (Next's would
 * list these handlers too).
 */
export function otherMethods(...takes: ("GET" | "POST" | "PUT" | "DELETE")[]) {
  const allow = [...takes, ...(takes.includes("GET") ? ["HEAD"] : []), "OPTIONS"].join(", ");
  const refuse = () => errorResponse(405, "METHOD_NOT_ALLOWED", `the route takes ${takes.join(", ")}`, { headers: { Allow: allow } });
  return {
    GET: refuse,
    HEAD: refuse,
    POST: refuse,
    PUT: refuse,
    PATCH: refuse,
    DELETE: refuse,
    OPTIONS: () => new NextResponse(null, { status: 204, headers: { Allow: allow, "Cache-Control": "no-store" } }),
  };
}

/** The answer when the edge could not be reached: 499 if the browser left, else a 503 to retry. */
export function unreachable(req: NextRequest, err: unknown): Response {
  if (req.signal.aborted) return new Response(null, { status: 499 });
  return errorResponse(503, "SERVICE_UNAVAILABLE", `the API could not be reached (${(err as Error).message})`, {
    headers: { "Retry-After": "2" },
  });
}

/** The 403 for a mutating call that fails the CSRF check, or null when it passes. */
export function checkCsrf(req: NextRequest): NextResponse | null {
  const problem = csrfProblem({
    method: req.method,
    headers: req.headers,
    cookie: (n) => req.cookies.get(n)?.value,
    host: req.headers.get("host") ?? req.nextUrl.host,
  });
  return problem ? errorResponse(403, "CSRF_FAILED", problem) : null;
}

export function setCookies(res: NextResponse, cookies: CookieSpec[]): NextResponse {
  for (const c of cookies) res.cookies.set(c);
  return res;
}

/** A new CSRF cookie (after sign-in, the token changes with the session). */
export function rotatedCsrf(): CookieSpec {
  return csrfCookie(newCsrfToken(), cookieSecure());
}

/**
 * The headers of an API answer to pass to the browser (PASSED_RESPONSE_HEADERS,
 * and `cacheControl` unless the answer is a stream). A server-sent-events
 * stream must leave event by event: no proxy buffering (nginx), and no gzip by
 * the Next server (it skips no-transform answers).
 */
export function passedHeaders(upstream: Response, cacheControl = "no-store"): Headers {
  const out = new Headers({ "Cache-Control": cacheControl });
  for (const h of PASSED_RESPONSE_HEADERS) {
    const v = upstream.headers.get(h);
    if (v) out.set(h, v);
  }
  if (out.get("content-type")?.startsWith("text/event-stream")) {
    out.set("X-Accel-Buffering", "no");
    out.set("Cache-Control", "no-store, no-transform");
  }
  return out;
}

/** Headers of an API answer worth passing to the browser. */
export const PASSED_RESPONSE_HEADERS = [
  "content-type",
  "retry-after",
  "x-request-id",
  "idempotent-replayed",
  "x-ratelimit-limit",
  "x-ratelimit-remaining",
  "allow",
];
