/**
 * Run once by Next when a server process starts (`next start`, the
 * standalone server.js, `next dev`): starts the metrics listener
 * (lib/metrics/listener.ts) on RUSH_WEB_METRICS_ADDR, default ":9100", in
 * the Node.js runtime only.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { startMetricsListener } = await import("@/lib/metrics/listener");
  startMetricsListener(process.env.RUSH_WEB_METRICS_ADDR ?? ":9100");
}
