/**
 * Starts the real system for the e2e tests and tells them where it is.
 *
 * 1. A fresh Postgres schema (webe2e_<run>) migrated by `bin/rush migrate`.
 * 2. An SMTP sink (smtp-server) that writes every mail to e2e/.run/mail, so
 *    tests read the password-reset link the way a person would.
 * 3. `bin/rush -target=all`: every component in one process, the edge on a
 *    free port, every other server on 127.0.0.1:0, Redis keys under prefixes
 *    of this run only, the embedded Kafka broker, the payment simulator
 *    (sim_slow after 1 s), access tokens of 1 minute (so the app's refresh path
 *    runs during the tests), rate limits high enough for one machine's tests
 *    (all from 127.0.0.1) but on, and the web app as a trusted proxy.
 * 4. The built web app (.next/standalone/server.js) on a free port, pointed at
 *    that edge, with its metrics listener on another.
 *
 * Teardown (global-teardown.ts) stops both and drops the schema and the keys.
 */
import { spawn, spawnSync, execFileSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { randomBytes } from "node:crypto";

import { SMTPServer } from "smtp-server";

import globalTeardown from "./global-teardown";
import { RUN_DIR, STATE_FILE, WEBHOOK_SECRET, type RunState } from "./state";

const WEB = path.resolve(__dirname, "..", "..");
const ROOT = path.resolve(WEB, "..");

/**
 * A free port, held (listening) until release(): nothing else can take it
 * meanwhile, rush's own port-0 listeners included. A port only looked up
 * and closed at once was taken once by one of them while rush started, and
 * the web app then failed to listen on it.
 */
async function holdPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const s = net.createServer();
  s.unref();
  await new Promise<void>((resolve, reject) => {
    s.on("error", reject);
    s.listen(0, "127.0.0.1", resolve);
  });
  return { port: (s.address() as net.AddressInfo).port, release: () => new Promise<void>((resolve) => s.close(() => resolve())) };
}

