/**
 * Live fan-out benchmark: N live players of a ~500 kbps WMV2 stream over loopback, against `mss serve` over WMSP
 * and (with --protocols) MMS over TCP, RTSP interleaved on TCP and RTSP over UDP in the same run, and, side by side, VLC 3's
 * mmsh stream output on the same file with the same WMSP clients.
 *
 *   npx tsx scripts/bench/wmsp-fanout.ts [--players 50,500,2000] [--seconds 30] [--servers mss,vlc]
 *                                        [--protocols wmsp,mmsp,rtsp-tcp,rtsp-udp]
 *                                        [--settle 5] [--ttff-samples 3] [--concurrency 100] [--load-procs auto]
 *                                        [--profile] [--node-flags '--max-semi-space-size=4'] [--mss-entry dist/src/cli/main.js]
 *
 * For every server, protocol and player count a fresh server process is started; the load generator
 * (scripts/bench/lib/wmsp-load.ts, one process of raw players sending ffmpeg's exact requests; RTSP players in
 * scripts/bench/lib/rtsp-load.ts) ramps
 * the players up, lets them settle, then measures a window of --seconds. Reported per run:
 *   - bytes delivered in the window (sum over players) and the aggregate rate;
 *   - server CPU seconds in the window (/proc/<pid>/stat utime+stime) and CPU seconds per GB (1e9 bytes);
 *   - server peak RSS (/proc/<pid>/status VmHWM, whole life of the process);
 *   - players starved: got < 90% of what an idle probe player of the same server gets in the same time,
 *     or stalled > 5 s in the window, or never joined;
 *   - the load generator's own CPU seconds (it shares the two cores);
 *   - time to first decoded frame of a live join (`ffmpeg -i mmsh://... -frames:v 1 -f null -`) idle and
 *     once in the middle of the loaded window;
 *   - for diagnosis: kernel share of the CPU, CPU per server thread, RSS split into anonymous and file-backed,
 *     and with --profile a V8 CPU profile of the mss process over the measurement window (self-time summary).
 * The machine is shared: other work running at the same time changes wall-clock numbers (stalls, TTFF) more
 * than CPU seconds, which are per process.
 * VLC is installed with apt when missing and run as `nobody` (it refuses root) through setpriv, which execs,
 * so the pid measured is VLC's own.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync, mkdirSync, openSync, readFileSync, writeFileSync, copyFileSync, chmodSync, chownSync, closeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatProfile, summarizeCpuProfile } from './lib/cpuprofile.js';
import { prepareMedia, type Media } from './lib/media.js';
import { benchDir, cpuSeconds, percentile, cpuTimes, freePort, prepareMss, root, run, sleep, statusKb, stopChild, threadCpu, waitForPort, which, type MssEntry } from './lib/proc.js';
import type { LoadOptions, LoadResult } from './lib/wmsp-load.js';

const LOAD_SCRIPT = path.join(root, 'scripts/bench/lib/wmsp-load.ts');
/** one load process keeps up with about this many live players on this machine (--load-procs auto) */
const PLAYERS_PER_LOAD_PROC = 2500;

// ---------------------------------------------------------------------------------------------------------
// arguments

type Protocol = 'wmsp' | 'mmsp' | 'rtsp-tcp' | 'rtsp-udp';
/** mss; VLC 3's mmsh stream output; the C floor of a user-space WMSP fan-out */
type ServerKind = 'mss' | 'vlc' | 'floor';

interface Args {
  players: number[];
  seconds: number;
  servers: Array<ServerKind>;
  /** what mss is measured over (VLC speaks WMSP only) */
  protocols: Protocol[];
  settle: number;
  ttffSamples: number;
  concurrency: number;
  /** load processes per run; 0: one per PLAYERS_PER_LOAD_PROC players */
  loadProcs: number;
  /** profile mss over the measurement window and print where its CPU goes */
  profile: boolean;
  /** extra node flags for the mss process, e.g. --max-semi-space-size=4 */
  nodeFlags: string[];
  /** run this compiled main.js instead of building the working tree (to compare an experimental build) */
  mssEntry?: string;
}

