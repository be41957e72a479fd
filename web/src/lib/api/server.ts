/**
 * The API from server components and route handlers.
 *
 * - `publicApi()` calls anonymous routes (the catalog) with Next's data cache
 *   (revalidated every few seconds), so a rush of page views costs the edge
 *   one call per route and interval, and reads no cookie: the pages that use
 *   only it stay cacheable (ISR).
 * - `userApi()` calls as the signed-in user, with the access token from the
 *   HttpOnly cookie (kept fresh by proxy.ts), never cached.
 *
 * Both count each call in web_bff_requests_total{route="page"} (pageFetch).
 */
import "server-only";

import { cookies, headers } from "next/headers";

import { apiBase } from "@/lib/config";
import { forwardedHeaders } from "@/lib/forward";
import { pageFetch } from "@/lib/metrics/bff";
import { ACCESS_COOKIE, REFRESH_COOKIE, USER_COOKIE, decodeUser, type SessionUser } from "@/lib/session/cookies";

import { endpoints, type Api } from "./endpoints";
import { ApiError, type SerializedApiError } from "./errors";
import { fetchTransport, type ApiResult } from "./transport";
import type { PageMeta } from "./wire";

/** Seconds a public catalog read may be reused. */
export const PUBLIC_REVALIDATE = 5;

/** The API for anonymous, cacheable reads. */
export function publicApi(revalidate: number = PUBLIC_REVALIDATE): Api {
  return endpoints(fetchTransport({ base: apiBase(), init: { next: { revalidate } }, fetch: pageFetch }));
}

/** The API as the signed-in user (or anonymous when nobody is). */
export async function userApi(): Promise<Api> {
  const jar = await cookies();
  const h = await headers();
  const token = jar.get(ACCESS_COOKIE)?.value;
  const fwd = forwardedHeaders(h);
  return endpoints(
    fetchTransport({
      base: apiBase(),
      init: { cache: "no-store" },
      headers: () => ({ ...fwd, ...(token ? { Authorization: `Bearer ${token}` } : {}) }),
      fetch: pageFetch,
    }),
  );
}

/** Who is signed in, from the session cookies (null when nobody is). */
export async function sessionUser(): Promise<SessionUser | null> {
  const jar = await cookies();
  if (!jar.get(ACCESS_COOKIE)?.value && !jar.get(REFRESH_COOKIE)?.value) return null;
  return decodeUser(jar.get(USER_COOKIE)?.value);
}

/** Roles the organizer pages are for. */
const STAFF = new Set(["organizer", "admin"]);

/**
 * Who is signed in, for the organizer pages' decisions, with the role the API
 * holds now. br_user's role is the one of the session's last sign-in or
 * renewal: a user promoted since still reads "user" there (and in the access
 * token's claims), while the API already lets them in. A viewer br_user calls
 * an organizer or admin is taken at its word (the API refuses each call that
 * is not theirs), so those pages cost nothing more; for anyone else the role
 * is read from GET /auth/me, on the way to a refusal only. `stale` says
 * br_user told another role (the page then renews it: SessionRoleSync); an
 * error (a session the API ended: ApiErrorPanel renews it) is the page's to
 * show.
 */
export async function currentUser(): Promise<{ ok: true; user: SessionUser | null; stale: boolean } | { ok: false; error: SerializedApiError }> {
  const user = await sessionUser();
  if (!user || STAFF.has(user.role)) return { ok: true, user, stale: false };
  const me = await load((await userApi()).auth.me());
  if (!me.ok) return me;
  const fresh = { id: me.data.id, name: me.data.full_name || user.name, role: me.data.role };
  return { ok: true, user: fresh, stale: fresh.role !== user.role };
}

/** Whether the user is one the organizer pages are for. */
export function isStaff(user: { role: string } | null): boolean {
  return !!user && STAFF.has(user.role);
}

/** The outcome of a server-side call: the result, or the error to show (serializable for client components). */
export type Loaded<T> = { ok: true; data: T; meta: PageMeta | null } | { ok: false; error: SerializedApiError };

/** Awaits an API call for a page: an ApiError becomes a value the page renders with ApiErrorPanel. */
export async function load<T>(call: Promise<ApiResult<T>>): Promise<Loaded<T>> {
  try {
    const r = await call;
    return { ok: true, data: r.data, meta: r.meta };
  } catch (err) {
    if (err instanceof ApiError) return { ok: false, error: err.toJSON() };
    throw err;
  }
}