async function waitFor(url: string, limitMs: number, alive: () => string | null) {
  const until = Date.now() + limitMs;
  for (;;) {
    const dead = alive();
    if (dead) throw new Error(dead);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`${url} not ready after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function withSearchPath(dsn: string, schema: string): string {
  const u = new URL(dsn);
  u.searchParams.set("search_path", schema);
  return u.toString();
}

export default async function globalSetup() {
  try {
    await start();
  } catch (err) {
    // Stop what did start and drop the schema and keys, then fail the run.
    await globalTeardown();
    throw err;
  }
}

async function start() {
  const rush = path.join(ROOT, "bin", "rush");
  const server = path.join(WEB, ".next", "standalone", "server.js");
  if (!existsSync(rush)) throw new Error(`no ${rush}: run make build (make web-e2e does)`);
  if (!existsSync(server)) throw new Error(`no ${server}: run npm run build in web/ (make web-e2e does)`);

  rmSync(RUN_DIR, { recursive: true, force: true });
  const mailDir = path.join(RUN_DIR, "mail");
  mkdirSync(mailDir, { recursive: true });

  const run = randomBytes(4).toString("hex");
  const schema = `webe2e_${run}`;
  const postgresURL = process.env.RUSH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test?sslmode=disable";
  const redisURL = process.env.RUSH_REDIS_URL ?? "redis://127.0.0.1:6379/0";
  const redisPrefix = `webe2e:${run}:`;
  execFileSync("psql", [postgresURL, "-v", "ON_ERROR_STOP=1", "-qc", `CREATE SCHEMA ${schema}`], { stdio: "inherit" });
  // Written now and again below: a setup that fails half way is still cleaned up by teardown.
  const partial = { run, schema, postgresURL, redisURL, redisPrefix, pids: [] as number[] };
  writeFileSync(STATE_FILE, JSON.stringify(partial));
  const schemaURL = withSearchPath(postgresURL, schema);
  execFileSync(rush, ["migrate", `-postgres.url=${schemaURL}`, "-log.level=warn"], { stdio: "inherit" });

  // The SMTP sink: one JSON file per mail.
  let n = 0;
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const to = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
        writeFileSync(path.join(mailDir, `${Date.now()}-${n++}.json`), JSON.stringify({ to, raw }));
        callback();
      });
    },
  });
  const smtpHeld = await holdPort();
  await smtpHeld.release();
  await new Promise<void>((resolve) => smtp.listen(smtpHeld.port, "127.0.0.1", resolve));
  // Kept open for the whole run: the runner process lives until teardown.
  (globalThis as { __smtp?: SMTPServer }).__smtp = smtp;

  const [edgeHeld, webHeld, metricsHeld] = [await holdPort(), await holdPort(), await holdPort()];
  const edgeURL = `http://127.0.0.1:${edgeHeld.port}`;
  const webURL = `http://127.0.0.1:${webHeld.port}`;
  const webMetricsURL = `http://127.0.0.1:${metricsHeld.port}/metrics`;
  const admin = { email: `admin-${run}@e2e.test`, password: `admin-pass-${run}` };
  // Every other server of the binary on a free port: the -<name>.addr flags
  // it lists (a list written here missed gate, which then took its default
  // port and failed whenever `make run` held it).
  const loopback = serverFlags(rush).map((c) => `-${c}.addr=127.0.0.1:0`);
  const lim = (name: string, n: number) => [`-rate-limit.${name}.rate=${n}`, `-rate-limit.${name}.burst=${n}`];
  const rushArgs = [
    "-target=all",
    `-postgres.url=${schemaURL}`,
    "-postgres.migrate-on-start=false",
    `-redis.url=${redisURL}`,
    `-booking.key-prefix=${redisPrefix}bk:`,
    `-catalog.cache-prefix=${redisPrefix}catalog:`,
    `-rate-limit.prefix=${redisPrefix}rl:`,
    `-queue.key-prefix=${redisPrefix}q:`,
    `-auth.key-prefix=${redisPrefix}auth:`,
    `-jwt.revocation-prefix=${redisPrefix}authn:`,
    `-edge.addr=127.0.0.1:${edgeHeld.port}`,
    ...loopback,
    "-kafka.embedded-addr=127.0.0.1:0",
    `-smtp.addr=127.0.0.1:${smtpHeld.port}`,
    `-auth.reset-url=${webURL}/reset-password`,
    "-auth.bcrypt-cost=4",
    "-jwt.access-ttl=1m",
    "-payment.sim-delay=1s",
    `-stripe.webhook-secret=${WEBHOOK_SECRET}`,
    "-edge.trusted-proxies=127.0.0.1/32",
    ...lim("login", 600),
    ...lim("register", 600),
    ...lim("password", 600),
    ...lim("general", 6000),
    ...lim("reserve", 600),
    "-log.level=warn",
  ];
  const rushLog = path.join(RUN_DIR, "rush.log");
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RUSH_"))) as NodeJS.ProcessEnv;
  await edgeHeld.release();
  const rushProc = spawn(rush, rushArgs, {
    env: { ...env, RUSH_ADMIN_EMAIL: admin.email, RUSH_ADMIN_PASSWORD: admin.password },
    stdio: ["ignore", "pipe", "pipe"],
  });
  partial.pids.push(rushProc.pid!);
  writeFileSync(STATE_FILE, JSON.stringify(partial));
  const rl = createWriteStream(rushLog);
  rushProc.stdout.pipe(rl);
  rushProc.stderr.pipe(rl);
  let rushExit: string | null = null;
  rushProc.on("exit", (code, sig) => (rushExit = `rush exited (${code ?? sig}); see ${rushLog}`));
  await waitFor(`${edgeURL}/readyz`, 120_000, () => rushExit);

  const webLog = path.join(RUN_DIR, "web.log");
  await webHeld.release();
  await metricsHeld.release();
  const webProc = spawn(process.execPath, [server], {
    cwd: path.dirname(server),
    env: {
      ...env,
      PORT: String(webHeld.port),
      HOSTNAME: "127.0.0.1",
      RUSH_API_URL: edgeURL,
      RUSH_WEB_METRICS_ADDR: `127.0.0.1:${metricsHeld.port}`,
      NODE_ENV: "production",
      NEXT_TELEMETRY_DISABLED: "1",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  partial.pids.push(webProc.pid!);
  writeFileSync(STATE_FILE, JSON.stringify(partial));
  const wl = createWriteStream(webLog);
  webProc.stdout.pipe(wl);
  webProc.stderr.pipe(wl);
  let webExit: string | null = null;
  webProc.on("exit", (code, sig) => (webExit = `web app exited (${code ?? sig}); see ${webLog}`));
  await waitFor(`${webURL}/login`, 60_000, () => webExit);
  await waitFor(webMetricsURL, 10_000, () => webExit);

  const state: RunState = {
    run,
    schema,
    postgresURL,
    redisURL,
    redisPrefix,
    edgeURL,
    webURL,
    webMetricsURL,
    admin,
    mailDir,
    logs: { rush: rushLog, web: webLog },
    pids: [webProc.pid!, rushProc.pid!],
  };
  writeFileSync(STATE_FILE, JSON.stringify(state, null, 2));
  process.env.E2E_WEB_URL = webURL;
}

/** The servers of the rush binary besides the edge and SMTP: its -<name>.addr flags. */
function serverFlags(rush: string): string[] {
  const help = spawnSync(rush, ["-h"], { encoding: "utf8" });
  const names = [...`${help.stdout}${help.stderr}`.matchAll(/^\s+-([a-z]+)\.addr\b/gm)]
    .map((m) => m[1])
    .filter((n) => n !== "edge" && n !== "smtp");
  if (!names.includes("booking") || !names.includes("metrics")) {
    throw new Error(`${rush} -h lists no -<name>.addr flags: ${help.stderr}`);
  }
  return names;
}
