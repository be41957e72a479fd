import { describe, expect, it } from "vitest";

import { endpoints } from "./endpoints";
import { ApiError } from "./errors";
import { fetchTransport, readEnvelope, withQuery } from "./transport";

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

describe("readEnvelope", () => {
  it("returns data and meta of a success", async () => {
    const r = await readEnvelope(json(200, { success: true, data: [{ id: "e1" }], meta: { page: 1, per_page: 20, total: 1 } }));
    expect(r.data).toEqual([{ id: "e1" }]);
    expect(r.meta).toEqual({ page: 1, per_page: 20, total: 1 });
  });

  it("throws the envelope's error with Retry-After and the request id", async () => {
    const res = json(
      503,
      { success: false, error: { code: "SERVICE_UNAVAILABLE", message: "overloaded", details: { reason: "overloaded" } } },
      { "Retry-After": "1", "X-Request-ID": "req-1" },
    );
    const err = await readEnvelope(res).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE", retryAfter: 1, requestId: "req-1", details: { reason: "overloaded" } });
  });

  it("retries a 429 without Retry-After after a second", async () => {
    const err = await readEnvelope(json(429, { success: false, error: { code: "RATE_LIMITED", message: "x", details: {} } })).catch((e) => e);
    expect(err.retryAfter).toBe(1);
  });

  it("treats a proxy's HTML 502 as unavailable, not as a crash", async () => {
    const err = await readEnvelope(new Response("<html>bad gateway</html>", { status: 502 })).catch((e) => e);
    expect(err).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: 502 });
    expect(err.retryable).toBe(true);
    const odd = await readEnvelope(new Response("nope", { status: 200 })).catch((e) => e);
    expect(odd.code).toBe("BAD_RESPONSE");
  });
});

describe("fetchTransport", () => {
  it("builds the query, sends JSON and the headers the route needs", async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const api = endpoints(
      fetchTransport({
        base: "http://edge/api/v1",
        headers: () => ({ Authorization: "Bearer t" }),
        fetch: async (url, init) => {
          seen.push({ url: String(url), init: init! });
          return json(201, { success: true, data: { id: "b1", status: "reserved" } });
        },
      }),
    );
    const r = await api.bookings.reserve({ show_id: "s", zone_id: "z", quantity: 2 }, { idempotencyKey: "key-12345678", queuePass: "pass" });
    expect(r.data.status).toBe("reserved");
    expect(seen[0].url).toBe("http://edge/api/v1/bookings/reserve");
    const h = seen[0].init.headers as Record<string, string>;
    expect(h["Idempotency-Key"]).toBe("key-12345678");
    expect(h["X-Queue-Pass"]).toBe("pass");
    expect(h.Authorization).toBe("Bearer t");
    expect(JSON.parse(String(seen[0].init.body))).toEqual({ show_id: "s", zone_id: "z", quantity: 2 });

    await api.catalog.events({ query: "jazz night", category: "", page: 2, mine: true });
    expect(seen[1].url).toBe("http://edge/api/v1/events?query=jazz+night&page=2&mine=true");
    expect(seen[1].init.body).toBeUndefined();
  });

  it("turns a refused connection into a retryable NETWORK_ERROR", async () => {
    const t = fetchTransport({
      base: "http://edge/api/v1",
      fetch: async () => {
        throw new TypeError("fetch failed");
      },
    });
    const err = await t.request({ method: "GET", path: "/events" }).catch((e) => e);
    expect(err.code).toBe("NETWORK_ERROR");
    expect(err.retryable).toBe(true);
  });

  it("leaves empty query values out", () => {
    expect(withQuery("/events", { a: "", b: undefined, c: null, d: 0, e: false })).toBe("/events?d=0&e=false");
  });
});
