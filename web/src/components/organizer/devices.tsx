"use client";

/**
 * Check-in devices: registering one for some of the organizer's events
 * (POST /checkin/devices, whose answer is the only place its credential is
 * ever shown) and revoking one (DELETE /checkin/devices/{id}, refused at
 * the gates at once).
 */
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";

import { ActionStatus } from "@/components/action-status";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Textarea } from "@/components/ui/textarea";
import { useApiAction } from "@/hooks/use-api-action";
import { browserApi } from "@/lib/api/browser";
import type { DeviceCreated } from "@/lib/api/wire";

export function DeviceForm({ events }: { events: { id: string; title: string }[] }) {
  const router = useRouter();
  const action = useApiAction();
  const [created, setCreated] = useState<DeviceCreated | null>(null);
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const days = String(f.get("valid_days") ?? "").trim();
    const res = await action.run(() =>
      browserApi.gate.createDevice({
        name: String(f.get("name") ?? ""),
        event_ids: f.getAll("event_ids").map(String),
        ...(days ? { valid_days: Number(days) } : {}),
      }),
    );
    if (res) {
      setCreated(res.data);
      form.reset();
      router.refresh();
    }
  }
  if (events.length === 0) {
    return <p className="text-muted-foreground text-sm">Create an event first: a device checks in the tickets of your events.</p>;
  }
  return (
    <div className="space-y-4">
      {created && (
        <div className="space-y-2 rounded-md border p-3" role="status" data-testid="device-created">
          <p className="text-sm">
            <strong>{created.device?.name}</strong> is registered. Its credential is shown only now: enter it on the device, in the{" "}
            <Link href="/door" className="underline" target="_blank" rel="noopener">
              door check-in page
            </Link>
            .
          </p>
          <Label htmlFor="device-credential">Credential of {created.device?.name}</Label>
          <Textarea id="device-credential" readOnly value={created.credential} className="font-mono text-xs" data-testid="device-credential" onFocus={(e) => e.currentTarget.select()} />
        </div>
      )}
      <form onSubmit={submit} className="space-y-4" aria-label="Register a device">
        <div className="grid gap-4 sm:grid-cols-2">
          <div className="space-y-2">
            <Label htmlFor="device-name">Device name</Label>
            <Input id="device-name" name="name" required maxLength={100} placeholder="North gate 2" />
          </div>
          <div className="space-y-2">
            <Label htmlFor="device-days">Valid for (days, 1–90)</Label>
            <Input id="device-days" name="valid_days" type="number" placeholder="30" />
          </div>
        </div>
        <fieldset className="space-y-1">
          <legend className="mb-1 text-sm font-medium">Events it checks in</legend>
          {events.map((ev) => (
            <label key={ev.id} className="flex items-center gap-2 text-sm">
              <input type="checkbox" name="event_ids" value={ev.id} /> {ev.title}
            </label>
          ))}
        </fieldset>
        <ActionStatus state={action} />
        <Button type="submit" disabled={action.running} data-testid="register-device">
          Register the device
        </Button>
      </form>
    </div>
  );
}

export function RevokeDeviceButton({ deviceId, name }: { deviceId: string; name: string }) {
  const router = useRouter();
  const action = useApiAction();
  async function revoke() {
    if (!window.confirm(`Revoke ${name}? It can no longer check anyone in.`)) return;
    if (await action.run(() => browserApi.gate.revokeDevice(deviceId))) router.refresh();
  }
  return (
    <div className="flex flex-col items-end gap-1">
      <Button variant="outline" size="sm" onClick={revoke} disabled={action.running} aria-label={`Revoke ${name}`} data-testid="revoke-device">
        Revoke
      </Button>
      <ActionStatus state={action} />
    </div>
  );
}
