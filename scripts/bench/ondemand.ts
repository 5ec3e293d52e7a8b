/**
 * On-demand benchmark (issue 16): N concurrent paced on-demand sessions over at least 20 different files, each
 * seeking twice, against one `mss serve` (compiled, bin/mss.js's node flags) with an on-demand point over the
 * files' directory; players ask for mmsh://127.0.0.1:<port>/vod/<file>.wmv.
 *
 *   npx tsx scripts/bench/ondemand.ts [--sessions 1000] [--files 20] [--file-seconds 120] [--seconds 60]
 *                                     [--seeks 2] [--settle 5] [--concurrency 50] [--load-procs 1] [--seed 1]
 *                                     [--stall-ms 3000] [--node-flags '...'] [--mss-entry dist/src/cli/main.js]
 *
 * Media (scripts/bench/lib/ondemand-media.ts, cached in .bench/): two 240 s WMV2 + WMA2 sources (~510 and
 * ~260 kb/s of packets) encoded once, and --files files of --file-seconds cut from them by stream copy at
 * different offsets (every fifth from the lower-rate source), so every file has its own bytes.
 * The load client (scripts/bench/lib/ondemand-load.ts) plays like ffmpeg: Describe, then Play from 0; each session
 * seeks --seeks times inside the window (Describe + Play with stream-time=<ms>, to a random place that leaves at
 * least 30 s of the file) and plays for --seconds after the ramp and --settle. Sessions go round-robin over the files.
 * Reported:
 *   - sessions joined, starved (no data for --stall-ms inside the window, the reconnect of a seek excepted, or under
 *     90% of its file's packet rate over the window, or failed: every failure counted by its reason);
 *   - seeks done and their latency, Play request written → first $D (p50/p99), and from the seek's start
 *     (Describe included);
 *   - bytes delivered in the window, Mbit/s, server CPU seconds (user+sys, and sys) and CPU seconds per GB;
 *   - server peak RSS (VmHWM), RSS at the window's end, and its growth over the idle server per session;
 *   - what the server read in the window (/proc/<pid>/io: rchar, every byte read() returned, against the bytes
 *     it sent, and per session; bytes fetched from storage, page-cache misses): reads bounded per session means
 *     about one byte read per byte sent (each session reads just ahead of its pace), not whole files;
 *   - the pacing clock's late sends, late reads and late ticks, slow-player drops and the longest event-loop
 *     delay in the window, from /metrics;
 *   - the load processes' own CPU seconds (they share the two cores), and the commit measured.
 * Results: a markdown table on stdout, progress on stderr, JSON in .bench/ondemand-<time>.json.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runLoadProcesses, type LoadProcess } from './lib/load-procs.js';
import type { OnDemandLoadOptions, OnDemandLoadResult } from './lib/ondemand-load.js';
import { prepareLibrary, type Library } from './lib/ondemand-media.js';
import { benchDir, cpuSeconds, cpuTimes, ioCounters, percentile, root, sleep, statusKb, stopChild } from './lib/proc.js';
import { fmt, markdownTable, usage } from './lib/report.js';
import { commitOf, configureMss, launchFlags, mssHow, mssMetrics, startMss, type ServerHandle } from './lib/servers.js';

const LOAD_SCRIPT = path.join(root, 'scripts/bench/lib/ondemand-load.ts');
const POINT = 'vod';

interface Args {
  sessions: number;
  files: number;
  fileSeconds: number;
  seconds: number;
  seeks: number;
  settle: number;
  concurrency: number;
  loadProcs: number;
  seed: number;
  stallMs: number;
  nodeFlags: string[];
  mssEntry?: string;
}

function parseCli(argv: string[]): Args {
  const a: Args = { sessions: 1000, files: 20, fileSeconds: 120, seconds: 60, seeks: 2, settle: 5, concurrency: 50, loadProcs: 1, seed: 1, stallMs: 3000, nodeFlags: launchFlags() };
  const numeric: Record<string, keyof Args> = {
    '--sessions': 'sessions',
    '--files': 'files',
    '--file-seconds': 'fileSeconds',
    '--seconds': 'seconds',
    '--seeks': 'seeks',
    '--settle': 'settle',
    '--concurrency': 'concurrency',
    '--load-procs': 'loadProcs',
    '--seed': 'seed',
    '--stall-ms': 'stallMs',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '-h' || flag === '--help') {
      process.stdout.write(usage(import.meta.url));
      process.exit(0);
    }
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const key = numeric[flag];
    if (key) {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} takes a number >= 0`);
      (a as unknown as Record<string, number>)[key] = n;
    } else if (flag === '--node-flags') a.nodeFlags = value.split(/\s+/).filter(Boolean);
    else if (flag === '--mss-entry') a.mssEntry = path.resolve(value);
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!Number.isInteger(a.sessions) || a.sessions < 1) throw new Error('--sessions must be a whole number >= 1');
  if (!Number.isInteger(a.files) || a.files < 1) throw new Error('--files must be a whole number >= 1');
  if (!(a.seconds > 0)) throw new Error('--seconds must be > 0');
  if (!Number.isInteger(a.loadProcs) || a.loadProcs < 1) throw new Error('--load-procs must be a whole number >= 1');
  // every seek target must leave media for the rest of the window, and the first Play must last until the first seek
  const untilFirstSeek = a.settle + (a.seeks > 0 ? 0.1 * a.seconds + (0.8 * a.seconds) / a.seeks : a.seconds);
  if (0.9 * a.seconds + 15 > a.fileSeconds || untilFirstSeek + 30 > a.fileSeconds) throw new Error(`--file-seconds ${a.fileSeconds} is too short for a ${a.seconds} s window`);
  return a;
}

/** the load processes' options: sessions split evenly, round-robin over the files across processes */
function loadOptions(a: Args, lib: Library, server: ServerHandle): OnDemandLoadOptions[] {
  const base: Omit<OnDemandLoadOptions, 'sessions' | 'firstSession' | 'concurrency'> = {
    host: '127.0.0.1',
    port: server.port,
    files: lib.files.map((f) => ({ path: `/${POINT}/${f.name}`, streams: f.streams, bytesPerSecond: f.bytesPerSecond, durationMs: f.durationMs })),
    seconds: a.seconds,
    settleSeconds: a.settle,
    seeks: a.seeks,
    tailMs: 30_000,
    stallMs: a.stallMs,
    minRateShare: 0.9,
    seekTimeoutMs: 10_000,
    rampTimeoutMs: 180_000,
    seed: a.seed,
  };
  const n = Math.min(a.loadProcs, a.sessions);
  const out: OnDemandLoadOptions[] = [];
  let first = 0;
  for (let k = 0; k < n; k++) {
    const share = Math.floor(a.sessions / n) + (k < a.sessions % n ? 1 : 0);
    out.push({ ...base, sessions: share, firstSession: first, concurrency: Math.max(1, Math.ceil(a.concurrency / n)) });
    first += share;
  }
  return out;
}

