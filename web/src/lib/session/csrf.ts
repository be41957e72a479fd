/**
 * CSRF protection of the app's own mutating routes (/bff/*).
 *
 * Double submit: the br_csrf cookie (SameSite=Strict, readable by the app's
 * pages only, since cookies are per origin) must equal the X-CSRF-Token header
 * of the call, which another site can neither read nor set. On top, a
 * browser's Origin (or Sec-Fetch-Site) must say the call comes from this site.
 */
import { CSRF_COOKIE, CSRF_HEADER } from "./cookies";

/** A new random token (128 bits, hex). */
export function newCsrfToken(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function equal(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Why a mutating request fails the CSRF check, or null when it passes. */
export function csrfProblem(req: { method: string; headers: Headers; cookie: (name: string) => string | undefined; host: string }): string | null {
  if (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS") return null;
  const site = req.headers.get("sec-fetch-site");
  if (site && site !== "same-origin" && site !== "none") return `cross-site request (${site})`;
  const origin = req.headers.get("origin");
  if (origin) {
    let host = "";
    try {
      host = new URL(origin).host;
    } catch {
      return "bad Origin";
    }
    const forwarded = req.headers.get("x-forwarded-host")?.split(",")[0]?.trim();
    if (host !== req.host && host !== forwarded) return `Origin ${origin} is not this site`;
  }
  const cookie = req.cookie(CSRF_COOKIE);
  const header = req.headers.get(CSRF_HEADER);
  if (!cookie || !header) return "missing CSRF token";
  if (!equal(cookie, header)) return "CSRF token mismatch";
  return null;
}
