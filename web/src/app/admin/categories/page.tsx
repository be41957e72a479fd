/** Categories (admins): the list buyers filter by and organizers file events under, and a form to add one. */
import type { Metadata } from "next";
import Link from "next/link";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { CategoryForm } from "@/components/category-form";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { load, userApi } from "@/lib/api/server";

export const metadata: Metadata = { title: "Categories" };

export default async function CategoriesPage() {
  const res = await load((await userApi()).catalog.categories());
  return (
    <div className="space-y-6">
      <div className="flex items-center gap-3">
        <h1 className="text-2xl font-bold">Categories</h1>
        <Link className="text-muted-foreground ml-auto text-sm hover:underline" href="/admin/users">
          Users and roles
        </Link>
        <Link className="text-muted-foreground text-sm hover:underline" href="/admin/payments">
          Payments
        </Link>
      </div>
      <CategoryForm />
      {!res.ok ? (
        <ApiErrorPanel error={res.error} title="We could not load the categories" />
      ) : (
        <Table>
          <TableHeader>
            <TableRow>
              <TableHead>Name</TableHead>
              <TableHead>Slug (filters, URLs)</TableHead>
            </TableRow>
          </TableHeader>
          <TableBody>
            {res.data.map((c) => (
              <TableRow key={c.id}>
                <TableCell>{c.name}</TableCell>
                <TableCell className="font-mono text-xs">{c.slug}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </div>
  );
}
