/**
 * Reading the Prometheus text format in tests: the web app's metrics
 * (lib/metrics) against the list of what it exports (lib/metrics/series.prom),
 * in the unit tests and against the built app (e2e/metrics.spec.ts).
 */

/** One sample: its name, labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples and the families' types (# TYPE) of a /metrics page. */
export function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ([a-z]+)/.exec(line);
    if (t) {
      types.set(t[1], t[2]);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { samples, types };
}

/**
 * What `have` lacks of `want`, as operators' queries see it: each family of
 * want with its type, each of its samples' names, label names, and each
 * value a label takes in want (not each combination; `code` is an HTTP
 * status, any).
 */
export function lacking(want: string, have: string): string[] {
  const w = parseExposition(want);
  const h = parseExposition(have);
  const out: string[] = [];
  for (const [name, type] of w.types) {
    if (h.types.get(name) !== type) out.push(`${name}: type ${h.types.get(name) ?? "none"}, want ${type}`);
  }
  for (const s of w.samples) {
    const got = h.samples.filter((x) => x.name === s.name);
    if (got.length === 0) {
      out.push(`${s.name} is not exported`);
      continue;
    }
    for (const [label, value] of Object.entries(s.labels)) {
      if (!got.some((x) => x.labels[label] !== undefined)) out.push(`${s.name} has no label ${label}`);
      else if (label !== "code" && !got.some((x) => x.labels[label] === value)) out.push(`${s.name} has no series with ${label}="${value}"`);
    }
    const names = (x: Sample) => Object.keys(x.labels).sort().join(",");
    if (!got.some((x) => names(x) === names(s))) out.push(`${s.name}: no series with exactly the labels {${names(s)}}`);
  }
  return [...new Set(out)];
}
