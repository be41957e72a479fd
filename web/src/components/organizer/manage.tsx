"use client";

/**
 * The organizer's controls on an event page: shows and zones of a draft
 * (added and removed),
 * publishing, the waiting room, cancelling (with what it does to buyers) and
 * deleting a draft. Each calls one API route and re-renders the page.
 */
import { useRouter } from "next/navigation";
import { useState } from "react";

import { ActionStatus, FieldError } from "@/components/action-status";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle, DialogTrigger } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { NativeSelect } from "@/components/ui/native-select";
import { Textarea } from "@/components/ui/textarea";
import { useApiAction } from "@/hooks/use-api-action";
import { browserApi } from "@/lib/api/browser";
import type { Event, QueueLine, QueueSettings as QueueKnobs, QueueSettingsInput } from "@/lib/api/wire";
import { count, fromZoneInput, priceInput, pricePattern, toZoneInput } from "@/lib/format";

/**
 * A new show of a draft, its start and (optional) end entered as the venue's
 * wall clock (zone).
 */
export function AddShowForm({ eventId, zone }: { eventId: string; zone: string }) {
  const router = useRouter();
  const action = useApiAction();
  const [def] = useState(() => toZoneInput(new Date(Math.ceil((Date.now() + 60 * 86400_000) / 3600_000) * 3600_000).toISOString(), zone));
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const ends = fromZoneInput(f.get("ends_at"), zone);
    const body = { show_date: fromZoneInput(f.get("show_date"), zone), ...(ends ? { ends_at: ends } : {}) };
    if (await action.run(() => browserApi.catalog.createShow(eventId, body), form)) {
      form.reset();
      router.refresh();
    }
  }
  return (
    <form onSubmit={submit} className="flex flex-wrap items-end gap-2">
      <div className="space-y-1">
        <Label htmlFor="show_date">New show on ({zone} time)</Label>
        <Input id="show_date" name="show_date" type="datetime-local" required defaultValue={def} {...action.field("show_date")} />
        <FieldError action={action} name="show_date" />
      </div>
      <div className="space-y-1">
        <Label htmlFor="ends_at">Ends (optional)</Label>
        <Input id="ends_at" name="ends_at" type="datetime-local" {...action.field("ends_at")} />
        <FieldError action={action} name="ends_at" />
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
      browserApi.catalog.createZone(showId, { name: String(f.get("name")), price: priceInput(f.get("price")), total_seats: Number(f.get("total_seats")) }),
      form,
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
        <Input id={`zn-${showId}`} name="name" required maxLength={100} placeholder="Floor" className="w-36" {...action.field("name")} />
        <FieldError action={action} name="name" />
      </div>
      <div className="space-y-1">
        <Label htmlFor={`zp-${showId}`}>Price</Label>
        <Input
          id={`zp-${showId}`}
          name="price"
          required
          inputMode="decimal"
          pattern={pricePattern}
          title="An amount like 49.90 or 49,90, without a currency sign"
          placeholder="49.90"
          className="w-28"
          {...action.field("price")}
        />
        <FieldError action={action} name="price" />
      </div>
      <div className="space-y-1">
        <Label htmlFor={`zs-${showId}`}>Seats</Label>
        <Input id={`zs-${showId}`} name="total_seats" type="number" min={1} max={100000} required placeholder="100" className="w-28" {...action.field("total_seats")} />
        <FieldError action={action} name="total_seats" />
      </div>
      <Button type="submit" variant="outline" disabled={action.running} data-testid="add-zone">
        Add zone
      </Button>
      <ActionStatus state={action} />
    </form>
  );
}

/**
 * Removes a show (with its zones) or one zone: what was added by mistake
 * goes, and is added again as it should be. On sale, only while nobody has
 * reserved from it (the API answers 409 otherwise, shown here).
 */
