"use client";

import { usePathname, useRouter } from "next/navigation";
import { useEffect, useMemo, useState } from "react";
import Link from "next/link";
import { AlertCircle } from "lucide-react";

import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { renewSession } from "@/lib/api/browser";
import { ApiError, plainWords, type SerializedApiError } from "@/lib/api/errors";
import { retryDelayMs } from "@/lib/api/retry";

/** The whole seconds before try n+1: Retry-After, doubling per try, at most a minute. */
function waitSeconds(err: ApiError, attempt: number): number {
  return Math.max(1, Math.round(retryDelayMs(err, attempt) / 1000));
}

/**
 * A page that could not load its data, in plain words. When the API was busy
 * (429/503) it counts down Retry-After and renders the page again, waiting
 * longer each time until it loads: the page never hammers the API. A 401
 * first renews the session (its access token may have been ended by a
 * sign-out on another device while the session lives) and renders the page
 * again; only a session that is over asks to sign in, and comes back here
 * afterwards. A panel that is the whole page (`page`) says its title as the
 * page's h1.
 */
export function ApiErrorPanel({ error, title = "We could not load this page", page = false }: { error: SerializedApiError; title?: string; page?: boolean }) {
  const router = useRouter();
  const path = usePathname();
  const err = useMemo(() => ApiError.from(error), [error]);
  // Seconds until the page is rendered again, and how many times it was:
  // each new try waits what Retry-After asks, and longer each time.
  const [attempt, setAttempt] = useState(1);
  const [left, setLeft] = useState(() => (err.retryable ? waitSeconds(err, 1) : 0));
  // The error the page was rendered with: once renewed, the page renders again
  // and either loads or brings a new error, which is then shown.
  const [firstError] = useState(error);
  const [renew, setRenew] = useState<"trying" | "renewed" | "over">(err.code === "UNAUTHORIZED" ? "trying" : "over");

  useEffect(() => {
    if (renew !== "trying") return;
    let live = true;
    void renewSession().then((ok) => {
      if (!live) return;
      setRenew(ok ? "renewed" : "over");
      if (ok) router.refresh();
    });
    return () => {
      live = false;
    };
  }, [renew, router]);

  // Until the page loads (this panel then goes) or its error is one a
  // retry cannot cure, the page is rendered again after each countdown.
  const counting = err.retryable && left > 0;
  useEffect(() => {
    if (!counting) return;
    const t = setTimeout(() => {
      if (left > 1) return setLeft(left - 1);
      router.refresh();
      setAttempt(attempt + 1);
      setLeft(waitSeconds(err, attempt + 1));
    }, 1000);
    return () => clearTimeout(t);
  }, [counting, left, attempt, err, router]);

  if (err.code === "UNAUTHORIZED" && (renew === "trying" || (renew === "renewed" && error === firstError))) {
    return (
      <div role="status" className="text-muted-foreground my-6" data-testid="session-renewing">
        {page ? <h1>Checking your session…</h1> : <p>Checking your session…</p>}
      </div>
    );
  }
  return (
    <Alert variant="destructive" className="my-6" data-testid="api-error" data-code={err.code}>
      <AlertCircle />
      <AlertTitle>{page ? <h1>{title}</h1> : title}</AlertTitle>
      <AlertDescription>
        <p>{plainWords(err)}</p>
        {counting && <p data-testid="retry-countdown">Trying again in {left} s…</p>}
        {err.code === "UNAUTHORIZED" && (
          <Button asChild size="sm" variant="outline">
            <Link href={`/login?next=${encodeURIComponent(path)}`}>Sign in</Link>
          </Button>
        )}
        {err.requestId && <p className="text-xs opacity-70">Reference: {err.requestId}</p>}
      </AlertDescription>
    </Alert>
  );
}
