/**
 * The waiting room's one door to the API.
 *
 * Every page that shows a waiting room talks to the queue through this module
 * and nothing else, so that the queue API being redesigned (signed queue
 * tickets, a stream authenticated by the ticket in its query string, a public
 * cacheable line state, organizer knobs) changes this file only. Pages see a
 * `QueueView` (where the buyer stands) and a `QueueConnection` (how the live
 * link is doing); they never see a wire type.
 *
 * Today's API (`todayQueueApi`): POST /api/v1/queue/join {event_id} answers the
 * buyer's status; GET /api/v1/queue/events?event_id= streams it as server-sent
 * events until the buyer is admitted (with a queue pass for X-Queue-Pass) or
 * the pass expired; GET /api/v1/queue/status reads it once. All three need the
 * bearer token, which an EventSource cannot send, so the browser reaches them
 * through the app's /bff/api proxy (same origin, the session cookie). Sold out
 * is not part of today's stream: while waiting, the module reads the event's
 * public seat counts (/bff/public, cached for everyone) every 15 s.
 *
 * The stream reconnects by itself: a dropped connection, an `event: error`, or
 * the browser coming back online reopens it after a backoff (1, 2, 4... 15 s,
 * with jitter, so a crowd does not reconnect in the same second), reading the
 * status once meanwhile. Nothing is retried faster than that.
 *
 * When the new queue API lands, write `nextQueueApi` beside `todayQueueApi`
 * (join answers a signed ticket; the stream URL carries `?ticket=`, so the
 * EventSource may go straight to /api/v1 on the same host instead of through
 * /bff; sold out arrives in the stream; the line's public state replaces the
 * seat-count probe) and switch `queueApi` to it. The QueueView fields stay.
 */
import { ApiError } from "@/lib/api/errors";
import { readEnvelope, networkError } from "@/lib/api/transport";
import { CSRF_HEADER } from "@/lib/session/cookies";

/** Where the buyer stands. */
export type QueuePhase = "waiting" | "admitted" | "expired" | "sold_out";

export interface QueueView {
  phase: QueuePhase;
  /** 1-based place in line while waiting; 0 once admitted. */
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
  join(eventId: string): Promise<QueueView>;
  /** Follows the buyer's place until admitted, expired or sold out; returns stop(). */
  watch(eventId: string, on: WatchHandlers): () => void;
}

/** The queue status as today's API writes it (bookingrush.queue.v1.QueueStatus on the wire). */
interface WireQueueStatus {
  position: number;
  total: number;
  status: string;
  queue_pass: string;
  pass_expires_at: string | null;
  estimated_wait: string | null;
}

/** "12.5s" (a protobuf Duration in JSON) -> 13. */
export function durationSeconds(d: string | null | undefined): number | null {
  if (!d) return null;
  const m = /^(-?\d+(?:\.\d+)?)s$/.exec(d);
  return m ? Math.max(0, Math.ceil(Number(m[1]))) : null;
}

