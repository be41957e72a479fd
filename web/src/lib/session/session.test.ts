import { afterEach, describe, expect, it } from "vitest";

import { decodeUser, encodeUser, sessionCookies } from "./cookies";
import { csrfProblem, newCsrfToken } from "./csrf";
import { expiresSoon, readClaims, readDeviceClaims } from "./jwt";
import { GRACE_MS, refreshOnce, resetRefreshCache } from "./refresh";

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
const jwt = (claims: object) => `${b64({ alg: "HS256" })}.${b64(claims)}.sig`;

describe("csrfProblem", () => {
  const req = (method: string, headers: Record<string, string>, cookie?: string) => ({
    method,
    headers: new Headers(headers),
    cookie: (n: string) => (n === "br_csrf" ? cookie : undefined),
    host: "shop.example",
  });
  it("lets reads through and demands the double-submitted token on writes", () => {
    expect(csrfProblem(req("GET", {}))).toBeNull();
    expect(csrfProblem(req("POST", { "x-csrf-token": "abc" }, "abc"))).toBeNull();
    expect(csrfProblem(req("POST", {}, "abc"))).toMatch(/missing/);
    expect(csrfProblem(req("POST", { "x-csrf-token": "abd" }, "abc"))).toMatch(/mismatch/);
    expect(csrfProblem(req("DELETE", { "x-csrf-token": "abc" }))).toMatch(/missing/);
  });
  it("refuses other sites", () => {
    expect(csrfProblem(req("POST", { "x-csrf-token": "a", origin: "https://evil.example" }, "a"))).toMatch(/not this site/);
    expect(csrfProblem(req("POST", { "x-csrf-token": "a", "sec-fetch-site": "cross-site" }, "a"))).toMatch(/cross-site/);
    expect(csrfProblem(req("POST", { "x-csrf-token": "a", origin: "https://shop.example", "sec-fetch-site": "same-origin" }, "a"))).toBeNull();
    expect(csrfProblem(req("POST", { "x-csrf-token": "a", origin: "https://shop.example", "x-forwarded-host": "shop.example" }, "a"))).toBeNull();
  });
  it("makes 128-bit tokens", () => {
    expect(newCsrfToken()).toMatch(/^[0-9a-f]{32}$/);
    expect(newCsrfToken()).not.toBe(newCsrfToken());
  });
});

describe("session cookies", () => {
  it("keep tokens HttpOnly, Secure and SameSite=Lax; only the display data is readable", () => {
    const c = sessionCookies({ access_token: "a", refresh_token: "r", expires_in: 900, user: { id: "u", name: "Ana", role: "user" } }, true);
    expect(c.map((x) => [x.name, x.httpOnly, x.secure, x.sameSite])).toEqual([
      ["br_at", true, true, "lax"],
      ["br_rt", true, true, "lax"],
      ["br_user", false, true, "lax"],
    ]);
    expect(c[0].maxAge).toBe(900);
  });
  it("read br_user however often it was URL-encoded", () => {
    const u = { id: "u1", name: "Ana María", role: "organizer" };
    expect(decodeUser(encodeUser(u))).toEqual(u);
    expect(decodeUser(encodeURIComponent(encodeUser(u)))).toEqual(u);
    expect(decodeUser(encodeURIComponent(encodeURIComponent(encodeUser(u))))).toEqual(u);
    expect(decodeUser("garbage")).toBeNull();
    expect(decodeUser(undefined)).toBeNull();
    expect(decodeUser("null")).toBeNull();
    // Anyone may write it: a name that is no text is no name (a page rendered it and died).
    expect(decodeUser(JSON.stringify({ id: "u1", role: "user", name: { first: "x" } }))).toEqual({ id: "u1", name: "", role: "user" });
    expect(decodeUser(JSON.stringify({ id: 1, role: "admin" }))).toBeNull();
  });
});

