/**
 * /bff/api/<path>: the browser's way to /api/v1/<path>, as the signed-in user.
 *
 * Page scripts never hold a token: this route adds `Authorization: Bearer`
 * from the HttpOnly access cookie (proxy.ts refreshed it first), checks the
 * CSRF token of every mutating call, and passes the API's answer through
 * unchanged (status, envelope, Retry-After, X-Request-ID). An access token the
 * API refuses before it expires (a sign-out elsewhere, a role change) is
 * renewed with the refresh token and the call sent again. The sign-in routes
 * that answer tokens are not reachable here: /bff/session/* handles them and
 * keeps the tokens in cookies. The waiting room's stream does not come here:
 * it needs no token (app/api/v1/queue).
 */
import { NextResponse, type NextRequest } from "next/server";

import { ApiError } from "@/lib/api/errors";
import { networkError } from "@/lib/api/transport";
import { checkCsrf, errorResponse, passedHeaders, setCookies, unreachable } from "@/lib/bff";
import { apiBase, cookieSecure } from "@/lib/config";
import { forwardedHeaders } from "@/lib/forward";
import { counted, edgeFetch } from "@/lib/metrics/bff";
import {
  ACCESS_COOKIE,
  REFRESH_COOKIE,
  REFRESH_MAX_AGE,
  USER_COOKIE,
  type CookieSpec,
  clearedSessionCookies,
  encodeUser,
} from "@/lib/session/cookies";
import { renewSession } from "@/lib/session/renew";
import { apiErrorResponse } from "@/lib/session/sign-in";

export const dynamic = "force-dynamic";

/** Routes that answer or take tokens: only /bff/session may call them. */
const TOKEN_ROUTES = /^auth\/(login|register|refresh|logout|change-password|delete-account)$/;

const PASSED_REQUEST_HEADERS = ["content-type", "idempotency-key", "x-queue-pass", "accept"];

async function handle(req: NextRequest, ctx: { params: Promise<{ path: string[] }> }) {
  const { path } = await ctx.params;
  const rel = path.map(encodeURIComponent).join("/");
  if (TOKEN_ROUTES.test(rel)) {
    return errorResponse(404, "NOT_FOUND", "use /bff/session for signing in and out");
  }
  const denied = checkCsrf(req);
  if (denied) return denied;

  const headers: Record<string, string> = forwardedHeaders(req.headers);
  for (const h of PASSED_REQUEST_HEADERS) {
    const v = req.headers.get(h);
    if (v) headers[h] = v;
  }
  // No body for GET, HEAD (Next answers HEAD with GET's handler; fetch refuses a HEAD with a body) and DELETE.
  const body = req.method === "GET" || req.method === "HEAD" || req.method === "DELETE" ? undefined : await req.text();
  const send = (token: string | undefined) =>
    edgeFetch(`${apiBase()}/${rel}${req.nextUrl.search}`, {
      method: req.method,
      headers: token ? { ...headers, authorization: `Bearer ${token}` } : headers,
      body,
      cache: "no-store",
      redirect: "manual",
      signal: req.signal,
    });

  let upstream: Response;
  try {
    upstream = await send(req.cookies.get(ACCESS_COOKIE)?.value);
  } catch (err) {
    return unreachable(req, err);
  }

  // The access token was refused before its time (a sign-out on another
  // device, a role change: every access token of the user ends, while this
  // session's refresh token lives). Renew the session and send the call
  // again: the refused one changed nothing. A refresh token that is dead
  // too ends the session here (its cookies are cleared) and the 401 goes on.
  const refresh = req.cookies.get(REFRESH_COOKIE)?.value;
  let cookies: CookieSpec[] = [];
  if (upstream.status === 401 && refresh) {
    try {
      const renewed = await renewSession(req, { apiBase: apiBase(), secure: cookieSecure(), fetch: edgeFetch });
      await upstream.body?.cancel();
      try {
        upstream = await send(renewed.access);
      } catch (err) {
        // The new pair must reach the browser: its old refresh token is spent.
        const res = unreachable(req, err);
        return res instanceof NextResponse ? setCookies(res, renewed.cookies) : res;
      }
      cookies = renewed.cookies;
    } catch (err) {
      if (!(err instanceof ApiError) || err.retryable) {
        // Busy or unreachable: not an ended session; the browser retries.
        await upstream.body?.cancel();
        return apiErrorResponse(err instanceof ApiError ? err : networkError(err));
      }
      cookies = clearedSessionCookies(cookieSecure());
    }
  }

  const out = passedHeaders(upstream);

  // The profile changed (or was read): keep the name and role the pages show in step.
  if (rel === "auth/me" && upstream.ok) {
    const text = await upstream.text();
    const res = setCookies(new NextResponse(text, { status: upstream.status, headers: out }), cookies);
    try {
      const u = JSON.parse(text).data as { id: string; full_name: string; role: string };
      setCookies(res, [
        {
          name: USER_COOKIE,
          value: encodeUser({ id: u.id, name: u.full_name, role: u.role }),
          httpOnly: false,
          secure: cookieSecure(),
          sameSite: "lax",
          path: "/",
          maxAge: REFRESH_MAX_AGE,
        },
      ]);
    } catch {
      // not the envelope: pass it on as is
    }
    return res;
  }
  return setCookies(new NextResponse(upstream.body, { status: upstream.status, headers: out }), cookies);
}

const answer = counted("api", handle);

// PATCH too: the API takes none, and its 405 names the methods the path takes.
export { answer as GET, answer as POST, answer as PUT, answer as PATCH, answer as DELETE };
