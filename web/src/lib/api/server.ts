/**
 * The API from server components and route handlers.
 *
 * - `publicApi()` calls anonymous routes (the catalog) with Next's data cache
 *   (revalidated every few seconds), so a rush of page views costs the edge
 *   one call per route and interval, and reads no cookie: the pages that use
 *   only it stay cacheable (ISR).
 * - `userApi()` calls as the signed-in user, with the access token from the
 *   HttpOnly cookie (kept fresh by proxy.ts), never cached.
 */
import "server-only";

import { cookies, headers } from "next/headers";

import { apiBase } from "@/lib/config";
import { forwardedHeaders } from "@/lib/forward";
import { ACCESS_COOKIE, REFRESH_COOKIE, USER_COOKIE, decodeUser, type SessionUser } from "@/lib/session/cookies";

import { endpoints, type Api } from "./endpoints";
import { ApiError, type SerializedApiError } from "./errors";
import { fetchTransport, type ApiResult } from "./transport";
import type { PageMeta } from "./wire";

/** Seconds a public catalog read may be reused. */
export const PUBLIC_REVALIDATE = 5;

/** The API for anonymous, cacheable reads. */
export function publicApi(revalidate: number = PUBLIC_REVALIDATE): Api {
  return endpoints(fetchTransport({ base: apiBase(), init: { next: { revalidate } } }));
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
    }),
  );
}

/** Who is signed in, from the session cookies (null when nobody is). */
export async function sessionUser(): Promise<SessionUser | null> {
  const jar = await cookies();
  if (!jar.get(ACCESS_COOKIE)?.value && !jar.get(REFRESH_COOKIE)?.value) return null;
  return decodeUser(jar.get(USER_COOKIE)?.value);
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
