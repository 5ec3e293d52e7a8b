/**
 * Multicast output benchmark: what one MS-MSB output of a broadcast point costs the server, alone and beside N
 * unicast WMSP players of the same ~500 kbps stream (all on loopback).
 *
 *   npx tsx scripts/bench/msb-output.ts [--players 0,500] [--seconds 30] [--settle 5] [--concurrency 100] [--fec 10]
 *
 * For every player count, two fresh `mss serve` processes (compiled, as deployed) run one after the other: the
 * point without and with a multicast output (group on 127.0.0.1, IP_MULTICAST_LOOP on). The WMSP players come
 * from scripts/bench/lib/wmsp-load.ts (one process of raw-TCP players sending ffmpeg's requests); with 0 players
 * the window is timed here. A receiver in this process joins the group and checks every datagram with the MSB
 * codec, so the table shows the output delivered what it cost. Reported per run: server CPU seconds in the
 * window (/proc utime+stime), the multicast datagrams and parity packets received, malformed ones, the WMSP
 * players' throughput and starvation, and the difference the multicast output makes. The machine is shared:
 * run it twice and compare; CPU seconds are per process, wall-clock numbers are not.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseMsbDatagram, readErrorCorrection } from '../../src/protocols/msb/codec.js';
import { spawnLoadProcess } from './lib/load-procs.js';
import { prepareMedia, type Media } from './lib/media.js';
import { benchDir, cpuSeconds, freePort, prepareMss, root, sleep, statusKb, stopChild, waitForListener } from './lib/proc.js';
import { fmt, markdownTable, usage } from './lib/report.js';
import type { LoadOptions, LoadResult } from './lib/wmsp-load.js';

const LOAD_SCRIPT = path.join(root, 'scripts/bench/lib/wmsp-load.ts');
const GROUP = '239.255.42.42';
const LOOPBACK = '127.0.0.1';

interface Args {
  players: number[];
  seconds: number;
  settle: number;
  concurrency: number;
  fec: number;
}

function parseCli(argv: string[]): Args {
  const a: Args = { players: [0, 500], seconds: 30, settle: 5, concurrency: 100, fec: 10 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--players') a.players = value().split(',').map((s) => Number(s.trim()));
    else if (flag === '--seconds') a.seconds = Number(value());
    else if (flag === '--settle') a.settle = Number(value());
    else if (flag === '--concurrency') a.concurrency = Number(value());
    else if (flag === '--fec') a.fec = Number(value());
    else if (flag === '-h' || flag === '--help') {
      process.stdout.write(usage(import.meta.url));
      process.exit(0);
    } else throw new Error(`unknown flag ${flag}`);
  }
  if (a.players.some((n) => !Number.isInteger(n) || n < 0)) throw new Error('--players takes whole numbers, e.g. 0,50,500');
  if (!(a.seconds > 0)) throw new Error('--seconds must be > 0');
  if (!Number.isInteger(a.fec) || a.fec < 0 || a.fec > 15) throw new Error('--fec takes 0 to 15');
  return a;
}

interface Server {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

async function startMss(media: Media, tag: string, multicast: { port: number; fec: number } | null): Promise<Server> {
  const entry = await prepareMss();
  const port = await freePort();
  const dir = path.join(benchDir, 'run', `msb-${tag}`);
  mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'config.json');
  const point: Record<string, unknown> = { name: 'live', type: 'broadcast', source: { type: 'file', path: media.file, loop: true }, start: 'boot' };
  if (multicast) point.multicast = { group: GROUP, port: multicast.port, interface: LOOPBACK, fecSpan: multicast.fec };
  writeFileSync(configFile, JSON.stringify({ dataDir: path.join(dir, 'var'), http: { host: LOOPBACK, port }, server: { publishingPoints: [point] } }, null, 2));
  const logFile = path.join(dir, 'serve.log');
  const out = openSync(logFile, 'w');
  const child = spawn(entry.cmd, [...entry.args, '--config', configFile], { cwd: root, stdio: ['ignore', out, out] });
  closeSync(out);
  await waitForListener('mss serve', port, child, logFile);
  return { pid: child.pid!, port, stop: () => stopChild(child) };
}

/** joins the group on loopback and checks every datagram with the MSB codec */
class Receiver {
  private readonly socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  counting = false;
  readonly counts = { datagrams: 0, bytes: 0, parity: 0, beacons: 0, malformed: 0 };

  async start(port: number): Promise<void> {
    await new Promise<void>((resolve) => this.socket.bind(port, GROUP, () => resolve()));
    this.socket.addMembership(GROUP, LOOPBACK);
    this.socket.setRecvBufferSize(4 * 1024 * 1024);
    this.socket.on('message', (m) => {
      if (!this.counting) return;
      this.counts.datagrams++;
      this.counts.bytes += m.length;
      try {
        const d = parseMsbDatagram(m);
        if (d.kind === 'beacon') this.counts.beacons++;
        else if (readErrorCorrection(d.asf).opaque) this.counts.parity++;
      } catch {
        this.counts.malformed++;
      }
    });
  }

  close(): void {
    this.socket.close();
  }
}

interface Run {
  players: number;
  multicast: boolean;
  serverCpu: number;
  peakRssMB: number;
  windowSeconds: number;
  wmspMbps?: number;
  joined?: number;
  starved?: number;
  rx?: Receiver['counts'];
  note?: string;
}

