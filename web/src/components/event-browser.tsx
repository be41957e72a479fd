/**
 * The list of published events with search by title, a category filter and
 * pages. Catalog reads go through Next's data cache (publicApi, a few
 * seconds), so a crowd costs the edge one read per query and interval.
 * Rendered by the home page (cached for everyone, ISR) and by /search.
 */
import { Search } from "lucide-react";
import Link from "next/link";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { AutoRefresh } from "@/components/auto-refresh";
import { EventCard } from "@/components/event-card";
import { Pager, emptyList } from "@/components/pager";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { NativeSelect } from "@/components/ui/native-select";
import { load, publicApi } from "@/lib/api/server";

const PER_PAGE = 12;

export async function EventBrowser({ query, category, page }: { query: string; category: string; page: number }) {
  // `next build` prerenders the home page with no API to ask: it ships a
  // placeholder that reloads itself, and the first request renders the real
  // page (ISR) in the background.
  if (process.env.NEXT_PHASE === "phase-production-build") {
    return (
      <p className="text-muted-foreground py-12 text-center">
        Loading events… <AutoRefresh everySeconds={2} />
      </p>
    );
  }
  const api = publicApi();
  const [events, categories] = await Promise.all([
    load(api.catalog.events({ query, category: /^[a-z0-9-]+$/.test(category) ? category : "", page, per_page: PER_PAGE })),
    load(api.catalog.categories()),
  ]);
  const href = (p: number) => {
    const q = new URLSearchParams();
    if (query) q.set("q", query);
    if (category) q.set("category", category);
    if (p > 1) q.set("page", String(p));
    return `/search?${q}`;
  };

  return (
    <div className="space-y-6">
      <section className="space-y-2">
        <h1 className="text-3xl font-bold tracking-tight">Find your next event</h1>
        <p className="text-muted-foreground">Fair queues, real seats, instant confirmation.</p>
      </section>
      <form action="/search" method="get" role="search" className="flex flex-col gap-2 sm:flex-row">
        <div className="relative flex-1">
          <Search className="text-muted-foreground absolute top-2.5 left-3 size-4" />
          <Input name="q" defaultValue={query} placeholder="Search events by title" aria-label="Search by title" className="pl-9" maxLength={100} />
        </div>
        <NativeSelect name="category" defaultValue={category} aria-label="Category" className="sm:w-48">
          <option value="">All categories</option>
          {categories.ok &&
            categories.data.map((c) => (
              <option key={c.id} value={c.slug}>
                {c.name}
              </option>
            ))}
        </NativeSelect>
        <Button type="submit">Search</Button>
      </form>
      {!events.ok ? (
        <ApiErrorPanel error={events.error} title="We could not load the events" />
      ) : emptyList(events.data.length, events.meta) ? (
        <p className="text-muted-foreground py-12 text-center" data-testid="no-events">
          {query || category ? (
            <>
              No event matches your search.{" "}
              <Link className="text-foreground underline" href="/">
                See all events
              </Link>
            </>
          ) : (
            "No event is on sale yet. Come back soon!"
          )}
        </p>
      ) : (
        <>
          <div className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
            {events.data.map((e) => (
              <EventCard key={e.id} event={e} />
            ))}
          </div>
          <Pager meta={events.meta} href={href} />
        </>
      )}
    </div>
  );
}
