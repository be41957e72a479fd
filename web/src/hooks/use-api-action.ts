"use client";

import { useCallback, useEffect, useId, useRef, useState } from "react";

import { ApiError, plainWords } from "@/lib/api/errors";
import { firstInvalid, splitFieldErrors } from "@/lib/api/field-errors";
import { retryBusy } from "@/lib/api/retry";

/** What an action shows while it runs. */
export interface ActionState {
  running: boolean;
  /** Seconds until the next try after a 429/503, or null. */
  retryIn: number | null;
  /** The last failure in plain words, or null: what the box above the button says. */
  error: string | null;
  /** The words under each input of the form a VALIDATION_ERROR names (run's `form`), by field. */
  fields: Record<string, string>;
  errorCode: string | null;
  /** The session is over (a 401 this action has no words of its own for): offer to sign in again. */
  signIn: boolean;
}

/**
 * What an action shows after it failed with `err` (no words of its own, no
 * form): the error in plain words, and "Sign in again" for an ended session.
 * For a page that runs a call without `useApiAction` (the waiting room) and
 * shows its failure with `ActionStatus`.
 */
export function failedState(err: unknown): ActionState {
  const e = err instanceof ApiError ? err : null;
  return {
    running: false,
    retryIn: null,
    error: e ? plainWords(e) : String(err),
    errorCode: e?.code ?? "UNKNOWN",
    fields: {},
    signIn: e?.code === "UNAUTHORIZED",
  };
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
 *
 * Given the submitted form, `run` writes each violation of a VALIDATION_ERROR
 * under the input it concerns (lib/api/field-errors.ts): the form spreads
 * `field(name)` on the input (its contract name, `aria-invalid` and
 * `aria-describedby` while refused) and puts `<FieldError>` under it; focus
 * goes to the first refused input. What has no input stays in `error`.
 */
export function useApiAction(words: Partial<Record<string, string>> = {}) {
  const [state, setState] = useState<ActionState>({ running: false, retryIn: null, error: null, errorCode: null, fields: {}, signIn: false });
  const abort = useRef<AbortController | null>(null);
  const focus = useRef<{ focus(): void } | null>(null);
  const uid = useId();

  // The first refused input, once it carries its aria-invalid and description.
  useEffect(() => {
    focus.current?.focus();
    focus.current = null;
  }, [state.fields]);

  const run = useCallback(async <T,>(fn: () => Promise<T>, form?: HTMLFormElement | null): Promise<T | undefined> => {
    abort.current?.abort();
    const ctl = new AbortController();
    abort.current = ctl;
    setState({ running: true, retryIn: null, error: null, errorCode: null, fields: {}, signIn: false });
    try {
      const out = await retryBusy(fn, {
        signal: ctl.signal,
        onWait: (s) => setState((st) => ({ ...st, retryIn: s > 0 ? s : null })),
      });
      setState({ running: false, retryIn: null, error: null, errorCode: null, fields: {}, signIn: false });
      return out;
    } catch (err) {
      if (ctl.signal.aborted) return undefined;
      const e = err instanceof ApiError ? err : null;
      const own = e ? (words[`${e.code}:${e.fields[0]?.field ?? ""}`] ?? words[e.code]) : undefined;
      const split = e && own === undefined ? splitFieldErrors(e, form) : null;
      focus.current = split ? firstInvalid(form, split.fields) : null;
      const failed = failedState(err);
      setState(own !== undefined ? { ...failed, error: own, signIn: false } : split ? { ...failed, error: split.box, fields: split.fields } : failed);
      return undefined;
    }
    // words are the first render's: a component's words for its action never change.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const cancel = useCallback(() => {
    abort.current?.abort();
    setState((s) => ({ ...s, running: false, retryIn: null }));
  }, []);

  /** The id of the words under the input of `name`. */
  const errorId = useCallback((name: string) => `${uid}-${name}-error`, [uid]);

  /** What the input of the contract's field `name` spreads: the field it is, and whether it was refused. */
  const field = useCallback(
    (name: string) => {
      const bad = Object.hasOwn(state.fields, name);
      // "data-field" is FIELD_ATTR, written out for the props' type.
      return { "data-field": name, "aria-invalid": bad || undefined, "aria-describedby": bad ? errorId(name) : undefined };
    },
    [state.fields, errorId],
  );

  return { ...state, run, cancel, field, errorId };
}
