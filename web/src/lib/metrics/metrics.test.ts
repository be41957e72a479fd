import { readFileSync } from "node:fs";
import path from "node:path";

import { NextRequest } from "next/server";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { GET as apiGET } from "@/app/bff/api/[...path]/route";
import { GET as publicGET } from "@/app/bff/public/[...path]/route";
import { POST as loginPOST } from "@/app/bff/session/login/route";
import { ApiError } from "@/lib/api/errors";
import { load, publicApi } from "@/lib/api/server";
import { lacking, parseExposition } from "@/test/exposition";

import { BFF_ROUTES, countBff, metricsText, resetMetrics } from "./registry";

const SERIES = readFileSync(path.join(__dirname, "series.prom"), "utf8");

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
const ok = () => json(200, { success: true, data: [] });

/** The value of one series of the registry's page, undefined when it has none. */
function value(name: string, labels: Record<string, string>): number | undefined {
  const s = parseExposition(metricsText()).samples.find(
    (x) => x.name === name && Object.keys(labels).length === Object.keys(x.labels).length && Object.entries(labels).every(([k, v]) => x.labels[k] === v),
  );
  return s?.value;
}

const get = (url: string) => new NextRequest(url, { headers: { host: "app.test" } });
const params = (...path: string[]) => ({ params: Promise.resolve({ path }) });

