/**
 * The waiting room's client against a scripted EventSource and fetch: the
 * ticket kept from the join (a reload finds it), the stream opened on the
 * edge's ticket URL, views until admission or sold out, reconnecting with
 * backoff (and one status read meanwhile) when the stream drops, a dead
 * ticket, and the shed reserve that names a waiting room.
 */
import { getOption } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { QueueService } from "@/gen/bookingrush/queue/v1/queue_pb";
import { http } from "@/gen/google/api/annotations_pb";
import { ApiError } from "@/lib/api/errors";
import type { QueueStatus } from "@/lib/api/wire";
import { MemoryStorage } from "@/test/memory-storage";

import { retryBusy } from "@/lib/api/retry";

import {
  createQueueApi,
  durationSeconds,
  queueToJoin,
  reconnectDelayMs,
  streamUrl,
  toView,
  unlessQueued,
  type QueueConnection,
  type QueueView,
} from "./client";

class FakeEventSource {
  static all: FakeEventSource[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;
  constructor(
    public url: string,
    public init?: EventSourceInit,
  ) {
    FakeEventSource.all.push(this);
  }
  close() {
    this.closed = true;
  }
  emit(status: Partial<QueueStatus>) {
    this.onmessage?.({ data: JSON.stringify({ success: true, data: status }) });
  }
  drop() {
    this.onerror?.();
  }
}


const EV = "0195f3a0-0000-7000-8000-000000000001";

const waiting = (position: number, ticket = ""): QueueStatus => ({
  event_id: EV,
  position,
  total: 10,
  status: "waiting",
  queue_pass: "",
  pass_expires_at: null,
  estimated_wait: `${position}s`,
  ticket,
});

let storage: MemoryStorage;
const api = () =>
  createQueueApi({ EventSource: FakeEventSource as unknown as typeof EventSource, storage: () => storage as unknown as Storage });

/** Answers fetches from a route table, recording them. */
function serve(routes: Record<string, () => Response>) {
  const seen: { url: string; init?: RequestInit }[] = [];
  vi.stubGlobal("fetch", async (url: string, init?: RequestInit) => {
    seen.push({ url, init });
    const hit = Object.entries(routes).find(([prefix]) => url.startsWith(prefix));
    return hit ? hit[1]() : new Response("{}", { status: 404 });
  });
  return seen;
}
const ok = (data: unknown) => () => new Response(JSON.stringify({ success: true, data }), { status: 200 });

beforeEach(() => {
  FakeEventSource.all = [];
  storage = new MemoryStorage();
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
  it("maps a status to a view", () => {
    expect(toView(waiting(3))).toEqual({ phase: "waiting", position: 3, total: 10, etaSeconds: 3, pass: null, passExpiresAt: null });
    expect(toView({ ...waiting(0), status: "admitted", queue_pass: "p", pass_expires_at: "t" })).toMatchObject({ phase: "admitted", pass: "p", passExpiresAt: "t" });
    expect(toView({ ...waiting(4), status: "sold_out" }).phase).toBe("sold_out");
    expect(toView({ ...waiting(0), status: "used" }).phase).toBe("expired");
    expect(durationSeconds("12.5s")).toBe(13);
    expect(durationSeconds(null)).toBeNull();
    expect(reconnectDelayMs(1, () => 0)).toBe(1000);
    expect(reconnectDelayMs(4, () => 0)).toBe(8000);
    expect(reconnectDelayMs(9, () => 0.5)).toBe(15500);
  });

  it("opens the stream on the contract's route, with the ticket and no credentials", () => {
    const rule = getOption(QueueService.method.watchQueueStatus, http);
    expect(rule.pattern).toEqual({ case: "get", value: "/api/v1/queue/events" });
    const u = new URL(streamUrl(EV, "t.k-1"), "https://x");
    expect(u.pathname).toBe("/api/v1/queue/events");
    expect(u.searchParams.get("ticket")).toBe("t.k-1");
    expect(u.searchParams.get("event_id")).toBe(EV);
  });

  it("joins with the CSRF token, keeps the ticket and follows the stream until admitted", async () => {
    const seen = serve({ "/bff/api/queue/join": ok(waiting(5, "tkt-1")) });
    const q = api();
    const joined = await q.join(EV);
    expect(joined.position).toBe(5);
    expect(seen[0].url).toBe("/bff/api/queue/join");
    expect(seen[0].init?.method).toBe("POST");
    expect((seen[0].init!.headers as Record<string, string>)["x-csrf-token"]).toBe("tok");
    expect(JSON.parse(storage.getItem(`br:queue::${EV}`)!).ticket).toBe("tkt-1");

    const views: QueueView[] = [];
    const conns: QueueConnection[] = [];
    q.watch(EV, { view: (v) => views.push(v), connection: (c) => conns.push(c), fatal: () => undefined });
    const es = FakeEventSource.all[0];
    expect(es.url).toBe(streamUrl(EV, "tkt-1"));
    expect(es.init?.withCredentials).toBeFalsy();
    es.onopen?.();
    es.emit(waiting(2));
    es.emit({ ...waiting(0), status: "admitted", queue_pass: "pass-1", pass_expires_at: "2026-12-03T12:00:00Z" });
    expect(views.map((v) => [v.phase, v.position, v.pass])).toEqual([
      ["waiting", 2, null],
      ["admitted", 0, "pass-1"],
    ]);
    expect(conns).toEqual([{ state: "connecting" }, { state: "live" }]);
    expect(es.closed).toBe(true);
    // Only the join went through the app's server.
    expect(seen).toHaveLength(1);
  });

  it("a reload finds the ticket in sessionStorage and goes back to the stream without joining", async () => {
    const seen = serve({ "/bff/api/queue/join": ok(waiting(7, "tkt-2")) });
    await api().join(EV);
    // A new page (same tab): a fresh client, the same storage.
    const again = api();
    const v = await again.join(EV);
    expect(v).toMatchObject({ phase: "waiting", position: 7 });
    expect(seen).toHaveLength(1);
    again.watch(EV, { view: () => undefined, connection: () => undefined, fatal: () => undefined });
    expect(FakeEventSource.all[0].url).toBe(streamUrl(EV, "tkt-2"));
    // Admitted and reserved: forgotten, the next join queues anew.
    again.forget(EV);
    await again.join(EV);
    expect(seen).toHaveLength(2);
  });

  it("says sold out when the stream does, keeps the place, and opens the stream again once seats are back", async () => {
    let soldOut = true;
    const seen = serve({
      "/bff/api/queue/join": ok(waiting(3, "tkt-3")),
      [`/api/v1/queue/lines/${EV}`]: () => ok({ event_id: EV, enabled: true, sold_out: soldOut })(),
    });
    const q = api();
    await q.join(EV);
    const views: QueueView[] = [];
    q.watch(EV, { view: (v) => views.push(v), connection: () => undefined, fatal: () => undefined });
    FakeEventSource.all[0].emit({ ...waiting(3), status: "sold_out" });
    expect(views.at(-1)?.phase).toBe("sold_out");
    expect(FakeEventSource.all[0].closed).toBe(true);
    // The ticket is kept: the place is.
    expect(JSON.parse(storage.getItem(`br:queue::${EV}`)!).ticket).toBe("tkt-3");
    // Meanwhile the public line is read now and then, on the edge's route,
    // without credentials (cacheable, a crowd costs the app's servers
    // nothing), and the stream stays closed while it says sold out.
    await vi.advanceTimersByTimeAsync(25_000);
    const lines = seen.filter((s) => s.url.startsWith("/api/v1/queue/lines/"));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(5);
    expect(lines[0].init?.credentials).toBe("omit");
    expect(FakeEventSource.all).toHaveLength(1);
    // Seats came back: the stream opens again with the ticket and follows
    // the place to the admission.
    soldOut = false;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(FakeEventSource.all).toHaveLength(2);
    expect(FakeEventSource.all[1].url).toBe(streamUrl(EV, "tkt-3"));
    FakeEventSource.all[1].emit(waiting(1));
    FakeEventSource.all[1].emit({ ...waiting(0), status: "admitted", queue_pass: "pass-3" });
    expect(views.map((v) => v.phase)).toEqual(["sold_out", "waiting", "admitted"]);
    const polled = seen.filter((s) => s.url.startsWith("/api/v1/queue/lines/")).length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeEventSource.all).toHaveLength(2);
    expect(seen.filter((s) => s.url.startsWith("/api/v1/queue/lines/"))).toHaveLength(polled);
  });

  it("reconnects after a drop with backoff, reading the status with the ticket meanwhile", async () => {
    const seen = serve({ "/bff/api/queue/join": ok(waiting(4, "tkt-4")), "/bff/api/queue/status": ok(waiting(4)) });
    const q = api();
    await q.join(EV);
    const conns: QueueConnection[] = [];
    const stop = q.watch(EV, { view: () => undefined, connection: (c) => conns.push(c), fatal: () => undefined });
    FakeEventSource.all[0].drop();
    expect(FakeEventSource.all[0].closed).toBe(true);
    expect(conns.at(-1)).toMatchObject({ state: "reconnecting", reason: "connection lost" });
    await vi.advanceTimersByTimeAsync(2100);
    expect(FakeEventSource.all).toHaveLength(2);
    expect(FakeEventSource.all[1].url).toBe(streamUrl(EV, "tkt-4"));
    const reads = seen.filter((s) => s.url.startsWith("/bff/api/queue/status"));
    expect(reads.map((r) => r.url)).toEqual([`/bff/api/queue/status?event_id=${EV}&ticket=tkt-4`]);
    // A second drop waits longer (2 s + jitter), not a hammering loop.
    FakeEventSource.all[1].drop();
    await vi.advanceTimersByTimeAsync(1500);
    expect(FakeEventSource.all).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1600);
    expect(FakeEventSource.all).toHaveLength(3);
    stop();
    expect(FakeEventSource.all[2].closed).toBe(true);
  });

