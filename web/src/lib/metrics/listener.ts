/**
 * The metrics listener: a second HTTP server in the web app's process that
 * answers GET /metrics (registry.ts) and nothing else, on
 * RUSH_WEB_METRICS_ADDR (default ":9100", the port every rush component
 * serves its metrics on; empty: none). The public port (3000) has no
 * /metrics: the Ingress sends every path but /api/v1 to it, so a page there
 * would be anyone's to read. The chart gives the web Service a `metrics`
 * port and lets only the monitoring namespace reach it (NetworkPolicy).
 *
 * Started once per server process by instrumentation.ts. An address that is
 * taken or wrong is logged in one line and the app serves its pages without
 * metrics (Prometheus then reports the target down: RushServiceDown).
 */
import { createServer, type Server } from "node:http";

import { metricsText } from "./registry";

const KEY = Symbol.for("bookingrush.web.metrics.listener");

/** ":9100" -> {port 9100, all interfaces}; "127.0.0.1:9101" -> that host and port; null when not an address. */
export function parseAddr(addr: string): { host: string | undefined; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: m[1] ?? (m[2] || undefined), port };
}

/** Starts the metrics listener on addr ("" starts none); a second call in the process does nothing. */
export function startMetricsListener(addr: string): Server | null {
  const g = globalThis as { [KEY]?: Server | null };
  if (g[KEY] !== undefined) return g[KEY];
  g[KEY] = null;
  if (addr.trim() === "") return null;
  const where = parseAddr(addr);
  if (!where) {
    console.error(`metrics: RUSH_WEB_METRICS_ADDR=${JSON.stringify(addr)} is not host:port (or :port); no metrics listener`);
    return null;
  }
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("not found: GET /metrics\n");
      return;
    }
    const body = metricsText();
    res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Cache-Control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.maxHeadersCount = 50;
  server.on("error", (err) => {
    console.error(`metrics: cannot listen on ${addr} (${err.message}); no metrics listener (set RUSH_WEB_METRICS_ADDR)`);
  });
  // The listener alone does not keep the process alive.
  server.listen(where.port, where.host, () => server.unref());
  g[KEY] = server;
  return server;
}
