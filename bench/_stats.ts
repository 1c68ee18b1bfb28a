/** Small statistics helpers for the benchmarks. */

/** The q-quantile (0..1) of `xs`. */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i];
}

/** The median of `xs`. */
export function median(xs: number[]): number {
  return quantile(xs, 0.5);
}

/** Rounds to `d` decimals. */
export function round(x: number, d = 1): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** Prints a table with a title. */
export function printTable(title: string, header: string[], rows: (string | number)[][]): void {
  const cells = rows.map((r) => r.map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  console.log(`\n## ${title}`);
  console.log(header.map((h, i) => h.padEnd(widths[i])).join("  "));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of cells) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  "));
}