/** the node flags bin/mss.js (and so `npm start`, the systemd unit and the image) launches the appliance with */
function launchFlags(): string[] {
  const shebang = readFileSync(path.join(root, 'bin/mss.js'), 'utf8').split('\n')[0];
  return shebang.split(/\s+/).filter((w) => w.startsWith('--'));
}

function parseCli(argv: string[]): Args {
  const a: Args = { players: [50, 500, 2000], seconds: 30, servers: ['mss', 'vlc'], protocols: ['wmsp'], settle: 5, ttffSamples: 3, concurrency: 100, loadProcs: 0, profile: false, nodeFlags: launchFlags() };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    const need = () => {
      if (value === undefined) throw new Error(`${flag} needs a value`);
      i++;
      return value;
    };
    switch (flag) {
      case '--players':
        a.players = need().split(',').map((s) => Number(s.trim()));
        if (a.players.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--players takes whole numbers, e.g. 50,500,2000');
        break;
      case '--seconds':
        a.seconds = Number(need());
        break;
      case '--servers':
        a.servers = need().split(',').map((s) => s.trim()) as Args['servers'];
        if (a.servers.some((s) => s !== 'mss' && s !== 'vlc' && s !== 'floor')) throw new Error('--servers takes mss, vlc and/or floor');
        break;
      case '--protocols':
        a.protocols = need().split(',').map((s) => s.trim()) as Protocol[];
        if (a.protocols.length === 0 || a.protocols.some((p) => !['wmsp', 'mmsp', 'rtsp-tcp', 'rtsp-udp'].includes(p))) throw new Error('--protocols takes wmsp, mmsp, rtsp-tcp and/or rtsp-udp');
        break;
      case '--settle':
        a.settle = Number(need());
        break;
      case '--ttff-samples':
        a.ttffSamples = Number(need());
        break;
      case '--concurrency':
        a.concurrency = Number(need());
        break;
      case '--load-procs': {
        const v = need();
        a.loadProcs = v === 'auto' ? 0 : Number(v);
        if (!Number.isInteger(a.loadProcs) || a.loadProcs < 0) throw new Error('--load-procs takes a whole number or auto');
        break;
      }
      case '--profile':
        a.profile = true;
        break;
      case '--mss-entry':
        a.mssEntry = path.resolve(need());
        break;
      case '--node-flags':
        a.nodeFlags = need().split(/\s+/).filter(Boolean);
        break;
      case '-h':
      case '--help':
        process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]!.replace(/^\/\*\*|^ \* ?/gm, ''));
        process.exit(0);
      default:
        throw new Error(`unknown flag ${flag}`);
    }
  }
  if (!(a.seconds > 0)) throw new Error('--seconds must be > 0');
  return a;
}

// ---------------------------------------------------------------------------------------------------------
// small process helpers

