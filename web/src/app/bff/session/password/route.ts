/**
 * POST /bff/session/password {current_password, new_password}: changes the
 * signed-in user's password. The API ends every session of the user and
 * answers a new one for this browser, whose tokens go into the HttpOnly
 * cookies as at sign-in; the page gets only the user. A wrong current
 * password is the API's 400 on current_password, passed on.
 */
import type { NextRequest } from "next/server";

import { otherMethods } from "@/lib/bff";
import { counted } from "@/lib/metrics/bff";
import { signIn } from "@/lib/session/sign-in";

export const dynamic = "force-dynamic";

export const POST = counted("session", (req: NextRequest) => signIn(req, "password"));

export const { GET, HEAD, PUT, PATCH, DELETE, OPTIONS } = otherMethods("POST");
