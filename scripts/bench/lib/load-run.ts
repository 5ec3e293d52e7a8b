/**
 * Runs the fan-out load client (./wmsp-load.ts) against a server in one or several processes, samples the server's
 * CPU, threads and RSS over the measurement window, and times a live join to the first decoded frame with ffmpeg.
 */
import path from 'node:path';
import { runLoadProcesses, type LoadProcess } from './load-procs.js';
import { cpuSeconds, cpuTimes, percentile, root, run, sleep, statusKb, threadCpu } from './proc.js';
import type { Protocol, ServerHandle } from './servers.js';
import type { LoadOptions, LoadResult } from './wmsp-load.js';

const LOAD_SCRIPT = path.join(root, 'scripts/bench/lib/wmsp-load.ts');

export interface LoadRun {
  result: LoadResult;
  serverCpu: number;
  /** kernel share of serverCpu (syscalls, loopback TCP) */
  serverSys: number;
  /** server RSS when the window ends, MB, and its anonymous (heap, buffers) and file-backed (binary, libraries) parts */
  rssWindowEndMB: number;
  rssAnonMB: number;
  rssFileMB: number;
  /** server CPU seconds in the window per thread name */
  threads: Record<string, number>;
  loadCpuProc: number;
  ttffUnderLoadMs: number | null;
  ttffUnderLoadError?: string;
}

/** the results of several load processes as one: sums, and percentiles over every player's window bytes */
function mergeResults(parts: LoadResult[]): LoadResult {
  const sum = (f: (r: LoadResult) => number) => parts.reduce((a, r) => a + f(r), 0);
  const perPlayer = parts.flatMap((r) => r.perPlayer ?? []).sort((a, b) => a - b);
  const failures: Record<string, number> = {};
  for (const r of parts) for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
  return {
    ...parts[0]!,
    players: sum((r) => r.players),
    joined: sum((r) => r.joined),
    failed: sum((r) => r.failed),
    failures,
    windowSeconds: Math.max(...parts.map((r) => r.windowSeconds)),
    windowBytes: sum((r) => r.windowBytes),
    totalBytes: sum((r) => r.totalBytes),
    windowDataFrames: sum((r) => r.windowDataFrames),
    perPlayerWindowBytes: { min: perPlayer[0] ?? 0, p1: percentile(perPlayer, 1), p50: percentile(perPlayer, 50), max: perPlayer[perPlayer.length - 1] ?? 0 },
    perPlayer: undefined,
    maxStallMs: Math.max(...parts.map((r) => r.maxStallMs)),
    starved: sum((r) => r.starved),
    starvedByBytes: sum((r) => r.starvedByBytes),
    starvedByStall: sum((r) => r.starvedByStall),
    locationGaps: sum((r) => r.locationGaps),
    endFrames: sum((r) => r.endFrames),
    changeFrames: sum((r) => r.changeFrames),
    loadCpuSeconds: sum((r) => r.loadCpuSeconds),
    rampMs: Math.max(...parts.map((r) => r.rampMs)),
  };
}

/**
 * Runs the players in `procs` load processes (one process cannot drive 10,000 players on its own: its event loop
 * becomes the bottleneck); each ramps and settles its share, then every window starts at once on `go`, and the
 * server's CPU is sampled from then until the last window ends.
 */
