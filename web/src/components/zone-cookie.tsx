"use client";

import { useEffect } from "react";

import { browserZone, zoneCookie } from "@/lib/format";

/**
 * Tells the server the browser's time zone (the tz cookie, lib/zone.ts), so
 * that server pages write times in it. Written when missing or changed; the
 * page already on screen keeps its times (in UTC, labelled), the next one
 * uses the zone: no reload under the buyer's hands.
 */
export function ZoneCookie() {
  useEffect(() => {
    const value = encodeURIComponent(browserZone());
    if (document.cookie.split("; ").includes(`${zoneCookie}=${value}`)) return;
    document.cookie = `${zoneCookie}=${value}; path=/; max-age=31536000; samesite=lax`;
  }, []);
  return null;
}
