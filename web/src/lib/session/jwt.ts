/**
 * Reads the claims of the edge's access tokens without verifying them.
 *
 * The web app never trusts these claims for access: every API call is
 * checked by the services themselves. It reads `exp` to refresh a token
 * before it expires, and `role`/`sub` to choose what to show.
 */
export interface AccessClaims {
  sub: string;
  role: string;
  exp: number;
}

function base64UrlDecode(s: string): string {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  return typeof atob === "function" ? atob(b64) : Buffer.from(b64, "base64").toString("binary");
}

/** A JWT's payload as JSON, or null when the token is not a JWT. */
function payload(token: string | undefined | null): Record<string, unknown> | null {
  if (!token) return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const p: unknown = JSON.parse(base64UrlDecode(parts[1]));
    return p && typeof p === "object" ? (p as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The claims of a JWT, or null when it is not one. */
export function readClaims(token: string | undefined | null): AccessClaims | null {
  return claimsOf(payload(token));
}

/** The latest instant a Date holds, in seconds: a later `exp` is no token anyone issued (and its date threw). */
const MAX_EXP = 8.64e12;

function claimsOf(c: Record<string, unknown> | null): AccessClaims | null {
  if (!c || typeof c.exp !== "number" || !(Math.abs(c.exp) <= MAX_EXP) || typeof c.sub !== "string") return null;
  return { sub: c.sub, role: typeof c.role === "string" ? c.role : "user", exp: c.exp };
}

/** What a check-in device's credential says of itself (authn.IssueDevice): not secret, not trusted for access. */
export interface DeviceClaims {
  /** The device's id (the token's subject is "device:<id>"). */
  deviceId: string;
  /** The events it checks in (claim `evs`). */
  eventIds: string[];
  /** When the credential ends (unix seconds). */
  exp: number;
}

/** The claims of a device credential, or null when the token is not one (a user's token, not a JWT). */
export function readDeviceClaims(token: string | undefined | null): DeviceClaims | null {
  const p = payload(token);
  const c = claimsOf(p);
  if (!c || c.role !== "device" || !c.sub.startsWith("device:")) return null;
  const evs = p?.evs;
  if (!Array.isArray(evs) || evs.length === 0 || !evs.every((e) => typeof e === "string")) return null;
  return { deviceId: c.sub.slice("device:".length), eventIds: evs as string[], exp: c.exp };
}

/** Whether the token expires within `marginSeconds` (or is no JWT at all). */
export function expiresSoon(token: string | undefined | null, marginSeconds = 60, now = Date.now()): boolean {
  const c = readClaims(token);
  return !c || c.exp * 1000 - now < marginSeconds * 1000;
}
