/**
 * The API from the browser: every call goes to the app's own /bff routes,
 * which add the session's token from its HttpOnly cookie. Mutating calls
 * carry the CSRF token (double submit of the br_csrf cookie).
 */
"use client";

import { CSRF_COOKIE, CSRF_HEADER, USER_COOKIE, decodeUser, type SessionUser } from "@/lib/session/cookies";

import { noteServerDate } from "@/lib/server-clock";

import { endpoints, type Api } from "./endpoints";
import { fetchTransport, readEnvelope, networkError } from "./transport";

function readCookie(name: string): string | null {
  if (typeof document === "undefined") return null;
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return null;
}

/** The CSRF token, fetched (and set as a cookie) when the page has none yet. */
export async function csrfToken(): Promise<string> {
  const have = readCookie(CSRF_COOKIE);
  if (have) return have;
  const res = await fetch("/bff/session/csrf", { credentials: "same-origin", cache: "no-store" });
  return (await readEnvelope<{ token: string }>(res)).data.token;
}

/** The API through /bff/api; every answer's Date header tells the server's clock. */
export const browserApi: Api = endpoints(
  fetchTransport({
    base: "/bff/api",
    init: { credentials: "same-origin", cache: "no-store" },
    headers: async () => ({ [CSRF_HEADER]: await csrfToken() }),
    fetch: async (input, init) => {
      const sentAt = Date.now();
      const res = await fetch(input, init);
      noteServerDate(res.headers.get("date"), sentAt);
      return res;
    },
  }),
);

/** POSTs JSON to one of the app's own session routes (/bff/session/...). */
export async function sessionCall<T>(route: "login" | "register" | "logout" | "password" | "delete", body: unknown = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`/bff/session/${route}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", [CSRF_HEADER]: await csrfToken() },
      body: JSON.stringify(body),
    });
  } catch (err) {
    throw networkError(err);
  }
  return (await readEnvelope<T>(res)).data;
}

/** Who is signed in, as the br_user cookie says (for display only). */
export function readSessionUser(): SessionUser | null {
  return decodeUser(readCookie(USER_COOKIE));
}

/**
 * Renews this browser's session when the API refused its access token before
 * it expired (a sign-out on another device, a role change): /bff/api renews
 * it with the refresh token on a 401 (and clears it when that is dead too).
 * True when the session goes on; the header re-reads who is signed in.
 */
export async function renewSession(): Promise<boolean> {
  try {
    const res = await fetch("/bff/api/auth/me", { credentials: "same-origin", cache: "no-store" });
    return res.ok;
  } catch {
    return false;
  } finally {
    window.dispatchEvent(new Event("br:session"));
  }
}
