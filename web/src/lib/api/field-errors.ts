/**
 * A VALIDATION_ERROR's violations next to the inputs they concern.
 *
 * The API lists the invalid fields of a refused form (`details.fields`:
 * `[{field, message, rule}]`, field names as in the contract). A form opts an
 * input in by giving it `data-field="<contract name>"` (useApiAction's
 * `field(name)` does, with `aria-invalid` and `aria-describedby`); each
 * violation of such an input is written under it, in the words `plainWords`
 * uses, and the rest (a field the form has no input for, a violation without
 * a field: "violations.more") stays in the box above the button. A CONFLICT
 * that names the field it is about (`details.field`: a zone name the show
 * has, a show at a taken instant, a slug in use) reads under that input too.
 */
import { plainWords, violationWords, type ApiError } from "@/lib/api/errors";

/** Where a refused form's words go. */
export interface FieldErrors {
  /** The words under each input, by field name. */
  fields: Record<string, string>;
  /** What the box above the button says, or null when every violation has its input. */
  box: string | null;
}

/** The attribute that names an input's field in the contract. */
export const FIELD_ATTR = "data-field";

/** The part of a form this file reads: its controls, in document order. */
export interface FormLike {
  elements: ArrayLike<unknown> & Iterable<unknown>;
}

interface Control {
  getAttribute(name: string): string | null;
  focus(): void;
}

function isControl(el: unknown): el is Control {
  return typeof el === "object" && el !== null && typeof (el as Control).getAttribute === "function";
}

/** The form's controls that opted in, by field name (the first of a name). */
function controls(form: FormLike | null | undefined): Map<string, Control> {
  const out = new Map<string, Control>();
  if (!form) return out;
  for (const el of Array.from(form.elements)) {
    const name = isControl(el) ? el.getAttribute(FIELD_ATTR) : null;
    if (isControl(el) && name && !out.has(name)) out.set(name, el);
  }
  return out;
}

/** "sale closing must be after sale opening" under its input: a sentence of its own. */
function sentence(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? "" : ".");
}

/**
 * Splits an error between the inputs of `form` and the box. A
 * VALIDATION_ERROR with `details.fields` has field words, and so has a
 * CONFLICT with `details.field` (its message); any other error (and any
 * error without a form) is the box's alone, in `plainWords`.
 */
export function splitFieldErrors(err: Pick<ApiError, "code" | "message" | "details" | "status">, form: FormLike | null | undefined): FieldErrors {
  const list = err.code === "VALIDATION_ERROR" && Array.isArray(err.details?.fields) ? (err.details.fields as ApiError["fields"]) : [];
  const inputs = controls(form);
  const about = err.code === "CONFLICT" ? err.details?.field : undefined;
  if (typeof about === "string" && inputs.has(about) && err.message) {
    return { fields: { [about]: sentence(err.message) }, box: null };
  }
  const words = new Map<string, string[]>();
  const rest: ApiError["fields"] = [];
  for (const v of list) {
    if (v.field && inputs.has(v.field)) {
      words.set(v.field, [...(words.get(v.field) ?? []), violationWords(v)]);
    } else {
      rest.push(v);
    }
  }
  if (words.size === 0) return { fields: {}, box: plainWords(err) };
  const fields = Object.fromEntries([...words].map(([f, w]) => [f, sentence(w.join("; "))]));
  return { fields, box: rest.length > 0 ? plainWords({ ...err, details: { ...err.details, fields: rest } }) : null };
}

/** The first input of `form`, in document order, that has words in `fields`: where focus goes. */
export function firstInvalid(form: FormLike | null | undefined, fields: Record<string, string>): Control | null {
  for (const [name, el] of controls(form)) {
    if (Object.hasOwn(fields, name)) return el;
  }
  return null;
}
