/**
 * /bff/door/session: a check-in device's session in this browser (the door
 * page, /door).
 *
 * - POST {credential}: reads the credential's claims (a device's, not
 *   expired), asks the gate whether it takes it, keeps it in the HttpOnly
 *   `br_door` cookie until it expires, and answers its facts (DoorFacts). The
 *   gate is asked with a call that reads the device's row, the revocation
 *   list of the first show of its events the catalog lists (an event with
 *   no public show yet: its ticket keys, which the gate refuses a revoked
 *   device too), so a revoked credential is refused here (401,
 *   details.reason "refused").
 * - GET: the facts of the credential this browser holds (data null: none).
 * - DELETE: ends the session (clears the cookie; the credential itself
 *   lives on until the organizer revokes it or it expires).
 */
import { NextResponse, type NextRequest } from "next/server";

import { endpoints } from "@/lib/api/endpoints";
import { ApiError } from "@/lib/api/errors";
import { fetchTransport, networkError } from "@/lib/api/transport";
import { checkCsrf, errorResponse, jsonObject, otherMethods, setCookies } from "@/lib/bff";
import { apiBase, cookieSecure } from "@/lib/config";
import { DOOR_COOKIE, clearedDoorCookie, doorCookie, doorFacts } from "@/lib/door/session";
import { forwardedHeaders } from "@/lib/forward";
import { counted, edgeFetch } from "@/lib/metrics/bff";
import { readDeviceClaims } from "@/lib/session/jwt";
import { apiErrorResponse } from "@/lib/session/sign-in";

export const dynamic = "force-dynamic";

const noStore = { "Cache-Control": "no-store" };

export const GET = counted("door", (req: NextRequest) => {
  const claims = readDeviceClaims(req.cookies.get(DOOR_COOKIE)?.value);
  const live = claims && claims.exp * 1000 > Date.now();
  return NextResponse.json({ success: true, data: live ? doorFacts(claims) : null }, { headers: noStore });
});

export const POST = counted("door", async (req: NextRequest) => {
  const denied = checkCsrf(req);
  if (denied) return denied;
  const input = await jsonObject<{ credential?: unknown }>(req);
  if (input instanceof NextResponse) return input;
  const credential = String(input.credential ?? "").replace(/\s+/g, "");
  const claims = readDeviceClaims(credential);
  if (!claims) {
    return errorResponse(400, "VALIDATION_ERROR", "This is not a check-in device's credential: paste the whole text the devices page showed when the device was registered.", {
      details: { reason: "not_device", fields: [{ field: "credential", message: "not a check-in device's credential" }] },
    });
  }
  if (claims.exp * 1000 <= Date.now()) {
    return errorResponse(401, "UNAUTHORIZED", "This credential has expired: register the device again on the devices page.", {
      details: { reason: "expired" },
    });
  }
  const fwd = forwardedHeaders(req.headers);
  const catalog = endpoints(fetchTransport({ base: apiBase(), init: { cache: "no-store" }, headers: () => fwd, fetch: edgeFetch }));
  const gate = endpoints(
    fetchTransport({
      base: apiBase(),
      init: { cache: "no-store" },
      headers: () => ({ ...fwd, authorization: `Bearer ${credential}` }),
      fetch: edgeFetch,
    }),
  ).gate;
  try {
    let showId = "";
    for (const ev of claims.eventIds) {
      const shows = await catalog.catalog.shows(ev).catch(() => null); // a draft's shows are not public
      showId = shows?.data[0]?.id ?? "";
      if (showId) break;
    }
    if (showId) await gate.revokedTickets(showId);
    else await gate.ticketKeys(claims.eventIds[0]);
  } catch (err) {
    const e = networkError(err);
    if (e instanceof ApiError && e.status === 401) {
      return errorResponse(401, "UNAUTHORIZED", "The gate refuses this credential: the device was revoked, or the credential is not of this system.", {
        details: { reason: "refused" },
      });
    }
    return apiErrorResponse(e);
  }
  const res = NextResponse.json({ success: true, data: doorFacts(claims) }, { headers: noStore });
  return setCookies(res, [doorCookie(credential, claims, cookieSecure())]);
});

export const DELETE = counted("door", (req: NextRequest) => {
  const denied = checkCsrf(req);
  if (denied) return denied;
  return setCookies(NextResponse.json({ success: true, data: {} }, { headers: noStore }), [clearedDoorCookie(cookieSecure())]);
});

export const { PUT, PATCH, OPTIONS } = otherMethods("GET", "POST", "DELETE");
