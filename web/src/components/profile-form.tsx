"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";

import { ActionStatus, FieldError } from "@/components/action-status";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { useApiAction } from "@/hooks/use-api-action";
import { browserApi } from "@/lib/api/browser";

/** Changes the display name (PUT /auth/me). */
export function ProfileForm({ fullName }: { fullName: string }) {
  const router = useRouter();
  const action = useApiAction();
  const [saved, setSaved] = useState(false);
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setSaved(false);
    const form = e.currentTarget;
    const name = String(new FormData(form).get("full_name"));
    if (await action.run(() => browserApi.auth.updateMe(name), form)) {
      setSaved(true);
      window.dispatchEvent(new Event("br:session"));
      router.refresh();
    }
  }
  return (
    <form onSubmit={submit} className="space-y-4">
      <div className="space-y-2">
        <Label htmlFor="full_name">Full name</Label>
        <Input id="full_name" name="full_name" defaultValue={fullName} required maxLength={255} {...action.field("full_name")} />
        <FieldError action={action} name="full_name" />
      </div>
      <ActionStatus state={action} />
      {saved && <p className="text-success text-sm">Saved.</p>}
      <Button type="submit" disabled={action.running}>
        Save
      </Button>
    </form>
  );
}
