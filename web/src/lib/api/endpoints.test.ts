/**
 * Every route the app calls is a route of the contract: its method and path
 * match the `google.api.http` annotation of an RPC in proto/, read from the
 * descriptors protoc-gen-es generated. A renamed or removed route fails here,
 * not in a buyer's browser.
 */
import { getOption, hasOption, type DescMethod } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";

import { AnalyticsService } from "@/gen/bookingrush/analytics/v1/analytics_pb";
import { AuthService } from "@/gen/bookingrush/auth/v1/auth_pb";
import { BookingService } from "@/gen/bookingrush/booking/v1/booking_pb";
import { CatalogService } from "@/gen/bookingrush/catalog/v1/catalog_pb";
import { GateService } from "@/gen/bookingrush/gate/v1/gate_pb";
import { NotifyService } from "@/gen/bookingrush/notify/v1/notify_pb";
import { PaymentService } from "@/gen/bookingrush/payment/v1/payment_pb";
import { QueueService } from "@/gen/bookingrush/queue/v1/queue_pb";
import { http } from "@/gen/google/api/annotations_pb";

import { endpoints } from "./endpoints";
import type { ApiRequest } from "./transport";

interface Route {
  rpc: string;
  method: string;
  pattern: RegExp;
  /** Path variables: a literal segment wins over a variable (/bookings/pending over /bookings/{id}). */
  vars: number;
}

/** The public routes of the contract: "/api/v1/events/{slug}" -> GET ^/events/[^/]+$ */
function contractRoutes(): Route[] {
  const out: Route[] = [];
  for (const svc of [AuthService, CatalogService, BookingService, PaymentService, QueueService, AnalyticsService, NotifyService, GateService]) {
    for (const m of svc.methods as DescMethod[]) {
      if (!hasOption(m, http)) continue;
      const rule = getOption(m, http);
      const p = rule.pattern;
      if (p.case === undefined || p.case === "custom") continue;
      const path = (p.value as string).replace(/^\/api\/v1/, "");
      const re = new RegExp("^" + path.replace(/\{[^}]+\}/g, "[^/]+") + "$");
      out.push({ rpc: `${svc.typeName}.${m.name}`, method: p.case.toUpperCase(), pattern: re, vars: (path.match(/\{/g) ?? []).length });
    }
  }
  return out;
}

