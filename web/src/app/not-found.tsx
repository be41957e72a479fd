/**
 * What a link to nothing shows (an event that was removed, a booking that is
 * not this person's, a mistyped address): where to go from here.
 */
import type { Metadata } from "next";
import Link from "next/link";

import { Button } from "@/components/ui/button";

export const metadata: Metadata = { title: "Not found" };

export default function NotFound() {
  return (
    <div className="mx-auto max-w-md space-y-4 py-16 text-center" data-testid="not-found">
      <h1 className="text-2xl font-bold">We could not find that page</h1>
      <p className="text-muted-foreground">The link may be mistyped, or what it pointed to was removed or is not yours.</p>
      <div className="flex flex-wrap justify-center gap-2">
        <Button asChild>
          <Link href="/">Find an event</Link>
        </Button>
        <Button asChild variant="outline">
          <Link href="/bookings">My bookings</Link>
        </Button>
      </div>
    </div>
  );
}
