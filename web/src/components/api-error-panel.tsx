"use client";

import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import Link from "next/link";
import { AlertCircle } from "lucide-react";

import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { ApiError, plainWords, type SerializedApiError } from "@/lib/api/errors";

/**
 * A page that could not load its data, in plain words. When the API was busy
 * (429/503) it counts down Retry-After and reloads the page once, then waits
 * longer each time: the page never hammers the API.
 */
export function ApiErrorPanel({ error, title = "We could not load this page" }: { error: SerializedApiError; title?: string }) {
  const router = useRouter();
  const err = ApiError.from(error);
  const [left, setLeft] = useState<number | null>(err.retryable ? Math.max(1, err.retryAfter ?? 2) : null);

  useEffect(() => {
    if (left === null) return;
    if (left <= 0) {
      router.refresh();
      return;
    }
    const t = setTimeout(() => setLeft(left - 1), 1000);
    return () => clearTimeout(t);
  }, [left, router]);

  return (
    <Alert variant="destructive" className="my-6" data-testid="api-error" data-code={err.code}>
      <AlertCircle />
      <AlertTitle>{title}</AlertTitle>
      <AlertDescription>
        <p>{plainWords(err)}</p>
        {left !== null && left > 0 && <p data-testid="retry-countdown">Trying again in {left} s…</p>}
        {err.code === "UNAUTHORIZED" && (
          <Button asChild size="sm" variant="outline">
            <Link href="/login">Sign in</Link>
          </Button>
        )}
        {err.requestId && <p className="text-xs opacity-70">Reference: {err.requestId}</p>}
      </AlertDescription>
    </Alert>
  );
}