describe("web_bff_* metrics", () => {
  const upstream = vi.fn<(url: string, init?: RequestInit) => Promise<Response>>();
  beforeEach(() => {
    resetMetrics();
    upstream.mockReset();
    vi.stubGlobal("fetch", (url: string, init?: RequestInit) => upstream(url, init));
  });
  afterEach(() => vi.unstubAllGlobals());

  it("counts a /bff answer under its route and status, not its path", async () => {
    upstream.mockResolvedValue(ok());
    await apiGET(get("http://app.test/bff/api/bookings?page=2"), params("bookings"));
    await apiGET(get("http://app.test/bff/api/notifications"), params("notifications"));
    const res = await publicGET(get("http://app.test/bff/public/events/metrics-1"), params("events", "metrics-1"));
    expect(res.status).toBe(200);
    const notPublic = await publicGET(get("http://app.test/bff/public/admin"), params("admin"));
    expect(notPublic.status).toBe(404);
    expect(value("web_bff_requests_total", { route: "api", code: "200" })).toBe(2);
    expect(value("web_bff_requests_total", { route: "public", code: "200" })).toBe(1);
    expect(value("web_bff_requests_total", { route: "public", code: "404" })).toBe(1);
    expect(value("web_bff_upstream_failures_total", { route: "api" })).toBe(0);
    expect(metricsText()).not.toContain("bookings");
  });

  it("counts a call that could not reach the edge as an upstream failure", async () => {
    upstream.mockRejectedValue(new TypeError("fetch failed"));
    const res = await apiGET(get("http://app.test/bff/api/bookings"), params("bookings"));
    expect(res.status).toBe(503);
    const shared = await publicGET(get("http://app.test/bff/public/events/metrics-2"), params("events", "metrics-2"));
    const again = await publicGET(get("http://app.test/bff/public/events/metrics-2"), params("events", "metrics-2"));
    expect([shared.status, again.status]).toEqual([503, 503]);
    // One read of the edge, two calls answered with it: two failures.
    expect(upstream).toHaveBeenCalledTimes(2);
    const login = await loginPOST(
      new NextRequest("http://app.test/bff/session/login", {
        method: "POST",
        headers: { host: "app.test", origin: "http://app.test", cookie: "br_csrf=c", "x-csrf-token": "c", "content-type": "application/json" },
        body: JSON.stringify({ email: "a@b.test", password: "pw" }),
      }),
    );
    expect(login.status).toBe(503);
    expect(value("web_bff_requests_total", { route: "api", code: "503" })).toBe(1);
    expect(value("web_bff_upstream_failures_total", { route: "api" })).toBe(1);
    expect(value("web_bff_upstream_failures_total", { route: "public" })).toBe(2);
    expect(value("web_bff_upstream_failures_total", { route: "session" })).toBe(1);
  });

  it("counts a gateway's 502 or 504 and an HTML 503, not the edge's own 503 (busy)", async () => {
    upstream
      .mockResolvedValueOnce(new Response("<html>Bad Gateway</html>", { status: 502, headers: { "Content-Type": "text/html" } }))
      .mockResolvedValueOnce(new Response("no backend", { status: 503, headers: { "Content-Type": "text/plain" } }))
      .mockResolvedValueOnce(json(503, { success: false, error: { code: "SERVICE_UNAVAILABLE", message: "busy", details: {} } }))
      .mockResolvedValueOnce(json(429, { success: false, error: { code: "RATE_LIMITED", message: "slow down", details: {} } }));
    for (let i = 0; i < 4; i++) await apiGET(get("http://app.test/bff/api/bookings"), params("bookings"));
    expect(value("web_bff_requests_total", { route: "api", code: "502" })).toBe(1);
    expect(value("web_bff_requests_total", { route: "api", code: "503" })).toBe(2);
    expect(value("web_bff_requests_total", { route: "api", code: "429" })).toBe(1);
    expect(value("web_bff_upstream_failures_total", { route: "api" })).toBe(2);
  });

  it("does not count a call the browser left as an upstream failure", async () => {
    const gone = new AbortController();
    upstream.mockImplementation(async () => {
      gone.abort();
      throw new DOMException("aborted", "AbortError");
    });
    const res = await apiGET(new NextRequest("http://app.test/bff/api/bookings", { signal: gone.signal }), params("bookings"));
    expect(res.status).toBe(499);
    expect(value("web_bff_requests_total", { route: "api", code: "499" })).toBe(1);
    expect(value("web_bff_upstream_failures_total", { route: "api" })).toBe(0);
  });

  it("counts each call of a server-rendered page to the edge under page, and one that could not reach it", async () => {
    upstream
      .mockResolvedValueOnce(ok())
      .mockResolvedValueOnce(json(404, { success: false, error: { code: "NOT_FOUND", message: "no such event", details: {} } }))
      .mockRejectedValueOnce(new TypeError("fetch failed"))
      .mockResolvedValueOnce(new Response("<html>Bad Gateway</html>", { status: 502, headers: { "Content-Type": "text/html" } }));
    const api = publicApi();
    expect((await load(api.catalog.categories())).ok).toBe(true);
    const missing = await load(api.catalog.event("gone"));
    expect(missing.ok).toBe(false);
    await expect(api.catalog.categories()).rejects.toBeInstanceOf(ApiError);
    await expect(api.catalog.categories()).rejects.toBeInstanceOf(ApiError);
    expect(upstream).toHaveBeenCalledTimes(4);
    expect(value("web_bff_requests_total", { route: "page", code: "200" })).toBe(1);
    expect(value("web_bff_requests_total", { route: "page", code: "404" })).toBe(1);
    expect(value("web_bff_requests_total", { route: "page", code: "503" })).toBe(1);
    expect(value("web_bff_requests_total", { route: "page", code: "502" })).toBe(1);
    expect(value("web_bff_upstream_failures_total", { route: "page" })).toBe(2);
    // Nothing counted under a proxy route.
    for (const route of ["api", "public"]) expect(value("web_bff_upstream_failures_total", { route })).toBe(0);
  });

  it("exports what series.prom says: its families, every route's failures at 0 from the start", () => {
    const start = metricsText();
    expect(lacking(SERIES.split("\n").filter((l) => !l.startsWith("web_bff_requests_total")).join("\n"), start)).toEqual([]);
    for (const r of BFF_ROUTES) countBff(r, 200, false);
    const page = metricsText();
    expect(lacking(SERIES, page)).toEqual([]);
    // And nothing series.prom lacks: the chart may only name what it lists.
    const listed = parseExposition(SERIES);
    expect([...parseExposition(page).types].sort()).toEqual([...listed.types].sort());
    const routes = (text: string, name: string) => new Set(parseExposition(text).samples.filter((s) => s.name === name).map((s) => s.labels.route));
    for (const name of ["web_bff_requests_total", "web_bff_upstream_failures_total"]) expect(routes(page, name)).toEqual(routes(SERIES, name));
  });
});
