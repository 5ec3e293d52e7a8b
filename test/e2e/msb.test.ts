/**
 * Multicast (MS-MSB) for real: `mss serve` sends broadcast points to groups on the loopback interface and
 * `mss play` receivers join them from the points' .nsc files. The received file holds the source's packets in
 * order and ffmpeg decodes it; hostile datagrams sent to the group during the play are counted and skipped; a
 * station whose group is silent rolls over to its Unicast URL; a playlist's entry change reaches the player as
 * a stream change; a point that is not broadcasting keeps its group alive with Beacons. Skipped, with the
 * reason, where the kernel refuses loopback multicast.
 */
import test from '../helpers/test.js';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openAsfFile, parseAsfFile, parseDataPacket, parseHeaderObject } from '../../src/asf/index.js';
import { encodeMsbPacket, parseMsbDatagram } from '../../src/protocols/msb/codec.js';
import { buildNsc, parseNsc } from '../../src/protocols/msb/nsc.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { LOOPBACK, probeLoopbackMulticast, testGroup } from '../helpers/multicast.js';
import { startServe, type RunningServe } from '../helpers/serve.js';

const execFileAsync = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(root, 'src/cli/main.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const refused = await probeLoopbackMulticast();
// serial: one play at a time, and hostile datagrams sent to a group reach only the test that sends them
const mtest = refused ? test.skip : test.serial;
if (refused) console.log(`msb e2e tests skipped: ${refused}`);

const LIVE = testGroup();
const SHOW = testGroup();
const QUIET = testGroup();
const SILENT = testGroup();
const multicast = (g: { group: string; port: number }, extra: Record<string, unknown> = {}) => ({ group: g.group, port: g.port, interface: LOOPBACK, ...extra });

let srv: RunningServe;
let tmp: string;
let av20: string;

test.before(async () => {
  if (refused) return;
  av20 = await fixture(FIXTURES.av20);
  tmp = await mkdtemp(path.join(tmpdir(), 'mss-e2e-msb-'));
  const clip = (name: string, src: string) =>
    execFileAsync('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', `${src}=size=160x120:rate=15:duration=3`, '-f', 'lavfi', '-i', 'sine=frequency=400:duration=3',
      '-c:v', 'wmv2', '-b:v', '120k', '-g', '15', '-c:a', 'wmav2', '-b:a', '32k', '-metadata', `title=${name}`, '-f', 'asf', path.join(tmp, name)]);
  await Promise.all([clip('a.wmv', 'testsrc'), clip('b.wmv', 'testsrc2')]);
  await writeFile(path.join(tmp, 'show.wsx'), '<?wsx version="1.0"?>\n<smil>\n  <seq repeatCount="indefinite">\n    <media src="a.wmv"/>\n    <media src="b.wmv"/>\n  </seq>\n</smil>\n');
  srv = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'live', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, start: 'boot', multicast: multicast(LIVE) },
          { name: 'show', type: 'broadcast', source: { type: 'playlist', path: path.join(tmp, 'show.wsx') }, start: 'boot', multicast: multicast(SHOW, { fecSpan: 5 }) },
          { name: 'quiet', type: 'broadcast', source: { type: 'push' }, multicast: multicast(QUIET, { beaconIntervalMs: 1000 }) },
        ],
      },
    },
  });
});

