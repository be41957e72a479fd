/**
 * POST /bff/session/delete {password}: deletes the signed-in user's account
 * (POST /api/v1/auth/delete-account) and, once it is gone, clears the
 * session's cookies. A refusal (wrong password, an unpaid hold, an
 * organizer's role) is the API's envelope, passed on, and keeps the session.
 */
import { NextResponse, type NextRequest } from "next/server";

import { checkCsrf, errorResponse, jsonObject, otherMethods, setCookies } from "@/lib/bff";
import { cookieSecure } from "@/lib/config";
import { counted } from "@/lib/metrics/bff";
import { ACCESS_COOKIE, clearedSessionCookies } from "@/lib/session/cookies";
import { apiErrorResponse, sessionApi } from "@/lib/session/sign-in";

export const dynamic = "force-dynamic";

export const POST = counted("session", async (req: NextRequest) => {
  const denied = checkCsrf(req);
  if (denied) return denied;
  if (!req.cookies.get(ACCESS_COOKIE)) return errorResponse(401, "UNAUTHORIZED", "sign in to delete your account");
  const input = await jsonObject<{ password?: string }>(req);
  if (input instanceof NextResponse) return input;
  try {
    await sessionApi(req, true).auth.deleteAccount(input.password ?? "");
  } catch (err) {
    return apiErrorResponse(err);
  }
  const res = NextResponse.json({ success: true, data: {} }, { headers: { "Cache-Control": "no-store" } });
  return setCookies(res, clearedSessionCookies(cookieSecure()));
});

export const { GET, HEAD, PUT, PATCH, DELETE, OPTIONS } = otherMethods("POST");
