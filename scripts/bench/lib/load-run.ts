/**
 * Runs the fan-out load client (./wmsp-load.ts) against a server in one or several processes, samples the server's
 * CPU, threads and RSS over the measurement window, and times a live join to the first decoded frame with ffmpeg.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
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

/** one load process: its players' share, its last result, and where its stdout lines go */
function spawnLoad(opts: LoadOptions, onLine: (msg: { event: string; message?: string }) => void): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', LOAD_SCRIPT, JSON.stringify(opts)], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        onLine(JSON.parse(line));
      } catch {
        /* not a JSON line */
      }
    }
  });
  return { child, exited: new Promise((resolve) => child.once('exit', () => resolve())) };
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
  ttffMidWindow: boolean,
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
  let ttff: Promise<{ ms: number | null; error?: string }> | undefined;
  const results: LoadResult[] = [];
  let failure: Error | undefined;
  let ready = 0;
  let ended = 0;
  const loads: Array<{ child: ChildProcess; exited: Promise<void> }> = [];
  const loadCpu = () => loads.reduce((a, l) => a + (l.child.pid ? cpuSeconds(l.child.pid) : 0), 0);
  const go = () => {
    if (server.profileDir) process.kill(server.pid, 'SIGUSR2');
    cpuServer0 = cpuSeconds(server.pid);
    sysServer0 = cpuTimes(server.pid).sys;
    threads0 = threadCpu(server.pid);
    cpuLoad0 = loadCpu();
    if (ttffMidWindow) ttff = sleep((opts.seconds * 1000) / 2).then(() => timeToFirstFrame(server, opts.protocol ?? 'wmsp'));
    for (const l of loads) l.child.stdin!.end('go\n');
    hooks.windowStart?.();
  };
  const windowEnd = () => {
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
    loadCpuProc = loadCpu() - cpuLoad0;
    hooks.windowEnd?.();
  };
  for (let k = 0; k < n; k++) {
    const share = Math.floor(full.players / n) + (k < full.players % n ? 1 : 0);
    const concurrency = Math.max(1, Math.ceil(full.concurrency / n));
    loads.push(
      spawnLoad({ ...full, players: share, concurrency }, (msg) => {
        if (msg.event === 'ready' && ++ready === n) go();
        else if (msg.event === 'window-end' && ++ended === n) windowEnd();
        else if (msg.event === 'result') results.push(msg as unknown as LoadResult);
        else if (msg.event === 'error') failure ??= new Error(`load generator: ${msg.message}`);
        else if (msg.event === 'joined') process.stderr.write(`  joined ${JSON.stringify(msg)}\n`);
      }),
    );
  }
  await Promise.all(loads.map((l) => l.exited));
  if (failure) throw failure;
  if (results.length !== n) throw new Error(`${n - results.length} of ${n} load processes ended without a result`);
  const t = ttff ? await ttff : undefined;
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
