/**
 * The waiting room's client against a scripted EventSource and fetch: views
 * from the stream, the end at admission, reconnecting with backoff (and one
 * status read meanwhile) when the stream drops, sold out from the probe.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { durationSeconds, reconnectDelayMs, todayQueueApi, toView, type QueueConnection, type QueueView } from "./client";

class FakeEventSource {
  static all: FakeEventSource[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  listeners: Record<string, ((e: unknown) => void)[]> = {};
  closed = false;
  constructor(public url: string) {
    FakeEventSource.all.push(this);
  }
  addEventListener(type: string, fn: (e: unknown) => void) {
    (this.listeners[type] ??= []).push(fn);
  }
  close() {
    this.closed = true;
  }
  emit(status: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify({ success: true, data: status }) });
  }
  drop() {
    for (const fn of this.listeners.error ?? []) fn({ type: "error" });
  }
}

const waiting = (position: number) => ({ position, total: 10, status: "waiting", queue_pass: "", pass_expires_at: null, estimated_wait: `${position}s` });

beforeEach(() => {
  FakeEventSource.all = [];
  vi.useFakeTimers();
  vi.stubGlobal("window", { addEventListener: vi.fn(), removeEventListener: vi.fn() });
  vi.stubGlobal("document", { cookie: "br_csrf=tok" });
  vi.stubGlobal("navigator", { onLine: true });
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("queue client", () => {
  it("maps today's status to a view", () => {
    expect(toView(waiting(3))).toEqual({ phase: "waiting", position: 3, total: 10, etaSeconds: 3, pass: null, passExpiresAt: null });
    expect(toView({ ...waiting(0), status: "admitted", queue_pass: "p", pass_expires_at: "t" }).pass).toBe("p");
    expect(durationSeconds("12.5s")).toBe(13);
    expect(durationSeconds(null)).toBeNull();
    expect(reconnectDelayMs(1, () => 0)).toBe(1000);
    expect(reconnectDelayMs(4, () => 0)).toBe(8000);
    expect(reconnectDelayMs(9, () => 0.5)).toBe(15500);
  });

  it("joins with the CSRF token and follows the stream until admitted", async () => {
    const fetches: { url: string; init?: RequestInit }[] = [];
    vi.stubGlobal("fetch", async (url: string, init?: RequestInit) => {
      fetches.push({ url, init });
      return new Response(JSON.stringify({ success: true, data: waiting(5) }), { status: 200 });
    });
    const api = todayQueueApi({ EventSource: FakeEventSource as unknown as typeof EventSource });
    const joined = await api.join("ev1");
    expect(joined.position).toBe(5);
    expect(fetches[0].url).toBe("/bff/api/queue/join");
    expect((fetches[0].init!.headers as Record<string, string>)["x-csrf-token"]).toBe("tok");

    const views: QueueView[] = [];
    const conns: QueueConnection[] = [];
    api.watch("ev1", { view: (v) => views.push(v), connection: (c) => conns.push(c), fatal: () => undefined });
    const es = FakeEventSource.all[0];
    expect(es.url).toBe("/bff/api/queue/events?event_id=ev1");
    es.onopen?.();
    es.emit(waiting(2));
    es.emit({ ...waiting(0), status: "admitted", queue_pass: "pass-1" });
    expect(views.map((v) => [v.phase, v.position, v.pass])).toEqual([
      ["waiting", 2, null],
      ["admitted", 0, "pass-1"],
    ]);
    expect(conns).toEqual([{ state: "connecting" }, { state: "live" }]);
    expect(es.closed).toBe(true);
  });

  it("reconnects after a drop with backoff, reading the status meanwhile", async () => {
    let statusReads = 0;
    vi.stubGlobal("fetch", async (url: string) => {
      if (url.startsWith("/bff/api/queue/status")) statusReads++;
      return new Response(JSON.stringify({ success: true, data: waiting(4) }), { status: 200 });
    });
    const api = todayQueueApi({ EventSource: FakeEventSource as unknown as typeof EventSource, soldOutEveryMs: 1e9 });
    const conns: QueueConnection[] = [];
    const stop = api.watch("ev1", { view: () => undefined, connection: (c) => conns.push(c), fatal: () => undefined });
    FakeEventSource.all[0].drop();
    expect(FakeEventSource.all[0].closed).toBe(true);
    expect(conns.at(-1)).toMatchObject({ state: "reconnecting", reason: "connection lost" });
    await vi.advanceTimersByTimeAsync(2100);
    expect(FakeEventSource.all).toHaveLength(2);
    expect(statusReads).toBe(1);
    // A second drop waits longer (2 s + jitter), not a hammering loop.
    FakeEventSource.all[1].drop();
    await vi.advanceTimersByTimeAsync(1500);
    expect(FakeEventSource.all).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1600);
    expect(FakeEventSource.all).toHaveLength(3);
    stop();
    expect(FakeEventSource.all[2].closed).toBe(true);
  });

  it("says sold out when every show has no seat left", async () => {
    vi.stubGlobal("fetch", async () => new Response(JSON.stringify({ success: true, data: [{ available_seats: 0, status: "sold_out" }] }), { status: 200 }));
    const api = todayQueueApi({ EventSource: FakeEventSource as unknown as typeof EventSource, soldOutEveryMs: 1000 });
    const views: QueueView[] = [];
    api.watch("ev1", { view: (v) => views.push(v), connection: () => undefined, fatal: () => undefined });
    await vi.advanceTimersByTimeAsync(1100);
    expect(views.at(-1)?.phase).toBe("sold_out");
    expect(FakeEventSource.all[0].closed).toBe(true);
  });
});