function merge(parts: OnDemandLoadResult[]): OnDemandLoadResult {
  const sum = (f: (r: OnDemandLoadResult) => number) => parts.reduce((a, r) => a + f(r), 0);
  const all = (f: (r: OnDemandLoadResult) => number[]) => parts.flatMap(f).sort((a, b) => a - b);
  const failures: Record<string, number> = {};
  for (const r of parts) for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
  return {
    event: 'result',
    sessions: sum((r) => r.sessions),
    joined: sum((r) => r.joined),
    failed: sum((r) => r.failed),
    failures,
    starved: sum((r) => r.starved),
    starvedByRate: sum((r) => r.starvedByRate),
    starvedByStall: sum((r) => r.starvedByStall),
    seeksPlanned: sum((r) => r.seeksPlanned),
    seeksDone: sum((r) => r.seeksDone),
    seekPlayMs: all((r) => r.seekPlayMs),
    seekWholeMs: all((r) => r.seekWholeMs),
    windowSeconds: Math.max(...parts.map((r) => r.windowSeconds)),
    windowBytes: sum((r) => r.windowBytes),
    totalBytes: sum((r) => r.totalBytes),
    windowDataFrames: sum((r) => r.windowDataFrames),
    rateShares: all((r) => r.rateShares),
    maxGapMs: Math.max(...parts.map((r) => r.maxGapMs)),
    locationGaps: sum((r) => r.locationGaps),
    loadCpuSeconds: sum((r) => r.loadCpuSeconds),
    rampMs: Math.max(...parts.map((r) => r.rampMs)),
  };
}

/** the server over the window: CPU, reads, memory, and its /metrics counters at both ends */
interface ServerWindow {
  cpu: number;
  sys: number;
  rchar: number;
  readBytes: number;
  rssEndMB: number;
  loadCpuProc: number;
  metrics: Record<string, number>;
  loopLagMaxS: number;
}

