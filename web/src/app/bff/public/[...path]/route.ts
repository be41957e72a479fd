/**
 * /bff/public/<path>: anonymous catalog reads for the browser (the live seat
 * counts of an event page), shared by everyone.
 *
 * No cookie is read or sent, so one answer serves all: each replica keeps it
 * for 2 seconds (reads of the same path in flight are shared too) and marks it
 * `public, s-maxage=2` for a CDN. A thousand buyers watching a zone cost the
 * edge one read per 2 s per web replica, not a thousand. Only the catalog's
 * public GET routes pass.
 */
import { NextResponse, type NextRequest } from "next/server";

import { errorResponse, otherMethods } from "@/lib/bff";
import { apiBase } from "@/lib/config";
import { counted, noteUpstreamFailure, upstreamFailed } from "@/lib/metrics/bff";

export const dynamic = "force-dynamic";

const PUBLIC_READS = [/^events\/[a-z0-9-]+\/shows$/, /^shows\/[0-9a-f-]{36}\/zones$/, /^events\/[a-z0-9-]+$/, /^categories$/];

/**
 * One answer kept for everyone: the body, its status and Retry-After, and
 * whether the edge could not be reached (each call answered with it counts
 * an upstream failure).
 */
interface Kept {
  status: number;
  body: string;
  retryAfter: string | null;
  upstreamFailed: boolean;
}

const TTL_MS = 2_000;
/** Answers of the last TTL_MS, and reads in flight, by path: a crowd costs one read. */
const kept = new Map<string, { at: number; answer: Promise<Kept> }>();

async function read(rel: string): Promise<Kept> {
  try {
    const upstream = await fetch(`${apiBase()}/${rel}`, { headers: { Accept: "application/json" }, cache: "no-store" });
    return {
      status: upstream.status,
      body: await upstream.text(),
      retryAfter: upstream.headers.get("retry-after"),
      upstreamFailed: upstreamFailed(upstream.status, upstream.headers.get("content-type")),
    };
  } catch (err) {
    return {
      status: 503,
      body: JSON.stringify({
        success: false,
        error: { code: "SERVICE_UNAVAILABLE", message: `the API could not be reached (${(err as Error).message})`, details: {} },
      }),
      retryAfter: "2",
      upstreamFailed: true,
    };
  }
}

export const GET = counted("public", async (_req: NextRequest, ctx: { params: Promise<{ path: string[] }> }) => {
  const { path } = await ctx.params;
  const rel = path.join("/");
  if (!PUBLIC_READS.some((r) => r.test(rel))) return errorResponse(404, "NOT_FOUND", "not a public read");
  const now = Date.now();
  let hit = kept.get(rel);
  if (!hit || now - hit.at > TTL_MS) {
    hit = { at: now, answer: read(rel) };
    kept.set(rel, hit);
    if (kept.size > 5_000) {
      for (const [k, v] of kept) if (now - v.at > TTL_MS) kept.delete(k);
    }
  }
  const a = await hit.answer;
  if (a.upstreamFailed) noteUpstreamFailure();
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (a.status === 200) headers["Cache-Control"] = "public, max-age=0, s-maxage=2, stale-while-revalidate=5";
  else {
    headers["Cache-Control"] = "no-store";
    if (a.retryAfter) headers["Retry-After"] = a.retryAfter;
  }
  return new NextResponse(a.body, { status: a.status, headers });
});

export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods("GET");
