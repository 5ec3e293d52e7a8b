/**
 * Proxy benchmark: N WMSP players of a ~500 kbps WMV2 stream served through an mss proxy, against the same N
 * players served directly by the mss origin, for a live point (split: one upstream) and for an on-demand file
 * (from the proxy's cache, prestuffed before the run).
 *
 *   npx tsx scripts/bench/proxy.ts [--players 20,200] [--seconds 20] [--modes live,ondemand] [--settle 5]
 *
 * Each run starts fresh `mss serve` processes (compiled into .bench/dist, as deployed): an origin, and for the
 * proxied runs a proxy with a reverse-proxied point. The load generator (scripts/bench/lib/wmsp-load.ts: raw-TCP
 * players sending ffmpeg's exact requests) ramps the players up, lets them settle and measures a window. Per run:
 * bytes delivered in the window, CPU seconds of the serving process in the window and per GB delivered, its RSS
 * at the end of the window and its peak, and for proxied runs the origin's CPU and player sessions (1 for live:
 * the proxy's upstream). CPU is per process (/proc), so other work on the machine changes it little.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnLoadProcess } from './lib/load-procs.js';
import { prepareMedia } from './lib/media.js';
import { benchDir, cpuSeconds, freePort, root, sleep, statusKb } from './lib/proc.js';
import { fmt, usage } from './lib/report.js';
import type { LoadOptions, LoadResult } from './lib/wmsp-load.js';

const LOAD_SCRIPT = path.join(root, 'scripts/bench/lib/wmsp-load.ts');

type Mode = 'live' | 'ondemand';
interface Args {
  players: number[];
  seconds: number;
  settle: number;
  modes: Mode[];
}

function parseCli(argv: string[]): Args {
  const a: Args = { players: [20, 200], seconds: 20, settle: 5, modes: ['live', 'ondemand'] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--players') a.players = value().split(',').map(Number);
    else if (flag === '--seconds') a.seconds = Number(value());
    else if (flag === '--settle') a.settle = Number(value());
    else if (flag === '--modes') a.modes = value().split(',') as Mode[];
    else if (flag === '-h' || flag === '--help') {
      process.stdout.write(usage(import.meta.url));
      process.exit(0);
    } else throw new Error(`unknown flag ${flag}`);
  }
  if (a.players.some((n) => !Number.isInteger(n) || n < 1) || !(a.seconds > 0) || a.modes.some((m) => m !== 'live' && m !== 'ondemand')) throw new Error('bad arguments (see --help)');
  return a;
}

let entry: string | undefined;

/** `mss serve` as deployed: the tree compiled into .bench/dist */
function mssMain(): string {
  if (entry) return entry;
  const outDir = path.join(benchDir, 'dist');
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', outDir], { cwd: root, stdio: 'ignore' });
  } catch {
    // type errors still emit; the file check below decides
  }
  entry = path.join(outDir, 'src/cli/main.js');
  if (!existsSync(entry)) throw new Error('could not compile mss into .bench/dist');
  return entry;
}

interface Serve {
  child: ChildProcess;
  pid: number;
  port: number;
}

async function startServe(tag: string, config: Record<string, unknown>): Promise<Serve> {
  const port = await freePort();
  const dir = path.join(benchDir, 'run', `proxy-${tag}`);
  mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'config.json');
  // origin and proxy run side by side: RTSP and MMS on free ports too, not both on the defaults (8554, 1755)
  const listeners = { http: { host: '127.0.0.1', port }, rtsp: { host: '127.0.0.1', port: await freePort() }, mmsp: { host: '127.0.0.1', port: await freePort() } };
  writeFileSync(configFile, JSON.stringify({ dataDir: path.join(dir, 'var'), ...listeners, ...config }, null, 2));
  const out = openSync(path.join(dir, 'serve.log'), 'w');
  const child = spawn(process.execPath, [mssMain(), 'serve', '--config', configFile], { cwd: root, stdio: ['ignore', out, out] });
  closeSync(out);
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`mss serve (${tag}) exited; see ${dir}/serve.log`);
    const ok = await fetch(`http://127.0.0.1:${port}/api/status`).then((r) => r.ok, () => false);
    if (ok) return { child, pid: child.pid!, port };
    await sleep(100);
  }
  throw new Error(`mss serve (${tag}) did not answer`);
}

async function stop(s: Serve | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await exited;
}

interface Window {
  result: LoadResult;
  cpu: Record<string, number>;
}

