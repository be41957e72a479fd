/**
 * POST /bff/session/login {email, password}: signs in. The tokens go into
 * HttpOnly cookies; the page gets only the user. Errors (wrong password,
 * RATE_LIMITED with Retry-After...) are the API's envelope, passed on.
 */
import type { NextRequest } from "next/server";

import { otherMethods } from "@/lib/bff";
import { counted } from "@/lib/metrics/bff";
import { signIn } from "@/lib/session/sign-in";

export const dynamic = "force-dynamic";

export const POST = counted("session", (req: NextRequest) => signIn(req, "login"));

export const { GET, HEAD, PUT, PATCH, DELETE, OPTIONS } = otherMethods("POST");
