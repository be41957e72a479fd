/**
 * A session's new pair of tokens, as cookies: what proxy.ts does before a
 * token expires, and /bff/api when the API refused the access token before
 * then (a sign-out on another device or a role change ends every access
 * token of the user at once, while this session's refresh token still
 * lives: README, "Sessions end within seconds").
 */
import { forwardedHeaders } from "@/lib/forward";

import { REFRESH_COOKIE, USER_COOKIE, decodeUser, sessionCookies, type CookieSpec } from "./cookies";
import { readClaims } from "./jwt";
import { refreshOnce } from "./refresh";

export interface Renewed {
  /** The new access token, for the request being served. */
  access: string;
  /** The session's new cookies, for the browser. */
  cookies: CookieSpec[];
}

/**
 * Exchanges the request's refresh token (once per token:
 * lib/session/refresh) and answers the new cookies; br_user keeps the name
 * it had, with the role the new token carries. The browser's forwarded
 * headers go along; opts.fetch, when given, makes the call (edgeFetch, to
 * count an edge that could not be reached). Throws the API's error (a dead
 * refresh token is not retryable; a busy or unreachable API is).
 */
export async function renewSession(
  req: { cookies: { get(name: string): { value: string } | undefined }; headers: Headers },
  opts: { apiBase: string; secure: boolean; fetch?: typeof fetch },
): Promise<Renewed> {
  const pair = await refreshOnce(opts.apiBase, req.cookies.get(REFRESH_COOKIE)?.value ?? "", {
    headers: forwardedHeaders(req.headers),
    fetch: opts.fetch,
  });
  const claims = readClaims(pair.access_token);
  const prev = decodeUser(req.cookies.get(USER_COOKIE)?.value);
  return {
    access: pair.access_token,
    cookies: sessionCookies(
      { ...pair, user: { id: claims?.sub ?? prev?.id ?? "", name: prev?.name ?? "", role: claims?.role ?? prev?.role ?? "user" } },
      opts.secure,
    ),
  };
}
