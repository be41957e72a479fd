/**
 * Titles of the events a list of bookings refers to, from the cached public
 * catalog (one read per distinct event, shared by everyone).
 */
import "server-only";

import { publicApi } from "./server";
import type { Event, Show } from "./wire";

export async function eventsById(ids: string[]): Promise<Map<string, Event>> {
  const api = publicApi(30);
  const unique = [...new Set(ids)];
  const found = await Promise.all(unique.map((id) => api.catalog.event(id).then((r) => r.data, () => null)));
  return new Map(found.filter((e): e is Event => e !== null).map((e) => [e.id, e]));
}

/**
 * The shows of those events by id, from the same cached catalog (one read
 * per distinct event): a list of bookings says which date each is for.
 */
export async function showsById(eventIds: string[]): Promise<Map<string, Show>> {
  const api = publicApi(30);
  const unique = [...new Set(eventIds)];
  const found = await Promise.all(unique.map((id) => api.catalog.shows(id).then((r) => r.data, () => [] as Show[])));
  return new Map(found.flat().map((s) => [s.id, s]));
}
