/**
 * The web app's metrics on the built server: its metrics listener
 * (RUSH_WEB_METRICS_ADDR) serves every series src/lib/metrics/series.prom
 * lists (the list the Go mesh's test of the chart's queries takes as the web
 * app's page), a /bff call and a server-rendered page's calls to the edge move
 * web_bff_requests_total, and the public port serves no /metrics.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";

import { lacking, parseExposition } from "../src/test/exposition";

import { expect, test } from "./fixtures";
import { readState } from "./harness/state";

const SERIES = readFileSync(path.resolve(__dirname, "..", "src", "lib", "metrics", "series.prom"), "utf8");

async function scrape(): Promise<string> {
  const res = await fetch(readState().webMetricsURL);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain");
  return res.text();
}

function count(page: string, labels: Record<string, string>): number {
  return parseExposition(page)
    .samples.filter((s) => s.name === "web_bff_requests_total" && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

test("the metrics listener serves the app's series; the public port has no /metrics", async () => {
  const web = readState().webURL;
  const before = await scrape();

  // One call of each counted route, through the real edge.
  const calls: [string, string][] = [
    ["api", "/bff/api/events?per_page=1"],
    ["session", "/bff/session/csrf"],
    ["public", "/bff/public/categories"],
    ["door", "/bff/door/session"],
    ["queue", `/api/v1/queue/lines/${randomUUID()}`],
  ];
  const answered: Record<string, number> = {};
  for (const [route, p] of calls) {
    const res = await fetch(web + p);
    await res.arrayBuffer();
    answered[route] = res.status;
  }
  expect(answered.public).toBe(200);
  // A server-rendered page (a search: rendered for each request) counts its calls to the edge.
  const searched = await fetch(`${web}/search?q=${randomUUID().slice(0, 8)}`);
  expect(searched.status).toBe(200);
  await searched.arrayBuffer();

  const after = await scrape();
  for (const [route] of calls) {
    const code = String(answered[route]);
    expect(count(after, { route, code }) - count(before, { route, code }), `${route} ${code}`).toBe(1);
  }
  // The search's events and categories, at least (the layout may read more).
  expect(count(after, { route: "page", code: "200" }) - count(before, { route: "page", code: "200" })).toBeGreaterThanOrEqual(2);
  expect(lacking(SERIES, after)).toEqual([]);
  // The edge was there: no upstream failure, and every route's series is at its count.
  const failures = (page: string) =>
    Object.fromEntries(parseExposition(page).samples.filter((s) => s.name === "web_bff_upstream_failures_total").map((s) => [s.labels.route, s.value]));
  expect(Object.keys(failures(after)).sort()).toEqual(["api", "door", "page", "public", "queue", "session"]);
  expect(failures(after)).toEqual(failures(before));

  for (const p of ["/metrics", "/metrics/"]) {
    const res = await fetch(web + p);
    expect(res.status, p).toBe(404);
    expect(await res.text()).not.toContain("web_bff_requests_total");
  }
});
