/**
 * Broadcast points over MS-MMSP against `mss serve` as a process: ffmpeg joining a looping live point mid-stream
 * over mmst://, Fast Start from the last key frame, the same framing for every player of a group, a .wsx playlist
 * crossing entries (over TCP and over UDP), and UDP data: only to the control connection's address, resend
 * requests answered with the same bytes and only for the session's own address.
 */
import test from '../helpers/test.js';
import dgram from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openAsfFile, packetKeyFrameStreams, parseDataPacket } from '../../src/asf/index.js';
import { encodeResendRequest, type MmsDataPacket } from '../../src/protocols/mmsp/codec.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { RawMms, type Received } from '../protocols/mmsp/raw-client.js';
import { play, run, sleep } from '../protocols/mmsp/tools.js';

let srv: RunningServe;
let tmp: string;
let av20: string;
let mmsPort: number;

const FAST = { bandwidth: 20_000_000, durationMs: 10_000, linkBandwidth: 0 };

test.before(async () => {
  av20 = await fixture(FIXTURES.av20);
  tmp = await mkdtemp(path.join(tmpdir(), 'mss-mmsp-live-'));
  const clip = (name: string, src: string, seconds: number) =>
    run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', `${src}=size=320x240:rate=25:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=frequency=500:sample_rate=44100:duration=${seconds}`, '-c:v', 'wmv2', '-b:v', '300k', '-g', '25', '-c:a', 'wmav2', '-b:a', '64k', '-f', 'asf', path.join(tmp, name)]);
  await Promise.all([clip('a.wmv', 'testsrc', 3), clip('b.wmv', 'testsrc2', 3)]);
  await writeFile(path.join(tmp, 'show.wsx'), '<?wsx version="1.0"?>\n<smil>\n  <seq repeatCount="indefinite">\n    <media src="a.wmv"/>\n    <media src="b.wmv"/>\n  </seq>\n</smil>\n');
  srv = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'live', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, start: 'boot' },
          { name: 'show', type: 'broadcast', source: { type: 'playlist', path: path.join(tmp, 'show.wsx') }, start: 'boot' },
        ],
      },
    },
  });
  mmsPort = await srv.mmsPort();
});

test.after.always(async () => {
  await srv?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function raw(t: { teardown(fn: () => void): void }): Promise<RawMms> {
  const c = await RawMms.connect(mmsPort);
  t.teardown(() => c.close());
  return c;
}

const isData = (r: Received): r is { from: 'tcp' | 'udp'; data: MmsDataPacket; raw: Buffer } => 'data' in r;

test('ffmpeg joining the live point mid-stream over mmst:// decodes from a key frame without errors', async (t) => {
  await sleep(4000); // the loop is well past its start
  const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'level+info', '-i', await srv.mms('/live'), '-frames:v', '60', '-vf', 'showinfo', '-f', 'null', '-'], 60_000);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stderr.split('\n').filter((l) => /\[(error|fatal)\]/.test(l)), []);
  const frames = r.stderr.split('\n').filter((l) => /Parsed_showinfo.*n:\s*\d+/.test(l));
  t.true(frames.length >= 60, `${frames.length} frames`);
  t.regex(frames[0]!, /iskey:1/);
});

