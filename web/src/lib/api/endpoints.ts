/**
 * The /api/v1 routes the web app calls, typed with the contract's types.
 *
 * Each path is the `google.api.http` annotation of its RPC in proto/
 * (endpoints.test.ts checks every one against the generated descriptors), so
 * the same object serves the server side (server.ts) and the browser
 * (browser.ts) over their Transport.
 */
import type { Transport } from "./transport";
import type {
  AnalyticsQuery,
  ChangePasswordInput,
  AuditLog,
  Booking,
  BookingTickets,
  Category,
  CheckInInput,
  CheckInResult,
  CheckInStats,
  CheckInSynced,
  CreateDeviceInput,
  CreateEventInput,
  CreatePaymentInput,
  CreateShowInput,
  CreateZoneInput,
  Device,
  DeviceCreated,
  Event,
  EventAnalytics,
  EventRefunds,
  ListAuditLogsQuery,
  ListEventsQuery,
  ListPaymentsQuery,
  ListUsersQuery,
  LoginInput,
  Notification,
  Payment,
  QueueLine,
  QueueSettingsInput,
  QueueSettings,
  QueueStatus,
  RefundOutsideProviderInput,
  RefundPaymentInput,
  RefundQuote,
  RegisterInput,
  RevokedTickets,
  ReserveInput,
  Role,
  ScanInput,
  Session,
  Show,
  TicketKeys,
  TokenPair,
  UpdateEventInput,
  User,
  WaitlistEntry,
  Zone,
} from "./wire";

const enc = encodeURIComponent;

/** Paging of the list routes. */
export interface PageQuery {
  page?: number;
  per_page?: number;
}