/** N WMSP players (or none) against the server; CPU sampled over the window */
async function measure(server: Server, media: Media, args: Args, players: number, rx: Receiver | null): Promise<Omit<Run, 'multicast' | 'peakRssMB'>> {
  if (players === 0) {
    await sleep(args.settle * 1000);
    const cpu0 = cpuSeconds(server.pid);
    if (rx) rx.counting = true;
    const t0 = performance.now();
    await sleep(args.seconds * 1000);
    const serverCpu = cpuSeconds(server.pid) - cpu0;
    if (rx) rx.counting = false;
    return { players, serverCpu, windowSeconds: (performance.now() - t0) / 1000, rx: rx?.counts };
  }
  const opts: LoadOptions = {
    host: LOOPBACK, port: server.port, path: '/live', players, seconds: args.seconds, settleSeconds: args.settle, concurrency: args.concurrency,
    streams: media.streams, expectedBytesPerSecond: (media.bitrate / 8) * 0.97, stallMs: 5000, rampTimeoutMs: 120_000,
  };
  let cpu0 = 0;
  let serverCpu = 0;
  let result: LoadResult | undefined;
  await new Promise<void>((resolve, reject) => {
    const load = spawnLoadProcess(LOAD_SCRIPT, opts, (msg) => {
      if (msg.event === 'window-start') {
        cpu0 = cpuSeconds(server.pid);
        if (rx) rx.counting = true;
      } else if (msg.event === 'window-end') {
        serverCpu = cpuSeconds(server.pid) - cpu0;
        if (rx) rx.counting = false;
      } else if (msg.event === 'result') result = msg as unknown as LoadResult;
      else if (msg.event === 'error') reject(new Error(`load generator: ${msg.message}`));
    });
    // one load process: no `go` to wait for (its stdin ends, so its window starts once its players settled)
    load.child.stdin!.end();
    void load.exited.then(resolve);
  });
  if (!result) throw new Error('load generator ended without a result');
  return {
    players,
    serverCpu,
    windowSeconds: result.windowSeconds,
    wmspMbps: (result.windowBytes * 8) / result.windowSeconds / 1e6,
    joined: result.joined,
    starved: result.starved,
    rx: rx?.counts,
  };
}

async function main(): Promise<void> {
  const args = parseCli(process.argv.slice(2));
  const media = await prepareMedia();
  process.stderr.write(`media ${path.relative(root, media.file)}: ${(media.bitrate / 1000).toFixed(0)} kb/s, ${media.packetsPerSecond.toFixed(1)} packets/s of ${media.packetSize} B (looped)\n`);
  const runs: Run[] = [];
  for (const n of args.players) {
    for (const withMulticast of [false, true]) {
      const tag = `${n}-${withMulticast ? 'mc' : 'uc'}`;
      process.stderr.write(`${n} WMSP players, multicast ${withMulticast ? 'on' : 'off'}, ${args.seconds} s window...\n`);
      const mcPort = await freePort();
      const rx = withMulticast ? new Receiver() : null;
      let server: Server | undefined;
      try {
        await rx?.start(mcPort);
        server = await startMss(media, tag, withMulticast ? { port: mcPort, fec: args.fec } : null);
        await sleep(2000);
        const r = await measure(server, media, args, n, rx);
        runs.push({ ...r, multicast: withMulticast, peakRssMB: statusKb(server.pid, 'VmHWM') / 1024 });
      } catch (err) {
        runs.push({ players: n, multicast: withMulticast, serverCpu: NaN, peakRssMB: NaN, windowSeconds: args.seconds, note: (err as Error).message.split('\n')[0] });
      } finally {
        await server?.stop();
        rx?.close();
      }
      process.stderr.write(`  ${JSON.stringify(runs[runs.length - 1])}\n`);
    }
  }

  const header = ['WMSP players', 'multicast', 'srv CPU s', 'CPU % of a core', '+ CPU s for multicast', 'datagrams/s rx', 'parity/s', 'malformed', 'multicast kb/s', 'WMSP Mbit/s', 'joined/starved', 'peak RSS MB'];
  const rows = runs.map((r) => {
    const base = runs.find((x) => x.players === r.players && !x.multicast);
    const w = r.windowSeconds;
    return [
      String(r.players),
      r.multicast ? `on (span ${args.fec})` : 'off',
      fmt(r.serverCpu, 2),
      fmt((r.serverCpu / w) * 100, 1),
      r.multicast && base ? fmt(r.serverCpu - base.serverCpu, 2) : '',
      r.rx ? fmt(r.rx.datagrams / w, 1) : '-',
      r.rx ? fmt(r.rx.parity / w, 1) : '-',
      r.rx ? String(r.rx.malformed) : '-',
      r.rx ? fmt((r.rx.bytes * 8) / w / 1000, 0) : '-',
      fmt(r.wmspMbps, 1),
      r.joined === undefined ? '-' : `${r.joined}/${r.starved}`,
      fmt(r.peakRssMB, 1),
    ];
  });
  const out = [
    `\nOne MS-MSB multicast output beside N WMSP players: ${(media.bitrate / 1000).toFixed(0)} kb/s WMV2+WMA2, loopback, ${args.seconds} s window after ${args.settle} s settle; node ${process.version}`,
    ...markdownTable(header, rows),
    ...runs.filter((r) => r.note).map((r) => `${r.players} players, multicast ${r.multicast ? 'on' : 'off'}: ${r.note}`),
  ];
  process.stdout.write(out.join('\n') + '\n');
  const jsonFile = path.join(benchDir, `msb-output-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(jsonFile, JSON.stringify({ args, media: { ...media, file: path.relative(root, media.file) }, runs }, null, 2));
  process.stderr.write(`results: ${path.relative(root, jsonFile)}\n`);
}

main().catch((err) => {
  process.stderr.write(`msb-output: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
