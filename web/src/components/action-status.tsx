"use client";

import { AlertCircle, Loader2 } from "lucide-react";
import { useEffect, type ReactNode } from "react";

import { Alert, AlertDescription } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import type { ActionState, useApiAction } from "@/hooks/use-api-action";

/**
 * The state of an action under its button: the countdown of a retry, or the
 * error in plain words (with "Sign in again" for an ended session, and the
 * page's own ways on, `children`, beside it).
 */
export function ActionStatus({ state, children }: { state: ActionState; children?: ReactNode }) {
  if (state.retryIn !== null) {
    return (
      <p role="status" aria-live="polite" className="text-muted-foreground flex items-center gap-2 text-sm" data-testid="retry-countdown">
        <Loader2 className="size-4 animate-spin" />
        Busy right now — trying again in {state.retryIn} s…
      </p>
    );
  }
  if (state.error) {
    return (
      <Alert variant="destructive" data-testid="action-error" data-code={state.errorCode ?? undefined}>
        <AlertCircle />
        <AlertDescription>
          <p>{state.error}</p>
          {(state.signIn || children) && (
            <div className="mt-2 flex flex-wrap gap-2">
              {state.signIn && <SignInAgain />}
              {children}
            </div>
          )}
        </AlertDescription>
      </Alert>
    );
  }
  return null;
}

/**
 * The way on from an ended session: sign in, then back to this very page
 * (a checkout whose hold still runs, a buy page with its show and zone).
 * The header is told, so it no longer shows the person as signed in.
 */
function SignInAgain() {
  useEffect(() => {
    window.dispatchEvent(new Event("br:session"));
  }, []);
  // Shown only after an action failed, in the browser: the address is there.
  const here = `${window.location.pathname}${window.location.search}`;
  return (
    <Button asChild size="sm" variant="outline">
      <a href={`/login?next=${encodeURIComponent(here)}`} data-testid="sign-in-again">
        Sign in again
      </a>
    </Button>
  );
}

/**
 * The words under an input the API refused (a VALIDATION_ERROR naming its
 * field), which the input's `aria-describedby` points at; nothing otherwise.
 */
export function FieldError({ action, name }: { action: Pick<ReturnType<typeof useApiAction>, "fields" | "errorId">; name: string }) {
  const words = Object.hasOwn(action.fields, name) ? action.fields[name] : null;
  if (!words) return null;
  return (
    <p id={action.errorId(name)} className="text-destructive text-sm" data-testid={`field-error-${name}`}>
      {words}
    </p>
  );
}
