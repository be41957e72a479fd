import Link from "next/link";

import { Button } from "@/components/ui/button";
import type { PageMeta } from "@/lib/api/wire";

/** Previous/next links for a list with `meta`; `href(page)` builds each link. */
export function Pager({ meta, href }: { meta: PageMeta | null; href: (page: number) => string }) {
  if (!meta || meta.total <= meta.per_page) return null;
  const pages = Math.max(1, Math.ceil(meta.total / meta.per_page));
  return (
    <nav className="mt-6 flex items-center justify-center gap-3 text-sm" aria-label="Pages">
      {meta.page > 1 ? (
        <Button asChild variant="outline" size="sm">
          <Link href={href(meta.page - 1)} rel="prev">
            Previous
          </Link>
        </Button>
      ) : (
        <Button variant="outline" size="sm" disabled>
          Previous
        </Button>
      )}
      <span className="text-muted-foreground">
        Page {meta.page} of {pages}
      </span>
      {meta.page < pages ? (
        <Button asChild variant="outline" size="sm">
          <Link href={href(meta.page + 1)} rel="next">
            Next
          </Link>
        </Button>
      ) : (
        <Button variant="outline" size="sm" disabled>
          Next
        </Button>
      )}
    </nav>
  );
}
