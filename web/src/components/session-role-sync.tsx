"use client";

import { useEffect } from "react";

import { renewSession } from "@/lib/api/browser";

/**
 * Brings br_user in step with the role the API holds now, once, when a page
 * found it stale (a user promoted since the session began): GET /auth/me
 * through /bff/api rewrites it, and the header then offers the pages of
 * that role. Renders nothing.
 */
export function SessionRoleSync() {
  useEffect(() => {
    void renewSession();
  }, []);
  return null;
}
