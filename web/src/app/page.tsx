/**
 * Home: the published events, with search by title, a category filter and
 * pages. Catalog reads go through Next's data cache (publicApi, a few seconds),
 * so a crowd on the home page costs the edge one read per query and interval.
 */
import type { Metadata } from "next";
import { Search } from "lucide-react";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { EventCard } from "@/components/event-card";
import { Pager } from "@/components/pager";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { NativeSelect } from "@/components/ui/native-select";
import { load, publicApi } from "@/lib/api/server";

export const metadata: Metadata = { title: "Events" };

const PER_PAGE = 12;

function one(v: string | string[] | undefined): string {
  return (Array.isArray(v) ? v[0] : v) ?? "";
}

export default async function Home({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const sp = await searchParams;
  const query = one(sp.q).slice(0, 100);
  const category = one(sp.category);
  const page = Math.max(1, Math.min(10000, Number.parseInt(one(sp.page), 10) || 1));
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
    const s = q.toString();
    return s ? `/?${s}` : "/";
  };

  return (
    <div className="space-y-6">
      <section className="space-y-2">
        <h1 className="text-3xl font-bold tracking-tight">Find your next event</h1>
        <p className="text-muted-foreground">Fair queues, real seats, instant confirmation.</p>
      </section>
      <form action="/" method="get" role="search" className="flex flex-col gap-2 sm:flex-row">
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
      ) : events.data.length === 0 ? (
        <p className="text-muted-foreground py-12 text-center" data-testid="no-events">
          {query || category ? "No event matches your search." : "No event is on sale yet. Come back soon!"}
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