  it("a stream that names another ticket (a join Redis lost, placed again) reconnects with it", async () => {
    serve({ "/bff/api/queue/join": ok(waiting(4, "tkt-lost")), "/bff/api/queue/status": ok(waiting(9)) });
    const q = api();
    await q.join(EV);
    q.watch(EV, { view: () => undefined, connection: () => undefined, fatal: () => undefined });
    FakeEventSource.all[0].emit(waiting(9, "tkt-new"));
    expect(JSON.parse(storage.getItem(`br:queue::${EV}`)!).ticket).toBe("tkt-new");
    // The edge ends that stream; the next one shows the new ticket.
    FakeEventSource.all[0].drop();
    await vi.advanceTimersByTimeAsync(2100);
    expect(FakeEventSource.all[1].url).toBe(streamUrl(EV, "tkt-new"));
  });

  it("a ticket the queue refuses is dropped (join again); a dead session ends the watch", async () => {
    let answer = { status: 400, code: "VALIDATION_ERROR", message: "not a queue ticket of this event" };
    serve({
      "/bff/api/queue/join": ok(waiting(4, "tkt-5")),
      "/bff/api/queue/status": () =>
        new Response(JSON.stringify({ success: false, error: { code: answer.code, message: answer.message, details: {} } }), { status: answer.status }),
    });
    const q = api();
    await q.join(EV);
    const views: QueueView[] = [];
    const fatal: ApiError[] = [];
    q.watch(EV, { view: (v) => views.push(v), connection: () => undefined, fatal: (e) => fatal.push(e) });
    FakeEventSource.all[0].drop();
    await vi.advanceTimersByTimeAsync(10);
    expect(views.map((v) => v.phase)).toEqual(["expired"]);
    expect(fatal).toEqual([]);
    expect(storage.getItem(`br:queue::${EV}`)).toBeNull();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(FakeEventSource.all).toHaveLength(1);

    answer = { status: 401, code: "UNAUTHORIZED", message: "sign in" };
    await q.join(EV);
    q.watch(EV, { view: (v) => views.push(v), connection: () => undefined, fatal: (e) => fatal.push(e) });
    FakeEventSource.all[1].drop();
    await vi.advanceTimersByTimeAsync(10);
    expect(fatal.map((e) => e.code)).toEqual(["UNAUTHORIZED"]);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(FakeEventSource.all).toHaveLength(2);
  });

