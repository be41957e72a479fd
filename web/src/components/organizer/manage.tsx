"use client";

/**
 * The organizer's controls on an event page: shows and zones of a draft,
 * publishing, the waiting room, cancelling (with what it does to buyers) and
 * deleting a draft. Each calls one API route and re-renders the page.
 */
import { useRouter } from "next/navigation";
import { useState } from "react";

import { ActionStatus } from "@/components/action-status";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle, DialogTrigger } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Textarea } from "@/components/ui/textarea";
import { useApiAction } from "@/hooks/use-api-action";
import { browserApi } from "@/lib/api/browser";
import type { Event } from "@/lib/api/wire";

import { fromLocalInput, toLocalInput } from "./event-form";

export function AddShowForm({ eventId }: { eventId: string }) {
  const router = useRouter();
  const action = useApiAction();
  const [def] = useState(() => toLocalInput(new Date(Date.now() + 60 * 86400_000).toISOString()));
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    if (await action.run(() => browserApi.catalog.createShow(eventId, { show_date: fromLocalInput(f.get("show_date")) }))) router.refresh();
  }
  return (
    <form onSubmit={submit} className="flex flex-wrap items-end gap-2">
      <div className="space-y-1">
        <Label htmlFor="show_date">New show on</Label>
        <Input id="show_date" name="show_date" type="datetime-local" required defaultValue={def} />
      </div>
      <Button type="submit" variant="outline" disabled={action.running} data-testid="add-show">
        Add show
      </Button>
      <ActionStatus state={action} />
    </form>
  );
}

export function AddZoneForm({ showId }: { showId: string }) {
  const router = useRouter();
  const action = useApiAction();
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const res = await action.run(() =>
      browserApi.catalog.createZone(showId, { name: String(f.get("name")), price: String(f.get("price")), total_seats: Number(f.get("total_seats")) }),
    );
    if (res) {
      form.reset();
      router.refresh();
    }
  }
  return (
    <form onSubmit={submit} className="flex flex-wrap items-end gap-2" data-testid="add-zone-form">
      <div className="space-y-1">
        <Label htmlFor={`zn-${showId}`}>Zone</Label>
        <Input id={`zn-${showId}`} name="name" required maxLength={100} placeholder="Floor" className="w-36" />
      </div>
      <div className="space-y-1">
        <Label htmlFor={`zp-${showId}`}>Price</Label>
        <Input id={`zp-${showId}`} name="price" required pattern="[0-9]{1,7}(\.[0-9]{1,2})?" placeholder="49.90" className="w-28" />
      </div>
      <div className="space-y-1">
        <Label htmlFor={`zs-${showId}`}>Seats</Label>
        <Input id={`zs-${showId}`} name="total_seats" type="number" min={1} max={100000} required placeholder="100" className="w-28" />
      </div>
      <Button type="submit" variant="outline" disabled={action.running} data-testid="add-zone">
        Add zone
      </Button>
      <ActionStatus state={action} />
    </form>
  );
}

export function PublishButton({ eventId }: { eventId: string }) {
  const router = useRouter();
  const action = useApiAction();
  return (
    <div className="space-y-2">
      <Button onClick={async () => (await action.run(() => browserApi.catalog.publish(eventId))) && router.refresh()} disabled={action.running} data-testid="publish">
        Publish and open the sale
      </Button>
      <ActionStatus state={action} />
    </div>
  );
}

/**
 * The waiting room switch. Today the API takes only on/off (UpdateEvent's
 * queue_enabled); the admission rate and the cap of shoppers come with the
 * queue API being redesigned (PUT /events/{id}/queue), see lib/queue/client.ts.
 */
export function QueueSettings({ event }: { event: Event }) {
  const router = useRouter();
  const action = useApiAction();
  const toggle = async () => {
    if (await action.run(() => browserApi.catalog.updateEvent(event.id, { queue_enabled: !event.queue_enabled }))) router.refresh();
  };
  return (
    <div className="space-y-2">
      <p className="text-sm">
        Waiting room: <strong data-testid="queue-state">{event.queue_enabled ? "on" : "off"}</strong>.{" "}
        {event.queue_enabled
          ? "Buyers join a line and are let in at a steady rate; only admitted buyers can reserve."
          : "Buyers reserve directly."}
      </p>
      <Button variant="outline" size="sm" onClick={toggle} disabled={action.running || event.status === "cancelled"} data-testid="toggle-queue">
        {event.queue_enabled ? "Turn the waiting room off" : "Turn the waiting room on"}
      </Button>
      <p className="text-muted-foreground text-xs">Admission rate and shopper cap: set by the platform until the new queue settings reach the API.</p>
      <ActionStatus state={action} />
    </div>
  );
}

export function CancelEventDialog({ event }: { event: Event }) {
  const router = useRouter();
  const action = useApiAction();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  async function confirm() {
    if (await action.run(() => browserApi.catalog.cancel(event.id, reason))) {
      setOpen(false);
      router.refresh();
    }
  }
  return (
    <Dialog open={open} onOpenChange={setOpen}>
      <DialogTrigger asChild>
        <Button variant="destructive" data-testid="cancel-event">
          Cancel the event
        </Button>
      </DialogTrigger>
      <DialogContent>
        <DialogHeader>
          <DialogTitle>Cancel “{event.title}”?</DialogTitle>
          <DialogDescription>This cannot be undone. Here is what happens to buyers:</DialogDescription>
        </DialogHeader>
        <ul className="list-disc space-y-1 pl-5 text-sm" data-testid="cancel-consequences">
          <li>Sales stop at once; the event page says it was cancelled.</li>
          <li>Seats held but not paid are released, and their buyers are told by e-mail.</li>
          <li>Every paid booking is refunded in full (100%), automatically; each buyer gets an e-mail.</li>
          <li>A payment that still arrives after the cancellation is refunded too.</li>
        </ul>
        <div className="space-y-1">
          <Label htmlFor="cancel-reason">Reason shown to buyers (optional)</Label>
          <Textarea id="cancel-reason" maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} />
        </div>
        <ActionStatus state={action} />
        <DialogFooter>
          <Button variant="outline" onClick={() => setOpen(false)}>
            Keep the event
          </Button>
          <Button variant="destructive" onClick={confirm} disabled={action.running} data-testid="confirm-cancel-event">
            Cancel the event and refund everyone
          </Button>
        </DialogFooter>
      </DialogContent>
    </Dialog>
  );
}

export function DeleteDraftButton({ eventId }: { eventId: string }) {
  const router = useRouter();
  const action = useApiAction();
  return (
    <div className="space-y-2">
      <Button
        variant="ghost"
        onClick={async () => {
          if (!window.confirm("Delete this draft?")) return;
          if (await action.run(() => browserApi.catalog.deleteEvent(eventId))) router.push("/organizer");
        }}
      >
        Delete draft
      </Button>
      <ActionStatus state={action} />
    </div>
  );
}
