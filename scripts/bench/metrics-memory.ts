/**
 * What /metrics costs in memory, to decide whether prom-client fits a board: RSS of `mss serve` (the embedded
 * defaults: a looped live point and an on-demand point) with metrics off (prom-client never loaded), with
 * metrics on but without the Node process collectors, and with everything on, each after 20 scrapes and a
 * settle. Also the scrape itself: time per scrape and bytes of text.
 *
 *   npx tsx scripts/bench/metrics-memory.ts [--runs 3]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(root, 'src/cli/main.ts');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 3) || 3;

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measure(env: Record<string, string>): Promise<{ rssKb: number; scrapeMs: number; bytes: number }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-bench-metrics-'));
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve'], {
    cwd: root,
    env: { ...process.env, MSS_HTTP_PORT: '0', MSS_HTTP_HOST: '127.0.0.1', MSS_DATA_DIR: dir, MSS_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let buf = '';
      child.stderr!.on('data', (c: Buffer) => {
        buf += c.toString();
        const m = /"event":"http.listening"[^\n]*"port":(\d+)/.exec(buf);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`mss serve exited ${code}: ${buf.slice(-2000)}`)));
    });
    await sleep(3000);
    let scrapeMs = 0;
    let bytes = 0;
    if (env.MSS_METRICS_ENABLED !== 'false') {
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        scrapeMs += performance.now() - t0;
        bytes = text.length;
      }
      scrapeMs /= 20;
    }
    await sleep(3000);
    return { rssKb: rssKb(child.pid!), scrapeMs, bytes };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
}

const variants: Array<[string, Record<string, string>]> = [
  ['metrics off (prom-client not loaded)', { MSS_METRICS_ENABLED: 'false' }],
  ['metrics on, no process collectors', { MSS_METRICS_ENABLED: 'true', MSS_METRICS_PROCESS_METRICS: 'false' }],
  ['metrics on, process collectors', { MSS_METRICS_ENABLED: 'true', MSS_METRICS_PROCESS_METRICS: 'true' }],
];

const rows: string[][] = [['variant', 'RSS median (MiB)', 'vs off (MiB)', 'scrape (ms)', 'text (bytes)']];
let base = 0;
for (const [name, env] of variants) {
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(await measure(env));
  const rss = samples.map((s) => s.rssKb).sort((a, b) => a - b)[Math.floor(samples.length / 2)]! / 1024;
  if (!base) base = rss;
  const last = samples[samples.length - 1]!;
  rows.push([name, rss.toFixed(1), (rss - base).toFixed(1), last.scrapeMs ? last.scrapeMs.toFixed(2) : '-', last.bytes ? String(last.bytes) : '-']);
}
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
console.log(`(${runs} runs each, mss serve under tsx on ${process.arch}, Node ${process.version})`);
