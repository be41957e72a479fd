/**
 * /api/v1/queue/events and /api/v1/queue/lines/<event>: the waiting room's
 * public reads, for where this app runs alone on its host (`make run`, the e2e
 * suite, `npm run dev`).
 *
 * In a cluster these paths never reach the app: the chart's Ingress/HTTPRoute
 * sends /api/v1 to the edge, so a waiting crowd's streams are the edge's
 * alone. Without one, the browser (which calls them on its own host, see
 * lib/queue/client.ts) would find nothing here; this route passes them on to
 * RUSH_API_URL as they are: no cookie or token is read or sent (the stream is
 * authenticated by its ?ticket=, the line is public), the stream goes through
 * event by event, and the answer's status, envelope and Cache-Control are the
 * edge's. Nothing else under /api/v1 passes.
 */
import { type NextRequest } from "next/server";

import { errorResponse, otherMethods, passedHeaders, unreachable } from "@/lib/bff";
import { apiBase } from "@/lib/config";
import { forwardedHeaders } from "@/lib/forward";
import { counted, edgeFetch } from "@/lib/metrics/bff";

export const dynamic = "force-dynamic";

const PUBLIC_QUEUE = [/^events$/, /^lines\/[0-9a-fA-F-]{36}$/];

export const GET = counted("queue", async (req: NextRequest, ctx: { params: Promise<{ path: string[] }> }) => {
  const { path } = await ctx.params;
  const rel = path.map(encodeURIComponent).join("/");
  if (!PUBLIC_QUEUE.some((r) => r.test(rel))) return errorResponse(404, "NOT_FOUND", "not a public queue route");
  let upstream: Response;
  try {
    upstream = await edgeFetch(`${apiBase()}/queue/${rel}${req.nextUrl.search}`, {
      headers: { ...forwardedHeaders(req.headers), Accept: req.headers.get("accept") ?? "application/json" },
      cache: "no-store",
      redirect: "manual",
      signal: req.signal,
    });
  } catch (err) {
    return unreachable(req, err);
  }
  return new Response(upstream.body, { status: upstream.status, headers: passedHeaders(upstream, upstream.headers.get("cache-control") ?? "no-store") });
});

export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods("GET");
