/**
 * POST /bff/session/register {email, password, full_name}: creates an
 * account and signs it in, like /bff/session/login.
 */
import type { NextRequest } from "next/server";

import { otherMethods } from "@/lib/bff";
import { counted } from "@/lib/metrics/bff";
import { signIn } from "@/lib/session/sign-in";

export const dynamic = "force-dynamic";

export const POST = counted("session", (req: NextRequest) => signIn(req, "register"));

export const { GET, HEAD, PUT, PATCH, DELETE, OPTIONS } = otherMethods("POST");
