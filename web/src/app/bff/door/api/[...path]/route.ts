/**
 * /bff/door/api/<path>: the door page's way to the gate, as its check-in
 * device.
 *
 * Only the calls a door makes pass: a scan (POST /checkin), the offline
 * scans' upload (POST /checkin/sync), an event's ticket keys and a show's
 * revocation list (the door's offline lists). The route adds the device's
 * credential from the HttpOnly `br_door` cookie (/bff/door/session), never a
 * user's token, checks the CSRF token of the POSTs, and passes the API's
 * answer through (status, envelope, Retry-After, X-Request-ID). Without a
 * door session it answers 401 (details.reason "no_door_session").
 */
import { NextResponse, type NextRequest } from "next/server";

import { checkCsrf, errorResponse, otherMethods, passedHeaders, unreachable } from "@/lib/bff";
import { apiBase } from "@/lib/config";
import { DOOR_COOKIE } from "@/lib/door/session";
import { forwardedHeaders } from "@/lib/forward";
import { counted, edgeFetch } from "@/lib/metrics/bff";

export const dynamic = "force-dynamic";

const UUID = "[0-9a-fA-F-]{36}";

/** The gate's calls a door may make, by method. */
const DOOR_CALLS: Record<string, RegExp[]> = {
  POST: [/^checkin$/, /^checkin\/sync$/],
  GET: [new RegExp(`^events/${UUID}/ticket-keys$`), new RegExp(`^shows/${UUID}/revoked-tickets$`)],
};

async function handle(req: NextRequest, ctx: { params: Promise<{ path: string[] }> }) {
  const { path } = await ctx.params;
  const rel = path.map(encodeURIComponent).join("/");
  if (!DOOR_CALLS[req.method]?.some((r) => r.test(rel))) {
    return errorResponse(404, "NOT_FOUND", "not a call of a check-in door");
  }
  const denied = checkCsrf(req);
  if (denied) return denied;
  const credential = req.cookies.get(DOOR_COOKIE)?.value;
  if (!credential) {
    return errorResponse(401, "UNAUTHORIZED", "this browser holds no check-in device's credential", { details: { reason: "no_door_session" } });
  }
  const headers: Record<string, string> = { ...forwardedHeaders(req.headers), accept: "application/json", authorization: `Bearer ${credential}` };
  const type = req.headers.get("content-type");
  if (type) headers["content-type"] = type;
  let upstream: Response;
  try {
    upstream = await edgeFetch(`${apiBase()}/${rel}`, {
      method: req.method,
      headers,
      body: req.method === "POST" ? await req.text() : undefined,
      cache: "no-store",
      redirect: "manual",
      signal: req.signal,
    });
  } catch (err) {
    return unreachable(req, err);
  }
  return new NextResponse(upstream.body, { status: upstream.status, headers: passedHeaders(upstream) });
}

const answer = counted("door", handle);

export { answer as GET, answer as POST };

export const { PUT, PATCH, DELETE, OPTIONS } = otherMethods("GET", "POST");
