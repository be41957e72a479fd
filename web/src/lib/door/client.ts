/**
 * The door page's calls and what it keeps in this browser.
 *
 * Calls: the device's session (/bff/door/session), the gate as the device
 * (/bff/door/api, which adds the credential from its HttpOnly cookie), and
 * the public catalog for the names of the shows (/bff/public: no cookie, a
 * read shared by everyone). Kept in localStorage, per device: the shows of
 * its events, the door (show, gate), the events' ticket keys and the show's
 * revocation list with when they were fetched, the tickets this door let in,
 * and the scans made offline until a sync acknowledged them. Never the
 * credential.
 */
"use client";

import { csrfToken } from "@/lib/api/browser";
import { endpoints } from "@/lib/api/endpoints";
import { ApiError } from "@/lib/api/errors";
import { fetchTransport, networkError, readEnvelope } from "@/lib/api/transport";
import { CSRF_HEADER } from "@/lib/session/cookies";

import type { Admission, PublishedKey } from "./offline";
import type { PendingScan } from "./queue";
import type { DoorFacts } from "./session";

/** How long a door waits for the gate's verdict before it decides alone (a hung network must not hold a queue at the gate). */
export const ONLINE_WAIT_MS = 4_000;

/** The gate as this browser's check-in device. */
export const doorApi = endpoints(
  fetchTransport({
    base: "/bff/door/api",
    init: { credentials: "same-origin", cache: "no-store" },
    headers: async () => ({ [CSRF_HEADER]: await csrfToken() }),
  }),
).gate;

/** The catalog's public reads (the shows of the device's events). */
export const catalogApi = endpoints(fetchTransport({ base: "/bff/public", init: { cache: "no-store" } })).catalog;

/**
 * Whether a failed call means "the gate cannot answer now" (the network,
 * this app's server or the API is down, busy or too slow): the door then
 * decides alone. A fetch that failed (offline, context.setOffline) is one.
 */
export function unreachableGate(err: unknown): boolean {
  const e = networkError(err);
  return e instanceof ApiError ? e.retryable : e instanceof DOMException && (e.name === "TimeoutError" || e.name === "AbortError");
}

/** A 401: the gate refuses this device's credential (revoked, expired) or the browser holds none. */
export function refusedCredential(err: unknown): boolean {
  return err instanceof ApiError && err.status === 401;
}

async function sessionCall(method: "GET" | "POST" | "DELETE", body?: unknown): Promise<DoorFacts | null> {
  let res: Response;
  try {
    res = await fetch("/bff/door/session", {
      method,
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json", ...(method === "GET" ? {} : { "Content-Type": "application/json", [CSRF_HEADER]: await csrfToken() }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw networkError(err);
  }
  return (await readEnvelope<DoorFacts | null>(res)).data;
}

/** The device this browser holds a credential of, or null. */
export const currentDevice = () => sessionCall("GET");
/** Sets this browser up as the device of credential (checked by the gate). */
export const startSession = (credential: string) => sessionCall("POST", { credential });
/** Ends the device's session in this browser. */
export const endSession = () => sessionCall("DELETE", {});

/** A show the door may admit to, named for people. */
export interface DoorShow {
  id: string;
  event_id: string;
  /** "Jazz Night — Sat, 12 Jun 2027, 21:00 WEST". */
  label: string;
  /** The venue's time zone. */
  zone: string;
}

/** The door's lists as last fetched. */
export interface KeptLists {
  keys: Record<string, PublishedKey[]>;
  keysFetchedAt: string;
  /** The show whose revocation list this is. */
  showId: string;
  revoked: string[];
  /** When the gate read the list (its as_of). */
  revokedAsOf: string;
  /** Zone names of the show, by id. */
  zones: Record<string, string>;
}

/** What the door page keeps in localStorage, per device. */
export interface Kept {
  facts: DoorFacts | null;
  shows: DoorShow[];
  showId: string;
  lists: KeptLists | null;
  /** Tickets this door let in, per show, by ticket id. */
  admitted: Record<string, Record<string, Admission>>;
  queue: PendingScan[];
}

const PREFIX = "br:door:";

function read<T>(key: string, fallback: T): T {
  try {
    const v = localStorage.getItem(PREFIX + key);
    return v === null ? fallback : (JSON.parse(v) as T);
  } catch {
    return fallback;
  }
}

function write(key: string, v: unknown) {
  try {
    localStorage.setItem(PREFIX + key, JSON.stringify(v));
  } catch {
    // full or refused: the page goes on with what it holds in memory
  }
}

/** The device last set up here (its facts), for a page opened offline. */
export const keptDevice = () => read<DoorFacts | null>("device", null);
export const keepDevice = (f: DoorFacts | null) => write("device", f);

/** The gate's name, shared by every device of this browser. */
export const keptGate = () => read<string>("gate", "");
export const keepGate = (g: string) => write("gate", g);

export function keptState(deviceId: string): Omit<Kept, "facts"> {
  return {
    shows: read<DoorShow[]>(`${deviceId}:shows`, []),
    showId: read<string>(`${deviceId}:show`, ""),
    lists: read<KeptLists | null>(`${deviceId}:lists`, null),
    admitted: read<Record<string, Record<string, Admission>>>(`${deviceId}:admitted`, {}),
    queue: read<PendingScan[]>(`${deviceId}:queue`, []),
  };
}

export const keepShows = (deviceId: string, v: DoorShow[]) => write(`${deviceId}:shows`, v);
export const keepShow = (deviceId: string, v: string) => write(`${deviceId}:show`, v);
export const keepLists = (deviceId: string, v: KeptLists) => write(`${deviceId}:lists`, v);
export const keepAdmitted = (deviceId: string, v: Kept["admitted"]) => write(`${deviceId}:admitted`, v);
export const keepQueue = (deviceId: string, v: PendingScan[]) => write(`${deviceId}:queue`, v);
/** The queue as stored now (another tab of the same device may have added to it). */
export const storedQueue = (deviceId: string) => read<PendingScan[]>(`${deviceId}:queue`, []);

/** Scans another device of this browser made offline and never sent. */
export interface LeftScans {
  deviceId: string;
  scans: PendingScan[];
}

/**
 * The queues of this browser's other devices that still hold scans: a
 * device whose credential the gate refused (revoked, or expired while its
 * door was offline) never sends them itself.
 */
export function otherQueues(deviceId: string): LeftScans[] {
  const out: LeftScans[] = [];
  try {
    const suffix = ":queue";
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key?.startsWith(PREFIX) || !key.endsWith(suffix)) continue;
      const id = key.slice(PREFIX.length, -suffix.length);
      const scans = read<PendingScan[]>(`${id}${suffix}`, []);
      if (id !== deviceId && Array.isArray(scans) && scans.length > 0) out.push({ deviceId: id, scans });
    }
  } catch {
    // storage refused: nothing to offer
  }
  return out;
}

/**
 * Moves the scans other devices of this browser left for shows of
 * `shows` into this device's queue (the gate then records them as this
 * device's: it accepts them from any device of their events), and keeps
 * the rest where they were. It answers how many moved.
 */
export function adoptScans(deviceId: string, shows: ReadonlySet<string>): number {
  let moved = 0;
  for (const o of otherQueues(deviceId)) {
    const take = o.scans.filter((s) => shows.has(s.show_id));
    if (take.length === 0) continue;
    keepQueue(deviceId, [...storedQueue(deviceId), ...take]);
    keepQueue(o.deviceId, o.scans.filter((s) => !shows.has(s.show_id)));
    moved += take.length;
  }
  return moved;
}