/** runs the load generator; CPU of each watched process over the measured window */
async function load(target: Serve, urlPath: string, players: number, a: Args, streams: number[], watched: Record<string, Serve>): Promise<Window> {
  const opts: LoadOptions = { host: '127.0.0.1', port: target.port, path: urlPath, players, seconds: a.seconds, settleSeconds: a.settle, concurrency: 50, streams, expectedBytesPerSecond: 0, stallMs: 5000, rampTimeoutMs: 120_000 };
  const start: Record<string, number> = {};
  const cpu: Record<string, number> = {};
  let result: LoadResult | undefined;
  const load = spawnLoadProcess(LOAD_SCRIPT, opts, (msg) => {
    if (msg.event === 'window-start') for (const [k, s] of Object.entries(watched)) start[k] = cpuSeconds(s.pid);
    else if (msg.event === 'window-end') {
      for (const [k, s] of Object.entries(watched)) cpu[k] = cpuSeconds(s.pid) - start[k]!;
      cpu.rss = statusKb(target.pid, 'VmRSS') / 1024;
    } else if (msg.event === 'result') result = msg as unknown as LoadResult;
  });
  // one load process: no `go` to wait for (its stdin ends, so its window starts once its players settled)
  load.child.stdin!.end();
  await load.exited;
  if (!result) throw new Error('the load generator gave no result');
  return { result, cpu };
}

interface Row {
  mode: Mode;
  players: number;
  via: 'origin' | 'proxy';
  joined: number;
  starved: number;
  gb: number;
  cpu: number;
  cpuPerGB: number;
  rssMB: number;
  peakMB: number;
  originCpu?: number;
  originSessions?: number;
}

async function originSessions(origin: Serve, point: string): Promise<number> {
  const s = (await (await fetch(`http://127.0.0.1:${origin.port}/api/status`)).json()) as { points: Array<{ name: string; sessions: number }> };
  return s.points.find((p) => p.name === point)?.sessions ?? NaN;
}

async function main(): Promise<void> {
  const a = parseCli(process.argv.slice(2));
  const media = await prepareMedia();
  const rows: Row[] = [];
  for (const mode of a.modes) {
    for (const n of a.players) {
      const originPoints = [
        { name: 'vod', type: 'ondemand', path: path.dirname(media.file) },
        { name: 'live', type: 'broadcast', source: { type: 'file', path: media.file, loop: true }, start: 'boot' },
      ];
      const target = mode === 'live' ? '/live' : `/vod/${path.basename(media.file)}`;
      for (const via of ['origin', 'proxy'] as const) {
        const origin = await startServe(`origin-${mode}-${n}-${via}`, { server: { publishingPoints: originPoints, maxPlayers: 100000 } });
        let proxy: Serve | undefined;
        try {
          if (via === 'proxy') {
            proxy = await startServe(`proxy-${mode}-${n}`, { server: { maxPlayers: 100000, publishingPoints: [{ name: 'rp', type: 'ondemand', origin: `mmsh://127.0.0.1:${origin.port}` }] }, proxy: { cache: { fillSpeed: 20 } } });
            if (mode === 'ondemand') {
              const r = await fetch(`http://127.0.0.1:${proxy.port}/api/proxy/prestuff`, { method: 'POST', body: JSON.stringify({ url: `/rp${target}`, wait: true }) });
              if (!r.ok) throw new Error(`prestuff: ${await r.text()}`);
            }
          }
          await sleep(3000);
          const served = proxy ?? origin;
          const w = await load(served, via === 'proxy' ? `/rp${target}` : target, n, a, media.streams, proxy ? { server: proxy, origin } : { server: origin });
          const gb = w.result.windowBytes / 1e9;
          rows.push({
            mode,
            players: n,
            via,
            joined: w.result.joined,
            starved: w.result.starved,
            gb,
            cpu: w.cpu.server!,
            cpuPerGB: gb > 0 ? w.cpu.server! / gb : NaN,
            rssMB: w.cpu.rss!,
            peakMB: statusKb(served.pid, 'VmHWM') / 1024,
            originCpu: proxy ? w.cpu.origin : undefined,
            originSessions: proxy ? await originSessions(origin, mode === 'live' ? 'live' : 'vod') : undefined,
          });
          process.stderr.write(`${mode} ${n} via ${via}: ${JSON.stringify(rows[rows.length - 1])}\n`);
        } finally {
          await stop(proxy);
          await stop(origin);
        }
      }
    }
  }
  const lines = [
    '| mode | players | served by | joined | starved | GB in window | CPU s | CPU s/GB | RSS MB (window end) | peak RSS MB | origin CPU s | origin sessions |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.mode} | ${r.players} | ${r.via} | ${r.joined} | ${r.starved} | ${fmt(r.gb, 3)} | ${fmt(r.cpu, 2)} | ${fmt(r.cpuPerGB, 1)} | ${fmt(r.rssMB, 0)} | ${fmt(r.peakMB, 0)} | ${fmt(r.originCpu, 2)} | ${r.originSessions ?? '-'} |`),
  ];
  process.stdout.write(`window ${a.seconds} s after ${a.settle} s settle; ${media.file}\n${lines.join('\n')}\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
