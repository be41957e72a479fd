"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { Ticket } from "lucide-react";

import { Button } from "@/components/ui/button";
import { readSessionUser, sessionCall } from "@/lib/api/browser";
import type { SessionUser } from "@/lib/session/cookies";

/**
 * The top bar. Who is signed in is read on the client from the br_user cookie,
 * so that public pages can be cached for everyone and still greet the viewer.
 */
export function SiteHeader() {
  const router = useRouter();
  const [user, setUser] = useState<SessionUser | null>(null);
  const [ready, setReady] = useState(false);

  useEffect(() => {
    const read = () => {
      setUser(readSessionUser());
      setReady(true);
    };
    read();
    window.addEventListener("focus", read);
    window.addEventListener("br:session", read);
    return () => {
      window.removeEventListener("focus", read);
      window.removeEventListener("br:session", read);
    };
  }, []);

  async function logout() {
    try {
      await sessionCall("logout");
    } finally {
      window.dispatchEvent(new Event("br:session"));
      router.push("/");
      router.refresh();
    }
  }

  const staff = user && (user.role === "organizer" || user.role === "admin");
  return (
    <header className="border-b bg-background/95 sticky top-0 z-40 backdrop-blur">
      {/* On a phone the links wrap under the name instead of widening the page. */}
      <nav className="mx-auto flex min-h-14 max-w-6xl flex-wrap items-center gap-x-4 gap-y-1 px-4 py-2" aria-label="Main">
        <Link href="/" className="flex items-center gap-2 font-semibold">
          <Ticket className="size-5 text-primary" /> Booking Rush
        </Link>
        <div className="ml-auto flex min-w-0 flex-wrap items-center justify-end gap-1 text-sm">
          {ready && user ? (
            <>
              <Button asChild variant="ghost" size="sm">
                <Link href="/bookings">My bookings</Link>
              </Button>
              {staff && (
                <Button asChild variant="ghost" size="sm">
                  <Link href="/organizer">Organizer</Link>
                </Button>
              )}
              {user.role === "admin" && (
                <Button asChild variant="ghost" size="sm">
                  <Link href="/admin/users">Admin</Link>
                </Button>
              )}
              <Button asChild variant="ghost" size="sm" className="max-w-48">
                <Link href="/account" data-testid="account-link" title={user.name || "Account"}>
                  <span className="truncate">{user.name || "Account"}</span>
                </Link>
              </Button>
              <Button variant="outline" size="sm" onClick={logout} data-testid="logout">
                Sign out
              </Button>
            </>
          ) : ready ? (
            <>
              <Button asChild variant="ghost" size="sm">
                <Link href="/login">Sign in</Link>
              </Button>
              <Button asChild size="sm">
                <Link href="/register">Create account</Link>
              </Button>
            </>
          ) : null}
        </div>
      </nav>
    </header>
  );
}
