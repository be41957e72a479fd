/** Stops what global-setup started and removes the run's schema and Redis keys. */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

import type { SMTPServer } from "smtp-server";

import { STATE_FILE, readState } from "./state";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export default async function globalTeardown() {
  if (!existsSync(STATE_FILE)) return;
  const s = readState();
  for (const pid of s.pids ?? []) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  const until = Date.now() + 20_000;
  const pids = s.pids ?? [];
  while (pids.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  for (const pid of pids.filter(alive)) process.kill(pid, "SIGKILL");
  await new Promise<void>((resolve) => {
    const smtp = (globalThis as { __smtp?: SMTPServer }).__smtp;
    if (smtp) smtp.close(() => resolve());
    else resolve();
  });
  try {
    execFileSync("psql", [s.postgresURL, "-qc", `DROP SCHEMA IF EXISTS ${s.schema} CASCADE`], { stdio: "ignore" });
  } catch (err) {
    console.warn(`e2e teardown: could not drop schema ${s.schema}: ${(err as Error).message}`);
  }
  try {
    const u = new URL(s.redisURL);
    const base = ["-h", u.hostname, "-p", u.port || "6379", "-n", u.pathname.slice(1) || "0"];
    const keys = execFileSync("redis-cli", [...base, "--scan", "--pattern", `${s.redisPrefix}*`], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean);
    for (let i = 0; i < keys.length; i += 500) execFileSync("redis-cli", [...base, "DEL", ...keys.slice(i, i + 500)], { stdio: "ignore" });
  } catch (err) {
    console.warn(`e2e teardown: could not delete the run's Redis keys: ${(err as Error).message}`);
  }
}
