import { NextRequest } from "next/server";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { resetRefreshCache } from "@/lib/session/refresh";

import { GET, POST } from "./route";

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
/** An access token that lives 10 more minutes (the proxy would not refresh it). */
const access = (sub: string, role = "user") => `${b64({ alg: "HS256" })}.${b64({ sub, role, exp: Math.floor(Date.now() / 1000) + 600 })}.sig`;
const OLD = access("u1");
const NEW = access("u1", "organizer");

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
const refused = () => json(401, { success: false, error: { code: "UNAUTHORIZED", message: "invalid or expired token", details: {} } });

function request(method = "GET", body?: unknown): NextRequest {
  const user = encodeURIComponent(JSON.stringify({ id: "u1", name: "Ana", role: "user" }));
  return new NextRequest("http://app.test/bff/api/bookings", {
    method,
    headers: {
      cookie: `br_at=${OLD}; br_rt=refresh-1; br_user=${user}; br_csrf=c`,
      "x-csrf-token": "c",
      origin: "http://app.test",
      host: "app.test",
      "content-type": "application/json",
      "idempotency-key": "k-1",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
const ctx = { params: Promise.resolve({ path: ["bookings"] }) };

describe("/bff/api: an access token refused before it expires", () => {
  const upstream = vi.fn<(url: string, init: RequestInit) => Promise<Response>>();
  const bearer = (i: number) => (upstream.mock.calls[i][1].headers as Record<string, string>).authorization;
  beforeEach(() => {
    resetRefreshCache();
    upstream.mockReset();
    vi.stubGlobal("fetch", (url: string, init: RequestInit) => upstream(url, init));
  });
  afterEach(() => vi.unstubAllGlobals());

  it("renews the session and sends the call again (a sign-out on another device ended the access tokens)", async () => {
    upstream
      .mockResolvedValueOnce(refused())
      .mockResolvedValueOnce(json(200, { success: true, data: { access_token: NEW, refresh_token: "refresh-2", expires_in: 900 } }))
      .mockResolvedValueOnce(json(201, { success: true, data: { id: "b1" } }));
    const res = await POST(request("POST", { show_id: "s", zone_id: "z", quantity: 1 }), ctx);
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ success: true, data: { id: "b1" } });
    expect(upstream.mock.calls.map((c) => c[0])).toEqual([
      "http://127.0.0.1:8080/api/v1/bookings",
      "http://127.0.0.1:8080/api/v1/auth/refresh",
      "http://127.0.0.1:8080/api/v1/bookings",
    ]);
    expect(bearer(0)).toBe(`Bearer ${OLD}`);
    expect(bearer(2)).toBe(`Bearer ${NEW}`);
    // The same body and idempotency key the second time.
    expect(upstream.mock.calls[2][1].body).toBe(upstream.mock.calls[0][1].body);
    expect((upstream.mock.calls[2][1].headers as Record<string, string>)["idempotency-key"]).toBe("k-1");
    const set = res as unknown as { cookies: { get(n: string): { value: string; maxAge?: number } | undefined } };
    expect(set.cookies.get("br_at")?.value).toBe(NEW);
    expect(set.cookies.get("br_rt")?.value).toBe("refresh-2");
    // The role the new token carries; the name the page showed.
    expect(JSON.parse(set.cookies.get("br_user")!.value)).toEqual({ id: "u1", name: "Ana", role: "organizer" });
  });

  it("ends the session when the refresh token is dead too", async () => {
    upstream.mockResolvedValueOnce(refused()).mockResolvedValueOnce(refused());
    const res = await GET(request(), ctx);
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe("UNAUTHORIZED");
    const set = res as unknown as { cookies: { get(n: string): { value: string; maxAge?: number } | undefined } };
    for (const c of ["br_at", "br_rt", "br_user"]) expect(set.cookies.get(c)?.maxAge).toBe(0);
  });

  it("answers a busy refresh as busy, not as an ended session", async () => {
    upstream
      .mockResolvedValueOnce(refused())
      .mockResolvedValueOnce(json(503, { success: false, error: { code: "SERVICE_UNAVAILABLE", message: "redis", details: {} } }, { "Retry-After": "3" }));
    const res = await GET(request(), ctx);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("3");
    const set = res as unknown as { cookies: { get(n: string): unknown } };
    expect(set.cookies.get("br_rt")).toBeUndefined();
  });
});
