/**
 * The waiting room's one door to the API.
 *
 * Every page that shows a waiting room talks to the queue through this module
 * and nothing else. Pages see a `QueueView` (where the buyer stands) and a
 * `QueueConnection` (how the live link is doing); they never see a wire type.
 *
 * - `join`: POST /api/v1/queue/join {event_id} (through /bff/api: it needs the
 *   buyer's bearer token) answers the buyer's status and their **signed queue
 *   ticket**. The ticket is kept in memory and in sessionStorage: a reload
 *   finds it and goes straight back to the stream, without joining again
 *   (the place is the ticket's; joining again would return the same one).
 * - `watch`: an EventSource on GET /api/v1/queue/events?ticket=: the ticket
 *   authenticates the stream, no token or cookie is needed, so it goes to
 *   /api/v1 on the same host, which the Ingress/HTTPRoute sends to the edge:
 *   a waiting crowd costs the web app's servers nothing. (Where the app runs
 *   alone, `make run` and the e2e suite, app/api/v1/queue passes the stream
 *   on to the edge.) Each message is the envelope of a QueueStatus; the
 *   stream ends with "admitted" (the queue pass for the reserve's
 *   X-Queue-Pass), "sold_out", "expired" or "used".
 * - Sold out is not the end: the buyer keeps the place, and admission resumes
 *   when seats come back (holds expire or are cancelled). The server ends the
 *   stream there, so the line's public state (GET /api/v1/queue/lines/{id},
 *   same host as the stream, no credentials, cacheable) is read every 5 to
 *   10 s, and the stream is opened again once it no longer says sold out.
 * - The stream reconnects by itself: a dropped connection, an error, or the
 *   browser coming back online reopens it after a backoff (1, 2, 4... 15 s,
 *   with jitter, so a crowd does not reconnect in the same second), reading
 *   the buyer's status once meanwhile (GET /api/v1/queue/status with the
 *   ticket, through /bff/api), which also tells a ticket the queue refuses
 *   (the buyer joins again). Nothing is retried faster than that.
 * - `queueToJoin`: a reserve the edge shed under overload (503) names the
 *   event's waiting room in `details.queue_event_id` once the event's queue
 *   is on: the buy page joins it instead of only counting down.
 */
import { browserApi, readSessionUser } from "@/lib/api/browser";
import { endpoints } from "@/lib/api/endpoints";
import { ApiError } from "@/lib/api/errors";
import { fetchTransport } from "@/lib/api/transport";
import type { QueueStatus } from "@/lib/api/wire";

/** Where the buyer stands. "expired": the pass lapsed or was used; join again. */
export type QueuePhase = "waiting" | "admitted" | "expired" | "sold_out";

export interface QueueView {
  phase: QueuePhase;
  /** 1-based place in line while waiting; 0 once admitted (and before the sale opens). */
  position: number;
  /** Buyers waiting in the line. */
  total: number;
  /** Expected seconds until admission, when the API estimates it. */
  etaSeconds: number | null;
  /** The pass for reserve's X-Queue-Pass header, once admitted. */
  pass: string | null;
  passExpiresAt: string | null;
}

/** How the live link is doing, for the page to say so. */
export type QueueConnection =
  | { state: "connecting" }
  | { state: "live" }
  | { state: "reconnecting"; inSeconds: number; reason: string };

export interface WatchHandlers {
  view(v: QueueView): void;
  connection(c: QueueConnection): void;
  /** An error the buyer must act on (signed out, no such event). */
  fatal(err: ApiError): void;
}

/** What a waiting-room page needs from the queue API. */
export interface QueueApi {
  /** Joins the event's line (or finds the ticket this tab already holds). */
  join(eventId: string): Promise<QueueView>;
  /** Follows the buyer's place until admitted, expired or sold out; returns stop(). */
  watch(eventId: string, on: WatchHandlers): () => void;
  /** Drops the event's ticket (its pass was used): the next join queues anew. */
  forget(eventId: string): void;
}

/** "12.5s" (a protobuf Duration in JSON) -> 13. */
export function durationSeconds(d: string | null | undefined): number | null {
  if (!d) return null;
  const m = /^(-?\d+(?:\.\d+)?)s$/.exec(d);
  return m ? Math.max(0, Math.ceil(Number(m[1]))) : null;
}

