/**
 * Home: the first page of published events. The same HTML serves everyone
 * (ISR: re-rendered at most every 5 s, `s-maxage=5` for a CDN), since search,
 * filters and further pages live at /search.
 */
import type { Metadata } from "next";

import { EventBrowser } from "@/components/event-browser";

export const metadata: Metadata = { title: "Events" };

export const revalidate = 5;

export default function Home() {
  return <EventBrowser query="" category="" page={1} />;
}
