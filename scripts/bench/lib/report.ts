/** How the benchmarks print: markdown tables with right-aligned cells, numbers that may be missing, and --help. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** a number with d decimals, '-' when missing or not a number */
export const fmt = (v: number | undefined | null, d = 1): string => (v === undefined || v === null || Number.isNaN(v) ? '-' : v.toFixed(d));

export function markdownTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => '| ' + cells.map((c, i) => c.padStart(widths[i]!)).join(' | ') + ' |';
  return [line(header), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.map(line)];
}

/** a bench's --help: the comment at the top of its file (pass its import.meta.url) */
export const usage = (moduleUrl: string): string => readFileSync(fileURLToPath(moduleUrl), 'utf8').split('*/')[0]!.replace(/^\/\*\*|^ \* ?/gm, '');
