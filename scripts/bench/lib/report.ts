/** How the benchmarks print: markdown tables with right-aligned cells, and numbers that may be missing. */

/** a number with d decimals, '-' when missing or not a number */
export const fmt = (v: number | undefined | null, d = 1): string => (v === undefined || v === null || Number.isNaN(v) ? '-' : v.toFixed(d));

export function markdownTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => '| ' + cells.map((c, i) => c.padStart(widths[i]!)).join(' | ') + ' |';
  return [line(header), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.map(line)];
}
