"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";

import { ActionStatus } from "@/components/action-status";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { NativeSelect } from "@/components/ui/native-select";
import { useApiAction } from "@/hooks/use-api-action";
import { browserApi } from "@/lib/api/browser";
import type { Role } from "@/lib/api/wire";

/** The roles an admin can give (the contract's Role without its zero value). */
export const ROLES: Role[] = ["user", "organizer", "admin"];

/** Sets a user's role (PUT /admin/users/{id}/role); without userId it asks for the id. */
export function RoleForm({ userId, role }: { userId?: string; role?: string }) {
  const router = useRouter();
  const action = useApiAction();
  const [done, setDone] = useState<string | null>(null);
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const id = userId ?? String(f.get("user_id")).trim();
    const next = String(f.get("role")) as Role;
    const res = await action.run(() => browserApi.admin.setRole(id, next));
    if (res) {
      setDone(`${res.data.email} is now ${res.data.role}.`);
      router.refresh();
    }
  }
  return (
    <form onSubmit={submit} className="flex flex-wrap items-center gap-2" data-testid="role-form">
      {!userId && <Input name="user_id" required placeholder="user id (UUID)" className="w-80" pattern="[0-9a-fA-F-]{36}" />}
      <NativeSelect name="role" defaultValue={role ?? "organizer"} className="w-36" aria-label="Role">
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
