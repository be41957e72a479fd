/**
 * The session's cookies.
 *
 * Tokens live only in HttpOnly cookies that page scripts cannot read (never in
 * localStorage): `br_at` holds the 15-minute access token, `br_rt` the
 * rotating refresh token. `br_csrf` is the double-submit CSRF token that page
 * scripts echo in the X-CSRF-Token header of every mutating /bff call, and
 * `br_user` names who is signed in (display name, role) so that pages cached
 * for everyone can show it on the client; neither is a secret, and nothing
 * trusts br_user for access. All are SameSite=Lax (a link from a mail or
 * another site keeps the session; cross-site POSTs carry none) and Secure.
 */
export const ACCESS_COOKIE = "br_at";
export const REFRESH_COOKIE = "br_rt";
export const CSRF_COOKIE = "br_csrf";
export const USER_COOKIE = "br_user";
export const CSRF_HEADER = "x-csrf-token";

/** How long the refresh token lives (auth.refresh-ttl, 30 days by default). */
export const REFRESH_MAX_AGE = 30 * 24 * 3600;

export interface CookieSpec {
  name: string;
  value: string;
  httpOnly: boolean;
  secure: boolean;
  sameSite: "lax" | "strict";
  path: string;
  maxAge: number;
}

/** Who is signed in, as br_user tells the page (JSON). */
export interface SessionUser {
  id: string;
  name: string;
  role: string;
}

/** br_user's value: JSON (the cookie library URL-encodes it on the way out). */
export function encodeUser(u: SessionUser): string {
  return JSON.stringify(u);
}

/** Reads br_user, however many times a cookie library URL-encoded it on the way. */
export function decodeUser(v: string | undefined | null): SessionUser | null {
  let s = v ?? "";
  for (let i = 0; i < 3 && s; i++) {
    try {
      const u = JSON.parse(s) as Partial<Record<keyof SessionUser, unknown>> | null;
      // Anyone can write this cookie (it is no secret): a name that is not
      // text (an object) was rendered as a React child, and every page died.
      return u && typeof u.id === "string" && typeof u.role === "string" ? { id: u.id, name: typeof u.name === "string" ? u.name : "", role: u.role } : null;
    } catch {
      try {
        s = decodeURIComponent(s);
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** The cookies that store a session (after login, register or refresh). */
export function sessionCookies(
  s: { access_token: string; refresh_token: string; expires_in: number; user: SessionUser },
  secure: boolean,
): CookieSpec[] {
  const base = { secure, sameSite: "lax" as const, path: "/" };
  return [
    { ...base, name: ACCESS_COOKIE, value: s.access_token, httpOnly: true, maxAge: Math.max(1, s.expires_in) },
    { ...base, name: REFRESH_COOKIE, value: s.refresh_token, httpOnly: true, maxAge: REFRESH_MAX_AGE },
    { ...base, name: USER_COOKIE, value: encodeUser(s.user), httpOnly: false, maxAge: REFRESH_MAX_AGE },
  ];
}

/** The cookies that end a session. */
export function clearedSessionCookies(secure: boolean): CookieSpec[] {
  return [ACCESS_COOKIE, REFRESH_COOKIE, USER_COOKIE].map((name) => ({
    name,
    value: "",
    httpOnly: name !== USER_COOKIE,
    secure,
    sameSite: "lax" as const,
    path: "/",
    maxAge: 0,
  }));
}

/** A fresh CSRF cookie. */
export function csrfCookie(token: string, secure: boolean): CookieSpec {
  return { name: CSRF_COOKIE, value: token, httpOnly: false, secure, sameSite: "strict", path: "/", maxAge: REFRESH_MAX_AGE };
}
