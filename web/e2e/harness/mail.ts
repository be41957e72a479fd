/** Mails the SMTP sink of global-setup received, read as a person would (the link in the text). */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";

import { readState } from "./state";

export interface Mail {
  to: string[];
  raw: string;
}

/** Undoes quoted-printable soft breaks and =XX escapes. */
function unQP(s: string): string {
  return s.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

export async function waitForMail(to: string, match: RegExp, limitMs = 30_000): Promise<string> {
  const dir = readState().mailDir;
  const until = Date.now() + limitMs;
  for (;;) {
    for (const f of readdirSync(dir).sort()) {
      const m = JSON.parse(readFileSync(path.join(dir, f), "utf8")) as Mail;
      if (!m.to.includes(to.toLowerCase())) continue;
      const text = unQP(m.raw);
      const hit = match.exec(text);
      if (hit) return hit[0];
    }
    if (Date.now() > until) throw new Error(`no mail to ${to} matching ${match} within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