export function toView(s: WireQueueStatus): QueueView {
  const phase: QueuePhase = s.status === "admitted" ? "admitted" : s.status === "expired" ? "expired" : "waiting";
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

function csrf(): string {
  const m = /(?:^|;\s*)br_csrf=([^;]*)/.exec(document.cookie);
  return m ? decodeURIComponent(m[1]) : "";
}

async function call<T>(input: string, init?: RequestInit): Promise<T> {
  try {
    return (await readEnvelope<T>(await fetch(input, { credentials: "same-origin", cache: "no-store", ...init }))).data;
  } catch (err) {
    throw networkError(err);
  }
}

/** Whether every show of the event has no seat left (today's sold-out signal). */
async function soldOut(eventId: string): Promise<boolean> {
  const shows = await call<{ available_seats: number; status: string }[]>(`/bff/public/events/${encodeURIComponent(eventId)}/shows`);
  return shows.length > 0 && shows.every((s) => s.available_seats <= 0 || s.status === "sold_out");
}

/** Today's queue API (see the module comment). */
export function todayQueueApi(opts: { EventSource?: typeof EventSource; soldOutEveryMs?: number } = {}): QueueApi {
  const ES = opts.EventSource ?? (typeof EventSource !== "undefined" ? EventSource : undefined);
  const probeEvery = opts.soldOutEveryMs ?? 15_000;
  return {
    async join(eventId) {
      const s = await call<WireQueueStatus>("/bff/api/queue/join", {
        method: "POST",
        headers: { "Content-Type": "application/json", [CSRF_HEADER]: csrf() },
        body: JSON.stringify({ event_id: eventId }),
      });
      return toView(s);
    },

    watch(eventId, on) {
      let stopped = false;
      let es: EventSource | null = null;
      let attempt = 0;
      let timer: ReturnType<typeof setTimeout> | null = null;
      let probe: ReturnType<typeof setInterval> | null = null;

      const stop = () => {
        stopped = true;
        es?.close();
        es = null;
        if (timer) clearTimeout(timer);
        if (probe) clearInterval(probe);
        window.removeEventListener("online", onOnline);
      };
      const deliver = (v: QueueView) => {
        if (stopped) return;
        on.view(v);
        if (v.phase !== "waiting") stop();
      };
      const fail = (err: unknown) => {
        if (err instanceof ApiError && !err.retryable && (err.status === 401 || err.status === 403 || err.status === 404)) {
          stop();
          on.fatal(err);
          return true;
        }
        return false;
      };
      const reconnect = (reason: string) => {
        es?.close();
        es = null;
        if (stopped || timer) return;
        attempt++;
        const ms = reconnectDelayMs(attempt);
        on.connection({ state: "reconnecting", inSeconds: Math.ceil(ms / 1000), reason });
        // Meanwhile, one plain read keeps the place on screen current.
        call<WireQueueStatus>(`/bff/api/queue/status?event_id=${encodeURIComponent(eventId)}`).then(
          (s) => deliver(toView(s)),
          (err) => fail(err),
        );
        timer = setTimeout(() => {
          timer = null;
          open();
        }, ms);
      };
      const open = () => {
        if (stopped) return;
        if (!ES) return reconnect("this browser has no EventSource");
        on.connection({ state: "connecting" });
        const src = new ES(`/bff/api/queue/events?event_id=${encodeURIComponent(eventId)}`, { withCredentials: true });
        es = src;
        src.onopen = () => {
          attempt = 0;
          on.connection({ state: "live" });
        };
        src.onmessage = (m) => {
          try {
            const env = JSON.parse(m.data) as { data?: WireQueueStatus; queue_status?: WireQueueStatus };
            const s = env.data ?? env.queue_status;
            if (s) deliver(toView(s));
          } catch {
            // a line we do not understand: ignore it, the next one will do
          }
        };
        src.addEventListener("error", (e) => {
          const data = (e as MessageEvent).data;
          if (typeof data === "string" && data) {
            try {
              const env = JSON.parse(data) as { error?: { code: string; message: string } };
              if (env.error && fail(new ApiError({ status: env.error.code === "UNAUTHORIZED" ? 401 : 0, ...env.error }))) return;
            } catch {
              // not an envelope
            }
          }
          // The browser would retry by itself only for some failures, and
          // without backoff: take over.
          reconnect(navigator.onLine === false ? "offline" : "connection lost");
        });
      };
      const onOnline = () => {
        if (stopped || es) return;
        if (timer) clearTimeout(timer);
        timer = null;
        attempt = 0;
        open();
      };

      window.addEventListener("online", onOnline);
      probe = setInterval(() => {
        soldOut(eventId).then(
          (out) => {
            if (out) deliver({ phase: "sold_out", position: 0, total: 0, etaSeconds: null, pass: null, passExpiresAt: null });
          },
          () => undefined, // the probe is best effort
        );
      }, probeEvery);
      open();
      return stop;
    },
  };
}

/** The queue API the app uses now. */
export const queueApi: QueueApi = todayQueueApi();
