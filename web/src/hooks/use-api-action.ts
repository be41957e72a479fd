"use client";

import { useCallback, useRef, useState } from "react";

import { ApiError, plainWords } from "@/lib/api/errors";
import { retryBusy } from "@/lib/api/retry";

/** What an action shows while it runs. */
export interface ActionState {
  running: boolean;
  /** Seconds until the next try after a 429/503, or null. */
  retryIn: number | null;
  /** The last failure in plain words, or null. */
  error: string | null;
  errorCode: string | null;
  /** The session is over (a 401 this action has no words of its own for): offer to sign in again. */
  signIn: boolean;
}

/**
 * Runs an API call from a click: busy answers (429, 503, unreachable) are
 * retried after Retry-After with a visible countdown (`retryIn`), other
 * errors end up in plain words in `error`. The call is a closure, so a
 * reserve or payment retried here keeps its Idempotency-Key. `words` gives
 * an error code the sentence it means for this action (a sign-in's
 * UNAUTHORIZED is a wrong password, not an ended session), or a code and
 * the first field it names ("VALIDATION_ERROR:token": a reset link that is
 * spent, not a field of the form).
 */
export function useApiAction(words: Partial<Record<string, string>> = {}) {
  const [state, setState] = useState<ActionState>({ running: false, retryIn: null, error: null, errorCode: null, signIn: false });
  const abort = useRef<AbortController | null>(null);

  const run = useCallback(async <T,>(fn: () => Promise<T>): Promise<T | undefined> => {
    abort.current?.abort();
    const ctl = new AbortController();
    abort.current = ctl;
    setState({ running: true, retryIn: null, error: null, errorCode: null, signIn: false });
    try {
      const out = await retryBusy(fn, {
        signal: ctl.signal,
        onWait: (s) => setState((st) => ({ ...st, retryIn: s > 0 ? s : null })),
      });
      setState({ running: false, retryIn: null, error: null, errorCode: null, signIn: false });
      return out;
    } catch (err) {
      if (ctl.signal.aborted) return undefined;
      const e = err instanceof ApiError ? err : null;
      const own = e ? (words[`${e.code}:${e.fields[0]?.field ?? ""}`] ?? words[e.code]) : undefined;
      setState({
        running: false,
        retryIn: null,
        error: e ? (own ?? plainWords(e)) : String(err),
        errorCode: e?.code ?? "UNKNOWN",
        signIn: e?.code === "UNAUTHORIZED" && own === undefined,
      });
      return undefined;
    }
    // words are the first render's: a component's words for its action never change.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const cancel = useCallback(() => {
    abort.current?.abort();
    setState((s) => ({ ...s, running: false, retryIn: null }));
  }, []);

  return { ...state, run, cancel };
}
