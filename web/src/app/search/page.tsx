/** Search results: published events by title, category and page (rendered per request, catalog reads cached). */
import type { Metadata } from "next";

import { EventBrowser } from "@/components/event-browser";

export const metadata: Metadata = { title: "Search events" };

function one(v: string | string[] | undefined): string {
  return (Array.isArray(v) ? v[0] : v) ?? "";
}

export default async function SearchPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const sp = await searchParams;
  const page = Math.max(1, Math.min(10000, Number.parseInt(one(sp.page), 10) || 1));
  return <EventBrowser query={one(sp.q).slice(0, 100)} category={one(sp.category)} page={page} />;
}