test.after.always(async () => {
  await srv?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface PlayRun {
  code: number | null;
  events: Array<Record<string, unknown>>;
  stderr: string;
}

/** runs `mss play`; `whilePlaying` gets a wait for the first progress event of a name */
function play(args: string[], whilePlaying?: (waitFor: (event: string) => Promise<void>) => Promise<void>): Promise<PlayRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'play', ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const waiters: Array<{ event: string; resolve: () => void }> = [];
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => {
      stderr += c;
      for (const w of [...waiters]) {
        if (stderr.includes(`"event":"${w.event}"`)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    const waitFor = (event: string) => new Promise<void>((r) => (stderr.includes(`"event":"${event}"`) ? r() : waiters.push({ event, resolve: r })));
    const side = whilePlaying?.(waitFor).catch((err) => reject(err));
    // 'close', not 'exit': the last lines (the done event) may still be in the pipe when the process exits
    child.on('close', (code) => {
      clearTimeout(timer);
      void Promise.resolve(side).then(() =>
        resolve({ code, stderr, events: stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>) }),
      );
    });
  });
}

/** joins a group on loopback and collects datagrams until `enough` says so (or 20 s passed) */
async function listen(g: { group: string; port: number }, enough: (got: Buffer[]) => boolean): Promise<Buffer[]> {
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  const got: Buffer[] = [];
  await new Promise<void>((resolve) => s.bind(g.port, g.group, () => resolve()));
  s.addMembership(g.group, LOOPBACK);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 20_000);
    s.on('message', (m) => {
      got.push(m);
      if (enough(got)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  s.close();
  return got;
}

/** what a packet carries except its times (a looped broadcast re-stamps them) */
function carried(packet: Buffer, packetSize: number): string {
  const p = parseDataPacket(packet, packetSize);
  return p.payloads.map((pl) => `${pl.streamNumber}/${pl.keyFrame}/${pl.objectNumber}/${pl.offsetIntoObject}/${createHash('sha1').update(pl.data).digest('hex')}`).join(' ');
}

mtest('.nsc of a multicast point: group, port, TTL 1, span, source, fallback and log URLs, the live header under the Format ID its packets carry', async (t) => {
  const res = await fetch(srv.http('/live.nsc'));
  t.is(res.status, 200);
  t.is(res.headers.get('content-type'), 'application/x-conference');
  const text = await res.text();
  t.true(/^\[Address\]\r\n/.test(text));
  const nsc = parseNsc(text);
  t.like(nsc, { version: '3.0', ipAddress: LIVE.group, ipPort: LIVE.port, ttl: 1, defaultEcc: 10, multicastAdapter: LOOPBACK, unicastUrl: srv.http('/live'), logUrl: srv.http('/logs') });
  t.regex(nsc.name ?? '', /, live$/);
  t.is(nsc.formats.length, 1);
  const header = parseHeaderObject(nsc.formats[0]!.header);
  t.true(header.fileProperties.broadcast);
  t.deepEqual(header.streams.map((s) => s.type).sort(), ['audio', 'video']);
  const datagrams = (await listen(LIVE, (got) => got.length >= 20)).map((d) => parseMsbDatagram(d));
  t.true(datagrams.length > 5);
  for (const d of datagrams) t.true(d.kind === 'packet' && d.formatId === nsc.formats[0]!.formatId);
  const asx = await (await fetch(srv.http('/live.asx'))).text();
  const refs = [...asx.matchAll(/<Ref href="([^"]+)"/g)].map((m) => m[1]);
  t.is(refs[0], srv.http('/live.nsc'));
  t.true(refs.slice(1).includes(srv.mmsh('/live')));
  t.is((await fetch(srv.http('/nope.nsc'))).status, 404);
});

mtest('mss play of the .nsc joins the group: the source packets in order, ffmpeg decodes them, hostile datagrams skipped, the log reaches /logs', async (t) => {
  const out = path.join(tmp, 'live.asf');
  const hostile = async (waitFor: (event: string) => Promise<void>) => {
    await waitFor('playing');
    const nsc = parseNsc(await (await fetch(srv.http('/live.nsc'))).text());
    const fmt = nsc.formats[0]!.formatId;
    const local = dgram.createSocket('udp4');
    const other = dgram.createSocket('udp4');
    await new Promise<void>((r) => local.bind(0, LOOPBACK, () => r()));
    await new Promise<void>((r) => other.bind(0, '127.0.0.2', () => r()));
    local.setMulticastInterface(LOOPBACK);
    other.setMulticastInterface(LOOPBACK);
    const send = (s: dgram.Socket, b: Buffer) => new Promise<void>((r) => s.send(b, LIVE.port, LIVE.group, () => r()));
    for (let i = 0; i < 5; i++) {
      await send(local, Buffer.from('not an MSB packet at all'));
      await send(local, encodeMsbPacket(7_000_000 + i, fmt, Buffer.from([0x82, 0x00, 0x00, 0xde, 0xad]))); // known format, not ASF
      await send(other, encodeMsbPacket(8_000_000 + i, fmt, Buffer.alloc(100))); // not from the Multicast Adapter
    }
    local.close();
    other.close();
  };
  const run = await play([srv.http('/live.nsc'), '--multicast-interface', LOOPBACK, '--duration', '6', '-o', out], hostile);
  t.is(run.code, 0, run.stderr);
  const playing = run.events.find((e) => e.event === 'playing');
  t.like(playing, { protocol: 'msb', url: `asfm://${LIVE.group}:${LIVE.port}`, broadcast: true });
  const stats = run.events.find((e) => e.event === 'multicast-stats')!;
  t.truthy(stats, run.stderr);
  t.is(stats.lost, 0);
  t.true(Number(stats.malformed) >= 10, JSON.stringify(stats));
  t.is(stats.spoofed, 5);
  t.true(Number(stats.parity) > 0);

  // the file: the source's packets, in order, from wherever the player joined (across the loop if it came);
  // the first one starts at a key frame (the end of the frame before it was cut)
  const src = await openAsfFile(av20);
  const source = (await src.readPackets(0, src.layout.packetCount)).map((p) => carried(p, src.layout.packetSize));
  await src.close();
  const file = parseAsfFile(await readFile(out));
  t.true(file.packetCount > 40);
  const got = Array.from({ length: file.packetCount }, (_, i) => carried(file.packet(i), file.packetSize));
  const start = source.indexOf(got[1]!) - 1;
  t.true(start >= 0);
  // the first packet: its source packet's payloads less the video ones before the key frame (in order)
  const srcPayloads = source[start]!.split(' ');
  let k = 0;
  for (const pl of got[0]!.split(' ')) {
    while (k < srcPayloads.length && srcPayloads[k] !== pl) k++;
    t.true(k < srcPayloads.length, `payload ${pl} of the first packet is in its source packet, in order`);
  }
  const video = parseHeaderObject(await readFile(out)).streams.find((st) => st.type === 'video')!.number;
  t.true(got[0]!.split(' ').find((pl) => pl.startsWith(`${video}/`))!.startsWith(`${video}/true/`), 'the first video payload is a key frame');
  got.forEach((g, i) => i > 0 && t.is(g, source[(start + i) % source.length], `packet ${i}`));
  const { stderr } = await execFileAsync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'warning', '-i', out, '-f', 'null', '-']);
  // nothing but ffmpeg's note on WMA's channel layout (the source file gets it too)
  t.deepEqual(stderr.split('\n').filter((l) => l.trim() && !/Guessed Channel Layout/.test(l)), []);

  // the log went to the .nsc Log URL (no back channel to the server)
  t.truthy(run.events.find((e) => e.event === 'log-sent' && e.to === srv.http('/logs')));
  t.falsy(run.events.find((e) => e.event === 'log-sent' && e.to === 'server'));
  const entries = ((await (await fetch(srv.http('/api/logs?since=0&limit=100'))).json()) as { entries: Array<{ fields: Record<string, string> }> }).entries;
  const log = entries.find((e) => e.fields['protocol'] === 'asfm');
  t.like(log?.fields, { transport: 'UDP', 'cs-uri-stem': `asfm://${LIVE.group}:${LIVE.port}`, 'c-channelURL': srv.http('/live.nsc'), 'c-pkts-lost-net': '0' });
  const status = (await (await fetch(srv.http('/api/status'))).json()) as { multicast: Record<string, { state: string; datagrams: number }> };
  t.is(status.multicast.live!.state, 'sending');
  t.true(status.multicast.live!.datagrams > 0);
});

mtest('a station whose group stays silent rolls over to its Unicast URL (a local .nsc file)', async (t) => {
  const live = parseNsc(await (await fetch(srv.http('/live.nsc'))).text());
  const file = path.join(tmp, 'silent.nsc');
  await writeFile(file, buildNsc({ ipAddress: SILENT.group, ipPort: SILENT.port, unicastUrl: srv.http('/live'), formats: live.formats }));
  const run = await play([file, '--multicast-interface', LOOPBACK, '--multicast-timeout', '2', '--duration', '3', '--no-log']);
  t.is(run.code, 0, run.stderr);
  const fallback = run.events.find((e) => e.event === 'fallback');
  t.regex(String(fallback?.error), new RegExp(`no multicast packet or Beacon from ${SILENT.group.replace(/\./g, '\\.')}:${SILENT.port} within 2000 ms`));
  t.like(run.events.find((e) => e.event === 'playing'), { protocol: 'wmsp', url: srv.mmsh('/live').replace('mmsh:', 'http:') });
  const done = run.events.find((e) => e.event === 'done');
  t.true(Number(done?.packets) > 10);
});

mtest('the .asx of a multicast point plays over the group first (its .nsc is the first reference)', async (t) => {
  const run = await play([srv.http('/live.asx'), '--multicast-interface', LOOPBACK, '--duration', '2', '--no-log']);
  t.is(run.code, 0, run.stderr);
  t.like(run.events.find((e) => e.event === 'playing'), { protocol: 'msb' });
  t.falsy(run.events.find((e) => e.event === 'fallback'));
});

mtest('a playlist entry change reaches a multicast player as a stream change (wStreamID bit 15 or a new format)', async (t) => {
  const run = await play([srv.http('/show.nsc'), '--multicast-interface', LOOPBACK, '--duration', '8', '--no-log']);
  t.is(run.code, 0, run.stderr);
  t.truthy(run.events.find((e) => e.event === 'stream-change'), run.stderr);
  const stats = run.events.find((e) => e.event === 'multicast-stats');
  t.is(stats?.lost, 0);
  t.is(stats?.late, 0);
  t.is(run.events.find((e) => e.event === 'done')?.lost, 0); // packets skipped to reach a key frame are no loss
  // the .nsc lists every header the output has sent by now
  t.true(parseNsc(await (await fetch(srv.http('/show.nsc'))).text()).formats.length >= 1);
});

mtest('a point that is not broadcasting keeps its group alive with Beacons', async (t) => {
  const got = await listen(QUIET, (all) => all.length >= 2);
  t.true(got.length >= 2);
  for (const d of got) t.deepEqual(parseMsbDatagram(d), { kind: 'beacon' });
});