export function toView(s: QueueStatus): QueueView {
  const phase: QueuePhase =
    s.status === "admitted" ? "admitted" : s.status === "sold_out" ? "sold_out" : s.status === "expired" || s.status === "used" ? "expired" : "waiting";
  return {
    phase,
    position: s.position ?? 0,
    total: s.total ?? 0,
    etaSeconds: durationSeconds(s.estimated_wait),
    pass: s.queue_pass || null,
    passExpiresAt: s.pass_expires_at ?? null,
  };
}

/** The wait before reconnect attempt n (1-based): 1, 2, 4, 8, 15, 15... seconds plus up to 1 s of jitter. */
export function reconnectDelayMs(attempt: number, random = Math.random): number {
  return Math.min(15, 2 ** (attempt - 1)) * 1000 + Math.round(random() * 1000);
}

/** The event whose waiting room a shed reserve (503, details.queue_event_id) sends the buyer to, or null. */
export function queueToJoin(err: unknown): string | null {
  if (!(err instanceof ApiError) || err.status !== 503) return null;
  const ev = err.details.queue_event_id;
  return typeof ev === "string" && ev ? ev : null;
}

/**
 * Runs a reserve; one the edge shed naming a waiting room resolves to
 * "queue" (join that line) instead of being thrown, so a retry loop around it
 * stops there rather than counting down. Other errors are thrown as they are.
 */
export async function unlessQueued<T>(reserve: () => Promise<T>): Promise<T | "queue"> {
  try {
    return await reserve();
  } catch (err) {
    if (queueToJoin(err)) return "queue";
    throw err;
  }
}

/** The wait between two reads of a sold-out line: 5 to 10 s, so a crowd told sold out at once does not read in step. */
export function soldOutPollMs(random = Math.random): number {
  return 5000 + Math.round(random() * 5000);
}

/** The public reads, on the edge's routes of this host like the stream (no credentials: nothing of the app's servers). */
const publicApi = endpoints(fetchTransport({ base: "/api/v1", init: { credentials: "omit" } }));

/** The stream's URL for a ticket (same host: the edge behind the Ingress). */
export function streamUrl(eventId: string, ticket: string): string {
  return `/api/v1/queue/events?ticket=${encodeURIComponent(ticket)}&event_id=${encodeURIComponent(eventId)}`;
}

/** A ticket this tab holds, with the last view it had. */
interface Held {
  ticket: string;
  view: QueueView;
}

/** A ticket is one buyer's: kept per signed-in user (br_user) and event. */
const storageKey = (eventId: string) => `br:queue:${readSessionUser()?.id ?? ""}:${eventId}`;

const LAPSED: QueueView = { phase: "expired", position: 0, total: 0, etaSeconds: null, pass: null, passExpiresAt: null };

