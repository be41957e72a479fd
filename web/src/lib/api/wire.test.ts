/**
 * The edge's JSON shape computed from the generated types (wire.ts), checked
 * at compile time (`tsc` runs over the tests) and against the generated enum
 * descriptors at run time.
 */
import { describe, expect, expectTypeOf, it } from "vitest";

import { BookingStatusSchema } from "@/gen/bookingrush/booking/v1/booking_pb";
import { EventStatusSchema } from "@/gen/bookingrush/catalog/v1/catalog_pb";
import { RoleSchema } from "@/gen/bookingrush/auth/v1/auth_pb";
import { ROLES } from "@/lib/roles";

import type { AuditLog, Booking, BookingStatus, Event, EventAnalytics, EventStatus, QueueStatus, Role, Snake, Zone } from "./wire";

/** An enum's names as the edge writes them: lower case, without the prefix. */
function edgeNames(values: readonly { name: string }[]): string[] {
  const prefix = values.find((v) => v.name.endsWith("_UNSPECIFIED"))!.name.replace(/UNSPECIFIED$/, "");
  return values.map((v) => v.name.slice(prefix.length).toLowerCase());
}

describe("wire types", () => {
  it("name fields as the proto does and write enums as the edge does", () => {
    expectTypeOf<Snake<"saleStartAt">>().toEqualTypeOf<"sale_start_at">();
    expectTypeOf<Event["status"]>().toEqualTypeOf<EventStatus>();
    expectTypeOf<EventStatus>().toEqualTypeOf<"unspecified" | "draft" | "published" | "cancelled">();
    expectTypeOf<BookingStatus>().toEqualTypeOf<"unspecified" | "reserved" | "confirmed" | "cancelled" | "expired" | "refunded">();
    expectTypeOf<Role>().toEqualTypeOf<"unspecified" | "user" | "organizer" | "admin">();
    expectTypeOf<Booking["quantity"]>().toEqualTypeOf<number>();
    expectTypeOf<Booking["total_amount"]>().toEqualTypeOf<string>();
    expectTypeOf<Booking["expires_at"]>().toEqualTypeOf<string | null>();
    expectTypeOf<Zone["available_seats"]>().toEqualTypeOf<number>();
    expectTypeOf<QueueStatus["estimated_wait"]>().toEqualTypeOf<string | null>();
    expectTypeOf<NonNullable<EventAnalytics["summary"]>["tickets_sold"]>().toEqualTypeOf<number>();
    expectTypeOf<EventAnalytics["summary"]>().toEqualTypeOf<NonNullable<EventAnalytics["summary"]> | null>();
    expectTypeOf<EventAnalytics["hourly"][number]["revenue"]>().toEqualTypeOf<string>();
    expectTypeOf<AuditLog["new_values"]>().not.toBeAny();
  });

  it("match the generated enum descriptors", () => {
    expect(edgeNames(EventStatusSchema.values)).toEqual(["unspecified", "draft", "published", "cancelled"]);
    expect(edgeNames(BookingStatusSchema.values)).toContain("refunded");
    expect(edgeNames(RoleSchema.values).filter((n) => n !== "unspecified")).toEqual(ROLES);
  });
});