export function RemoveButton({ kind, id, label }: { kind: "show" | "zone"; id: string; label: string }) {
  const router = useRouter();
  const action = useApiAction();
  async function remove() {
    const question = kind === "show" ? `Remove the show of ${label} and its zones?` : `Remove the zone ${label}?`;
    if (!window.confirm(question)) return;
    const call = kind === "show" ? () => browserApi.catalog.deleteShow(id) : () => browserApi.catalog.deleteZone(id);
    if (await action.run(call)) router.refresh();
  }
  return (
    <div className="flex flex-col items-end gap-1">
      <Button variant="ghost" size="sm" onClick={remove} disabled={action.running} aria-label={`Remove ${kind} ${label}`} data-testid={`remove-${kind}`}>
        Remove
      </Button>
      <div className="w-72 max-w-full text-left whitespace-normal">
        <ActionStatus state={action} />
      </div>
    </div>
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

/** "12" -> 12, "" -> undefined (keep the current value). */
function optionalInt(v: FormDataEntryValue | null): number | undefined {
  const t = String(v ?? "").trim();
  return t === "" ? undefined : Number(t);
}

/**
 * The waiting room: on/off and its knobs (PUT /events/{id}/queue): how many
 * buyers are let in each second, the cap on shoppers at once, and whether the
 * system may switch it on by itself when the sale overloads. `line` is the
 * line's public state (the current rate and cap) when it could be read; the
 * API tells the automatic switch only in a change's answer, so until then the
 * form keeps it as it is.
 */
export function QueueSettings({ event, line }: { event: Event; line: QueueLine | null }) {
  const router = useRouter();
  const action = useApiAction();
  const [settings, setSettings] = useState<QueueKnobs | null>(null);
  // The switch a save answered, until the page's event is a later one (the
  // refresh after the save, or the details saved since): then the event says.
  const [switched, setSwitched] = useState<{ to: boolean; at: string | null } | null>(null);
  const enabled = switched && switched.at === event.updated_at ? switched.to : event.queue_enabled;
  const rate = settings?.admit_per_second ?? line?.admit_per_second ?? 0;
  const cap = settings?.max_active ?? line?.max_active ?? 0;
  const closed = event.status === "cancelled";

  const save = async (body: QueueSettingsInput) => {
    const res = await action.run(() => browserApi.queue.setSettings(event.id, body));
    if (res) {
      setSettings(res.data);
      setSwitched({ to: res.data.enabled, at: event.updated_at });
      router.refresh();
    }
  };
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const auto = String(f.get("auto"));
    // The switch is left out: it stays as the server has it (the system
    // may have switched the queue on since this page was drawn).
    await save({
      admit_per_second: optionalInt(f.get("admit_per_second")),
      max_active: optionalInt(f.get("max_active")),
      auto: auto === "on" ? true : auto === "off" ? false : undefined,
    });
  }
  return (
    <div className="space-y-3">
      <p className="text-sm">
        Waiting room: <strong data-testid="queue-state">{enabled ? "on" : "off"}</strong>.{" "}
        {enabled ? "Buyers join a line and are let in at a steady rate; only admitted buyers can reserve." : "Buyers reserve directly."}
      </p>
      <Button variant="outline" size="sm" onClick={() => save({ enabled: !enabled })} disabled={action.running || closed} data-testid="toggle-queue">
        {enabled ? "Turn the waiting room off" : "Turn the waiting room on"}
      </Button>
      {enabled && <p className="text-muted-foreground text-xs">Turning it off lets everyone still waiting in at once.</p>}
      {/* The key re-reads the defaults after a change. */}
      <form key={`${rate}:${cap}:${settings?.auto}`} onSubmit={submit} className="space-y-2" data-testid="queue-knobs">
        <div className="flex flex-wrap items-end gap-2">
          <div className="space-y-1">
            <Label htmlFor="q-rate">Buyers let in per second</Label>
            <Input id="q-rate" name="admit_per_second" type="number" min={1} step={1} defaultValue={rate || ""} placeholder="default" className="w-36" />
          </div>
          <div className="space-y-1">
            <Label htmlFor="q-cap">Most shoppers at once (0: no cap)</Label>
            <Input id="q-cap" name="max_active" type="number" min={0} step={1} defaultValue={cap} className="w-36" />
          </div>
        </div>
        <div className="space-y-1">
          <Label htmlFor="q-auto">Switch the waiting room on by itself when the sale overloads</Label>
          <NativeSelect id="q-auto" name="auto" defaultValue={settings ? (settings.auto ? "on" : "off") : ""} className="sm:w-64">
            {!settings && <option value="">Keep as it is</option>}
            <option value="on">Yes, when buyers are being turned away</option>
            <option value="off">No, only when I turn it on</option>
          </NativeSelect>
        </div>
        <Button type="submit" variant="outline" size="sm" disabled={action.running || closed} data-testid="save-queue">
          Save the waiting room settings
        </Button>
      </form>
      {settings && (
        <p className="text-muted-foreground text-xs" role="status" data-testid="queue-saved">
          Saved: {count(settings.admit_per_second, "buyer")} a second,{" "}
          {settings.max_active ? `at most ${settings.max_active} shopping at once` : "no cap on shoppers"}, switches on by itself under overload:{" "}
          {settings.auto ? "yes" : "no"}.
        </p>
      )}
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
          <li>Seats reserved but not paid are released, and their buyers are told by e-mail.</li>
          <li>Every paid booking is refunded in full (100%), automatically, each buyer by e-mail: buyers who had cancelled for part of the price get the rest.</li>
          <li>A payment that still arrives after the cancellation is refunded too.</li>
          <li>Buyers waiting on a waitlist are told by e-mail, and the waitlists close.</li>
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