describe("jwt claims", () => {
  it("reads exp and role, and says when a token is about to expire", () => {
    const now = Date.parse("2026-12-03T10:00:00Z");
    const t = jwt({ sub: "u1", role: "admin", exp: now / 1000 + 600 });
    expect(readClaims(t)).toEqual({ sub: "u1", role: "admin", exp: now / 1000 + 600 });
    expect(expiresSoon(t, 60, now)).toBe(false);
    expect(expiresSoon(t, 601, now)).toBe(true);
    expect(expiresSoon("not-a-jwt", 60, now)).toBe(true);
    expect(expiresSoon(undefined)).toBe(true);
  });
  it("tell a device's credential from a user's token", () => {
    const exp = Date.parse("2027-01-01T00:00:00Z") / 1000;
    expect(readDeviceClaims(jwt({ sub: "device:d1", role: "device", typ: "device", evs: ["e1", "e2"], exp }))).toEqual({
      deviceId: "d1",
      eventIds: ["e1", "e2"],
      exp,
    });
    expect(readDeviceClaims(jwt({ sub: "u1", role: "organizer", exp }))).toBeNull();
    expect(readDeviceClaims(jwt({ sub: "device:d1", role: "device", evs: [], exp }))).toBeNull();
    expect(readDeviceClaims("not-a-jwt")).toBeNull();
    // An expiry no Date holds is no credential anyone issued (its date threw).
    expect(readDeviceClaims(jwt({ sub: "device:d1", role: "device", evs: ["e1"], exp: 1e20 }))).toBeNull();
    expect(readClaims(jwt({ sub: "u1", exp: 1e300 }))).toBeNull();
  });
});

describe("refreshOnce", () => {
  afterEach(() => resetRefreshCache());
  const ok = (n: number) =>
    new Response(JSON.stringify({ success: true, data: { access_token: `a${n}`, refresh_token: `r${n}`, expires_in: 900 } }), { status: 200 });

  it("shares one refresh between concurrent requests carrying the same token", async () => {
    let calls = 0;
    const f = (async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 10));
      return ok(calls);
    }) as typeof fetch;
    const [a, b] = await Promise.all([refreshOnce("http://edge", "old-refresh-token", { fetch: f }), refreshOnce("http://edge", "old-refresh-token", { fetch: f })]);
    expect(calls).toBe(1);
    expect(a).toEqual(b);
    // A straggler with the old cookie, within the grace, gets the same pair
    // instead of presenting a dead token (which would revoke the family).
    expect(await refreshOnce("http://edge", "old-refresh-token", { fetch: f })).toEqual(a);
    expect(calls).toBe(1);
  });

  it("forgets the pair after the grace period", async () => {
    let calls = 0;
    let now = 1_000_000;
    const f = (async () => ok(++calls)) as typeof fetch;
    await refreshOnce("http://edge", "token-1-aaaaaaaaaa", { fetch: f, now: () => now });
    now += GRACE_MS + 1;
    await refreshOnce("http://edge", "token-2-aaaaaaaaaa", { fetch: f, now: () => now });
    await refreshOnce("http://edge", "token-1-aaaaaaaaaa", { fetch: f, now: () => now });
    expect(calls).toBe(3);
  });

  it("remembers a dead token, but not a busy API", async () => {
    let calls = 0;
    const dead = (async () => {
      calls++;
      return new Response(JSON.stringify({ success: false, error: { code: "UNAUTHORIZED", message: "dead", details: {} } }), { status: 401 });
    }) as typeof fetch;
    await expect(refreshOnce("http://edge", "dead-token-aaaaaaa", { fetch: dead })).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    await expect(refreshOnce("http://edge", "dead-token-aaaaaaa", { fetch: dead })).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    expect(calls).toBe(1);

    let tries = 0;
    const busy = (async () => {
      tries++;
      return new Response(JSON.stringify({ success: false, error: { code: "SERVICE_UNAVAILABLE", message: "busy", details: {} } }), {
        status: 503,
        headers: { "Retry-After": "1" },
      });
    }) as typeof fetch;
    await expect(refreshOnce("http://edge", "busy-token-aaaaaaa", { fetch: busy })).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    await new Promise((r) => setTimeout(r, 0));
    await expect(refreshOnce("http://edge", "busy-token-aaaaaaa", { fetch: busy })).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    expect(tries).toBe(2);
  });
});