/** The queue API over the edge's ticket stream (see the module comment). */
export function createQueueApi(opts: { EventSource?: typeof EventSource; storage?: () => Storage | undefined } = {}): QueueApi {
  const ES = opts.EventSource ?? (typeof EventSource !== "undefined" ? EventSource : undefined);
  const storage = opts.storage ?? (() => (typeof sessionStorage !== "undefined" ? sessionStorage : undefined));
  const held = new Map<string, Held>();

  const load = (eventId: string): Held | null => {
    const have = held.get(eventId);
    if (have) return have;
    try {
      const raw = storage()?.getItem(storageKey(eventId));
      const h = raw ? (JSON.parse(raw) as Held) : null;
      if (h && typeof h.ticket === "string" && h.ticket && h.view) {
        held.set(eventId, h);
        return h;
      }
    } catch {
      // storage unavailable or garbled: no ticket
    }
    return null;
  };
  const keep = (eventId: string, h: Held) => {
    held.set(eventId, h);
    try {
      storage()?.setItem(storageKey(eventId), JSON.stringify(h));
    } catch {
      // storage unavailable: memory only
    }
  };
  const forget = (eventId: string) => {
    held.delete(eventId);
    try {
      storage()?.removeItem(storageKey(eventId));
    } catch {
      // storage unavailable: nothing to forget
    }
  };
  /**
   * Keeps v as the ticket's last view; a lapsed ticket is dropped. A status
   * that carries a ticket (the queue gave a ticket whose join was lost a new
   * place) replaces the one held.
   */
  const note = (eventId: string, v: QueueView, ticket?: string) => {
    const h = held.get(eventId);
    if (v.phase === "expired") forget(eventId);
    else if (h) keep(eventId, { ticket: ticket || h.ticket, view: v });
  };

  return {
    forget,

    async join(eventId) {
      const have = load(eventId);
      // The stream's first message tells where the ticket stands now.
      if (have) return { ...have.view, phase: "waiting" };
      const s = (await browserApi.queue.join(eventId)).data;
      const v = toView(s);
      if (s.ticket && v.phase !== "expired") keep(eventId, { ticket: s.ticket, view: v });
      return v;
    },

    watch(eventId, on) {
      let stopped = false;
      let es: EventSource | null = null;
      let attempt = 0;
      let timer: ReturnType<typeof setTimeout> | null = null;
      let poll: ReturnType<typeof setTimeout> | null = null;

      const stop = () => {
        stopped = true;
        es?.close();
        es = null;
        if (timer) clearTimeout(timer);
        if (poll) clearTimeout(poll);
        window.removeEventListener("online", onOnline);
      };
      const deliver = (v: QueueView, ticket?: string) => {
        if (stopped) return;
        note(eventId, v, ticket);
        on.view(v);
        if (v.phase === "sold_out") awaitSeats();
        else if (v.phase !== "waiting") stop();
      };
      // Sold out: the stream is over, the place is kept. Read the public
      // line now and then; once seats are back (or the queue is off), the
      // stream again tells where the ticket stands.
      const awaitSeats = () => {
        es?.close();
        es = null;
        if (timer) clearTimeout(timer);
        timer = null;
        if (stopped || poll) return;
        poll = setTimeout(() => {
          poll = null;
          publicApi.queue
            .line(eventId)
            .then(
              (r) => r.data.sold_out !== true || r.data.enabled === false,
              () => false,
            )
            .then((back) => {
              // A stream opened meanwhile (the browser came back online) decides.
              if (stopped || es || poll || timer) return;
              if (back) open();
              else awaitSeats();
            });
        }, soldOutPollMs());
      };
      const fatal = (err: ApiError) => {
        forget(eventId);
        stop();
        on.fatal(err);
      };
      const fail = (err: unknown) => {
        if (!(err instanceof ApiError) || err.retryable) return;
        // A ticket the queue refuses (a line that was reset, another
        // buyer's): it is worth nothing, join again.
        if (err.status === 400 || err.status === 403) deliver(LAPSED);
        else if (err.status === 401 || err.status === 404) fatal(err);
      };
      const reconnect = (reason: string) => {
        es?.close();
        es = null;
        if (stopped || timer) return;
        attempt++;
        const ms = reconnectDelayMs(attempt);
        on.connection({ state: "reconnecting", inSeconds: Math.ceil(ms / 1000), reason });
        // Meanwhile, one plain read keeps the place on screen current (and
        // tells a ticket the queue no longer knows).
        const ticket = held.get(eventId)?.ticket;
        browserApi.queue.status(eventId, ticket).then((r) => deliver(toView(r.data), r.data.ticket), fail);
        timer = setTimeout(() => {
          timer = null;
          open();
        }, ms);
      };
      const open = () => {
        if (stopped) return;
        if (poll) clearTimeout(poll);
        poll = null;
        const ticket = load(eventId)?.ticket;
        if (!ticket) {
          return fatal(new ApiError({ status: 401, code: "UNAUTHORIZED", message: "no queue ticket: join the line first" }));
        }
        if (!ES) return reconnect("this browser has no EventSource");
        on.connection({ state: "connecting" });
        const src = new ES(streamUrl(eventId, ticket));
        es = src;
        src.onopen = () => {
          attempt = 0;
          on.connection({ state: "live" });
        };
        src.onmessage = (m) => {
          try {
            const env = JSON.parse(m.data) as { data?: QueueStatus };
            if (env.data) deliver(toView(env.data), env.data.ticket);
          } catch {
            // a line we do not understand: ignore it, the next one will do
          }
        };
        // A refused stream (a dead ticket) and a dropped one look the same
        // to an EventSource; the browser would retry by itself only for
        // some failures, and without backoff: take over.
        src.onerror = () => reconnect(navigator.onLine === false ? "offline" : "connection lost");
      };
      const onOnline = () => {
        if (stopped || es) return;
        if (timer) clearTimeout(timer);
        timer = null;
        attempt = 0;
        open();
      };

      window.addEventListener("online", onOnline);
      open();
      return stop;
    },
  };
}

/** The queue API the app uses. */
export const queueApi: QueueApi = createQueueApi();
