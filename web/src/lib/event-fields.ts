/**
 * What an organizer's edit of an event sends: only the fields that changed,
 * so a page older than the event (the waiting room switched on by the edge
 * in a rush, another tab's edit) undoes nothing, and an ended sale's window,
 * which the API takes only in the future, is not sent again.
 */
import type { Event } from "@/lib/api/wire";
import { venueZone } from "@/lib/format";

export type EventFields = {
  title: string;
  description: string;
  venue: string;
  time_zone: string;
  category: string;
  sale_start_at: string;
  sale_end_at: string;
  max_per_user: number;
  queue_enabled: boolean;
};

/** The fields of body that differ from the event's (instants compared as instants). */
export function changed(body: EventFields, event: Event): Partial<EventFields> {
  const out: Partial<EventFields> = {};
  const was: EventFields = {
    title: event.title ?? "",
    description: event.description ?? "",
    venue: event.venue ?? "",
    time_zone: venueZone(event),
    category: event.category ?? "",
    sale_start_at: event.sale_start_at ?? "",
    sale_end_at: event.sale_end_at ?? "",
    max_per_user: event.max_per_user ?? 0,
    queue_enabled: event.queue_enabled ?? false,
  };
  for (const k of Object.keys(body) as (keyof EventFields)[]) {
    const same = k === "sale_start_at" || k === "sale_end_at" ? Date.parse(body[k]) === Date.parse(was[k]) : body[k] === was[k];
    if (!same) (out as Record<string, unknown>)[k] = body[k];
  }
  return out;
}