async function measure(a: Args, lib: Library, server: ServerHandle): Promise<{ result: OnDemandLoadResult; w: ServerWindow }> {
  let t0 = cpuTimes(server.pid);
  let io0 = ioCounters(server.pid);
  let load0 = 0;
  let before: Promise<Record<string, number>> = Promise.resolve({});
  let after: Promise<Record<string, number>> = Promise.resolve({});
  const w: ServerWindow = { cpu: 0, sys: 0, rchar: 0, readBytes: 0, rssEndMB: 0, loadCpuProc: 0, metrics: {}, loopLagMaxS: NaN };
  const loadCpu = (procs: readonly LoadProcess[]) => procs.reduce((s, p) => s + (p.child.pid ? cpuSeconds(p.child.pid) : 0), 0);
  const parts = await runLoadProcesses<OnDemandLoadResult>(LOAD_SCRIPT, loadOptions(a, lib, server), {
    onGo: (procs) => {
      t0 = cpuTimes(server.pid);
      io0 = ioCounters(server.pid);
      load0 = loadCpu(procs);
      // this scrape also restarts the event-loop delay maximum the window-end scrape reports
      before = mssMetrics(server);
      process.stderr.write(`  window of ${a.seconds} s started\n`);
    },
    onWindowEnd: (procs) => {
      const t1 = cpuTimes(server.pid);
      const io1 = ioCounters(server.pid);
      w.cpu = t1.user + t1.sys - t0.user - t0.sys;
      w.sys = t1.sys - t0.sys;
      w.rchar = io1.rchar - io0.rchar;
      w.readBytes = io1.readBytes - io0.readBytes;
      w.rssEndMB = statusKb(server.pid, 'VmRSS') / 1024;
      w.loadCpuProc = loadCpu(procs) - load0;
      after = mssMetrics(server);
    },
    onLine: (msg) => {
      if (msg.event === 'joined') process.stderr.write(`  ${JSON.stringify(msg)}\n`);
    },
  });
  const [m0, m1] = await Promise.all([before, after]);
  for (const [k, v] of Object.entries(m1)) if (k.endsWith('_total')) w.metrics[k] = v - (m0[k] ?? 0);
  w.loopLagMaxS = m1.mss_event_loop_lag_max_seconds ?? NaN;
  return { result: merge(parts), w };
}

function report(a: Args, lib: Library, r: OnDemandLoadResult, w: ServerWindow, baseRssMB: number, peakRssMB: number): string {
  const gb = r.windowBytes / 1e9;
  // a counter no session moved is absent from the text format: 0 when the scrape worked at all
  const m = (k: string) => w.metrics[k] ?? (Object.keys(w.metrics).length ? 0 : undefined);
  const filesUsed = Math.min(lib.files.length, r.sessions);
  const rates = [...new Set(lib.files.map((f) => Math.round((f.bytesPerSecond * 8) / 10_000) * 10))].sort((x, y) => y - x);
  const header = ['sessions', 'files', 'joined', 'starved', 'seeks done', 'seek ms p50/p99', 'GB in window', 'Mbit/s', 'srv CPU s (sys)', 'CPU s/GB', 'peak RSS MB', 'RSS window end MB', 'load CPU s', 'late sends/reads'];
  const row = [
    String(r.sessions),
    String(filesUsed),
    String(r.joined),
    String(r.starved),
    `${r.seeksDone}/${r.seeksPlanned}`,
    `${fmt(percentile(r.seekPlayMs, 50), 0)}/${fmt(percentile(r.seekPlayMs, 99), 0)}`,
    fmt(gb, 3),
    fmt((r.windowBytes * 8) / r.windowSeconds / 1e6, 0),
    `${fmt(w.cpu, 2)} (${fmt(w.sys, 2)})`,
    fmt(gb > 0 ? w.cpu / gb : NaN, 2),
    fmt(peakRssMB, 1),
    fmt(w.rssEndMB, 1),
    fmt(w.loadCpuProc, 2),
    `${fmt(m('mss_late_sends_total'), 0)}/${fmt(m('mss_late_reads_total'), 0)}`,
  ];
  const served = m('mss_bytes_sent_total');
  const out = [
    `\nOn-demand: ${r.sessions} paced sessions over ${filesUsed} files (${a.fileSeconds} s each, ~${rates.join(' or ')} kb/s of packets), ` +
      `${a.seeks} seeks each, ${fmt(r.windowSeconds, 1)} s window after ${a.settle} s settle; commit ${commitOf()}; mss via ${mssHow()}; ` +
      `${process.platform} ${execFileSync('nproc').toString().trim()} cores, node ${process.version}`,
    ...markdownTable(header, [row]),
    '',
    `starved: ${r.starvedByRate} under 90% of their file's rate, ${r.starvedByStall} with a gap over ${a.stallMs} ms (longest gap ${fmt(r.maxGapMs, 0)} ms), ${r.failed} failed` +
      (Object.keys(r.failures).length ? `: ${JSON.stringify(r.failures)}` : ''),
    `rate received / file rate over the window (over 1: every Play starts with a burst of preroll + 1 s): min ${fmt(r.rateShares[0], 3)}, p1 ${fmt(percentile(r.rateShares, 1), 3)}, p50 ${fmt(percentile(r.rateShares, 50), 3)}, max ${fmt(r.rateShares[r.rateShares.length - 1], 3)}`,
    `seek latency, Play written → first $D: p50 ${fmt(percentile(r.seekPlayMs, 50), 1)} ms, p99 ${fmt(percentile(r.seekPlayMs, 99), 1)} ms, max ${fmt(r.seekPlayMs[r.seekPlayMs.length - 1], 1)} ms; ` +
      `whole seek (Describe + Play): p50 ${fmt(percentile(r.seekWholeMs, 50), 1)} ms, p99 ${fmt(percentile(r.seekWholeMs, 99), 1)} ms`,
    `server reads in the window: ${fmt(w.rchar / 1e6, 1)} MB read() for ${fmt((served ?? r.windowBytes) / 1e6, 1)} MB sent (${fmt(w.rchar / (served ?? r.windowBytes), 3)} read per byte sent), ` +
      `${fmt((w.rchar * 8) / (r.sessions * r.windowSeconds) / 1000, 0)} kb/s read per session, ${fmt(w.readBytes / 1e6, 1)} MB from storage (page-cache misses)`,
    `server memory: RSS idle ${fmt(baseRssMB, 1)} MB, at window end ${fmt(w.rssEndMB, 1)} MB (${fmt(((w.rssEndMB - baseRssMB) * 1024) / r.sessions, 1)} KB per session), peak ${fmt(peakRssMB, 1)} MB`,
    `pacing (/metrics, window): ${fmt(m('mss_late_sends_total'), 0)} late sends, ${fmt(m('mss_late_reads_total'), 0)} late reads, ${fmt(m('mss_pacing_late_ticks_total'), 0)} late ticks, ` +
      `${fmt(m('mss_slow_player_drops_total'), 0)} slow-player drops, ${fmt(m('mss_refusals_total'), 0)} refusals, longest event-loop delay ${fmt(w.loopLagMaxS * 1000, 0)} ms`,
    `load client: ${fmt(r.loadCpuSeconds, 2)} CPU s in its processes (${fmt(w.loadCpuProc, 2)} s from /proc over the window), ramp ${r.rampMs} ms, ${r.locationGaps} LocationId gaps`,
    '',
    `target ${a.sessions} sessions over >= 20 files, ${a.seeks} seeks each, none starved: ${filesUsed >= 20 && r.starved === 0 && r.seeksDone === r.seeksPlanned ? 'MET' : 'MISSED'}` +
      ` (${r.starved} starved, ${r.seeksPlanned - r.seeksDone} seeks not done)`,
  ];
  return out.join('\n') + '\n';
}

