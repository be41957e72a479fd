/**
 * Retrying what the API shed, politely.
 *
 * 429 RATE_LIMITED and 503 SERVICE_UNAVAILABLE (the edge sheds overload with
 * 503 + Retry-After, details.reason "overloaded") mean "not now": the call
 * changed nothing. `retryBusy` waits what Retry-After asks, never less, and a
 * little more each time (backoff with jitter, so a crowd that was shed at the
 * same instant does not come back at the same instant), telling the caller
 * every second how long is left so the page can show a countdown. Other
 * errors are thrown at once. A caller that retries a reserve or a payment
 * passes the same Idempotency-Key each time (the closure keeps it).
 */
import { ApiError } from "./errors";

export interface RetryOptions {
  /** Attempts in all, the first included (default 6). */
  maxAttempts?: number;
  /** Called with the whole seconds left before the next attempt, then with 0. */
  onWait?: (secondsLeft: number, err: ApiError) => void;
  /** Stops waiting (and retrying) when aborted. */
  signal?: AbortSignal;
  /** Longest single wait in seconds (default 60). */
  maxDelay?: number;
  /** For tests: the sleep and the random source. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** The wait before attempt n+1 (n >= 1): Retry-After, at least doubling per attempt, plus jitter. */
export function retryDelayMs(err: ApiError, attempt: number, maxDelay = 60, random = Math.random): number {
  const asked = err.retryAfter ?? 1;
  const backoff = Math.min(maxDelay, 2 ** (attempt - 1));
  const base = Math.min(maxDelay, Math.max(asked, backoff));
  return Math.round(base * 1000 + random() * 400);
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new DOMException("aborted", "AbortError"));
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason ?? new DOMException("aborted", "AbortError"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Runs fn, retrying it after Retry-After while the API answers 429 or 503 (or is unreachable). */
export async function retryBusy<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const max = opts.maxAttempts ?? 6;
  const sleep = opts.sleep ?? abortableSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ApiError) || !err.retryable || attempt >= max) throw err;
      let left = retryDelayMs(err, attempt, opts.maxDelay, opts.random);
      // Count down in whole seconds so the page can show it.
      while (left > 0) {
        opts.onWait?.(Math.ceil(left / 1000), err);
        const step = left % 1000 || 1000;
        await sleep(step, opts.signal);
        left -= step;
      }
      opts.onWait?.(0, err);
    }
  }
}
