/**
 * Titles of the events a list of bookings refers to, from the cached public
 * catalog (one read per distinct event, shared by everyone).
 */
import "server-only";

import { publicApi } from "./server";
import type { Event } from "./wire";

export async function eventsById(ids: string[]): Promise<Map<string, Event>> {
  const api = publicApi(30);
  const unique = [...new Set(ids)];
  const found = await Promise.all(unique.map((id) => api.catalog.event(id).then((r) => r.data, () => null)));
  return new Map(found.filter((e): e is Event => e !== null).map((e) => [e.id, e]));
}