test('a broadcast opens as broadcast with no length; Fast Start sends consecutive packets from the last key frame; every TCP player gets the same bytes', async (t) => {
  const file = await openAsfFile(av20);
  t.teardown(() => file.close());
  const video = file.layout.header.streams.find((s) => s.type === 'video')!.number;
  const players = await Promise.all([raw(t), raw(t), raw(t)]);
  for (const c of players) {
    const open = await c.open('live');
    t.is(open.fileAttributes & 0x02000000, 0x02000000, 'FILE_ATTRIBUTE_MMS_BROADCAST');
    t.is(open.filePacketCount, 0);
    t.is(open.fileDuration, 0);
    await c.header(2);
    c.send({ type: 'StreamSwitch', entries: [1, 2].map((n) => ({ source: 0xffff, destination: n, thinning: 0 })) });
    c.send({ type: 'StartPlaying', openFileId: 1, position: 0, asfOffset: 0xffffffff, locationId: 0xffffffff, frameOffset: 0, playIncarnation: 4, accel: FAST });
    await c.message('ReportStartedPlaying');
  }
  for (const c of players) for (let i = 0; i < 30; i++) await c.next((r): r is typeof r => isData(r) && r.data.incarnation === 4, 'media');
  const first = players[0]!.media(4);
  t.true(packetKeyFrameStreams(Buffer.concat([first[0]!.payload, Buffer.alloc(file.layout.packetSize - first[0]!.payload.length)]), file.layout.packetSize).has(video));
  for (let i = 1; i < first.length; i++) t.is(first[i]!.locationId, first[i - 1]!.locationId + 1);
  // the packets all three have, byte for byte alike (framed once for the group, written to every socket)
  const byLoc = players.map((c) => new Map(c.media(4).map((d) => [d.locationId, d])));
  const common = [...byLoc[0]!.keys()].filter((k) => byLoc.every((m) => m.has(k))).slice(1);
  t.true(common.length > 10, `${common.length} packets in common`);
  for (const k of common) {
    const [a, b, c] = byLoc.map((m) => m.get(k)!);
    if (!a.payload.equals(b.payload) || !a.payload.equals(c.payload) || a.afFlags !== b.afFlags || b.afFlags !== c.afFlags) t.fail(`packet ${k} differs between players`);
  }
});

test('a playlist broadcast over TCP: ReportEndOfStream(1), ReportStreamChange, the new header and then media with playIncarnation 0xFF', async (t) => {
  const c = await raw(t);
  await c.open('show');
  await c.header(2);
  c.streamAll(4);
  const eos = await c.message('ReportEndOfStream', 20_000);
  t.is(eos.hr, 1);
  t.is(eos.playIncarnation, 4);
  const change = await c.message('ReportStreamChange');
  const header = await c.header(0xff);
  t.is(header.length, change.headerSize);
  const after = await c.next((r): r is { from: 'tcp'; data: MmsDataPacket; raw: Buffer } => isData(r) && r.data.incarnation === 0xff, 'media after the change');
  t.is(after.data.locationId, 0, 'LocationId restarts with the entry');
});

test('mss play follows playlist entries over mmst:// and over mmsu://', async (t) => {
  const [tcp, udp] = await Promise.all([
    play([await srv.mms('/show', 'mmst'), '--duration', '8', '--no-log', '--quiet']),
    play([await srv.mms('/show', 'mmsu'), '--duration', '8', '--no-log', '--quiet']),
  ]);
  for (const [name, r] of [['mmst', tcp], ['mmsu', udp]] as const) {
    t.is(r.code, 0, `${name}: ${r.stderr}`);
    t.true(r.events.filter((e) => e.event === 'stream-change').length >= 1, `${name}: ${r.stderr}`);
    t.is(r.events.find((e) => e.event === 'done')?.stoppedBy, 'duration', name);
  }
});

