/** Users and roles (admins): the user directory (GET /admin/users) with search, each account's role, and a user's deletion. */
import type { Metadata } from "next";
import Link from "next/link";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { DeleteUser } from "@/components/delete-user";
import { Pager, emptyList } from "@/components/pager";
import { RoleForm } from "@/components/role-form";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { NativeSelect } from "@/components/ui/native-select";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { load, sessionUser, userApi } from "@/lib/api/server";
import type { Role } from "@/lib/api/wire";
import { dateTime } from "@/lib/format";
import { ROLES } from "@/lib/roles";
import { viewerZone } from "@/lib/zone";

export const metadata: Metadata = { title: "Users and roles" };

export default async function UsersPage({ searchParams }: { searchParams: Promise<{ page?: string; q?: string; role?: string }> }) {
  const sp = await searchParams;
  const page = Math.max(1, Number.parseInt(sp.page ?? "1", 10) || 1);
  const query = (sp.q ?? "").slice(0, 254);
  const role = ROLES.includes(sp.role as Role) ? (sp.role as Role) : undefined;
  const [res, me] = await Promise.all([load((await userApi()).admin.users({ query, role, page, per_page: 25 })), sessionUser()]);
  const tz = await viewerZone();
  const href = (p: number) => `/admin/users?${new URLSearchParams({ ...(query ? { q: query } : {}), ...(role ? { role } : {}), page: String(p) })}`;
  return (
    <div className="space-y-6">
      <div className="flex items-center gap-3">
        <h1 className="text-2xl font-bold">Users and roles</h1>
        <Link className="text-muted-foreground ml-auto text-sm hover:underline" href="/admin/categories">
          Categories
        </Link>
        <Link className="text-muted-foreground text-sm hover:underline" href="/admin/audit">
          Audit log
        </Link>
        <Link className="text-muted-foreground text-sm hover:underline" href="/admin/payments">
          Payments
        </Link>
      </div>
      <form className="flex flex-wrap gap-2" method="get" role="search">
        <Input name="q" defaultValue={query} placeholder="Search by e-mail or name" aria-label="Search users" className="w-80" />
        <NativeSelect name="role" defaultValue={role ?? ""} aria-label="Filter by role" className="w-40">
          <option value="">Any role</option>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </NativeSelect>
        <Button type="submit" variant="outline">
          Search
        </Button>
      </form>
      {!res.ok ? (
        <ApiErrorPanel error={res.error} title="We could not load the users" />
      ) : (
        <>
          <Table>
            <TableHeader>
              <TableRow>
                <TableHead>Name</TableHead>
                <TableHead>E-mail</TableHead>
                <TableHead>Since</TableHead>
                <TableHead>Role</TableHead>
                <TableHead>
                  <span className="sr-only">Delete</span>
                </TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {res.data.map((u) => (
                <TableRow key={u.id} data-testid="user-row" data-email={u.email}>
                  <TableCell>{u.full_name}</TableCell>
                  <TableCell>{u.email}</TableCell>
                  <TableCell>{dateTime(u.created_at, { zone: tz })}</TableCell>
                  <TableCell>{u.id === me?.id ? <span className="text-muted-foreground text-sm">{u.role} (you)</span> : <RoleForm userId={u.id} role={u.role} />}</TableCell>
                  <TableCell>{u.id !== me?.id && u.role === "user" && <DeleteUser userId={u.id} email={u.email} />}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          {emptyList(res.data.length, res.meta) && <p className="text-muted-foreground">No account matches.</p>}
          <Pager meta={res.meta} href={href} />
        </>
      )}
    </div>
  );
}