  it("keeps each signed-in buyer's ticket apart", async () => {
    serve({ "/bff/api/queue/join": ok(waiting(4, "tkt-a")) });
    vi.stubGlobal("document", { cookie: `br_csrf=tok; br_user=${encodeURIComponent(JSON.stringify({ id: "u-a", name: "A", role: "user" }))}` });
    await api().join(EV);
    expect(JSON.parse(storage.getItem(`br:queue:u-a:${EV}`)!).ticket).toBe("tkt-a");
    expect(storage.getItem(`br:queue::${EV}`)).toBeNull();
  });

  it("an expired ticket is dropped, so joining again queues anew", async () => {
    const seen = serve({ "/bff/api/queue/join": ok(waiting(2, "tkt-6")) });
    const q = api();
    await q.join(EV);
    const views: QueueView[] = [];
    q.watch(EV, { view: (v) => views.push(v), connection: () => undefined, fatal: () => undefined });
    FakeEventSource.all[0].emit({ ...waiting(0), status: "expired" });
    expect(views.at(-1)?.phase).toBe("expired");
    expect(storage.getItem(`br:queue::${EV}`)).toBeNull();
    await q.join(EV);
    expect(seen).toHaveLength(2);
  });

  it("knows a shed reserve that names the waiting room", () => {
    const shed = (details: Record<string, unknown>) =>
      new ApiError({ status: 503, code: "SERVICE_UNAVAILABLE", message: "overloaded", details, retryAfter: 1 });
    expect(queueToJoin(shed({ reason: "overloaded", retry_after: 1, queue_event_id: EV }))).toBe(EV);
    expect(queueToJoin(shed({ reason: "overloaded", retry_after: 1 }))).toBeNull();
    expect(queueToJoin(new ApiError({ status: 429, code: "RATE_LIMITED", message: "", details: { queue_event_id: EV } }))).toBeNull();
    expect(queueToJoin(new Error("x"))).toBeNull();
  });

  it("a reserve shed into the waiting room stops the retry loop at once; a plain shed is retried", async () => {
    const shed = (details: Record<string, unknown>) =>
      new ApiError({ status: 503, code: "SERVICE_UNAVAILABLE", message: "overloaded", details, retryAfter: 1 });
    const noSleep = async () => undefined;
    let calls = 0;
    const queued = await retryBusy(
      () =>
        unlessQueued(async () => {
          calls++;
          throw shed({ reason: "overloaded", queue_event_id: EV });
        }),
      { sleep: noSleep },
    );
    expect(queued).toBe("queue");
    expect(calls).toBe(1);

    calls = 0;
    const held = await retryBusy(
      () =>
        unlessQueued(async () => {
          if (++calls < 3) throw shed({ reason: "overloaded" });
          return "hold";
        }),
      { sleep: noSleep },
    );
    expect(held).toBe("hold");
    expect(calls).toBe(3);
    await expect(unlessQueued(async () => Promise.reject(new ApiError({ status: 409, code: "CONFLICT", message: "" })))).rejects.toThrow();
  });
});
