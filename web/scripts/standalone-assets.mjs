// Copies what `next build` leaves out of the standalone server (.next/static
// and public/) into .next/standalone, so `node .next/standalone/server.js`
// serves the whole app, as the web image does (web/Dockerfile).
import { cpSync, existsSync } from "node:fs";

const out = ".next/standalone";
if (!existsSync(out)) {
  console.error("no .next/standalone: run next build with output: 'standalone'");
  process.exit(1);
}
cpSync(".next/static", `${out}/.next/static`, { recursive: true });
if (existsSync("public")) cpSync("public", `${out}/public`, { recursive: true });
