/**
 * /organizer decides on the role the API holds now: br_user (and the access
 * token's claims) keep the role of the session's last sign-in or renewal, so
 * a user promoted since read "Organizer pages are for organizers" until some
 * other page renewed the session. (The e2e suite's one-minute tokens renew
 * on every page, which hides it there.)
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isValidElement, type ReactNode } from "react";

const jar = new Map<string, string>();
vi.mock("next/headers", () => ({
  cookies: async () => ({ get: (n: string) => (jar.has(n) ? { value: jar.get(n)! } : undefined) }),
  headers: async () => new Headers(),
}));

import OrganizerPage from "./page";

/** The text of a rendered tree, without rendering its components. */
function text(node: ReactNode): string {
  if (typeof node === "string" || typeof node === "number") return String(node);
  if (Array.isArray(node)) return node.map(text).join(" ");
  if (isValidElement(node)) {
    const p = node.props as { children?: ReactNode; title?: string };
    const own = typeof node.type === "function" && typeof p.title === "string" ? p.title + " [" + node.type.name + "]" : "";
    return own + " " + text(p.children);
  }
  return "";
}

let meRole = "user";
const calls: string[] = [];

beforeEach(() => {
  jar.clear();
  jar.set("br_at", "a.b.c");
  jar.set("br_rt", "refresh");
  jar.set("br_user", JSON.stringify({ id: "u1", name: "Una", role: "user" }));
  calls.length = 0;
  vi.stubGlobal("fetch", async (url: string) => {
    const path = new URL(url).pathname;
    calls.push(path);
    const data = path.endsWith("/auth/me") ? { id: "u1", full_name: "Una", email: "u@x", role: meRole } : [];
    const meta = Array.isArray(data) ? { page: 1, per_page: 50, total: 0 } : undefined;
    return new Response(JSON.stringify({ success: true, data, meta }), { status: 200, headers: { "content-type": "application/json" } });
  });
});
afterEach(() => vi.unstubAllGlobals());

describe("/organizer", () => {
  it("lets a user promoted since the session began in, by the API's word", async () => {
    meRole = "organizer";
    const page = text(await OrganizerPage({ searchParams: Promise.resolve({}) }));
    expect(page).not.toMatch(/Organizer pages are for organizers|NotOrganizer/);
    expect(page).toContain("Your events");
    expect(page).toContain("New event");
  });
  it("still refuses a user the API calls a user", async () => {
    meRole = "user";
    const page = text(await OrganizerPage({ searchParams: Promise.resolve({}) }));
    expect(page).toMatch(/Organizer pages are for organizers|NotOrganizer/);
    expect(calls.filter((c) => c.endsWith("/events"))).toEqual([]);
  });
  it("asks nobody when br_user already says organizer", async () => {
    jar.set("br_user", JSON.stringify({ id: "u1", name: "Una", role: "organizer" }));
    await OrganizerPage({ searchParams: Promise.resolve({}) });
    expect(calls.filter((c) => c.endsWith("/auth/me"))).toEqual([]);
  });
});
