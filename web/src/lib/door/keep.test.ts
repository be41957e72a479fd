import { describe, expect, it } from "vitest";

import { keepStorage, loadedAssets } from "./keep";

describe("loadedAssets", () => {
  it("names the page's own /_next/static files once each, and nothing of the API or other origins", () => {
    const origin = "https://tickets.example";
    const entries = [
      { name: "https://tickets.example/_next/static/chunks/0a1b2c.js" },
      { name: "https://tickets.example/_next/static/chunks/0a1b2c.js" },
      { name: "https://tickets.example/_next/static/css/9f8e.css" },
      { name: "https://tickets.example/_next/static/media/font.p.woff2#x" },
      { name: "https://tickets.example/bff/door/session" },
      { name: "https://tickets.example/bff/door/api/events/e/ticket-keys" },
      { name: "https://tickets.example/icon.svg?b1" },
      { name: "https://cdn.example/_next/static/chunks/other.js" },
    ];
    expect(loadedAssets(entries, origin)).toEqual([
      "https://tickets.example/_next/static/chunks/0a1b2c.js",
      "https://tickets.example/_next/static/css/9f8e.css",
      "https://tickets.example/_next/static/media/font.p.woff2",
    ]);
  });
});

describe("keepStorage", () => {
  it("asks for lasting storage only when the browser does not keep it already, and says what it answered", async () => {
    let asked = 0;
    const storage = (persisted: boolean, granted: boolean) => ({
      persisted: async () => persisted,
      persist: async () => {
        asked++;
        return granted;
      },
    });
    expect(await keepStorage(storage(true, false))).toBe(true);
    expect(asked).toBe(0);
    expect(await keepStorage(storage(false, true))).toBe(true);
    expect(await keepStorage(storage(false, false))).toBe(false);
    expect(asked).toBe(2);
    expect(await keepStorage(undefined)).toBeNull();
    expect(await keepStorage({ persisted: async () => Promise.reject(new Error("denied")), persist: async () => true })).toBeNull();
  });
});
