"use client";

/**
 * Creating or editing an event (title, description, venue and its time zone,
 * category, sale window, per-person limit, waiting room). Dates are entered
 * as the venue's wall clock (the zone chosen in the form; a new event starts
 * with the organizer's own: the tz cookie) and sent as RFC 3339 UTC.
 */
import { useRouter } from "next/navigation";
import { useState } from "react";

import { ActionStatus, FieldError } from "@/components/action-status";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { NativeSelect } from "@/components/ui/native-select";
import { Textarea } from "@/components/ui/textarea";
import { useApiAction } from "@/hooks/use-api-action";
import { browserApi } from "@/lib/api/browser";
import type { Category, Event } from "@/lib/api/wire";
import { changed } from "@/lib/event-fields";
import { fromZoneInput, toZoneInput } from "@/lib/format";

/**
 * zone is where a new event starts (the organizer's own); zones is the
 * picker's list, made on the server so its HTML and the hydrated form agree.
 */
export function EventForm({ event, categories, zone: initialZone, zones }: { event?: Event; categories: Category[]; zone: string; zones: string[] }) {
  const router = useRouter();
  const action = useApiAction();
  const [saved, setSaved] = useState(false);
  // Created: on the way to the new draft's page; another click would create a second draft.
  const [created, setCreated] = useState(false);
  const [zone, setZone] = useState(initialZone);
  // The sale window as instants: the inputs show them as the picked zone's
  // wall clock, so picking another zone keeps the instants (as the API does)
  // and writes them anew, instead of reading the same wall clock elsewhere.
  const [sale, setSale] = useState(() => ({
    sale_start_at: event?.sale_start_at ?? new Date(Date.now() - 60_000).toISOString(),
    sale_end_at: event?.sale_end_at ?? new Date(Date.now() + 30 * 86400_000).toISOString(),
  }));
  const onSale = event?.status === "published";

  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setSaved(false);
    const form = e.currentTarget;
    const f = new FormData(form);
    const body = {
      title: String(f.get("title")),
      description: String(f.get("description") ?? ""),
      venue: String(f.get("venue")),
      time_zone: zone,
      category: String(f.get("category") ?? ""),
      sale_start_at: sale.sale_start_at,
      sale_end_at: sale.sale_end_at,
      max_per_user: Number(f.get("max_per_user")),
      queue_enabled: f.get("queue_enabled") === "on",
    };
    if (event) {
      // Only what the organizer changed: the page may be older than the
      // event (the waiting room switched on by the edge in a rush, another
      // tab's edit), and an ended sale's window cannot be sent again.
      const changes = changed(body, event);
      const res = Object.keys(changes).length === 0 || (await action.run(() => browserApi.catalog.updateEvent(event.id, changes), form));
      if (res) {
        setSaved(true);
        router.refresh();
      }
    } else {
      const res = await action.run(() => browserApi.catalog.createEvent(body), form);
      if (res) {
        setCreated(true);
        router.push(`/organizer/events/${res.data.id}`);
      }
    }
  }

  return (
    <form onSubmit={submit} className="grid gap-4 sm:grid-cols-2">
      <fieldset disabled={event?.status === "cancelled"} className="contents">
        <div className="space-y-2 sm:col-span-2">
          <Label htmlFor="title">Title</Label>
          <Input id="title" name="title" required maxLength={255} defaultValue={event?.title} {...action.field("title")} />
          <FieldError action={action} name="title" />
        </div>
        <div className="space-y-2 sm:col-span-2">
          <Label htmlFor="description">Description</Label>
          <Textarea id="description" name="description" maxLength={10000} defaultValue={event?.description} {...action.field("description")} />
          <FieldError action={action} name="description" />
        </div>
        <div className="space-y-2">
          <Label htmlFor="venue">Venue</Label>
          <Input id="venue" name="venue" required maxLength={255} defaultValue={event?.venue} {...action.field("venue")} />
          <FieldError action={action} name="venue" />
        </div>
        <div className="space-y-2">
          <Label htmlFor="time_zone">Venue time zone</Label>
          <NativeSelect id="time_zone" name="time_zone" value={zone} onChange={(e) => setZone(e.target.value)} data-testid="time-zone" {...action.field("time_zone")}>
            {zones.map((z) => (
              <option key={z} value={z}>
                {z}
              </option>
            ))}
          </NativeSelect>
          <FieldError action={action} name="time_zone" />
          <p className="text-muted-foreground text-xs">Show dates and the sale window are written in it, on every page and in the e-mails.</p>
        </div>
        <div className="space-y-2">
          <Label htmlFor="category">Category</Label>
          <NativeSelect id="category" name="category" defaultValue={event?.category ?? ""} {...action.field("category")}>
            <option value="">None</option>
            {categories.map((c) => (
              <option key={c.id} value={c.slug}>
                {c.name}
              </option>
            ))}
          </NativeSelect>
          <FieldError action={action} name="category" />
        </div>
        {(
          [
            ["sale_start_at", "Sale opens"],
            ["sale_end_at", "Sale closes"],
          ] as const
        ).map(([name, label]) => (
          <div key={name} className="space-y-2">
            <Label htmlFor={name}>
              {label} ({zone} time)
            </Label>
            <Input
              key={zone}
              id={name}
              name={name}
              type="datetime-local"
              required
              defaultValue={toZoneInput(sale[name], zone)}
              onChange={(e) => {
                const at = fromZoneInput(e.target.value, zone);
                if (at) setSale((cur) => ({ ...cur, [name]: at }));
              }}
              {...action.field(name)}
            />
            <FieldError action={action} name={name} />
          </div>
        ))}
        <div className="space-y-2">
          <Label htmlFor="max_per_user">Tickets per person (1–10)</Label>
          <Input id="max_per_user" name="max_per_user" type="number" min={1} max={10} required defaultValue={event?.max_per_user ?? 4} {...action.field("max_per_user")} />
          <FieldError action={action} name="max_per_user" />
        </div>
        <label className="flex items-center gap-2 self-end pb-2 text-sm">
          {/* Keyed on the event's switch: turned on or off in the Sale card
              (or by the system), the box follows, and saving the details
              does not switch it back. */}
          <input
            key={String(event?.queue_enabled ?? false)}
            type="checkbox"
            name="queue_enabled"
            defaultChecked={event?.queue_enabled ?? false}
            data-testid="queue-enabled"
          />{" "}
          Waiting room at the sale
        </label>
        <div className="space-y-2 sm:col-span-2">
          {onSale && <p className="text-muted-foreground text-xs">The event is on sale: changes apply at once.</p>}
          {event?.status === "cancelled" && (
            <p className="text-muted-foreground text-xs" data-testid="details-closed">
              The event was cancelled: its details no longer change.
            </p>
          )}
          <ActionStatus state={action} />
          {saved && <p className="text-success text-sm">Saved.</p>}
          <Button type="submit" disabled={action.running || created} data-testid="save-event">
            {event ? "Save changes" : "Create draft"}
          </Button>
        </div>
      </fieldset>
    </form>
  );
}
