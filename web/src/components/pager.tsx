import Link from "next/link";

import { Button } from "@/components/ui/button";
import type { PageMeta } from "@/lib/api/wire";
import { count } from "@/lib/format";

/**
 * Whether a list is empty because nothing is in it, rather than because the
 * page asked for is past its last (an old link, a list that shrank): the
 * page then says "nothing yet" only when it is true.
 */
export function emptyList(count: number, meta: PageMeta | null): boolean {
  return count === 0 && !(meta && meta.total > 0);
}

/**
 * Previous/next links for a list with `meta`; `href(page)` builds each link.
 * A page past the last one says so and links to the last.
 */
export function Pager({ meta, href }: { meta: PageMeta | null; href: (page: number) => string }) {
  if (!meta || meta.total <= 0) return null;
  const pages = Math.max(1, Math.ceil(meta.total / meta.per_page));
  if (meta.page > pages) {
    return (
      <p className="text-muted-foreground mt-6 text-center text-sm" data-testid="past-last-page">
        There is no page {meta.page}: the list has {count(pages, "page")}.{" "}
        <Link className="underline" href={href(pages)}>
          Go to page {pages}
        </Link>
      </p>
    );
  }
  if (meta.total <= meta.per_page) return null;
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