export async function runLoad(
  server: ServerHandle,
  opts: Omit<LoadOptions, 'host' | 'port' | 'path'>,
  /**
   * time one ffmpeg join under the full load, after the players settled and before the window: the window's CPU is
   * that of the N players alone (not the probe's session, nor the first player leave of the process's life)
   */
  ttffUnderLoad: boolean,
  procs = 1,
  /** called as the window starts and as it ends (a soak samples the server in between) */
  hooks: { windowStart?(): void; windowEnd?(): void } = {},
): Promise<LoadRun> {
  const full: LoadOptions = { host: '127.0.0.1', port: server.port, path: server.path, rtspPort: server.rtspPort, mmsPort: server.mmsPort, ...opts, reportPerPlayer: true };
  const n = Math.max(1, Math.min(procs, full.players));
  let cpuServer0 = 0;
  let sysServer0 = 0;
  let cpuLoad0 = 0;
  let serverCpu = 0;
  let serverSys = 0;
  let rssWindowEndMB = 0;
  let rssAnonMB = 0;
  let rssFileMB = 0;
  let threads0 = new Map<string, number>();
  const threads: Record<string, number> = {};
  let loadCpuProc = 0;
  let ttff: { ms: number | null; error?: string } | undefined;
  const loadCpu = (procs: readonly LoadProcess[]) => procs.reduce((a, l) => a + (l.child.pid ? cpuSeconds(l.child.pid) : 0), 0);
  const shares = Array.from({ length: n }, (_, k) => ({
    ...full,
    players: Math.floor(full.players / n) + (k < full.players % n ? 1 : 0),
    concurrency: Math.max(1, Math.ceil(full.concurrency / n)),
  }));
  const results = await runLoadProcesses<LoadResult>(LOAD_SCRIPT, shares, {
    beforeGo: async () => {
      if (!ttffUnderLoad) return;
      ttff = await timeToFirstFrame(server, opts.protocol ?? 'wmsp');
      await sleep(1000); // the probe's session ends and its socket closes before the window
    },
    onGo: (procs) => {
      if (server.profileDir) process.kill(server.pid, 'SIGUSR2');
      cpuServer0 = cpuSeconds(server.pid);
      sysServer0 = cpuTimes(server.pid).sys;
      threads0 = threadCpu(server.pid);
      cpuLoad0 = loadCpu(procs);
      hooks.windowStart?.();
    },
    onWindowEnd: (procs) => {
      if (server.profileDir) process.kill(server.pid, 'SIGUSR2');
      serverCpu = cpuSeconds(server.pid) - cpuServer0;
      serverSys = cpuTimes(server.pid).sys - sysServer0;
      rssWindowEndMB = statusKb(server.pid, 'VmRSS') / 1024;
      rssAnonMB = statusKb(server.pid, 'RssAnon') / 1024;
      rssFileMB = statusKb(server.pid, 'RssFile') / 1024;
      for (const [name, sec] of threadCpu(server.pid)) {
        const d = sec - (threads0.get(name) ?? 0);
        if (d > 0) threads[name] = Math.round(d * 100) / 100;
      }
      loadCpuProc = loadCpu(procs) - cpuLoad0;
      hooks.windowEnd?.();
    },
    onLine: (msg) => {
      if (msg.event === 'joined') process.stderr.write(`  joined ${JSON.stringify(msg)}\n`);
    },
  });
  const t = ttff;
  return { result: mergeResults(results), serverCpu, serverSys, rssWindowEndMB, rssAnonMB, rssFileMB, threads, loadCpuProc, ttffUnderLoadMs: t?.ms ?? null, ttffUnderLoadError: t?.error };
}

/** Wall time of `ffmpeg -i mmsh://... -frames:v 1 -f null -` (connect, header, first decoded video frame), or rtsp:// */
export async function timeToFirstFrame(server: ServerHandle, protocol: Protocol): Promise<{ ms: number | null; error?: string; warnings?: number; firstWarning?: string }> {
  const input =
    protocol === 'wmsp'
      ? ['-i', `mmsh://127.0.0.1:${server.port}${server.path}`]
      : protocol === 'mmsp'
        ? ['-i', `mmst://127.0.0.1:${server.mmsPort}${server.path}`]
        : ['-rtsp_transport', protocol === 'rtsp-udp' ? 'udp' : 'tcp', '-i', `rtsp://127.0.0.1:${server.rtspPort}${server.path}`];
  const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'warning', ...input, '-frames:v', '1', '-f', 'null', '-'], { timeoutMs: 60_000 });
  if (r.code !== 0) return { ms: null, error: r.stderr.trim().split('\n').slice(-2).join(' | ') };
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  return { ms: r.ms, warnings: lines.length, firstWarning: lines[0]?.trim().slice(0, 160) };
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};

/** bytes per second one idle player of this server gets after its start burst: the starvation reference */
export async function probeRate(server: ServerHandle, protocol: Protocol, streams: number[]): Promise<number> {
  const probe = await runLoad(server, { protocol, players: 1, seconds: 10, settleSeconds: 5, concurrency: 1, streams, expectedBytesPerSecond: 0, stallMs: 5000, rampTimeoutMs: 30_000 }, false);
  if (probe.result.joined === 0) throw new Error(`probe player could not play: ${JSON.stringify(probe.result.failures)}`);
  return probe.result.windowBytes / probe.result.windowSeconds;
}