/** the commit measured (and whether the tree had changes), for the tables */
function commitOf(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', 'src'], { cwd: root }).toString().trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------------------
// media and servers

interface ServerHandle {
  kind: ServerKind;
  child: ChildProcess;
  pid: number;
  port: number;
  /** mss's RTSP listener */
  rtspPort?: number;
  mmsPort?: number;
  path: string;
  logFile: string;
  /** set when running under --cpu-prof: where the .cpuprofile lands on exit */
  profileDir?: string;
}

let mssEntry: MssEntry | undefined;
let extraNodeFlags: string[] = [];
let mssEntryOverride: string | undefined;

async function startMss(media: Media, tag: string, profile = false): Promise<ServerHandle> {
  const entry = (mssEntry = await prepareMss(mssEntryOverride));
  const port = await freePort();
  const rtspPort = await freePort();
  const mmsPort = await freePort();
  const dir = path.join(benchDir, 'run', `mss-${tag}`);
  mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        dataDir: path.join(dir, 'var'),
        // every player of the load client comes from 127.0.0.1: no per-address cap, room for 10,000+
        http: { host: '127.0.0.1', port, maxConnections: 30000, maxConnectionsPerAddress: 0 },
        rtsp: { host: '127.0.0.1', port: rtspPort, maxConnections: 30000, maxConnectionsPerAddress: 0, udp: { portMin: 20000, portMax: 39999 } },
        mmsp: { host: '127.0.0.1', port: mmsPort, maxConnections: 30000, maxConnectionsPerAddress: 0 },
        server: {
          maxPlayers: 30000,
          publishingPoints: [{ name: 'live', type: 'broadcast', source: { type: 'file', path: media.file, loop: true }, start: 'boot' }],
        },
      },
      null,
      2,
    ),
  );
  const logFile = path.join(dir, 'serve.log');
  const out = openSync(logFile, 'w');
  const profileDir = profile ? path.join(dir, 'prof') : undefined;
  if (profileDir) {
    rmSync(profileDir, { recursive: true, force: true }); // one profile per run
    mkdirSync(profileDir, { recursive: true });
  }
  // with --profile the server profiles its measurement window only (SIGUSR2 at the window's start and end)
  const nodeFlags = [...extraNodeFlags, ...(profileDir ? ['--import', path.join(root, 'scripts/bench/lib/window-profiler.mjs')] : [])];
  const env = profileDir ? { ...process.env, MSS_WINDOW_PROFILE: path.join(profileDir, 'window.cpuprofile') } : process.env;
  const child = spawn(entry.cmd, [...nodeFlags, ...entry.args, '--config', configFile], { cwd: root, env, stdio: ['ignore', out, out] });
  closeSync(out);
  try {
    await waitForPort(port, child, 30_000);
  } catch (err) {
    await stopChild(child);
    throw new Error(`mss serve ${(err as Error).message}; log:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
  }
  return { kind: 'mss', child, pid: child.pid!, port, rtspPort, mmsPort, path: '/live', logFile, profileDir };
}

function ensureVlc(): void {
  if (which('cvlc')) return;
  process.stderr.write('cvlc missing: installing vlc-bin and vlc-plugin-base with apt-get...\n');
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'vlc-bin', 'vlc-plugin-base'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (!which('cvlc')) throw new Error('cvlc still missing after apt-get install');
}

async function startVlc(media: Media, tag: string): Promise<ServerHandle> {
  ensureVlc();
  // VLC refuses to run as root: run it as nobody, on a copy of the file that nobody can read
  const dir = '/tmp/mss-bench-vlc';
  mkdirSync(path.join(dir, 'home'), { recursive: true });
  chmodSync(dir, 0o755);
  const nobody = Number(execFileSync('id', ['-u', 'nobody']).toString().trim());
  const nogroup = Number(execFileSync('id', ['-g', 'nobody']).toString().trim());
  chownSync(path.join(dir, 'home'), nobody, nogroup);
  const file = path.join(dir, path.basename(media.file));
  copyFileSync(media.file, file);
  chmodSync(file, 0o644);
  const port = await freePort();
  const logFile = path.join(benchDir, 'run', `vlc-${tag}.log`);
  mkdirSync(path.dirname(logFile), { recursive: true });
  const out = openSync(logFile, 'w');
  const asRoot = process.getuid?.() === 0;
  const vlcArgs = ['-q', file, '--loop', '--sout', `#std{access=mmsh,mux=asfh,dst=127.0.0.1:${port}}`];
  // setpriv execs (no fork), so child.pid is VLC's pid
  const child = asRoot
    ? spawn('setpriv', ['--reuid=nobody', `--regid=${nogroup}`, '--clear-groups', 'cvlc', ...vlcArgs], { stdio: ['ignore', out, out], env: { ...process.env, HOME: path.join(dir, 'home') } })
    : spawn('cvlc', vlcArgs, { stdio: ['ignore', out, out] });
  closeSync(out);
  try {
    await waitForPort(port, child, 30_000);
  } catch (err) {
    await stopChild(child);
    throw new Error(`vlc ${(err as Error).message}; log:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
  }
  return { kind: 'vlc', child, pid: child.pid!, port, path: '/', logFile };
}

/** the C floor (../shared/bench/floor-wmsp.c, or MSS_FLOOR_SRC): built once with gcc -O2, one batch write per player */
function floorBinary(): string {
  const src = process.env.MSS_FLOOR_SRC ?? path.resolve(root, '../shared/bench/floor-wmsp.c');
  if (!existsSync(src)) throw new Error(`the C floor's source is not at ${src} (set MSS_FLOOR_SRC)`);
  const bin = path.join(benchDir, 'floor-wmsp');
  mkdirSync(benchDir, { recursive: true });
  execFileSync('gcc', ['-O2', '-o', bin, src]);
  return bin;
}

async function startFloor(media: Media, tag: string): Promise<ServerHandle> {
  const bin = floorBinary();
  const port = await freePort();
  const logFile = path.join(benchDir, 'run', `floor-${tag}.log`);
  mkdirSync(path.dirname(logFile), { recursive: true });
  const out = openSync(logFile, 'w');
  // the same batch period as mss's live fan-out (server.liveBatchMs, 200 ms)
  const child = spawn(bin, [media.file, String(port), '200'], { stdio: ['ignore', out, out] });
  closeSync(out);
  await waitForPort(port, child, 10_000);
  return { kind: 'floor', child, pid: child.pid!, port, path: '/live', logFile };
}

const startServer = (kind: ServerKind, media: Media, tag: string, profile = false) => (kind === 'mss' ? startMss(media, tag, profile) : kind === 'floor' ? startFloor(media, tag) : startVlc(media, tag));

// ---------------------------------------------------------------------------------------------------------
// measurements

interface LoadRun {
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
async function runLoad(server: ServerHandle, opts: Omit<LoadOptions, 'host' | 'port' | 'path'>, ttffMidWindow: boolean, procs = 1): Promise<LoadRun> {
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
async function timeToFirstFrame(server: ServerHandle, protocol: Protocol): Promise<{ ms: number | null; error?: string; warnings?: number; firstWarning?: string }> {
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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};

// ---------------------------------------------------------------------------------------------------------

interface Row {
  server: string;
  players: number;
  joined?: number;
  starved?: number;
  windowGB?: number;
  mbps?: number;
  serverCpu?: number;
  serverSys?: number;
  cpuPerGB?: number;
  peakRssMB?: number;
  baseRssMB?: number;
  rssWindowEndMB?: number;
  rssAnonMB?: number;
  rssFileMB?: number;
  threads?: Record<string, number>;
  loadCpu?: number;
  ttffLoadMs?: number | null;
  gaps?: number;
  note?: string;
}

async function main(): Promise<void> {
  const args = parseCli(process.argv.slice(2));
  extraNodeFlags = args.nodeFlags;
  mssEntryOverride = args.mssEntry;
  const media = await prepareMedia();
  process.stderr.write(
    `media ${path.relative(root, media.file)}: ${(media.bitrate / 1000).toFixed(0)} kb/s, streams ${media.streams.join(',')}, packet ${media.packetSize} B, ` +
      `${media.packetsPerSecond.toFixed(1)} packets/s, ${(media.durationMs / 1000).toFixed(1)} s (looped)\n`,
  );
  const rows: Row[] = [];
  const ttffIdle: Record<string, { medianMs: number | null; samples: Array<number | null>; warnings: number; firstWarning?: string; error?: string }> = {};
  const probeRate: Record<string, number> = {};
  const profiles: string[] = [];

  type Variant = { kind: ServerKind; protocol: Protocol };
  const variants: Variant[] = args.servers.flatMap((kind): Variant[] => (kind === 'mss' ? args.protocols.map((protocol) => ({ kind, protocol })) : [{ kind, protocol: 'wmsp' }]));
  const labelOf = (v: Variant) => (v.kind === 'mss' && (args.protocols.length > 1 || v.protocol !== 'wmsp') ? `mss/${v.protocol}` : v.kind);
  for (const variant of variants) {
    const kind = variant.kind;
    const label = labelOf(variant);
    // idle: probe rate (what one healthy player gets per second, after the start burst) and TTFF
    let server: ServerHandle;
    try {
      server = await startServer(kind, media, 'probe');
    } catch (err) {
      process.stderr.write(`${label}: could not start: ${(err as Error).message}\n`);
      for (const n of args.players) rows.push({ server: label, players: n, note: `did not start: ${(err as Error).message.split('\n')[0]}` });
      continue;
    }
    const how = kind === 'mss' ? `${mssEntry?.how}${extraNodeFlags.length ? ` ${extraNodeFlags.join(' ')}` : ''}` : kind === 'floor' ? 'gcc -O2 floor-wmsp.c' : `cvlc (vlc-bin ${(await run('dpkg-query', ['-W', '-f', '${Version}', 'vlc-bin'])).stdout.trim() || '?'})`;
    process.stderr.write(`${label}: started pid ${server.pid} port ${variant.protocol === 'wmsp' ? server.port : variant.protocol === 'mmsp' ? server.mmsPort : server.rtspPort} via ${how}\n`);
    try {
      await sleep(6000); // let the live source run so a join sees a steady stream (and a full Fast Start ring)
      const samples: Array<number | null> = [];
      let warnings = 0;
      let error: string | undefined;
      let firstWarning: string | undefined;
      for (let i = 0; i < args.ttffSamples; i++) {
        const t = await timeToFirstFrame(server, variant.protocol);
        samples.push(t.ms);
        warnings += t.warnings ?? 0;
        error ??= t.error;
        firstWarning ??= t.firstWarning;
      }
      const ok = samples.filter((x): x is number => x !== null);
      ttffIdle[label] = { medianMs: ok.length ? median(ok) : null, samples, warnings, firstWarning, error };
      const probe = await runLoad(server, { protocol: variant.protocol, players: 1, seconds: 10, settleSeconds: 5, concurrency: 1, streams: media.streams, expectedBytesPerSecond: 0, stallMs: 5000, rampTimeoutMs: 30_000 }, false);
      probeRate[label] = probe.result.windowBytes / probe.result.windowSeconds;
      process.stderr.write(`${label}: probe player gets ${(probeRate[label]! * 8 / 1000).toFixed(0)} kb/s; TTFF idle ${samples.map((s) => (s === null ? 'fail' : s.toFixed(0))).join(', ')} ms\n`);
      if (probe.result.joined === 0) throw new Error(`probe player could not play: ${JSON.stringify(probe.result.failures)}`);
    } catch (err) {
      process.stderr.write(`${label}: probe failed: ${(err as Error).message}\n`);
      await stopChild(server.child);
      for (const n of args.players) rows.push({ server: label, players: n, note: `probe failed: ${(err as Error).message.split('\n')[0]}` });
      continue;
    }
    await stopChild(server.child);

    for (const n of args.players) {
      process.stderr.write(`${label}: ${n} players x ${args.seconds} s...\n`);
      let s: ServerHandle | undefined;
      try {
        s = await startServer(kind, media, `n${n}`, args.profile);
        await sleep(2000);
        const baseRssMB = statusKb(s.pid, 'VmRSS') / 1024;
        const r = await runLoad(
          s,
          {
            protocol: variant.protocol,
            players: n,
            seconds: args.seconds,
            settleSeconds: args.settle,
            concurrency: args.concurrency,
            streams: media.streams,
            expectedBytesPerSecond: probeRate[label]!,
            stallMs: 5000,
            rampTimeoutMs: 120_000,
          },
          true,
          args.loadProcs || Math.ceil(n / PLAYERS_PER_LOAD_PROC),
        );
        const peakRssMB = statusKb(s.pid, 'VmHWM') / 1024;
        const res = r.result;
        const gb = res.windowBytes / 1e9;
        rows.push({
          server: label,
          players: n,
          joined: res.joined,
          starved: res.starved,
          windowGB: gb,
          mbps: (res.windowBytes * 8) / res.windowSeconds / 1e6,
          serverCpu: r.serverCpu,
          serverSys: r.serverSys,
          baseRssMB,
          rssWindowEndMB: r.rssWindowEndMB,
          rssAnonMB: r.rssAnonMB,
          rssFileMB: r.rssFileMB,
          threads: r.threads,
          cpuPerGB: gb > 0 ? r.serverCpu / gb : NaN,
          peakRssMB,
          loadCpu: r.loadCpuProc,
          ttffLoadMs: r.ttffUnderLoadMs,
          gaps: res.locationGaps,
          note: [
            Object.keys(res.failures).length ? `failures ${JSON.stringify(res.failures)}` : '',
            res.starved ? `starved: ${res.starvedByBytes} low bytes, ${res.starvedByStall} stalled (max ${res.maxStallMs} ms)` : '',
            res.verified.error ? `codec check: ${res.verified.error}` : '',
            r.ttffUnderLoadError ? `ttff: ${r.ttffUnderLoadError}` : '',
          ]
            .filter(Boolean)
            .join('; '),
        });
        process.stderr.write(`  ${JSON.stringify(rows[rows.length - 1])}\n  per-player window bytes ${JSON.stringify(res.perPlayerWindowBytes)}, ramp ${res.rampMs} ms, player 0 codec-checked ${res.verified.dataFrames} $D\n`);
      } catch (err) {
        rows.push({ server: label, players: n, note: `run failed: ${(err as Error).message.split('\n')[0]}` });
        process.stderr.write(`${label} ${n}: ${(err as Error).message}\n`);
      } finally {
        if (s) await stopChild(s.child);
      }
      if (s?.profileDir && existsSync(s.profileDir)) {
        const files = readdirSync(s.profileDir).filter((f) => f.endsWith('.cpuprofile'));
        if (files.length > 0) {
          const summary = formatProfile(summarizeCpuProfile(path.join(s.profileDir, files[0]!), root, 25));
          profiles.push(`${label} ${n} players (the measurement window): ${path.relative(root, path.join(s.profileDir, files[0]!))}\n${summary}`);
        }
      }
    }
  }

  // ----- report
  /** CPU per GB against the C floor's at the same player count */
  const floorRatio = (r: Row): number | undefined => {
    const f = rows.find((x) => x.server === 'floor' && x.players === r.players);
    return f?.cpuPerGB && r.cpuPerGB !== undefined && Number.isFinite(r.cpuPerGB) ? r.cpuPerGB / f.cpuPerGB : undefined;
  };
  const fmt = (v: number | undefined | null, d = 1) => (v === undefined || v === null || Number.isNaN(v) ? '-' : v.toFixed(d));
  const header = ['server', 'players', 'joined', 'starved', 'GB in window', 'Mbit/s', 'srv CPU s (sys)', 'CPU s/GB', 'x floor', 'peak RSS MB', 'RSS idle/window MB', 'load CPU s', 'TTFF loaded ms', 'LocId gaps'];
  const table = rows.map((r) => [
    r.server,
    String(r.players),
    r.joined === undefined ? '-' : String(r.joined),
    r.starved === undefined ? '-' : String(r.starved),
    fmt(r.windowGB, 3),
    fmt(r.mbps, 0),
    r.serverCpu === undefined ? '-' : `${fmt(r.serverCpu, 2)} (${fmt(r.serverSys, 2)})`,
    fmt(r.cpuPerGB, 2),
    fmt(floorRatio(r), 2),
    fmt(r.peakRssMB, 1),
    r.baseRssMB === undefined ? '-' : `${fmt(r.baseRssMB, 0)}/${fmt(r.rssWindowEndMB, 0)}`,
    fmt(r.loadCpu, 2),
    fmt(r.ttffLoadMs, 0),
    r.gaps === undefined ? '-' : String(r.gaps),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padStart(widths[i]!)).join(' | ') + ' |';
  const out: string[] = [];
  out.push(`\nLive fan-out (${variants.map(labelOf).join(', ')}): ${(media.bitrate / 1000).toFixed(0)} kb/s WMV2+WMA2 over loopback, ${args.seconds} s window after ${args.settle} s settle; commit ${commitOf()}; ${process.platform} ${execFileSync('nproc').toString().trim()} cores, node ${process.version}`);
  out.push(line(header));
  out.push('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const row of table) out.push(line(row));
  out.push('');
  for (const kind of variants.map(labelOf)) {
    const t = ttffIdle[kind];
    if (t) out.push(`${kind}: time to first decoded frame (idle, live join): median ${fmt(t.medianMs, 0)} ms of [${t.samples.map((s) => fmt(s, 0)).join(', ')}]${t.warnings ? `, ffmpeg warning lines: ${t.warnings} (first: ${t.firstWarning})` : ', no ffmpeg warnings'}${t.error ? `, error: ${t.error}` : ''}`);
    if (probeRate[kind]) out.push(`${kind}: one idle player receives ${((probeRate[kind]! * 8) / 1000).toFixed(0)} kb/s (starvation reference)`);
  }
  for (const r of rows) {
    if (r.rssAnonMB !== undefined) out.push(`${r.server} ${r.players}: RSS at window end ${fmt(r.rssWindowEndMB, 1)} MB = ${fmt(r.rssAnonMB, 1)} anonymous (heap, buffers) + ${fmt(r.rssFileMB, 1)} file-backed (binary, libraries)`);
    if (r.threads) {
      const parts = Object.entries(r.threads).sort((a, b) => b[1] - a[1]).map(([name, sec]) => `${name} ${sec.toFixed(2)}`);
      out.push(`${r.server} ${r.players}: window CPU s by thread: ${parts.join(', ') || 'none'}`);
    }
    if (r.note) out.push(`${r.server} ${r.players}: ${r.note}`);
  }
  // targets
  const wmspLabel = labelOf({ kind: 'mss', protocol: 'wmsp' });
  const ours = rows.filter((r) => r.server === wmspLabel);
  const vlc = rows.filter((r) => r.server === 'vlc');
  const big = ours.find((r) => r.players === Math.max(...args.players));
  if (big && big.joined !== undefined) {
    out.push('');
    out.push(`target ${big.players} players held, none starved: ${big.starved === 0 ? 'MET' : `MISSED (${big.starved} starved)`}`);
    const maxRss = Math.max(...ours.map((r) => r.peakRssMB ?? 0));
    out.push(`target peak RSS <= 150 MB (at up to ${big.players} players): ${maxRss <= 150 ? 'MET' : 'MISSED'} (max ${maxRss.toFixed(1)} MB)`);
    for (const r of ours) {
      const v = vlc.find((x) => x.players === r.players);
      if (v?.cpuPerGB !== undefined && r.cpuPerGB !== undefined) {
        out.push(`target CPU/GB no more than VLC at ${r.players}: ${r.cpuPerGB <= v.cpuPerGB ? 'MET' : 'MISSED'} (mss ${r.cpuPerGB.toFixed(2)} vs vlc ${v.cpuPerGB.toFixed(2)} CPU s/GB)`);
      }
      const ratio = floorRatio(r);
      if (ratio !== undefined && r.players >= 4000) out.push(`target CPU/GB within 1.3x of the C floor at ${r.players}: ${ratio <= 1.3 ? 'MET' : 'MISSED'} (${ratio.toFixed(2)}x)`);
      if (r.players >= 4000 && r.ttffLoadMs !== undefined) out.push(`target live join to first decoded frame < 300 ms at ${r.players}: ${r.ttffLoadMs !== null && r.ttffLoadMs < 300 ? 'MET' : 'MISSED'} (${fmt(r.ttffLoadMs, 0)} ms)`);
    }
  }
  // RTSP beside WMSP: CPU per delivered GB within 1.5x of WMSP's, and no player starved
  for (const protocol of args.protocols.filter((p) => p !== 'wmsp')) {
    for (const r of rows.filter((x) => x.server === `mss/${protocol}`)) {
      const w = ours.find((x) => x.players === r.players);
      const starved = r.starved === undefined ? 'not run' : r.starved === 0 ? 'none starved' : `${r.starved} starved`;
      if (w?.cpuPerGB !== undefined && r.cpuPerGB !== undefined && Number.isFinite(w.cpuPerGB) && Number.isFinite(r.cpuPerGB)) {
        const ratio = r.cpuPerGB / w.cpuPerGB;
        out.push(`target ${protocol} CPU/GB within 1.5x of WMSP at ${r.players}: ${ratio <= 1.5 ? 'MET' : 'MISSED'} (${r.cpuPerGB.toFixed(2)} vs ${w.cpuPerGB.toFixed(2)} CPU s/GB, ${ratio.toFixed(2)}x; ${starved})`);
      } else out.push(`target ${protocol} CPU/GB within 1.5x of WMSP at ${r.players}: not measured (${r.note ?? 'no WMSP row to compare'})`);
    }
  }
  if (profiles.length) out.push('', 'CPU profiles (V8, measurement window):', ...profiles);
  process.stdout.write(out.join('\n') + '\n');
  const jsonFile = path.join(benchDir, `wmsp-fanout-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(jsonFile, JSON.stringify({ args, media: { ...media, file: path.relative(root, media.file) }, rows, ttffIdle, probeRate }, null, 2));
  process.stderr.write(`results: ${path.relative(root, jsonFile)}\n`);
}

main().catch((err) => {
  process.stderr.write(`wmsp-fanout: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
