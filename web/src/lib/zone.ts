/**
 * The viewer's time zone on the server: the browser writes it in the tz
 * cookie (components/zone-cookie.tsx) and server pages write times in it,
 * saying which. Until the browser has (its first page), they are in UTC.
 */
import "server-only";

import { cookies } from "next/headers";

import { knownZone, zoneCookie } from "@/lib/format";

export async function viewerZone(): Promise<string> {
  const jar = await cookies();
  return knownZone(jar.get(zoneCookie)?.value) ?? "UTC";
}
