"use client";

import { usePathname, useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import Link from "next/link";
import { AlertCircle } from "lucide-react";

import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { renewSession } from "@/lib/api/browser";
import { ApiError, plainWords, type SerializedApiError } from "@/lib/api/errors";

/**
 * A page that could not load its data, in plain words. When the API was busy
 * (429/503) it counts down Retry-After and reloads the page once, then waits
 * longer each time: the page never hammers the API. A 401 first renews the
 * session (its access token may have been ended by a sign-out on another
 * device while the session lives) and renders the page again; only a session
 * that is over asks to sign in, and comes back here afterwards.
 */
export function ApiErrorPanel({ error, title = "We could not load this page" }: { error: SerializedApiError; title?: string }) {
  const router = useRouter();
  const path = usePathname();
  const err = ApiError.from(error);
  const [left, setLeft] = useState<number | null>(err.retryable ? Math.max(1, err.retryAfter ?? 2) : null);
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

  useEffect(() => {
    if (left === null) return;
    if (left <= 0) {
      router.refresh();
      return;
    }
    const t = setTimeout(() => setLeft(left - 1), 1000);
    return () => clearTimeout(t);
  }, [left, router]);

  if (err.code === "UNAUTHORIZED" && (renew === "trying" || (renew === "renewed" && error === firstError))) {
    return (
      <p role="status" className="text-muted-foreground my-6" data-testid="session-renewing">
        Checking your session…
      </p>
    );
  }
  return (
    <Alert variant="destructive" className="my-6" data-testid="api-error" data-code={err.code}>
      <AlertCircle />
      <AlertTitle>{title}</AlertTitle>
      <AlertDescription>
        <p>{plainWords(err)}</p>
        {left !== null && left > 0 && <p data-testid="retry-countdown">Trying again in {left} s…</p>}
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
