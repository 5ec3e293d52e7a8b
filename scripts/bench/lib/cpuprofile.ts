/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per source file,
 * so a benchmark can say where a server's CPU goes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  byFunction: Array<{ name: string; ms: number; pct: number }>;
  byFile: Array<{ file: string; ms: number; pct: number }>;
}

function shortUrl(url: string, root: string): string {
  if (!url) return '(native)';
  const p = url.startsWith('file://') ? url.slice(7) : url;
  return p.startsWith(root) ? path.relative(root, p) : p;
}

export function summarizeCpuProfile(file: string, root: string, top = 20): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
  }
  let total = 0;
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') continue;
    total += us;
    const url = shortUrl(n.callFrame.url, root);
    const key = `${name} ${url}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    files.set(url, (files.get(url) ?? 0) + us);
  }
  const rank = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    totalMs: total / 1000,
    byFunction: rank(fn).map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / total })),
    byFile: rank(files).map(([f, us]) => ({ file: f, ms: us / 1000, pct: (100 * us) / total })),
  };
}

export function formatProfile(s: ProfileSummary): string {
  const lines = [`busy (non-idle) samples: ${s.totalMs.toFixed(0)} ms`, 'self time by function:'];
  for (const f of s.byFunction) lines.push(`  ${f.pct.toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}`);
  lines.push('self time by file:');
  for (const f of s.byFile.slice(0, 12)) lines.push(`  ${f.pct.toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(6)} ms  ${f.file}`);
  return lines.join('\n');
}
