"use client";

import { AlertCircle, Loader2 } from "lucide-react";

import { Alert, AlertDescription } from "@/components/ui/alert";
import type { ActionState } from "@/hooks/use-api-action";

/** The state of an action under its button: the countdown of a retry, or the error in plain words. */
export function ActionStatus({ state }: { state: ActionState }) {
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
        <AlertDescription>{state.error}</AlertDescription>
      </Alert>
    );
  }
  return null;
}
