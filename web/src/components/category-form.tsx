"use client";

import { useRouter } from "next/navigation";

import { ActionStatus } from "@/components/action-status";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { useApiAction } from "@/hooks/use-api-action";
import { browserApi } from "@/lib/api/browser";

/** Adds a category (POST /categories, admins); the slug is derived from the name when left empty. */
export function CategoryForm() {
  const router = useRouter();
  const action = useApiAction();
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    if (await action.run(() => browserApi.catalog.createCategory(String(f.get("name")), String(f.get("slug") ?? "")))) {
      form.reset();
      router.refresh();
    }
  }
  return (
    <form onSubmit={submit} className="flex flex-wrap items-center gap-2">
      <Input name="name" required maxLength={100} placeholder="Name, e.g. Jazz" aria-label="Category name" className="w-60" />
      <Input
        name="slug"
        maxLength={100}
        pattern="[a-z0-9]+(-[a-z0-9]+)*"
        title="Lowercase letters and digits, in words joined by single hyphens, e.g. jazz or live-music"
        placeholder="slug (optional)"
        aria-label="Category slug"
        className="w-48"
      />
      <Button type="submit" variant="outline" disabled={action.running}>
        Add category
      </Button>
      <ActionStatus state={action} />
    </form>
  );
}