async function main(): Promise<void> {
  const a = parseCli(process.argv.slice(2));
  configureMss({ nodeFlags: a.nodeFlags, entry: a.mssEntry });
  const lib = await prepareLibrary(a.files, a.fileSeconds);
  process.stderr.write(`library ${path.relative(root, lib.dir)}: ${lib.files.length} files, ${lib.files.map((f) => `${f.name} ${Math.round((f.bytesPerSecond * 8) / 1000)}k`).slice(0, 3).join(', ')}, ...\n`);
  const server = await startMss(lib.files[0]!, 'ondemand', { points: [{ name: POINT, type: 'ondemand', path: lib.dir }], path: `/${POINT}` });
  process.stderr.write(`mss: pid ${server.pid} port ${server.port} via ${mssHow()}; ${a.sessions} sessions x ${a.seconds} s...\n`);
  try {
    await sleep(2000);
    const baseRssMB = statusKb(server.pid, 'VmRSS') / 1024;
    const { result, w } = await measure(a, lib, server);
    const peakRssMB = statusKb(server.pid, 'VmHWM') / 1024;
    process.stdout.write(report(a, lib, result, w, baseRssMB, peakRssMB));
    const summary = {
      ...result,
      seekPlayMs: { p50: percentile(result.seekPlayMs, 50), p99: percentile(result.seekPlayMs, 99), max: result.seekPlayMs[result.seekPlayMs.length - 1] ?? null },
      seekWholeMs: { p50: percentile(result.seekWholeMs, 50), p99: percentile(result.seekWholeMs, 99), max: result.seekWholeMs[result.seekWholeMs.length - 1] ?? null },
      rateShares: { min: result.rateShares[0] ?? null, p1: percentile(result.rateShares, 1), p50: percentile(result.rateShares, 50), max: result.rateShares[result.rateShares.length - 1] ?? null },
    };
    const file = path.join(benchDir, `ondemand-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    const files = lib.files.map((f) => ({ name: f.name, kbps: (f.bytesPerSecond * 8) / 1000, durationMs: f.durationMs, packetSize: f.packetSize }));
    writeFileSync(file, JSON.stringify({ args: a, commit: commitOf(), mss: mssHow(), files, result: summary, server: { ...w, baseRssMB, peakRssMB } }, null, 2));
    process.stderr.write(`results: ${path.relative(root, file)}\n`);
  } finally {
    await stopChild(server.child);
  }
}

main().catch((err) => {
  process.stderr.write(`ondemand: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
