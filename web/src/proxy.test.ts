import { NextRequest } from "next/server";
import { beforeEach, describe, expect, it, vi } from "vitest";

const refreshOnce = vi.fn();
vi.mock("@/lib/session/refresh", () => ({ refreshOnce: (...args: unknown[]) => refreshOnce(...args) }));

const { proxy } = await import("./proxy");

/** An access token that expired a second ago (the proxy reads its claims only). */
function expiredAccess(): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "HS256" })}.${b64({ sub: "u1", role: "user", exp: Math.floor(Date.now() / 1000) - 1 })}.sig`;
}

function request(headers: Record<string, string> = {}): NextRequest {
  const user = encodeURIComponent(JSON.stringify({ id: "u1", name: "Old Name", role: "user" }));
  return new NextRequest("http://app.test/account", {
    headers: { cookie: `br_at=${expiredAccess()}; br_rt=refresh-1; br_user=${user}; br_csrf=c`, ...headers },
  });
}

describe("proxy", () => {
  beforeEach(() => refreshOnce.mockReset());

  it("does not refresh the session for a prefetch, nor send it to sign in", async () => {
    const res = await proxy(request({ "next-router-prefetch": "1" }));
    expect(refreshOnce).not.toHaveBeenCalled();
    expect(res.headers.get("location")).toBeNull();
    expect(res.cookies.get("br_user")).toBeUndefined();
  });

  it("answers an address whose %-escapes do not decode: 400 in the envelope for /bff and /api, the not-found page for a page", async () => {
    for (const path of ["/bff/api/%", "/api/v1/queue/lines/%E0%A4%A"]) {
      const res = await proxy(new NextRequest(`http://app.test${path}`));
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("VALIDATION_ERROR");
    }
    const page = await proxy(new NextRequest("http://app.test/events/%zz"));
    expect(page.headers.get("x-middleware-rewrite")).toBe("http://app.test/_not-found-address");
    expect(refreshOnce).not.toHaveBeenCalled();
  });

  it("lets a public page's address with valid escapes through untouched (no cookie on a cacheable page)", async () => {
    const res = await proxy(new NextRequest("http://app.test/events/r%C3%BCsh"));
    expect(res.headers.get("x-middleware-next")).toBe("1");
    expect(res.headers.get("set-cookie")).toBeNull();
  });

  it("refreshes the session of a navigation", async () => {
    refreshOnce.mockResolvedValue({ access_token: expiredAccess(), refresh_token: "refresh-2", expires_in: 60 });
    const res = await proxy(request());
    expect(refreshOnce).toHaveBeenCalledTimes(1);
    expect(res.cookies.get("br_rt")?.value).toBe("refresh-2");
  });
});
