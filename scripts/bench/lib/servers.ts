/**
 * The servers the benchmarks measure, each started fresh on free loopback ports: `mss serve` as deployed (compiled,
 * with bin/mss.js's node flags), VLC 3's mmsh stream output (installed with apt when missing, run as nobody), and
 * the C floor of a user-space WMSP fan-out (../shared/bench/floor-wmsp.c built with gcc -O2).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Media } from './media.js';
import { benchDir, freePort, prepareMss, root, waitForListener, waitForPort, which, type MssEntry } from './proc.js';

export type Protocol = 'wmsp' | 'mmsp' | 'rtsp-tcp' | 'rtsp-udp';
/** mss; VLC 3's mmsh stream output; the C floor of a user-space WMSP fan-out */
export type ServerKind = 'mss' | 'vlc' | 'floor';

/** the commit measured (and whether the tree had changes), for the tables */
export function commitOf(): string {
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

export interface ServerHandle {
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

/** node flags for every mss server started from now on, and a compiled main.js to run instead of the working tree */
export function configureMss(o: { nodeFlags: string[]; entry?: string }): void {
  extraNodeFlags = o.nodeFlags;
  mssEntryOverride = o.entry;
}

/** how mss was run, for the tables */
export function mssHow(): string {
  return `${mssEntry?.how ?? '?'}${extraNodeFlags.length ? ` ${extraNodeFlags.join(' ')}` : ''}`;
}

/** the node flags bin/mss.js (and so `npm start`, the systemd unit and the image) launches the appliance with */
export function launchFlags(): string[] {
  const shebang = readFileSync(path.join(root, 'bin/mss.js'), 'utf8').split('\n')[0]!;
  return shebang.split(/\s+/).filter((w) => w.startsWith('--'));
}

export interface MssServerOptions {
  /** run under the window profiler (SIGUSR2 at the window's start and end) */
  profile?: boolean;
  /** publishing points instead of the live broadcast of the bench file as /live */
  points?: object[];
  /** the path players ask for (default /live) */
  path?: string;
}

export async function startMss(media: Media, tag: string, o: MssServerOptions = {}): Promise<ServerHandle> {
  const profile = o.profile ?? false;
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
        // the benches read the pacing clock's counters (late sends, late reads) from /metrics
        metrics: { protect: false },
        server: {
          maxPlayers: 30000,
          publishingPoints: o.points ?? [{ name: 'live', type: 'broadcast', source: { type: 'file', path: media.file, loop: true }, start: 'boot' }],
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
  await waitForListener('mss serve', port, child, logFile);
  return { kind: 'mss', child, pid: child.pid!, port, rtspPort, mmsPort, path: o.path ?? '/live', logFile, profileDir };
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

export async function startVlc(media: Media, tag: string): Promise<ServerHandle> {
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
  await waitForListener('vlc', port, child, logFile);
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

export interface UdpFloorResult {
  players: number;
  seconds: number;
  sentBytes: number;
  receivedBytes: number;
  senderUser: number;
  senderSys: number;
  receiverUser: number;
  receiverSys: number;
}

/**
 * The C floor of RTP/UDP sending (scripts/bench/floor-udp.c, gcc -O2): N connected sockets get the same datagrams
 * (ASF packets split to the datagram size as RTP does), one sendmmsg per player per tick, read by a forked epoll receiver. What the kernel alone costs per GB of datagrams.
 */
export function runUdpFloor(o: { players: number; seconds: number; packetBytes: number; maxDatagram: number; kbps: number; tickMs: number }): UdpFloorResult {
  const bin = path.join(benchDir, 'floor-udp');
  mkdirSync(benchDir, { recursive: true });
  execFileSync('gcc', ['-O2', '-o', bin, path.join(root, 'scripts/bench/floor-udp.c')]);
  const out = execFileSync(bin, [o.players, o.seconds, o.packetBytes, Math.round(o.kbps), o.maxDatagram, o.tickMs].map(String), { encoding: 'utf8', timeout: (o.seconds + 30) * 1000 });
  return JSON.parse(out.trim().split('\n').pop()!) as UdpFloorResult;
}

export async function startFloor(media: Media, tag: string): Promise<ServerHandle> {
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

/** the mss_* counters and gauges of a server's /metrics (label sets summed per name) */
export async function mssMetrics(server: ServerHandle): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  if (!res.ok) throw new Error(`/metrics: HTTP ${res.status}`);
  const out: Record<string, number> = {};
  for (const line of (await res.text()).split('\n')) {
    const m = /^(mss_[a-z_]+)(?:\{[^}]*\})? ([0-9.eE+-]+)$/.exec(line);
    if (m) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  }
  return out;
}

export const startServer = (kind: ServerKind, media: Media, tag: string, profile = false) => (kind === 'mss' ? startMss(media, tag, { profile }) : kind === 'floor' ? startFloor(media, tag) : startVlc(media, tag));

