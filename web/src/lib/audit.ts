/**
 * An audit entry's change as an admin reads it. The log keeps what each
 * service recorded: a whole event as the catalog stores it (proto field
 * names, enum values by their full names, every field), or a few named
 * values. The page shows the fields that changed, not a line of raw JSON.
 */

/** One field of an audit entry: its value before and after (null: none). */
export type AuditChange = { field: string; from: string | null; to: string | null };

type Values = Record<string, unknown> | null | undefined;

/**
 * The fields an entry changed, in the order recorded: the top-level fields
 * whose values differ between old and new. A creation (no old values) lists
 * the fields it set, an empty value (zero, "", [], {}, false) being none.
 */
export function auditChanges(oldValues: Values, newValues: Values): AuditChange[] {
  const before = oldValues ?? {};
  const after = newValues ?? {};
  const fields = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const out: AuditChange[] = [];
  for (const field of fields) {
    const from = valueText(field, before[field]);
    const to = valueText(field, after[field]);
    if (from !== to) out.push({ field, from, to });
  }
  return out;
}

/** The longest value shown; the rest of a long one is cut off with "…". */
const longest = 80;

/**
 * A value as short text; null for none. An enum value recorded by its full
 * name is said as the API says it: "EVENT_STATUS_PUBLISHED" in a field
 * "status" is "published", and an unset one ("…_UNSPECIFIED") is none.
 */
export function valueText(field: string, v: unknown): string | null {
  if (v === null || v === undefined || v === "" || v === false || v === 0) return null;
  if (Array.isArray(v) && v.length === 0) return null;
  if (typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0) return null;
  let s = typeof v === "string" ? enumWord(field, v) : typeof v === "object" ? JSON.stringify(v) : String(v);
  if (s === null) return null;
  if (s.length > longest) s = `${s.slice(0, longest - 1)}…`;
  return s;
}

function enumWord(field: string, s: string): string | null {
  if (!/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/.test(s)) return s;
  if (s.endsWith("_UNSPECIFIED")) return null;
  const tag = `${field.toUpperCase()}_`;
  const at = s.indexOf(tag);
  return at >= 0 ? s.slice(at + tag.length).toLowerCase() : s;
}