/** Calls every endpoint once with sample arguments and records what it would send. */
async function recorded(): Promise<{ name: string; req: ApiRequest }[]> {
  const sent: { name: string; req: ApiRequest }[] = [];
  let current = "";
  const api = endpoints({
    async request(req) {
      sent.push({ name: current, req });
      return { data: undefined as never, meta: null, status: 200, headers: new Headers() };
    },
  });
  const id = "0195f3a0-0000-7000-8000-000000000001";
  const samples: Record<string, Record<string, () => Promise<unknown>>> = {
    auth: {
      register: () => api.auth.register({}),
      login: () => api.auth.login({}),
      refresh: () => api.auth.refresh("r"),
      logout: () => api.auth.logout("r"),
      forgotPassword: () => api.auth.forgotPassword("a@b.c"),
      resetPassword: () => api.auth.resetPassword("t", "p"),
      me: () => api.auth.me(),
      updateMe: () => api.auth.updateMe("n"),
      changePassword: () => api.auth.changePassword({ current_password: "a", new_password: "b" }),
      deleteAccount: () => api.auth.deleteAccount("a"),
    },
    admin: {
      setRole: () => api.admin.setRole(id, "organizer"),
      deleteUser: () => api.admin.deleteUser(id),
      getUser: () => api.admin.getUser(id),
      users: () => api.admin.users({}),
      auditLogs: () => api.admin.auditLogs({}),
      findBooking: () => api.admin.findBooking("BR-7KQD-M2XH-9TFA"),
      payments: () => api.admin.payments({ status: "refund_failed" }),
      refundOutsideProvider: () => api.admin.refundOutsideProvider(id, { reference: "SEPA-1" }),
    },
    catalog: {
      events: () => api.catalog.events({}),
      event: () => api.catalog.event("rush-night"),
      shows: () => api.catalog.shows("rush-night"),
      zones: () => api.catalog.zones(id),
      categories: () => api.catalog.categories(),
      createCategory: () => api.catalog.createCategory("Jazz"),
      createEvent: () => api.catalog.createEvent({}),
      updateEvent: () => api.catalog.updateEvent(id, {}),
      deleteEvent: () => api.catalog.deleteEvent(id),
      createShow: () => api.catalog.createShow(id, {}),
      deleteShow: () => api.catalog.deleteShow(id),
      createZone: () => api.catalog.createZone(id, {}),
      deleteZone: () => api.catalog.deleteZone(id),
      publish: () => api.catalog.publish(id),
      cancel: () => api.catalog.cancel(id, ""),
    },
    bookings: {
      reserve: () => api.bookings.reserve({}, { idempotencyKey: "k" }),
      list: () => api.bookings.list({}),
      pending: () => api.bookings.pending({}),
      get: () => api.bookings.get(id),
      cancel: () => api.bookings.cancel(id),
      confirm: () => api.bookings.confirm(id),
      refundQuote: () => api.bookings.refundQuote(id),
      tickets: () => api.bookings.tickets(id),
    },
    waitlist: { join: () => api.waitlist.join(id, id, 1), get: () => api.waitlist.get(id), leave: () => api.waitlist.leave(id) },
    gate: {
      stats: () => api.gate.stats(id),
      devices: () => api.gate.devices({}),
      createDevice: () => api.gate.createDevice({ name: "North gate", event_ids: [id] }),
      revokeDevice: () => api.gate.revokeDevice(id),
      checkIn: () => api.gate.checkIn({ code: "BRT1:X", gate: "North", show_id: id }),
      sync: () => api.gate.sync([{ code: "BRT1:X", gate: "North", show_id: id, scanned_at: "2027-01-01T20:00:00Z", door: "admitted" }]),
      ticketKeys: () => api.gate.ticketKeys(id),
      revokedTickets: () => api.gate.revokedTickets(id),
    },
    payments: {
      create: () => api.payments.create({}, { idempotencyKey: "k" }),
      get: () => api.payments.get(id),
      refund: () => api.payments.refund(id, { in_full: true, reason: "ill" }),
      eventRefunds: () => api.payments.eventRefunds(id),
    },
    queue: {
      join: () => api.queue.join(id),
      status: () => api.queue.status(id, "t"),
      line: () => api.queue.line(id),
      setSettings: () => api.queue.setSettings(id, { enabled: true, admit_per_second: 5, max_active: 0, auto: true }),
    },
    analytics: { event: () => api.analytics.event(id) },
    notifications: { list: () => api.notifications.list({}) },
  };
  // Every endpoint has a sample: a new one without a sample fails below.
  for (const [group, fns] of Object.entries(api)) {
    for (const name of Object.keys(fns)) {
      const call = samples[group]?.[name];
      expect(call, `no sample call for ${group}.${name}`).toBeDefined();
      current = `${group}.${name}`;
      await call!();
    }
  }
  return sent;
}

describe("endpoints", () => {
  it("call only routes of the contract, with the contract's method", async () => {
    const routes = contractRoutes();
    expect(routes.length).toBeGreaterThan(30);
    for (const { name, req } of await recorded()) {
      const path = req.path.split("?")[0];
      const match = routes.filter((r) => r.method === req.method && r.pattern.test(path));
      const fewest = Math.min(...match.map((r) => r.vars));
      expect(match.filter((r) => r.vars === fewest).map((r) => r.rpc), `${name}: ${req.method} ${path}`).toHaveLength(1);
    }
  });
});
