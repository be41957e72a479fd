/**
 * A door's session: the check-in device's credential in this browser.
 *
 * The credential is a bearer token (role "device", authn.IssueDevice) that
 * page scripts never hold, as a user's tokens: /bff/door/session keeps it in
 * the HttpOnly `br_door` cookie, sent only to /bff/door (its path), so it
 * never mixes with the session of a person signed in on the same browser
 * (`br_at`, `br_rt`), and /bff/door/api adds it to the gate's calls. The page
 * gets the credential's facts that are no secret (DoorFacts).
 */
import type { CookieSpec } from "@/lib/session/cookies";
import type { DeviceClaims } from "@/lib/session/jwt";

/** The HttpOnly cookie that holds a device's credential. */
export const DOOR_COOKIE = "br_door";

/** The only path the cookie is sent to: the door's own routes. */
export const DOOR_COOKIE_PATH = "/bff/door";

/** What the door page knows of its device: no secret. */
export interface DoorFacts {
  device_id: string;
  event_ids: string[];
  /** When the credential ends (RFC 3339). */
  expires_at: string;
}

export function doorFacts(c: DeviceClaims): DoorFacts {
  return { device_id: c.deviceId, event_ids: c.eventIds, expires_at: new Date(c.exp * 1000).toISOString() };
}

/** The cookie of a credential, living until the credential expires. */
export function doorCookie(credential: string, c: DeviceClaims, secure: boolean, now = Date.now()): CookieSpec {
  return {
    name: DOOR_COOKIE,
    value: credential,
    httpOnly: true,
    secure,
    sameSite: "strict",
    path: DOOR_COOKIE_PATH,
    maxAge: Math.max(1, Math.floor(c.exp - now / 1000)),
  };
}

/** The cookie that ends a door's session. */
export function clearedDoorCookie(secure: boolean): CookieSpec {
  return { name: DOOR_COOKIE, value: "", httpOnly: true, secure, sameSite: "strict", path: DOOR_COOKIE_PATH, maxAge: 0 };
}
