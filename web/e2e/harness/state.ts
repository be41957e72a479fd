/**
 * What global-setup started, shared with the tests through a file (tests run
 * in worker processes): URLs, the bootstrap admin, where mails land.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

export const RUN_DIR = path.resolve(__dirname, "..", ".run");
export const STATE_FILE = path.join(RUN_DIR, "state.json");

export interface RunState {
  run: string;
  schema: string;
  postgresURL: string;
  redisURL: string;
  redisPrefix: string;
  edgeURL: string;
  webURL: string;
  /** The web app's metrics listener (RUSH_WEB_METRICS_ADDR): its /metrics page. */
  webMetricsURL: string;
  admin: { email: string; password: string };
  mailDir: string;
  logs: { rush: string; web: string };
  pids: number[];
}

/**
 * The signing secret of the run's provider webhook (rush's
 * stripe.webhook-secret; the simulator signs with it too): tests send the
 * provider's events a real Stripe would send, such as a refund that failed
 * at the buyer's bank, through the public webhook route (harness/api.ts).
 */
export const WEBHOOK_SECRET = "whsec_e2e_refunds_0123456789abcdef";

export function readState(): RunState {
  return JSON.parse(readFileSync(STATE_FILE, "utf8")) as RunState;
}
