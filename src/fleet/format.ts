/** Plain-text rendering of fleet data for people (`--json` prints the raw documents instead). */

export function ago(ts: unknown, now = Date.now()): string {
  const t = typeof ts === 'string' ? Date.parse(ts) : NaN;
  if (!Number.isFinite(t)) return '-';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}

/** Sets `a.b[2].c = value` in a document, creating objects on the way; arrays must exist. */
export function setPath(doc: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.match(/[^.[\]]+/g);
  if (!keys || keys.length === 0) throw new Error(`empty key in ${JSON.stringify(path)}`);
  let node: Record<string, unknown> | unknown[] = doc;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i];
    const next = Array.isArray(node) ? node[Number(k)] : node[k];
    if (next === undefined || next === null || typeof next !== 'object') {
      if (Array.isArray(node)) throw new Error(`${keys.slice(0, i + 1).join('.')}: no such array item`);
      node[k] = {};
    }
    node = (Array.isArray(node) ? node[Number(k)] : node[k]) as Record<string, unknown> | unknown[];
  }
  const last = keys[keys.length - 1];
  if (Array.isArray(node)) node[Number(last)] = value;
  else node[last] = value;
}

/** A k=v value: JSON when it parses (numbers, booleans, objects), else the string as given. */
export function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