test('UDP data goes to the control connection\'s address whatever funnelName says; resends are byte-identical and only for the session\'s own address', async (t) => {
  const c = await raw(t);
  const port = await c.bindUdp('127.0.0.1');
  // the funnel names a third party: the data must still come to us (the TCP peer), never to 10.9.8.7
  const open = await c.open('live', { udpPort: port, funnelAddress: '10.9.8.7' });
  t.is(open.hr, 0);
  await c.header(2);
  c.streamAll(4);
  await c.message('ReportStartedPlaying');
  const media: Array<{ data: MmsDataPacket; raw: Buffer }> = [];
  while (media.length < 20) media.push(await c.next((r): r is { from: 'udp'; data: MmsDataPacket; raw: Buffer } => isData(r) && r.from === 'udp' && r.data.incarnation === 4, 'UDP media'));
  t.true(media.every((m, i) => i === 0 || m.data.afFlags === ((media[i - 1]!.data.afFlags + 1) & 0xff)), 'AFFlags count up');
  const funnel = c.received.find((r) => 'message' in r && r.message.type === 'ReportFunnelInfo') as { message: { clientId: number } } | undefined;
  const clientId = funnel!.message.clientId;
  const wanted = media[5]!;
  const ask = (from: dgram.Socket, id: number, seq: number) => from.send(encodeResendRequest({ clientId: id, sourceId: 1, sequences: [seq] }), mmsPort, '127.0.0.1');
  ask(c.udp!, clientId, wanted.data.afFlags);
  const resent = await c.next((r): r is { from: 'udp'; data: MmsDataPacket; raw: Buffer } => isData(r) && r.from === 'udp' && r.raw.equals(wanted.raw), 'the resent packet', 5000);
  t.deepEqual(resent.raw, wanted.raw);
  // another address (127.0.0.2 is this host too) and a wrong client id get nothing; the server says why once
  const stranger = dgram.createSocket('udp4');
  t.teardown(() => stranger.close());
  await new Promise<void>((resolve) => stranger.bind(0, '127.0.0.2', () => resolve()));
  ask(stranger, clientId, wanted.data.afFlags);
  ask(c.udp!, clientId ^ 0x5555, wanted.data.afFlags);
  await srv.waitForLog((l) => l.event === 'mmsp.rejected' && l.remote === '127.0.0.2' && /no such session/.test(String(l.reason)), 10_000);
  await sleep(500);
  const copies = c.received.filter((r) => isData(r) && r.from === 'udp' && r.raw.equals(wanted.raw)).length;
  t.is(copies, 2, 'the original and the one resend only');
});

test('a StreamSwitch while streaming changes what a live player gets: the video turned off, only audio follows', async (t) => {
  const file = await openAsfFile(av20);
  t.teardown(() => file.close());
  const video = file.layout.header.streams.find((s) => s.type === 'video')!.number;
  const audio = file.layout.header.streams.find((s) => s.type === 'audio')!.number;
  const c = await raw(t);
  await c.open('live');
  await c.header(2);
  c.streamAll(4);
  await c.message('ReportStartedPlaying');
  // only the change: the video stream off (thinning level 2)
  c.send({ type: 'StreamSwitch', entries: [{ source: 0xffff, destination: video, thinning: 2 }] });
  t.is((await c.message('ReportStreamSwitch')).hr, 0);
  const from = c.received.length;
  for (let i = 0; i < 20; i++) await c.next((r): r is { from: 'tcp'; data: MmsDataPacket; raw: Buffer } => isData(r) && r.data.incarnation === 4, 'media after the switch');
  const after = c.received.slice(from).filter(isData).map((r) => r.data);
  const streams = new Set(after.flatMap((d) => parseDataPacket(Buffer.concat([d.payload, Buffer.alloc(file.layout.packetSize - d.payload.length)]), file.layout.packetSize).payloads.map((p) => p.streamNumber)));
  t.deepEqual([...streams], [audio]);
});

test('a broadcast whose header changed between ReadBlock and StartPlaying starts with a stream change', async (t) => {
  const c = await raw(t);
  await c.open('show');
  await c.header(2);
  await sleep(3500); // the 3 s playlist entry ends: a new header
  c.streamAll(4);
  t.is((await c.message('ReportStartedPlaying')).hr, 0);
  t.is((await c.message('ReportEndOfStream')).hr, 1);
  const change = await c.message('ReportStreamChange');
  const header = await c.header(0xff);
  t.is(header.length, change.headerSize);
  await c.next((r): r is { from: 'tcp'; data: MmsDataPacket; raw: Buffer } => isData(r) && r.data.incarnation === 0xff, 'media of the new entry');
});
