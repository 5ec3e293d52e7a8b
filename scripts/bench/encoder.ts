/**
 * Encoder benchmark: the Node side's cost per encoded stream and the encoder-to-player delivery latency.
 *
 * The encoders (LiveEncoder: ffmpeg supervisor + ASF stream parser + MS-WMHTTP push client) run in this process,
 * pushing testsrc to a `mss serve` child on loopback. ffmpeg runs in its own processes, so process.cpuUsage() of
 * this process is the Node side only. Phases per row:
 *   1. CPU + memory: N streams pushing, no players, measured over a window after a warm-up;
 *   2. latency: one WMSP player per stream (in this process); for every packet, the wall time it arrived at the
 *      player minus the wall time the encoder's Node side emitted it (matched by stream and send time). The first
 *      seconds after a player joins (the server's key-frame burst of older packets) are left out.
 *
 *   npx tsx scripts/bench/encoder.ts [--streams 1,3] [--seconds 15] [--profile wmv2-300k]
 */
import { createLogger, setLogLevel } from '../../src/core/log.js';
import { LiveEncoder } from '../../src/encoder/encoder.js';
import { readSendTime } from '../../src/asf/index.js';
import { openWmspStream } from '../../src/protocols/wmsp/client.js';
import { startServe } from '../../test/helpers/serve.js';
import { markdownTable } from './lib/report.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const streamCounts = arg('streams', '1,3').split(',').map(Number);
const seconds = Number(arg('seconds', '15'));
const profile = arg('profile', 'wmv2-300k');
setLogLevel('warn');

function pct(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

interface Row {
  streams: number;
  profile: string;
  packetsPerSec: number;
  cpuMsPerSec: number;
  cpuPerStream: number;
  rssMb: number;
  rssPerStreamMb: number;
  heapPerStreamMb: number;
  capP50: number;
  capP95: number;
  latP50: number;
  latP95: number;
  latMax: number;
  samples: number;
}

async function runRow(n: number): Promise<Row> {
  const points = Array.from({ length: n }, (_, i) => ({ name: `enc${i}`, type: 'broadcast', source: { type: 'push' } }));
  const srv = await startServe({ config: { server: { publishingPoints: points } } });
  const log = createLogger('bench');
  const emitted: Array<Map<number, number>> = [];
  const capture: number[] = [];
  const encoders: LiveEncoder[] = [];
  global.gc?.();
  const base = { rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed };
  try {
    for (let i = 0; i < n; i++) {
      const enc = new LiveEncoder({ source: 'testsrc', profile, ffmpegPath: 'ffmpeg', push: { url: srv.http(`/enc${i}`) } }, log);
      const times = new Map<number, number>();
      emitted.push(times);
      let spawnedAt = 0;
      enc.on('event', (e) => {
        if (e.type === 'encoder-started' && e.run === 1) spawnedAt = e.at;
      });
      // record when the Node side hands each packet on (bounded: the last 4096 send times)
      enc.addSink({
        setHeader: () => undefined,
        pushPacket: (p) => {
          const st = readSendTime(p);
          const now = Date.now();
          times.set(st, now);
          // ffmpeg -re makes media time 0 at about its start: now − (spawn + send time) bounds the capture→Node delay
          if (spawnedAt && st > 2000) capture.push(now - (spawnedAt + st));
          if (times.size > 4096) times.delete(times.keys().next().value!);
        },
      });
      await enc.start();
      encoders.push(enc);
    }
    await sleep(4000); // warm-up: ffmpeg start, push sessions up
    const packets0 = encoders.reduce((s, e) => s + Number(e.status.capture?.packets ?? 0), 0);
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    let peakRss = 0;
    let peakHeap = 0;
    while (Date.now() - t0 < seconds * 1000) {
      await sleep(500);
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }
    const cpu = process.cpuUsage(cpu0);
    const elapsed = (Date.now() - t0) / 1000;
    const packets = encoders.reduce((s, e) => s + Number(e.status.capture?.packets ?? 0), 0) - packets0;

    // latency phase
    const lat: number[] = [];
    const players = encoders.map((_, i) => {
      const joined = Date.now();
      const p = openWmspStream(srv.mmsh(`/enc${i}`));
      p.on('packet', (pk) => {
        if (Date.now() - joined < 3000) return;
        let st: number;
        try {
          st = readSendTime(pk);
        } catch {
          return;
        }
        const sent = emitted[i]!.get(st);
        if (sent !== undefined) lat.push(Date.now() - sent);
      });
      p.on('error', () => undefined);
      return p;
    });
    await sleep(Math.max(8, seconds) * 1000);
    for (const p of players) p.close();

    const cpuMs = (cpu.user + cpu.system) / 1000;
    return {
      streams: n,
      profile,
      packetsPerSec: packets / elapsed,
      cpuMsPerSec: cpuMs / elapsed,
      cpuPerStream: cpuMs / elapsed / n,
      rssMb: peakRss / 1e6,
      rssPerStreamMb: (peakRss - base.rss) / 1e6 / n,
      heapPerStreamMb: (peakHeap - base.heap) / 1e6 / n,
      capP50: pct(capture, 50),
      capP95: pct(capture, 95),
      latP50: pct(lat, 50),
      latP95: pct(lat, 95),
      latMax: lat.length ? Math.max(...lat) : NaN,
      samples: lat.length,
    };
  } finally {
    for (const e of encoders) await e.stop();
    await srv.stop();
  }
}

const rows: Row[] = [];
for (const n of streamCounts) rows.push(await runRow(n));

const head = ['streams', 'profile', 'pkts/s', 'CPU ms/s', 'CPU ms/s/stream', 'RSS MB', 'RSS MB/stream', 'heap MB/stream', 'ffmpeg→Node p50 ms', 'ffmpeg→Node p95 ms', 'lat p50 ms', 'lat p95 ms', 'lat max ms', 'samples'];
const body = rows.map((r) => [
  String(r.streams),
  r.profile,
  r.packetsPerSec.toFixed(1),
  r.cpuMsPerSec.toFixed(1),
  r.cpuPerStream.toFixed(2),
  r.rssMb.toFixed(1),
  r.rssPerStreamMb.toFixed(2),
  r.heapPerStreamMb.toFixed(2),
  r.capP50.toFixed(0),
  r.capP95.toFixed(0),
  r.latP50.toFixed(0),
  r.latP95.toFixed(0),
  r.latMax.toFixed(0),
  String(r.samples),
]);
console.log(`\nencoder benchmark: testsrc → ffmpeg (${profile}) → Node (ASF parse, push) → mss serve → WMSP player; ${seconds} s windows; CPU = this Node process only (ffmpeg excluded)`);
for (const l of markdownTable(head, body)) console.log(l);
console.log('ffmpeg→Node = wall time the Node side emitted a packet − (ffmpeg spawn time + the packet\'s send time): an upper bound of capture + encode + ASF packetisation delay (includes ffmpeg start-up)');
console.log('latency = wall time a packet reached the player − wall time the encoder\'s Node side emitted it (push + server fan-out + WMSP)');
