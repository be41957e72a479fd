/**
 * Users and roles (admins). The API has no user directory: the accounts shown
 * are the sign-ups recorded in the audit log (auth.register), newest first, and
 * a role is changed with PUT /admin/users/{id}/role (by id, for any account).
 */
import type { Metadata } from "next";
import Link from "next/link";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { Pager } from "@/components/pager";
import { RoleForm } from "@/components/role-form";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { load, userApi } from "@/lib/api/server";
import { dateTime } from "@/lib/format";

export const metadata: Metadata = { title: "Users and roles" };

export default async function UsersPage({ searchParams }: { searchParams: Promise<{ page?: string }> }) {
  const page = Math.max(1, Number.parseInt((await searchParams).page ?? "1", 10) || 1);
  const api = await userApi();
  const [signups, changes] = await Promise.all([
    load(api.admin.auditLogs({ action: "auth.register", page, per_page: 25 })),
    load(api.admin.auditLogs({ action: "user.role_changed", per_page: 100 })),
  ]);
  // The latest role change of each user, newest first in the log.
  const roles = new Map<string, string>();
  if (changes.ok) for (const c of changes.data) if (!roles.has(c.entity_id)) roles.set(c.entity_id, String(c.new_values?.role ?? ""));

  return (
    <div className="space-y-6">
      <div className="flex items-center gap-3">
        <h1 className="text-2xl font-bold">Users and roles</h1>
        <Link className="text-muted-foreground ml-auto text-sm hover:underline" href="/admin/audit">
          Audit log
        </Link>
      </div>
      <Card>
        <CardHeader>
          <CardTitle>Change a role by user id</CardTitle>
          <CardDescription>Organizers create and run events; admins may do everything.</CardDescription>
        </CardHeader>
        <CardContent>
          <RoleForm />
        </CardContent>
      </Card>
      {!signups.ok ? (
        <ApiErrorPanel error={signups.error} title="We could not load the sign-ups" />
      ) : (
        <>
          <h2 className="text-lg font-semibold">Recent sign-ups</h2>
          <Table>
            <TableHeader>
              <TableRow>
                <TableHead>Signed up</TableHead>
                <TableHead>Name</TableHead>
                <TableHead>E-mail</TableHead>
                <TableHead>Role</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {signups.data.map((a) => (
                <TableRow key={a.id} data-testid="user-row" data-email={String(a.new_values?.email ?? "")}>
                  <TableCell>{dateTime(a.created_at)}</TableCell>
                  <TableCell>{String(a.new_values?.full_name ?? "")}</TableCell>
                  <TableCell>{String(a.new_values?.email ?? "")}</TableCell>
                  <TableCell>
                    <RoleForm userId={a.entity_id} role={roles.get(a.entity_id) || String(a.new_values?.role ?? "user")} />
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          <Pager meta={signups.meta} href={(p) => `/admin/users?page=${p}`} />
        </>
      )}
    </div>
  );
}
