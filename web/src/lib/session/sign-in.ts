/**
 * Signing in, registering and changing the password through the app's
 * server: the API's answer carries the tokens, which are moved into HttpOnly
 * cookies and never returned to the page. A change of password ends every
 * session of the user and answers a new one for this browser.
 */
import "server-only";

import { NextResponse, type NextRequest } from "next/server";

import { ApiError } from "@/lib/api/errors";
import { fetchTransport } from "@/lib/api/transport";
import { endpoints } from "@/lib/api/endpoints";
import { checkCsrf, errorResponse, jsonObject, rotatedCsrf, setCookies } from "@/lib/bff";
import { apiBase, cookieSecure } from "@/lib/config";
import { forwardedHeaders } from "@/lib/forward";
import { edgeFetch } from "@/lib/metrics/bff";

import { ACCESS_COOKIE, sessionCookies } from "./cookies";

/** The envelope answer for an ApiError (status, code, message, details, Retry-After). */
export function apiErrorResponse(err: unknown): NextResponse {
  if (err instanceof ApiError) {
    return errorResponse(err.status || 503, err.code, err.message, {
      details: err.details,
      headers: err.retryAfter !== null ? { "Retry-After": String(err.retryAfter) } : undefined,
    });
  }
  return errorResponse(500, "INTERNAL_ERROR", "sign-in failed");
}

/**
 * The API for a session route: the browser's forwarded headers and, asCaller,
 * the session's access token (changing the password, deleting the account).
 */
export function sessionApi(req: NextRequest, asCaller: boolean) {
  const token = asCaller ? req.cookies.get(ACCESS_COOKIE)?.value : undefined;
  const headers = () => ({ ...forwardedHeaders(req.headers), ...(token ? { authorization: `Bearer ${token}` } : {}) });
  return endpoints(fetchTransport({ base: apiBase(), init: { cache: "no-store" }, headers, fetch: edgeFetch }));
}

export async function signIn(req: NextRequest, kind: "login" | "register" | "password"): Promise<NextResponse> {
  const denied = checkCsrf(req);
  if (denied) return denied;
  const input = await jsonObject<{ email?: string; password?: string; full_name?: string; current_password?: string; new_password?: string }>(req);
  if (input instanceof NextResponse) return input;
  if (kind === "password" && !req.cookies.get(ACCESS_COOKIE)) return errorResponse(401, "UNAUTHORIZED", "sign in to change your password");
  const api = sessionApi(req, kind === "password");
  try {
    const { data, status } =
      kind === "login"
        ? await api.auth.login({ email: input.email, password: input.password })
        : kind === "register"
          ? await api.auth.register({ email: input.email, password: input.password, full_name: input.full_name })
          : await api.auth.changePassword({ current_password: input.current_password, new_password: input.new_password });
    const user = data.user!;
    const res = NextResponse.json({ success: true, data: { user } }, { status, headers: { "Cache-Control": "no-store" } });
    return setCookies(res, [
      ...sessionCookies({ ...data, user: { id: user.id, name: user.full_name, role: user.role } }, cookieSecure()),
      rotatedCsrf(),
    ]);
  } catch (err) {
    return apiErrorResponse(err);
  }
}
