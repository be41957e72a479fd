/**
 * The app's proxy (Next 16's middleware): keeps sessions alive and pages
 * private.
 *
 * It runs only where a session matters: the signed-in pages (bookings,
 * checkout, buying, account, organizer, admin) and the app's /bff routes.
 * Public pages (home, event pages, the static sign-in forms) never pass here,
 * so their cached copies never carry a Set-Cookie; their forms fetch the CSRF
 * token from /bff/session/csrf.
 *
 * - An access token that expires within a minute is refreshed with the
 *   refresh token (lib/session/refresh: one refresh per token, rotation-safe);
 *   the new cookies go to the browser AND to this request, so the page renders
 *   with the new token.
 *   A prefetch (the router fetching a linked page ahead) never refreshes: it
 *   was sent with the cookies of its moment, and its answer, landing later,
 *   would overwrite newer ones (br_user after a profile change) with a
 *   session rotated from stale ones. It goes on with what it has.
 * - A signed-in page without a session redirects to /login?next=<page>.
 * - The CSRF cookie is set when missing, for the forms of these pages.
 * - A page's redirect to /login keeps the way back in ?next=.
 * - Any address with a % comes here too, for its escapes alone: one that
 *   does not decode is answered here (Next answered a bare 500); one that
 *   does goes on untouched unless it is of the paths above.
 */
import { NextResponse, type NextRequest } from "next/server";

import { ApiError } from "@/lib/api/errors";
import { ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE, type CookieSpec, clearedSessionCookies, csrfCookie } from "@/lib/session/cookies";
import { newCsrfToken } from "@/lib/session/csrf";
import { expiresSoon } from "@/lib/session/jwt";
import { renewSession } from "@/lib/session/renew";

const apiBase = () => (process.env.RUSH_API_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "") + "/api/v1";
const secure = () => process.env.WEB_COOKIE_SECURE !== "false";

/** Pages that need a signed-in user. */
function needsSession(path: string): boolean {
  return /^\/(bookings|checkout|account|organizer|admin|notifications)(\/|$)/.test(path) || /^\/events\/[^/]+\/buy(\/|$)/.test(path);
}

function applyCookies(res: NextResponse, cookies: CookieSpec[]) {
  for (const c of cookies) res.cookies.set(c);
}

/** Whether a path's %-escapes decode (Next answered a plain 500 for a dynamic segment that does not). */
function decodes(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The answer to an address whose %-escapes do not decode (`/events/%`,
 * `/bff/api/%zz`): a 400 in the API's envelope for the app's routes (as
 * lib/bff's errorResponse writes it: that module is the server's only), the
 * not-found page for a page's address (a link to nothing; no route has that
 * path, so Next renders it with a 404).
 */
function undecodable(req: NextRequest): NextResponse {
  const path = req.nextUrl.pathname;
  if (path.startsWith("/bff/") || path.startsWith("/api/")) {
    return NextResponse.json(
      { success: false, error: { code: "VALIDATION_ERROR", message: "the address's %-escapes are not valid UTF-8 percent-encoding", details: {} } },
      { status: 400, headers: { "Cache-Control": "no-store" } },
    );
  }
  return NextResponse.rewrite(new URL("/_not-found-address", req.url));
}

export async function proxy(req: NextRequest) {
  const path = req.nextUrl.pathname;
  if (!decodes(path)) return undecodable(req);
  // The matcher's entry for any address with a %: the rest is for the paths below only.
  if (!path.startsWith("/bff/") && !needsSession(path)) return NextResponse.next();
  const page = !path.startsWith("/bff/");
  const set: CookieSpec[] = [];
  let busy = false;
  let access = req.cookies.get(ACCESS_COOKIE)?.value;
  const refresh = req.cookies.get(REFRESH_COOKIE)?.value;

  if (page && !req.cookies.get(CSRF_COOKIE)?.value) {
    set.push(csrfCookie(newCsrfToken(), secure()));
  }

  const prefetch = req.headers.get("next-router-prefetch") === "1" || req.headers.get("purpose") === "prefetch";
  if (refresh && expiresSoon(access) && prefetch) {
    busy = true; // not refreshed, so no redirect either: the navigation itself will refresh
  } else if (refresh && expiresSoon(access)) {
    try {
      const renewed = await renewSession(req, { apiBase: apiBase(), secure: secure() });
      set.push(...renewed.cookies);
      access = renewed.access;
    } catch (err) {
      if (err instanceof ApiError && !err.retryable) {
        // The refresh token is dead (expired, revoked, reused): the session is over.
        set.push(...clearedSessionCookies(secure()));
        access = undefined;
      }
      // Busy or unreachable: go on with what we have; the page shows the error.
      else busy = true;
    }
  }

  if (page && needsSession(path) && !access && !busy) {
    const login = new URL("/login", req.url);
    login.searchParams.set("next", path + req.nextUrl.search);
    const res = NextResponse.redirect(login);
    applyCookies(res, set);
    return res;
  }

  if (set.length === 0) return NextResponse.next();

  // This request sees the new cookies too (cookies() in server components).
  const jar = new Map(req.cookies.getAll().map((c) => [c.name, c.value]));
  for (const c of set) {
    if (c.maxAge === 0) jar.delete(c.name);
    else jar.set(c.name, c.value);
  }
  const headers = new Headers(req.headers);
  headers.set(
    "cookie",
    Array.from(jar, ([k, v]) => `${k}=${v}`).join("; "),
  );
  const res = NextResponse.next({ request: { headers } });
  applyCookies(res, set);
  return res;
}

export const config = {
  matcher: [
    "/bff/:path*",
    "/bookings/:path*",
    "/checkout/:path*",
    "/account/:path*",
    "/organizer/:path*",
    "/admin/:path*",
    "/notifications/:path*",
    "/events/:slug/buy",
    // Any other address with a %, for the check of its escapes (a public
    // page's ordinary address never comes here: its cached copy sets no cookie).
    "/(.*%.*)",
  ],
};
