/**
 * The door's offline verdicts on codes signed here as the gate signs them
 * (services/platform/eticket), with node:crypto's Ed25519: the cases of
 * cmd/ticketverify's test, and the door's own list of tickets it let in.
 */
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from "node:crypto";

import { describe, expect, it } from "vitest";

import { type DoorLists, judgeOffline, parseCode } from "./offline";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** Go's base32.StdEncoding.WithPadding(NoPadding), written again here: the codes under test are not made by the code under test. */
function base32(b: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const x of b) {
    value = ((value << 8) | x) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

interface Tk {
  keyId: number;
  id: string;
  eventId: string;
  showId: string;
  zoneId: string;
  notBefore: number;
  notAfter: number;
}

/** eticket.Sign. */
function signCode(t: Tk, key: KeyObject): string {
  const b = Buffer.alloc(75);
  b[0] = 1;
  b.writeUInt16BE(t.keyId, 1);
  [t.id, t.eventId, t.showId, t.zoneId].forEach((u, i) => Buffer.from(u.replace(/-/g, ""), "hex").copy(b, 3 + 16 * i));
  b.writeUInt32BE(t.notBefore, 67);
  b.writeUInt32BE(t.notAfter, 71);
  return "BRT1:" + base32(Buffer.concat([b, sign(null, b, key)]));
}

const now = new Date("2027-06-12T19:40:00Z");
const sec = now.getTime() / 1000;
const { publicKey, privateKey } = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");
const rawPublic = (k: KeyObject) => k.export({ format: "der", type: "spki" }).subarray(12).toString("base64");

const eventId = randomUUID();
const showId = randomUUID();
const ticket: Tk = { keyId: 2, id: randomUUID(), eventId, showId, zoneId: randomUUID(), notBefore: sec - 3600, notAfter: sec + 86400 };
const code = signCode(ticket, privateKey);

function lists(over: Partial<DoorLists> = {}): DoorLists {
  return {
    deviceId: "dev-1",
    eventIds: [eventId],
    keys: { [eventId]: [{ key_id: 2, public_key: rawPublic(publicKey) }] },
    showId,
    revoked: new Set(),
    admitted: {},
    gate: "North 2",
    ...over,
  };
}

describe("parseCode", () => {
  it("reads what the code says", () => {
    const t = parseCode(code)!;
    expect(t).toMatchObject({ keyId: 2, ticketId: ticket.id, eventId, showId, zoneId: ticket.zoneId, notBefore: ticket.notBefore, notAfter: ticket.notAfter });
    expect(code.length).toBe(228);
  });
  it("refuses what is not a code, or not its canonical spelling", () => {
    expect(parseCode("hello")).toBeNull();
    expect(parseCode("BRT1:NOTATICKET")).toBeNull();
    expect(parseCode(code + "A")).toBeNull();
    // The last character's 3 unused bits set: the same bytes, another spelling.
    const last = code[code.length - 1];
    const twin = code.slice(0, -1) + ALPHABET[ALPHABET.indexOf(last) | 1];
    expect(twin).not.toBe(code);
    expect(parseCode(twin)).toBeNull();
  });
});

describe("judgeOffline", () => {
  it("admits a code signed with the event's published key, and names its ticket", async () => {
    const v = await judgeOffline(` ${code}\n`, lists(), now);
    expect(v).toMatchObject({ outcome: "valid", ticket_id: ticket.id, show_id: showId, zone_id: ticket.zoneId });
    expect(v.first_scan).toEqual({ scanned_at: now.toISOString(), gate: "North 2", device_id: "dev-1" });
  });
  it("refuses a tampered code", async () => {
    const i = 60;
    const tampered = code.slice(0, i) + (code[i] === "A" ? "B" : "A") + code.slice(i + 1);
    expect(await judgeOffline(tampered, lists(), now)).toMatchObject({ outcome: "invalid", ticket_id: "" });
  });
  it("refuses a code signed with another key, or a key id the event did not publish", async () => {
    expect(await judgeOffline(signCode(ticket, other.privateKey), lists(), now)).toMatchObject({ outcome: "invalid", reason: "signature does not verify" });
    expect(await judgeOffline(signCode({ ...ticket, keyId: 3 }, privateKey), lists(), now)).toMatchObject({
      outcome: "invalid",
      reason: "signed by a key not published for the event",
    });
    // The key withdrawn since (a rotation with drop_previous).
    const rotated = lists({ keys: { [eventId]: [{ key_id: 3, public_key: rawPublic(other.publicKey) }] } });
    expect((await judgeOffline(code, rotated, now)).outcome).toBe("invalid");
  });
  it("refuses a code outside its validity", async () => {
    const expired = signCode({ ...ticket, notBefore: sec - 7200, notAfter: sec - 1 }, privateKey);
    expect(await judgeOffline(expired, lists(), now)).toMatchObject({ outcome: "invalid", reason: "no longer valid", ticket_id: ticket.id });
    const early = signCode({ ...ticket, notBefore: sec + 60 }, privateKey);
    expect(await judgeOffline(early, lists(), now)).toMatchObject({ outcome: "invalid", reason: "not valid yet" });
  });
  it("refuses another show's ticket, naming its show", async () => {
    const monday = randomUUID();
    expect(await judgeOffline(signCode({ ...ticket, showId: monday }, privateKey), lists(), now)).toMatchObject({ outcome: "wrong_show", show_id: monday });
  });
  it("refuses another event's code: its signature cannot be checked here", async () => {
    expect(await judgeOffline(signCode({ ...ticket, eventId: randomUUID() }, privateKey), lists(), now)).toMatchObject({ outcome: "invalid", ticket_id: "" });
  });
  it("refuses a ticket on the revocation list", async () => {
    expect(await judgeOffline(code, lists({ revoked: new Set([ticket.id]) }), now)).toMatchObject({ outcome: "revoked", ticket_id: ticket.id });
  });
  it("refuses a ticket this door let in already, saying when and where", async () => {
    const admitted = { [ticket.id]: { scanned_at: "2027-06-12T19:12:00.000Z", gate: "North 2" } };
    expect(await judgeOffline(code, lists({ admitted }), now)).toMatchObject({
      outcome: "already_used",
      first_scan: { scanned_at: "2027-06-12T19:12:00.000Z", gate: "North 2", device_id: "dev-1" },
    });
  });
  it("refuses a code of an event whose keys it never fetched", async () => {
    expect((await judgeOffline(code, lists({ keys: {} }), now)).outcome).toBe("invalid");
  });
});
