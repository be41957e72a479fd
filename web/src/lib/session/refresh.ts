/**
 * Refreshing a session: one refresh per refresh token.
 *
 * The API rotates refresh tokens (the presented one dies; presenting it again
 * revokes the whole family, which signs the person out everywhere). A page
 * often sends several requests at once (a navigation and its prefetches, or
 * two tabs), each carrying the same expiring cookies; if each refreshed, the
 * second refresh would be a reuse. So concurrent refreshes of one token share
 * one call, and its outcome is remembered for GRACE_MS: a request that arrives
 * a moment later with the old cookie gets the new pair instead of killing the
 * family. Only the token's SHA-256 is kept as the key.
 *
 * This holds within one server process. With several replicas of the web app,
 * route a session to one replica (ingress cookie affinity), or accept that a
 * rare cross-replica race signs the person out (they sign in again).
 */
import type { TokenPair } from "@/lib/api/wire";

import { ApiError } from "@/lib/api/errors";
import { readEnvelope, networkError } from "@/lib/api/transport";

export const GRACE_MS = 10_000;

interface Entry {
  result: Promise<TokenPair>;
  settledAt: number | null;
}

const inflight = new Map<string, Entry>();

async function keyOf(token: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return Array.from(new Uint8Array(d), (x) => x.toString(16).padStart(2, "0")).join("");
}

function sweep(now: number) {
  for (const [k, e] of inflight) {
    if (e.settledAt !== null && now - e.settledAt > GRACE_MS) inflight.delete(k);
  }
}

/** Exchanges a refresh token for a new pair at apiBase (".../api/v1"), once per token. */
export async function refreshOnce(
  apiBase: string,
  refreshToken: string,
  init: { headers?: Record<string, string>; fetch?: typeof fetch; now?: () => number } = {},
): Promise<TokenPair> {
  const now = init.now ?? Date.now;
  sweep(now());
  const key = await keyOf(refreshToken);
  const hit = inflight.get(key);
  if (hit) return hit.result;
  const doFetch = init.fetch ?? fetch;
  const entry: Entry = { settledAt: null, result: Promise.resolve(null as unknown as TokenPair) };
  entry.result = (async () => {
    try {
      const res = await doFetch(`${apiBase}/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", ...init.headers },
        body: JSON.stringify({ refresh_token: refreshToken }),
        cache: "no-store",
      });
      return (await readEnvelope<TokenPair>(res)).data;
    } catch (err) {
      throw networkError(err);
    } finally {
      entry.settledAt = now();
    }
  })();
  inflight.set(key, entry);
  // A failure that says nothing about the token (the API was busy or
  // unreachable) is not remembered: the next request may try again.
  entry.result.catch((err) => {
    if (!(err instanceof ApiError) || err.retryable) inflight.delete(key);
  });
  return entry.result;
}

/** For tests: forget every remembered refresh. */
export function resetRefreshCache() {
  inflight.clear();
}
