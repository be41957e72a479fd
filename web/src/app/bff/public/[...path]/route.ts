/**
 * /bff/public/<path>: anonymous catalog reads for the browser (the live seat
 * counts of an event page), shared by everyone.
 *
 * No cookie is read or sent, so one answer serves all: it is cached in the
 * server's data cache for 2 seconds and marked `public, s-maxage=2` for a CDN.
 * A thousand buyers watching a zone cost the edge one read per 2 s per web
 * replica, not a thousand. Only the catalog's public GET routes pass.
 */
import { NextResponse, type NextRequest } from "next/server";

import { errorResponse } from "@/lib/bff";
import { apiBase } from "@/lib/config";

export const dynamic = "force-dynamic";

const PUBLIC_READS = [/^events\/[a-z0-9-]+\/shows$/, /^shows\/[0-9a-f-]{36}\/zones$/, /^events\/[a-z0-9-]+$/, /^categories$/];

export async function GET(_req: NextRequest, ctx: { params: Promise<{ path: string[] }> }) {
  const { path } = await ctx.params;
  const rel = path.join("/");
  if (!PUBLIC_READS.some((r) => r.test(rel))) return errorResponse(404, "NOT_FOUND", "not a public read");
  let upstream: Response;
  try {
    upstream = await fetch(`${apiBase()}/${rel}`, { headers: { Accept: "application/json" }, next: { revalidate: 2 } });
  } catch (err) {
    return errorResponse(503, "SERVICE_UNAVAILABLE", `the API could not be reached (${(err as Error).message})`, {
      headers: { "Retry-After": "2" },
    });
  }
  const body = await upstream.text();
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (upstream.ok) headers["Cache-Control"] = "public, max-age=0, s-maxage=2, stale-while-revalidate=5";
  else {
    headers["Cache-Control"] = "no-store";
    const ra = upstream.headers.get("retry-after");
    if (ra) headers["Retry-After"] = ra;
  }
  return new NextResponse(body, { status: upstream.status, headers });
}
