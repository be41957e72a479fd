"use client";

/**
 * Creating or editing an event (title, description, venue, category, sale
 * window, per-person limit, waiting room). Dates are entered in the
 * organizer's local time and sent as RFC 3339 UTC.
 */
import { useRouter } from "next/navigation";
import { useState } from "react";

import { ActionStatus } from "@/components/action-status";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { NativeSelect } from "@/components/ui/native-select";
import { Textarea } from "@/components/ui/textarea";
import { useApiAction } from "@/hooks/use-api-action";
import { browserApi } from "@/lib/api/browser";
import type { Category, Event } from "@/lib/api/wire";

/** RFC 3339 -> the value of a datetime-local input, in the browser's zone. */
export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local value (browser's zone) -> RFC 3339 UTC. */
export function fromLocalInput(v: FormDataEntryValue | null): string {
  return new Date(String(v)).toISOString();
}

export function EventForm({ event, categories }: { event?: Event; categories: Category[] }) {
  const router = useRouter();
  const action = useApiAction();
  const [saved, setSaved] = useState(false);
  const [defaults] = useState(() => {
    const start = new Date(Date.now() - 60_000);
    const end = new Date(Date.now() + 30 * 86400_000);
    return { start: toLocalInput(start.toISOString()), end: toLocalInput(end.toISOString()) };
  });
  const locked = event && event.status !== "draft";

  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setSaved(false);
    const f = new FormData(e.currentTarget);
    const body = {
      title: String(f.get("title")),
      description: String(f.get("description") ?? ""),
      venue: String(f.get("venue")),
      category: String(f.get("category") ?? ""),
      sale_start_at: fromLocalInput(f.get("sale_start_at")),
      sale_end_at: fromLocalInput(f.get("sale_end_at")),
      max_per_user: Number(f.get("max_per_user")),
      queue_enabled: f.get("queue_enabled") === "on",
    };
    if (event) {
      const res = await action.run(() => browserApi.catalog.updateEvent(event.id, body));
      if (res) {
        setSaved(true);
        router.refresh();
      }
    } else {
      const res = await action.run(() => browserApi.catalog.createEvent(body));
      if (res) router.push(`/organizer/events/${res.data.id}`);
    }
  }

  return (
    <form onSubmit={submit} className="grid gap-4 sm:grid-cols-2">
      <fieldset disabled={event?.status === "cancelled"} className="contents">
        <div className="space-y-2 sm:col-span-2">
          <Label htmlFor="title">Title</Label>
          <Input id="title" name="title" required maxLength={255} defaultValue={event?.title} />
        </div>
        <div className="space-y-2 sm:col-span-2">
          <Label htmlFor="description">Description</Label>
          <Textarea id="description" name="description" maxLength={10000} defaultValue={event?.description} />
        </div>
        <div className="space-y-2">
          <Label htmlFor="venue">Venue</Label>
          <Input id="venue" name="venue" required maxLength={255} defaultValue={event?.venue} />
        </div>
        <div className="space-y-2">
          <Label htmlFor="category">Category</Label>
          <NativeSelect id="category" name="category" defaultValue={event?.category ?? ""}>
            <option value="">None</option>
            {categories.map((c) => (
              <option key={c.id} value={c.slug}>
                {c.name}
              </option>
            ))}
          </NativeSelect>
        </div>
        <div className="space-y-2">
          <Label htmlFor="sale_start_at">Sale opens</Label>
          <Input
            id="sale_start_at"
            name="sale_start_at"
            type="datetime-local"
            required
            defaultValue={toLocalInput(event?.sale_start_at) || defaults.start}
          />
        </div>
        <div className="space-y-2">
          <Label htmlFor="sale_end_at">Sale closes</Label>
          <Input id="sale_end_at" name="sale_end_at" type="datetime-local" required defaultValue={toLocalInput(event?.sale_end_at) || defaults.end} />
        </div>
        <div className="space-y-2">
          <Label htmlFor="max_per_user">Tickets per person (1–10)</Label>
          <Input id="max_per_user" name="max_per_user" type="number" min={1} max={10} required defaultValue={event?.max_per_user ?? 4} />
        </div>
        <label className="flex items-center gap-2 self-end pb-2 text-sm">
          <input type="checkbox" name="queue_enabled" defaultChecked={event?.queue_enabled ?? false} data-testid="queue-enabled" /> Waiting room at
          the sale
        </label>
        <div className="space-y-2 sm:col-span-2">
          {locked && <p className="text-muted-foreground text-xs">The event is on sale: changes apply at once.</p>}
          <ActionStatus state={action} />
          {saved && <p className="text-success text-sm">Saved.</p>}
          <Button type="submit" disabled={action.running} data-testid="save-event">
            {event ? "Save changes" : "Create draft"}
          </Button>
        </div>
      </fieldset>
    </form>
  );
}
