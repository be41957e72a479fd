/**
 * Counting the app's calls to the edge for the browser (web_bff_* in
 * registry.ts): each proxy route's handler is wrapped in counted(), which
 * counts its answer, and reaches the edge through edgeFetch() (directly or as
 * fetchTransport's fetch), which notes a call that could not reach it. One
 * call counts at most one upstream failure, however many requests to the edge
 * it made (a refresh and a retry). The server-rendered pages reach the edge
 * through pageFetch(), which counts each of their calls.
 */
import { AsyncLocalStorage } from "node:async_hooks";

import { countBff, type BffRoute } from "./registry";

/** What a counted call has seen so far. */
interface Call {
  upstreamFailed: boolean;
}

const KEY = Symbol.for("bookingrush.web.metrics.call");

/** One AsyncLocalStorage per process, like the counters (registry.ts). */
function calls(): AsyncLocalStorage<Call> {
  const g = globalThis as { [KEY]?: AsyncLocalStorage<Call> };
  g[KEY] ??= new AsyncLocalStorage<Call>();
  return g[KEY];
}

/**
 * A route handler that counts its answers under route: the status it
 * answers (when it throws, thrown's: 500 by default), and an upstream failure
 * when the edge could not be reached while it ran.
 */
export function counted<A extends unknown[]>(
  route: BffRoute,
  handler: (...args: A) => Response | Promise<Response>,
  thrown: (...args: A) => number = () => 500,
): (...args: A) => Promise<Response> {
  return async (...args: A) => {
    const call: Call = { upstreamFailed: false };
    let status: number | null = null;
    try {
      const res = await calls().run(call, () => handler(...args));
      status = res.status;
      return res;
    } finally {
      countBff(route, status ?? thrown(...args), call.upstreamFailed);
    }
  };
}

/** Notes, for the call being counted (if any), that the edge could not be reached. */
export function noteUpstreamFailure(): void {
  const call = calls().getStore();
  if (call) call.upstreamFailed = true;
}

/**
 * Whether an answer to a request for the edge came from something in
 * between that could not reach it: a gateway's 502 or 504 (the edge answers
 * neither), or a 503 that is not the edge's JSON envelope (a load balancer
 * without a backend). The edge's own 503 (the sale is busier than it
 * serves, Redis is down) reached the edge: it counts it in
 * http_requests_total, and RushHighErrorRate watches it there.
 */
export function upstreamFailed(status: number, contentType: string | null): boolean {
  if (status === 502 || status === 504) return true;
  return status === 503 && !(contentType ?? "").startsWith("application/json");
}

/**
 * fetch for the edge: notes the counted call's upstream failure when the
 * edge could not be reached (the request failed, unless the browser left
 * and aborted it, or upstreamFailed says so of the answer).
 */
export async function edgeFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(input, init); // the global fetch at call time (tests stub it)
  } catch (err) {
    if (!init?.signal?.aborted) noteUpstreamFailure();
    throw err;
  }
  if (upstreamFailed(res.status, res.headers.get("content-type"))) noteUpstreamFailure();
  return res;
}

/**
 * fetch for the server-rendered pages (lib/api/server.ts): each call counts
 * under route "page" with the status it got (503 when the edge could not be
 * reached, 499 when the page's request was abandoned), and as an upstream
 * failure as edgeFetch judges it. Without it a page that could not reach the
 * edge showed its buyer an error and told the operators nothing.
 */
export const pageFetch = counted("page", edgeFetch, (_input, init) => (init?.signal?.aborted ? 499 : 503));
