/**
 * The API's types, derived from the contract.
 *
 * `make generate` runs protoc-gen-es over proto/ into src/gen: for every
 * message `M` a message type (`Event`) and its protojson type (`EventJson`).
 * The edge does not write protojson as is (edge/README.md, "JSON and the
 * envelope"): names are snake_case (`sale_start_at`), enum values are lower
 * case without their prefix (`"published"`, not `"EVENT_STATUS_PUBLISHED"`),
 * every field is present, and an unset message (a timestamp too) is `null`.
 * `Wire<M, MJson>` computes that shape from the pair, at the type level only:
 * nothing here exists at run time, and the generated code never reaches a
 * bundle (every import below is `import type`).
 *
 * When a proto changes, `make generate` changes these types and `tsc` shows
 * every page that must follow. Nothing in the app declares an API shape by
 * hand; the few request bodies it sends are `WireInput` of the request messages.
 */
import type { JsonObject } from "@bufbuild/protobuf";

import type * as analytics from "@/gen/bookingrush/analytics/v1/analytics_pb";
import type * as auth from "@/gen/bookingrush/auth/v1/auth_pb";
import type * as booking from "@/gen/bookingrush/booking/v1/booking_pb";
import type * as catalog from "@/gen/bookingrush/catalog/v1/catalog_pb";
import type * as gate from "@/gen/bookingrush/gate/v1/gate_pb";
import type * as notify from "@/gen/bookingrush/notify/v1/notify_pb";
import type * as payment from "@/gen/bookingrush/payment/v1/payment_pb";
import type * as queue from "@/gen/bookingrush/queue/v1/queue_pb";

/** "saleStartAt" -> "sale_start_at" (the proto field name). */
export type Snake<S extends string> = S extends `${infer H}${infer T}`
  ? `${H extends Lowercase<H> ? H : `_${Lowercase<H>}`}${Snake<T>}`
  : S;

/** The common prefix of an enum's JSON names, from its zero value (buf lint: `<ENUM>_UNSPECIFIED`). */
type EnumPrefix<E extends string> =
  Extract<E, `${string}_UNSPECIFIED`> extends `${infer P}UNSPECIFIED` ? P : "";

/** "EVENT_STATUS_PUBLISHED" | ... -> "published" | ...: an enum as the edge writes it. */
export type EnumName<E extends string, P extends string = EnumPrefix<E>> = E extends `${P}${infer R}`
  ? Lowercase<R>
  : never;

/** The message's fields (protobuf-es adds `$typeName` and `$unknown`). */
type Fields<M> = Exclude<keyof M, "$typeName" | "$unknown">;

/** How one field of message type M (protojson type J) is written by the edge. */
type WireValue<M, J> = M extends bigint
  ? string // 64-bit integers are JSON strings
  : M extends number
    ? [J] extends [string]
      ? string extends J
        ? number
        : EnumName<J & string> // an enum: its JSON type is the union of its names
      : number
    : M extends string | boolean
      ? M
      : M extends Uint8Array
        ? string
        : M extends readonly (infer U)[]
          ? J extends readonly (infer V)[]
            ? Exclude<WireValue<U, V>, null>[] // elements of a list are never null
            : never
          : M extends { $typeName: "google.protobuf.Timestamp" | "google.protobuf.Duration" }
            ? string | null // RFC 3339 / "1.5s"; null when unset
            : M extends { $typeName: string }
              ? Wire<M, J> | null
              : JsonObject | null; // google.protobuf.Struct and maps

/** A message as the edge writes it: snake_case, every field present. */
export type Wire<M, J> = {
  [K in Fields<M> as Snake<K & string>]-?: WireValue<NonNullable<M[K]>, NonNullable<J[K & keyof J]>>;
};

/** A request body: any subset of the request message's fields, as the edge reads them. */
export type WireInput<M, J> = Partial<Wire<M, J>>;

/** The `meta` of a list answer (bookingrush.common.v1.PageMeta). */
export interface PageMeta {
  page: number;
  per_page: number;
  total: number;
}

// Entities.
export type User = Wire<auth.User, auth.UserJson>;
export type Role = EnumName<auth.RoleJson>;
export type AuditLog = Wire<auth.AuditLog, auth.AuditLogJson>;
export type Session = Wire<auth.LoginResponse, auth.LoginResponseJson>;
export type TokenPair = Wire<auth.RefreshResponse, auth.RefreshResponseJson>;

export type Category = Wire<catalog.Category, catalog.CategoryJson>;
export type Event = Wire<catalog.Event, catalog.EventJson>;
export type EventStatus = EnumName<catalog.EventStatusJson>;
export type Show = Wire<catalog.Show, catalog.ShowJson>;
export type ShowStatus = EnumName<catalog.ShowStatusJson>;
export type Zone = Wire<catalog.Zone, catalog.ZoneJson>;

