/**
 * POST /bff/session/register {email, password, full_name}: creates an
 * account and signs it in, like /bff/session/login.
 */
import type { NextRequest } from "next/server";

import { signIn } from "@/lib/session/sign-in";

export const dynamic = "force-dynamic";

export function POST(req: NextRequest) {
  return signIn(req, "register");
}