/** The API's routes over a transport; every method resolves to an ApiResult. */
export function endpoints(t: Transport) {
  return {
    auth: {
      register: (body: RegisterInput) => t.request<Session>({ method: "POST", path: "/auth/register", body }),
      login: (body: LoginInput) => t.request<Session>({ method: "POST", path: "/auth/login", body }),
      refresh: (refresh_token: string) =>
        t.request<TokenPair>({ method: "POST", path: "/auth/refresh", body: { refresh_token } }),
      logout: (refresh_token: string) =>
        t.request<Record<string, never>>({ method: "POST", path: "/auth/logout", body: { refresh_token } }),
      forgotPassword: (email: string) =>
        t.request<Record<string, never>>({ method: "POST", path: "/auth/forgot-password", body: { email } }),
      resetPassword: (token: string, new_password: string) =>
        t.request<Record<string, never>>({ method: "POST", path: "/auth/reset-password", body: { token, new_password } }),
      me: () => t.request<User>({ method: "GET", path: "/auth/me" }),
      updateMe: (full_name: string) => t.request<User>({ method: "PUT", path: "/auth/me", body: { full_name } }),
      changePassword: (body: ChangePasswordInput) => t.request<Session>({ method: "POST", path: "/auth/change-password", body }),
      deleteAccount: (password: string) =>
        t.request<Record<string, never>>({ method: "POST", path: "/auth/delete-account", body: { password } }),
    },
    admin: {
      setRole: (userId: string, role: Role) =>
        t.request<User>({ method: "PUT", path: `/admin/users/${enc(userId)}/role`, body: { role } }),
      deleteUser: (userId: string) => t.request<Record<string, never>>({ method: "DELETE", path: `/admin/users/${enc(userId)}` }),
      /** One account by its id (a booking's or payment's user_id): 404 for an unknown or deleted one. */
      getUser: (userId: string) => t.request<User>({ method: "GET", path: `/admin/users/${enc(userId)}` }),
      users: (query: ListUsersQuery) => t.request<User[]>({ method: "GET", path: "/admin/users", query }),
      auditLogs: (query: ListAuditLogsQuery & PageQuery) =>
        t.request<AuditLog[]>({ method: "GET", path: "/admin/audit-logs", query }),
      /** Anyone's booking by its reference (any case, dashes optional): 400 for what is not one, 404 for an unknown one. */
      findBooking: (reference: string) => t.request<Booking>({ method: "GET", path: `/admin/bookings/${enc(reference)}` }),
      /** Payments of a status (refund_failed: newest failure first), of a booking (newest first), or both. */
      payments: (query: Omit<ListPaymentsQuery, "page" | "per_page"> & PageQuery) =>
        t.request<Payment[]>({ method: "GET", path: "/admin/payments", query }),
      /** Records that a failed refund's money was given back outside the provider (a bank transfer). */
      refundOutsideProvider: (paymentId: string, body: RefundOutsideProviderInput) =>
        t.request<Payment>({ method: "POST", path: `/admin/payments/${enc(paymentId)}/refund-outside-provider`, body }),
    },
    catalog: {
      events: (query: ListEventsQuery) => t.request<Event[]>({ method: "GET", path: "/events", query }),
      event: (slugOrId: string) => t.request<Event>({ method: "GET", path: `/events/${enc(slugOrId)}` }),
      shows: (slugOrId: string) => t.request<Show[]>({ method: "GET", path: `/events/${enc(slugOrId)}/shows` }),
      zones: (showId: string) => t.request<Zone[]>({ method: "GET", path: `/shows/${enc(showId)}/zones` }),
      categories: () => t.request<Category[]>({ method: "GET", path: "/categories" }),
      createCategory: (name: string, slug = "") => t.request<Category>({ method: "POST", path: "/categories", body: { name, slug } }),
      createEvent: (body: CreateEventInput) => t.request<Event>({ method: "POST", path: "/events", body }),
      updateEvent: (eventId: string, body: UpdateEventInput) =>
        t.request<Event>({ method: "PUT", path: `/events/${enc(eventId)}`, body }),
      deleteEvent: (eventId: string) =>
        t.request<Record<string, never>>({ method: "DELETE", path: `/events/${enc(eventId)}` }),
      createShow: (eventId: string, body: CreateShowInput) =>
        t.request<Show>({ method: "POST", path: `/events/${enc(eventId)}/shows`, body }),
      deleteShow: (showId: string) => t.request<Record<string, never>>({ method: "DELETE", path: `/shows/${enc(showId)}` }),
      createZone: (showId: string, body: CreateZoneInput) =>
        t.request<Zone>({ method: "POST", path: `/shows/${enc(showId)}/zones`, body }),
      deleteZone: (zoneId: string) => t.request<Record<string, never>>({ method: "DELETE", path: `/zones/${enc(zoneId)}` }),
      publish: (eventId: string) => t.request<Event>({ method: "POST", path: `/events/${enc(eventId)}/publish`, body: {} }),
      cancel: (eventId: string, reason: string) =>
        t.request<Event>({ method: "POST", path: `/events/${enc(eventId)}/cancel`, body: { reason } }),
    },
    bookings: {
      /** Reserve: the Idempotency-Key makes a retry return the same hold. */
      reserve: (body: ReserveInput, opts: { idempotencyKey: string; queuePass?: string; signal?: AbortSignal }) =>
        t.request<Booking>({
          method: "POST",
          path: "/bookings/reserve",
          body,
          signal: opts.signal,
          headers: {
            "Idempotency-Key": opts.idempotencyKey,
            ...(opts.queuePass ? { "X-Queue-Pass": opts.queuePass } : {}),
          },
        }),
      list: (query: PageQuery & { status?: string }) => t.request<Booking[]>({ method: "GET", path: "/bookings", query }),
      pending: (query: PageQuery) => t.request<Booking[]>({ method: "GET", path: "/bookings/pending", query }),
      get: (bookingId: string) => t.request<Booking>({ method: "GET", path: `/bookings/${enc(bookingId)}` }),
      cancel: (bookingId: string, reason = "") =>
        t.request<Booking>({ method: "POST", path: `/bookings/${enc(bookingId)}/cancel`, body: { reason } }),
      confirm: (bookingId: string) =>
        t.request<Booking>({ method: "POST", path: `/bookings/${enc(bookingId)}/confirm`, body: {} }),
      refundQuote: (bookingId: string) =>
        t.request<RefundQuote>({ method: "GET", path: `/bookings/${enc(bookingId)}/refund-quote` }),
      /** The e-tickets of a confirmed booking: one per seat, each with its signed code and QR code. */
      tickets: (bookingId: string) => t.request<BookingTickets>({ method: "GET", path: `/bookings/${enc(bookingId)}/tickets` }),
    },
    waitlist: {
      join: (show_id: string, zone_id: string, quantity: number) =>
        t.request<WaitlistEntry>({ method: "POST", path: "/waitlist", body: { show_id, zone_id, quantity } }),
      get: (zoneId: string) => t.request<WaitlistEntry>({ method: "GET", path: `/waitlist/${enc(zoneId)}` }),
      leave: (zoneId: string) => t.request<Record<string, never>>({ method: "DELETE", path: `/waitlist/${enc(zoneId)}` }),
    },
    gate: {
      stats: (showId: string) => t.request<CheckInStats>({ method: "GET", path: `/shows/${enc(showId)}/checkin-stats` }),
      /** The organizer's check-in devices, newest first (never their credentials). */
      devices: (query: PageQuery) => t.request<Device[]>({ method: "GET", path: "/checkin/devices", query }),
      /** Registers a device for some of the organizer's events: its credential is in this answer only. */
      createDevice: (body: CreateDeviceInput) => t.request<DeviceCreated>({ method: "POST", path: "/checkin/devices", body }),
      revokeDevice: (deviceId: string) => t.request<Record<string, never>>({ method: "DELETE", path: `/checkin/devices/${enc(deviceId)}` }),
      /** A device's scan at its door: the verdict, recorded (a check-in device's credential only). */
      checkIn: (body: CheckInInput, opts: { signal?: AbortSignal } = {}) =>
        t.request<CheckInResult>({ method: "POST", path: "/checkin", body, signal: opts.signal }),
      /** Scans a device made offline (1 to 500), each with its own scanned_at and what its door did. */
      sync: (scans: ScanInput[], opts: { signal?: AbortSignal } = {}) =>
        t.request<CheckInSynced>({ method: "POST", path: "/checkin/sync", body: { scans }, signal: opts.signal }),
      /** An event's published public keys: a code of it verifies offline with them. */
      ticketKeys: (eventId: string) => t.request<TicketKeys>({ method: "GET", path: `/events/${enc(eventId)}/ticket-keys` }),
      /** A show's revocation list (its devices, organizer, admin). */
      revokedTickets: (showId: string) => t.request<RevokedTickets>({ method: "GET", path: `/shows/${enc(showId)}/revoked-tickets` }),
    },
    payments: {
      /** Create a payment: the Idempotency-Key makes a retry return the same payment. */
      create: (body: CreatePaymentInput, opts: { idempotencyKey: string }) =>
        t.request<Payment>({
          method: "POST",
          path: "/payments",
          body,
          headers: { "Idempotency-Key": opts.idempotencyKey },
        }),
      get: (paymentId: string) => t.request<Payment>({ method: "GET", path: `/payments/${enc(paymentId)}` }),
      /** Refunds per the policy; an admin's retries a failed refund, or with in_full refunds the whole price. */
      refund: (paymentId: string, body: RefundPaymentInput) =>
        t.request<Payment>({ method: "POST", path: `/payments/${enc(paymentId)}/refund`, body }),
      /** Where a cancelled event's refunds stand (its organizer's or an admin's): counts and amounts by state. */
      eventRefunds: (eventId: string) => t.request<EventRefunds>({ method: "GET", path: `/events/${enc(eventId)}/refunds` }),
    },
    queue: {
      join: (event_id: string) => t.request<QueueStatus>({ method: "POST", path: "/queue/join", body: { event_id } }),
      status: (event_id: string, ticket?: string) =>
        t.request<QueueStatus>({ method: "GET", path: "/queue/status", query: { event_id, ticket } }),
      line: (eventId: string) => t.request<QueueLine>({ method: "GET", path: `/queue/lines/${enc(eventId)}` }),
      setSettings: (eventId: string, body: QueueSettingsInput) =>
        t.request<QueueSettings>({ method: "PUT", path: `/events/${enc(eventId)}/queue`, body }),
    },
    analytics: {
      event: (eventId: string, query: AnalyticsQuery = {}) =>
        t.request<EventAnalytics>({ method: "GET", path: `/analytics/events/${enc(eventId)}`, query: { from: query.from, to: query.to } }),
    },
    notifications: {
      list: (query: PageQuery) => t.request<Notification[]>({ method: "GET", path: "/notifications", query }),
    },
  };
}

export type Api = ReturnType<typeof endpoints>;
