/**
 * /bff/api/<path>: the browser's way to /api/v1/<path>, as the signed-in user.
 *
 * Page scripts never hold a token: this route adds `Authorization: Bearer`
 * from the HttpOnly access cookie (proxy.ts refreshed it first), checks the
 * CSRF token of every mutating call, and passes the API's answer through
 * unchanged (status, envelope, Retry-After, X-Request-ID). The sign-in routes
 * that answer tokens are not reachable here: /bff/session/* handles them and
 * keeps the tokens in cookies. The waiting room's stream does not come here:
 * it needs no token (app/api/v1/queue).
 */
import { NextResponse, type NextRequest } from "next/server";

import { checkCsrf, errorResponse, passedHeaders, setCookies, unreachable } from "@/lib/bff";
import { apiBase, cookieSecure } from "@/lib/config";
import { forwardedHeaders } from "@/lib/forward";
import { ACCESS_COOKIE, REFRESH_MAX_AGE, USER_COOKIE, encodeUser } from "@/lib/session/cookies";

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
  const token = req.cookies.get(ACCESS_COOKIE)?.value;
  if (token) headers["authorization"] = `Bearer ${token}`;

  const body = req.method === "GET" || req.method === "DELETE" ? undefined : await req.text();
  let upstream: Response;
  try {
    upstream = await fetch(`${apiBase()}/${rel}${req.nextUrl.search}`, {
      method: req.method,
      headers,
      body,
      cache: "no-store",
      redirect: "manual",
      signal: req.signal,
    });
  } catch (err) {
    return unreachable(req, err);
  }

  const out = passedHeaders(upstream);

  // The profile changed (or was read): keep the name and role the pages show in step.
  if (rel === "auth/me" && upstream.ok) {
    const text = await upstream.text();
    const res = new NextResponse(text, { status: upstream.status, headers: out });
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
  return new Response(upstream.body, { status: upstream.status, headers: out });
}

export { handle as GET, handle as POST, handle as PUT, handle as DELETE };
