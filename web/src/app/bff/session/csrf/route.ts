/**
 * GET /bff/session/csrf: the page's CSRF token, set as the br_csrf cookie when
 * it has none (pages served from a cache never set cookies themselves).
 */
import { NextResponse, type NextRequest } from "next/server";

import { otherMethods, rotatedCsrf, setCookies } from "@/lib/bff";
import { counted } from "@/lib/metrics/bff";
import { CSRF_COOKIE } from "@/lib/session/cookies";

export const dynamic = "force-dynamic";

export const GET = counted("session", (req: NextRequest) => {
  const have = req.cookies.get(CSRF_COOKIE)?.value;
  if (have) return NextResponse.json({ success: true, data: { token: have } }, { headers: { "Cache-Control": "no-store" } });
  const c = rotatedCsrf();
  return setCookies(NextResponse.json({ success: true, data: { token: c.value } }, { headers: { "Cache-Control": "no-store" } }), [c]);
});

export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods("GET");
