/**
 * One HTTP call to the /api/v1 JSON API and the reading of its envelope.
 *
 * The same code runs on the server (to the edge, with the session's bearer
 * token) and in the browser (to the app's own /bff/api proxy, which adds the
 * token from its HttpOnly cookie): see server.ts and browser.ts. Either way an
 * answer is `{success:true,data,meta?}`, or an ApiError is thrown.
 */
import { ApiError, parseRetryAfter } from "./errors";
import type { PageMeta } from "./wire";

export type Method = "GET" | "POST" | "PUT" | "DELETE";

/** Query values (any object of scalars); undefined, null and "" are left out. */
export type Query = object;

export interface ApiRequest {
  method: Method;
  /** Path below /api/v1, e.g. "/events/rush-night". */
  path: string;
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface ApiResult<T> {
  data: T;
  meta: PageMeta | null;
  status: number;
  headers: Headers;
}

/** Something that performs ApiRequests: a server-side or a browser-side fetch. */
export interface Transport {
  request<T>(req: ApiRequest): Promise<ApiResult<T>>;
}

/** "/events" + {page: 2, query: ""} -> "/events?page=2". */
export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query) as [string, unknown][]) {
    if (v === undefined || v === null || v === "" || typeof v === "object") continue;
    qs.set(k, String(v));
  }
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

/**
 * Reads an answer of the API (or of /bff, which passes it through): the data
 * of a success, else throws the ApiError the envelope describes. An answer
 * that is not the envelope (a proxy's HTML 502, an empty body) is BAD_RESPONSE,
 * or SERVICE_UNAVAILABLE for a 502-504, so that it is retried like one.
 */
export async function readEnvelope<T>(res: Response): Promise<ApiResult<T>> {
  const requestId = res.headers.get("x-request-id");
  const retryAfter = parseRetryAfter(res.headers.get("retry-after"));
  let body: unknown = null;
  const text = await res.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (body && typeof body === "object" && "success" in body) {
    const env = body as {
      success: boolean;
      data?: T;
      meta?: PageMeta;
      error?: { code?: string; message?: string; details?: Record<string, unknown> };
    };
    if (env.success && res.ok) {
      return { data: env.data as T, meta: env.meta ?? null, status: res.status, headers: res.headers };
    }
    const e = env.error ?? {};
    throw new ApiError({
      status: res.status,
      code: e.code ?? "BAD_RESPONSE",
      message: e.message ?? `HTTP ${res.status}`,
      details: e.details ?? {},
      retryAfter: retryAfter ?? (res.status === 429 || res.status === 503 ? 1 : null),
      requestId,
    });
  }
  const unavailable = res.status >= 502 && res.status <= 504;
  throw new ApiError({
    status: res.status,
    code: unavailable ? "SERVICE_UNAVAILABLE" : "BAD_RESPONSE",
    message: unavailable ? "the service did not answer" : `unexpected answer (HTTP ${res.status})`,
    retryAfter: unavailable ? (retryAfter ?? 2) : null,
    requestId,
  });
}

/** A fetch that failed before any answer (connection refused, offline, aborted). */
export function networkError(err: unknown): ApiError | unknown {
  if (err instanceof ApiError) return err;
  if (err instanceof DOMException && err.name === "AbortError") return err;
  return new ApiError({
    status: 0,
    code: "NETWORK_ERROR",
    message: err instanceof Error ? err.message : String(err),
    retryAfter: 2,
  });
}

/** A Transport over fetch: base is ".../api/v1" (server) or "/bff/api" (browser). */
export function fetchTransport(opts: {
  base: string;
  headers?: () => Record<string, string> | Promise<Record<string, string>>;
  init?: RequestInit & { next?: { revalidate?: number | false; tags?: string[] } };
  fetch?: typeof fetch;
}): Transport {
  // The global fetch at call time (not at import: tests stub it).
  const doFetch: typeof fetch = opts.fetch ?? ((input, init) => fetch(input, init));
  return {
    async request<T>(req: ApiRequest): Promise<ApiResult<T>> {
      const headers: Record<string, string> = { Accept: "application/json", ...(await opts.headers?.()), ...req.headers };
      let body: string | undefined;
      if (req.body !== undefined) {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(req.body);
      }
      let res: Response;
      try {
        res = await doFetch(opts.base + withQuery(req.path, req.query), {
          ...opts.init,
          method: req.method,
          headers,
          body,
          signal: req.signal,
        });
      } catch (err) {
        throw networkError(err);
      }
      return readEnvelope<T>(res);
    },
  };
}
