/**
 * Test setup through the real public API (never a fake): accounts, roles,
 * events ready for sale. Tests use it for what a scenario only needs to exist;
 * what a scenario is about, they do in the browser.
 */
import { createHmac, randomBytes } from "node:crypto";

import { WEBHOOK_SECRET, readState } from "./state";

type Json = Record<string, unknown>;

export async function call<T = Json>(method: string, path: string, body?: unknown, token?: string, headers: Record<string, string> = {}): Promise<T> {
  const s = readState();
  const res = await fetch(`${s.edgeURL}/api/v1${path}`, {
    method,
    headers: {
      "Content-Type": "application/json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const env = (await res.json()) as { success: boolean; data: T; error?: Json };
  if (!env.success) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(env.error)}`);
  return env.data;
}

export const unique = (p: string) => `${p}-${randomBytes(3).toString("hex")}`;

export interface Account {
  id: string;
  email: string;
  password: string;
  name: string;
  token: string;
}

/**
 * The bootstrap admin's access token, renewed with its refresh token when
 * the last one is about to expire (the run's tokens last a minute), and
 * signed in again only when that fails: auth allows 10 sign-ins an hour per
 * e-mail address. A suite that signed the admin in for every organizer it
 * made ran out of them half way; one that signed in again every 40 s ran
 * out once it took longer than about 7 minutes.
 */
let admin: { token: string; refresh: string; until: number; run: string } | null = null;

interface TokenPair {
  access_token: string;
  refresh_token: string;
}

export async function adminToken(): Promise<string> {
  const s = readState();
  if (admin && admin.run === s.run && Date.now() < admin.until) return admin.token;
  let pair: TokenPair | null = null;
  if (admin && admin.run === s.run) {
    // A 401: the admin was signed out meanwhile (a spec does it in the browser).
    pair = await call<TokenPair>("POST", "/auth/refresh", { refresh_token: admin.refresh }).catch((err: unknown) => {
      if (err instanceof Error && err.message.includes(": 401 ")) return null;
      throw err;
    });
  }
  pair ??= await call<TokenPair>("POST", "/auth/login", s.admin);
  admin = { token: pair.access_token, refresh: pair.refresh_token, until: Date.now() + 40_000, run: s.run };
  return admin.token;
}

/**
 * Gives an account a role as the bootstrap admin. A spec that signs the
 * bootstrap admin out in the browser ends every token of it, the cached one
 * too: a 401 signs it in again, once.
 */
async function grantRole(id: string, role: string): Promise<void> {
  const put = async () => call("PUT", `/admin/users/${id}/role`, { role }, await adminToken());
  try {
    await put();
  } catch (err) {
    if (!(err instanceof Error) || !err.message.includes(": 401 ")) throw err;
    admin = null;
    await put();
  }
}

/** A new account with the admin role (for tests that need one, sparing the bootstrap admin's sign-ins). */
export async function newAdmin(): Promise<Account> {
  const a = await register("admin");
  await grantRole(a.id, "admin");
  return a;
}

/** A new account (role user), signed in through the API. */
export async function register(prefix = "buyer"): Promise<Account> {
  const email = `${unique(prefix)}@e2e.test`;
  const password = "correct-horse-9";
  const name = `${prefix[0].toUpperCase()}${prefix.slice(1)} ${email.slice(prefix.length + 1, prefix.length + 5)}`;
  const r = await call<{ user: { id: string }; access_token: string }>("POST", "/auth/register", { email, password, full_name: name });
  return { id: r.user.id, email, password, name, token: r.access_token };
}

/** A new organizer: registered, promoted by the admin, signed in again (the role is in the token). */
export async function organizer(): Promise<Account> {
  const a = await register("organizer");
  await grantRole(a.id, "organizer");
  const r = await call<{ access_token: string }>("POST", "/auth/login", { email: a.email, password: a.password });
  return { ...a, token: r.access_token };
}

export interface ReadyEvent {
  id: string;
  slug: string;
  title: string;
  showId: string;
  zoneId: string;
}

/** A published event on sale now, one show in `daysAhead` days, one zone. */
export async function publishedEvent(
  org: Account,
  opts: { title?: string; queue?: boolean; seats?: number; price?: string; daysAhead?: number; zone?: string } = {},
): Promise<ReadyEvent> {
  const title = opts.title ?? unique("Rush Night");
  const ev = await call<{ id: string; slug: string }>(
    "POST",
    "/events",
    {
      title,
      description: "A night of music, sold fairly.",
      venue: "Hall 1, Lisbon",
      time_zone: "Europe/Lisbon",
      sale_start_at: new Date(Date.now() - 60_000).toISOString(),
      sale_end_at: new Date(Date.now() + 30 * 86400_000).toISOString(),
      max_per_user: 4,
      queue_enabled: opts.queue ?? false,
    },
    org.token,
  );
  const show = await call<{ id: string }>(
    "POST",
    `/events/${ev.id}/shows`,
    { show_date: new Date(Date.now() + (opts.daysAhead ?? 30) * 86400_000).toISOString() },
    org.token,
  );
  const zone = await call<{ id: string }>(
    "POST",
    `/shows/${show.id}/zones`,
    { name: opts.zone ?? "Floor", price: opts.price ?? "49.90", total_seats: opts.seats ?? 100 },
    org.token,
  );
  await call("POST", `/events/${ev.id}/publish`, {}, org.token);
  return { id: ev.id, slug: ev.slug, title, showId: show.id, zoneId: zone.id };
}

/**
 * A buyer's paid booking of one seat of ev (the simulator's card that
 * succeeds), once the gate issued its ticket: the booking and the ticket's
 * signed code.
 */
export async function paidTicket(ev: ReadyEvent, buyer: Account): Promise<{ bookingId: string; code: string }> {
  const b = await call<{ id: string }>("POST", "/bookings/reserve", { show_id: ev.showId, zone_id: ev.zoneId, quantity: 1 }, buyer.token, {
    "Idempotency-Key": unique("ticket"),
  });
  await call("POST", "/payments", { booking_id: b.id, payment_method: "sim_ok" }, buyer.token);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await call<{ tickets?: { code?: string }[] }>("GET", `/bookings/${b.id}/tickets`, undefined, buyer.token);
    const code = res.tickets?.[0]?.code ?? "";
    if (code) return { bookingId: b.id, code };
    if (Date.now() > deadline) throw new Error(`no ticket issued for booking ${b.id} within 60 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Stripe's refund.failed for the refund the simulator made of a payment
 * (the buyer's card was closed after the refund was accepted), signed and
 * posted through the public webhook route as Stripe would: the payment
 * becomes refund_failed, and support has to settle it.
 */
export async function failRefund(
  payment: { id: string; provider_reference: string; refunded_amount: string },
  reason = "expired_or_canceled_card",
): Promise<void> {
  const intent = payment.provider_reference;
  const payload = JSON.stringify({
    id: `evt_${randomBytes(12).toString("hex")}`,
    object: "event",
    type: "refund.failed",
    api_version: "2020-08-27",
    created: Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: `simre_${intent.replace(/^simpi_/, "")}`,
        object: "refund",
        amount: Math.round(Number(payment.refunded_amount) * 100),
        currency: "usd",
        status: "failed",
        failure_reason: reason,
        payment_intent: intent,
        metadata: { payment_id: payment.id, rush_refund: "share" },
      },
    },
  });
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac("sha256", WEBHOOK_SECRET).update(`${t}.${payload}`).digest("hex");
  const res = await fetch(`${readState().edgeURL}/api/v1/webhooks/stripe`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Stripe-Signature": `t=${t},v1=${v1}` },
    body: payload,
  });
  if (!res.ok) throw new Error(`refund.failed webhook: ${res.status} ${await res.text()}`);
}
