/**
 * POST /bff/session/logout: ends the session at the API (its refresh token
 * family, and with it every access token of the user) and clears the cookies,
 * even when the API could not be reached.
 */
import { NextResponse, type NextRequest } from "next/server";

import { endpoints } from "@/lib/api/endpoints";
import { fetchTransport } from "@/lib/api/transport";
import { checkCsrf, otherMethods, setCookies } from "@/lib/bff";
import { apiBase, cookieSecure } from "@/lib/config";
import { forwardedHeaders } from "@/lib/forward";
import { counted, edgeFetch } from "@/lib/metrics/bff";
import { ACCESS_COOKIE, REFRESH_COOKIE, clearedSessionCookies } from "@/lib/session/cookies";

export const dynamic = "force-dynamic";

export const POST = counted("session", async (req: NextRequest) => {
  const denied = checkCsrf(req);
  if (denied) return denied;
  const refresh = req.cookies.get(REFRESH_COOKIE)?.value;
  const access = req.cookies.get(ACCESS_COOKIE)?.value;
  let warning: string | null = null;
  if (refresh) {
    const api = endpoints(
      fetchTransport({
        base: apiBase(),
        init: { cache: "no-store" },
        fetch: edgeFetch,
        headers: () => ({ ...forwardedHeaders(req.headers), ...(access ? { Authorization: `Bearer ${access}` } : {}) }),
      }),
    );
    try {
      await api.auth.logout(refresh);
    } catch (err) {
      warning = `the server could not be told (${(err as Error).message}); this browser is signed out`;
    }
  }
  const res = NextResponse.json({ success: true, data: { warning } }, { headers: { "Cache-Control": "no-store" } });
  return setCookies(res, clearedSessionCookies(cookieSecure()));
});

export const { GET, HEAD, PUT, PATCH, DELETE, OPTIONS } = otherMethods("POST");
