"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";

import { ActionStatus } from "@/components/action-status";
import { Button } from "@/components/ui/button";
import { NativeSelect } from "@/components/ui/native-select";
import { useApiAction } from "@/hooks/use-api-action";
import { browserApi } from "@/lib/api/browser";
import type { Role } from "@/lib/api/wire";
import { ROLES } from "@/lib/roles";


/** Sets a user's role (PUT /admin/users/{id}/role). */
export function RoleForm({ userId, role }: { userId: string; role: string }) {
  const router = useRouter();
  const action = useApiAction();
  const [done, setDone] = useState<string | null>(null);
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const next = String(f.get("role")) as Role;
    const res = await action.run(() => browserApi.admin.setRole(userId, next));
    if (res) {
      setDone(`${res.data.email} is now ${res.data.role}.`);
      router.refresh();
    }
  }
  return (
    <form onSubmit={submit} className="flex flex-wrap items-center gap-2" data-testid="role-form">
      <NativeSelect name="role" defaultValue={role} className="w-36" aria-label="Role">
        {ROLES.map((r) => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </NativeSelect>
      <Button type="submit" size="sm" variant="outline" disabled={action.running}>
        Set role
      </Button>
      {done && <span className="text-success text-xs">{done}</span>}
      <ActionStatus state={action} />
    </form>
  );
}
