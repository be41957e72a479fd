/**
 * The web app's Prometheus metrics, kept once per server process and written
 * in the Prometheus text format (exposition 0.0.4) by metricsText().
 *
 * Next bundles each route (and instrumentation.ts) on its own, so a module's
 * top-level state can exist more than once in one process: the counters live
 * on globalThis under one Symbol.for key, and every copy of this module
 * counts into, and writes out, the same ones.
 *
 * - web_bff_requests_total{route, code}: every answer of the app's proxy
 *   routes to the edge, and every call of its server-rendered pages to it
 *   (lib/metrics/bff.ts), by route (BFF_ROUTES, never the raw path) and HTTP
 *   status.
 * - web_bff_upstream_failures_total{route}: those calls that could not reach
 *   the edge (lib/metrics/bff.ts, upstreamFailed), at 0 for every route from
 *   the start, so that the first failure is an increase.
 * - The process: start time, CPU, resident memory, heap, event loop delay
 *   (prom-client's names for them, so Node.js dashboards read them).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";

/**
 * The app's routes that call the edge for the browser:
 * - api: /bff/api/<path>, the signed-in user's calls;
 * - session: /bff/session/* (sign-in, registration, password, sign-out);
 * - public: /bff/public/<path>, the catalog's anonymous reads;
 * - door: /bff/door/* (a check-in device's session and calls);
 * - queue: /api/v1/queue/*, the waiting room's public reads where the app runs
 *   alone (in a cluster the Ingress sends them to the edge);
 * - page: the server-rendered pages' calls to the edge (lib/api/server.ts),
 *   each counted with the status it got (a page may make several; a catalog
 *   read Next's data cache answered counts as the answer it reused, as the
 *   public route's kept answers do).
 */
export const BFF_ROUTES = ["api", "session", "public", "door", "queue", "page"] as const;
export type BffRoute = (typeof BFF_ROUTES)[number];

interface State {
  /** `${route}\n${code}` -> count. */
  requests: Map<string, number>;
  failures: Map<BffRoute, number>;
  startedAt: number;
  lag: IntervalHistogram;
}

const KEY = Symbol.for("bookingrush.web.metrics");

function state(): State {
  const g = globalThis as { [KEY]?: State };
  if (!g[KEY]) {
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    g[KEY] = {
      requests: new Map(),
      failures: new Map(BFF_ROUTES.map((r) => [r, 0])),
      startedAt: Date.now() - process.uptime() * 1000,
      lag,
    };
  }
  return g[KEY];
}

/** Counts one answer of a proxy route: its status, and whether the edge could not be reached. */
export function countBff(route: BffRoute, status: number, upstreamFailed: boolean): void {
  const s = state();
  const k = `${route}\n${status}`;
  s.requests.set(k, (s.requests.get(k) ?? 0) + 1);
  if (upstreamFailed) s.failures.set(route, (s.failures.get(route) ?? 0) + 1);
}

/** Forgets every count (unit tests). */
export function resetMetrics(): void {
  const s = state();
  s.requests.clear();
  for (const r of BFF_ROUTES) s.failures.set(r, 0);
}

function family(lines: string[], name: string, type: string, help: string): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

/**
 * Every metric in the Prometheus text format. The event loop's delay is the
 * 99th percentile and maximum since the previous call (one scraper per pod).
 */
export function metricsText(): string {
  const s = state();
  const out: string[] = [];
  family(out, "web_bff_requests_total", "counter", "Answers of the app's routes that call the edge, by route and HTTP status.");
  for (const [k, n] of [...s.requests].sort(([a], [b]) => a.localeCompare(b))) {
    const [route, code] = k.split("\n");
    out.push(`web_bff_requests_total{route="${route}",code="${code}"} ${n}`);
  }
  family(out, "web_bff_upstream_failures_total", "counter", "Calls of those routes that could not reach the edge (no connection, or a gateway's 502, 503 or 504).");
  for (const r of BFF_ROUTES) out.push(`web_bff_upstream_failures_total{route="${r}"} ${s.failures.get(r) ?? 0}`);

  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  family(out, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.");
  out.push(`process_start_time_seconds ${Math.round(s.startedAt / 1000)}`);
  family(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
  out.push(`process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`);
  family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  out.push(`process_resident_memory_bytes ${mem.rss}`);
  family(out, "nodejs_heap_size_total_bytes", "gauge", "Process heap size from Node.js in bytes.");
  out.push(`nodejs_heap_size_total_bytes ${mem.heapTotal}`);
  family(out, "nodejs_heap_size_used_bytes", "gauge", "Process heap size used from Node.js in bytes.");
  out.push(`nodejs_heap_size_used_bytes ${mem.heapUsed}`);
  const lag = s.lag;
  const seconds = (ns: number) => (Number.isFinite(ns) && lag.count > 0 ? ns / 1e9 : 0);
  family(out, "nodejs_eventloop_lag_p99_seconds", "gauge", "The 99th percentile of the event loop's delay since the previous scrape, in seconds.");
  out.push(`nodejs_eventloop_lag_p99_seconds ${seconds(lag.percentile(99))}`);
  family(out, "nodejs_eventloop_lag_max_seconds", "gauge", "The maximum of the event loop's delay since the previous scrape, in seconds.");
  out.push(`nodejs_eventloop_lag_max_seconds ${seconds(lag.max)}`);
  lag.reset();
  return out.join("\n") + "\n";
}