export type Booking = Wire<booking.Booking, booking.BookingJson>;
export type BookingStatus = EnumName<booking.BookingStatusJson>;
export type Ticket = Wire<gate.Ticket, gate.TicketJson>;
export type BookingTickets = Wire<gate.ListBookingTicketsResponse, gate.ListBookingTicketsResponseJson>;
export type WaitlistEntry = Wire<booking.WaitlistEntry, booking.WaitlistEntryJson>;
export type CheckInStats = Wire<gate.GetShowCheckInStatsResponse, gate.GetShowCheckInStatsResponseJson>;
export type Device = Wire<gate.Device, gate.DeviceJson>;
export type DeviceCreated = Wire<gate.CreateDeviceResponse, gate.CreateDeviceResponseJson>;
export type TicketKeys = Wire<gate.GetTicketKeysResponse, gate.GetTicketKeysResponseJson>;
export type RevokedTickets = Wire<gate.ListRevokedTicketsResponse, gate.ListRevokedTicketsResponseJson>;
export type CheckInResult = Wire<gate.CheckInResult, gate.CheckInResultJson>;
export type CheckInOutcome = EnumName<gate.CheckInOutcomeJson>;
export type CheckInSynced = Wire<gate.SyncCheckInsResponse, gate.SyncCheckInsResponseJson>;
export type CancelCause = EnumName<booking.CancelCauseJson>;

export type Payment = Wire<payment.Payment, payment.PaymentJson>;
export type PaymentStatus = EnumName<payment.PaymentStatusJson>;
export type RefundQuote = Wire<payment.GetRefundQuoteResponse, payment.GetRefundQuoteResponseJson>;
export type EventRefunds = Wire<payment.EventRefunds, payment.EventRefundsJson>;

export type QueueStatus = Wire<queue.QueueStatus, queue.QueueStatusJson>;
export type QueueEntryStatus = EnumName<queue.QueueEntryStatusJson>;
export type QueueLine = Wire<queue.Line, queue.LineJson>;
export type QueueSettings = Wire<queue.QueueSettings, queue.QueueSettingsJson>;

export type EventAnalytics = Wire<analytics.EventAnalytics, analytics.EventAnalyticsJson>;
export type Dashboard = Wire<analytics.Dashboard, analytics.DashboardJson>;
export type SalesSummary = Wire<analytics.SalesSummary, analytics.SalesSummaryJson>;
export type SeriesPoint = Wire<analytics.SeriesPoint, analytics.SeriesPointJson>;

export type Notification = Wire<notify.Notification, notify.NotificationJson>;
export type NotificationTemplate = EnumName<notify.TemplateJson>;

// Request bodies and queries.
export type RegisterInput = WireInput<auth.RegisterRequest, auth.RegisterRequestJson>;
export type LoginInput = WireInput<auth.LoginRequest, auth.LoginRequestJson>;
export type ChangePasswordInput = WireInput<auth.ChangePasswordRequest, auth.ChangePasswordRequestJson>;
export type ListAuditLogsQuery = WireInput<auth.ListAuditLogsRequest, auth.ListAuditLogsRequestJson>;
export type ListUsersQuery = WireInput<auth.ListUsersRequest, auth.ListUsersRequestJson>;
export type ListEventsQuery = WireInput<catalog.ListEventsRequest, catalog.ListEventsRequestJson>;
export type CreateEventInput = WireInput<catalog.CreateEventRequest, catalog.CreateEventRequestJson>;
export type UpdateEventInput = WireInput<catalog.UpdateEventRequest, catalog.UpdateEventRequestJson>;
export type CreateShowInput = WireInput<catalog.CreateShowRequest, catalog.CreateShowRequestJson>;
export type CreateZoneInput = WireInput<catalog.CreateZoneRequest, catalog.CreateZoneRequestJson>;
export type ReserveInput = WireInput<booking.ReserveRequest, booking.ReserveRequestJson>;
export type CreatePaymentInput = WireInput<payment.CreatePaymentRequest, payment.CreatePaymentRequestJson>;
export type ListPaymentsQuery = WireInput<payment.ListPaymentsRequest, payment.ListPaymentsRequestJson>;
export type RefundPaymentInput = WireInput<payment.RefundPaymentRequest, payment.RefundPaymentRequestJson>;
export type RefundOutsideProviderInput = WireInput<payment.RecordRefundOutsideProviderRequest, payment.RecordRefundOutsideProviderRequestJson>;
export type QueueSettingsInput = WireInput<queue.SetQueueSettingsRequest, queue.SetQueueSettingsRequestJson>;
export type CreateDeviceInput = WireInput<gate.CreateDeviceRequest, gate.CreateDeviceRequestJson>;
export type CheckInInput = WireInput<gate.CheckInRequest, gate.CheckInRequestJson>;
export type ScanInput = WireInput<gate.Scan, gate.ScanJson>;
export type AnalyticsQuery = WireInput<analytics.GetEventAnalyticsRequest, analytics.GetEventAnalyticsRequestJson>;
