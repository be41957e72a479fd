/**
 * A door's verdict without the network: the rules of cmd/ticketverify and of
 * the gate's own judge (services/gate), in the browser.
 *
 * A code (services/platform/eticket) is "BRT1:" + base32 (RFC 4648, no
 * padding, canonical spelling only) of
 *
 *	version (1) | key id (2) | ticket (16) | event (16) | show (16) | zone (16) |
 *	not before (4, unix seconds) | not after (4) | Ed25519 signature (64)
 *
 * the signature covering every byte before it. The gate's clock skew
 * (gate.clock-skew) is already in "not before": the gate signs a code valid
 * from that much before its issue. judgeOffline checks, in the gate's order:
 * the signature, with the published key of that key id of the code's event
 * (the door's events only: another event's code cannot be checked here and
 * is refused as invalid); the validity window; the door's show (WRONG_SHOW);
 * the show's revocation list (REVOKED); and the tickets this door let in
 * already (ALREADY_USED). Pure but for WebCrypto's Ed25519 (`subtle`).
 */
import type { CheckInOutcome, CheckInResult } from "@/lib/api/wire";

export const CODE_PREFIX = "BRT1:";

const PAYLOAD_LEN = 1 + 2 + 4 * 16 + 4 + 4;
const CODE_LEN = PAYLOAD_LEN + 64;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** What a code says (not yet verified). */
export interface TicketCode {
  keyId: number;
  ticketId: string;
  eventId: string;
  showId: string;
  zoneId: string;
  /** Unix seconds. */
  notBefore: number;
  notAfter: number;
  /** The signed bytes and their signature. */
  payload: Uint8Array;
  signature: Uint8Array;
}

function base32Encode(b: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const x of b) {
    value = (value << 8) | x;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function base32Decode(s: string): Uint8Array | null {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of s) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return null;
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

function uuid(b: Uint8Array): string {
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Reads a code without checking its signature; null when it is not one. */
export function parseCode(code: string): TicketCode | null {
  const s = code.trim();
  if (!s.startsWith(CODE_PREFIX)) return null;
  const rest = s.slice(CODE_PREFIX.length);
  const b = base32Decode(rest);
  // Only the canonical spelling is a code (the last character's unused bits are zero).
  if (!b || b.length !== CODE_LEN || b[0] !== 1 || base32Encode(b) !== rest) return null;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    keyId: view.getUint16(1),
    ticketId: uuid(b.subarray(3, 19)),
    eventId: uuid(b.subarray(19, 35)),
    showId: uuid(b.subarray(35, 51)),
    zoneId: uuid(b.subarray(51, 67)),
    notBefore: view.getUint32(67),
    notAfter: view.getUint32(71),
    payload: b.slice(0, PAYLOAD_LEN),
    signature: b.slice(PAYLOAD_LEN),
  };
}

/** One published key, as GET /events/{id}/ticket-keys answers it. */
export interface PublishedKey {
  key_id: number;
  /** Raw 32-byte Ed25519 public key, base64. */
  public_key: string;
}

/** A ticket this door let in: when and where. */
export interface Admission {
  scanned_at: string;
  gate: string;
}

/** What a door knows offline. */
export interface DoorLists {
  /** This device. */
  deviceId: string;
  /** The events it checks in. */
  eventIds: string[];
  /** Each event's published keys, as last fetched (absent: never fetched). */
  keys: Record<string, PublishedKey[] | undefined>;
  /** The door's show. */
  showId: string;
  /** Ticket ids of the show's revocation list, as last fetched. */
  revoked: ReadonlySet<string>;
  /** Tickets this door let in, by ticket id. */
  admitted: Readonly<Record<string, Admission>>;
  /** The door's name. */
  gate: string;
}

/** A verdict as the gate answers it (CheckInResult). */
export type Verdict = CheckInResult;

/** A verdict; t names the ticket (null: none). */
export function verdict(outcome: CheckInOutcome, t: TicketCode | null, reason = "", first: Verdict["first_scan"] = null): Verdict {
  return { outcome, ticket_id: t?.ticketId ?? "", show_id: t?.showId ?? "", zone_id: t?.zoneId ?? "", first_scan: first, reason };
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

async function verifies(subtle: SubtleCrypto, key: PublishedKey, t: TicketCode): Promise<boolean> {
  try {
    const raw = fromBase64(key.public_key);
    if (raw.length !== 32) return false;
    const k = await subtle.importKey("raw", raw as BufferSource, { name: "Ed25519" }, false, ["verify"]);
    return await subtle.verify({ name: "Ed25519" }, k, t.signature as BufferSource, t.payload as BufferSource);
  } catch {
    return false;
  }
}

/**
 * Judges a scan at now with what the door knows, as the gate would have
 * with the same knowledge. A VALID verdict is the door's to record
 * (admitted) before the next scan.
 */
export async function judgeOffline(code: string, lists: DoorLists, now: Date, subtle: SubtleCrypto = globalThis.crypto.subtle): Promise<Verdict> {
  const t = parseCode(code);
  if (!t) return verdict("invalid", null, "not a ticket code");
  if (!lists.eventIds.some((e) => e.toLowerCase() === t.eventId)) {
    return verdict("invalid", null, "a code of an event this device does not check in (its signature cannot be checked offline)");
  }
  const keys = lists.keys[t.eventId] ?? lists.keys[lists.eventIds.find((e) => e.toLowerCase() === t.eventId) ?? ""];
  if (!keys) return verdict("invalid", null, "this door has no keys of the event (fetch its lists while online)");
  const key = keys.find((k) => k.key_id === t.keyId);
  if (!key) return verdict("invalid", null, "signed by a key not published for the event");
  if (!(await verifies(subtle, key, t))) return verdict("invalid", null, "signature does not verify");
  const s = Math.floor(now.getTime() / 1000);
  if (s < t.notBefore) return verdict("invalid", t, "not valid yet");
  if (s >= t.notAfter) return verdict("invalid", t, "no longer valid");
  if (t.showId !== lists.showId.toLowerCase()) {
    return verdict("wrong_show", t, `a ticket of show ${t.showId}, not of this door's show ${lists.showId}`);
  }
  if (lists.revoked.has(t.ticketId)) return verdict("revoked", t, "the booking was cancelled or refunded");
  const seen = lists.admitted[t.ticketId];
  if (seen) return verdict("already_used", t, "", { scanned_at: seen.scanned_at, gate: seen.gate, device_id: lists.deviceId });
  return verdict("valid", t, "", { scanned_at: now.toISOString(), gate: lists.gate, device_id: lists.deviceId });
}
