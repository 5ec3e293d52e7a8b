/**
 * On-demand over MS-MMSP against `mss serve` as a process: real ffmpeg as an mmst:// player, `mss play` over
 * mmst:// and mmsu://, and a raw peer that checks the wire (header pieces, packet numbering, incarnations, seeks,
 * stream selection, the refusal codes, in-band Basic, packet-pair, logs).
 */
import test from '../helpers/test.js';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openAsfFile, parseDataPacket } from '../../src/asf/index.js';
import { HRESULT } from '../../src/protocols/mmsp/codec.js';
import { openMmsStream } from '../../src/protocols/mmsp/client.js';
import { withMultiBitrateObjects } from '../../src/encoder/mbr-header.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { RawMms } from '../protocols/mmsp/raw-client.js';
import { packetList, play, run, sleep } from '../protocols/mmsp/tools.js';
import { cuttingProxy } from '../helpers/cutting-proxy.js';

let srv: RunningServe;
let dir: string;
let tmp: string;
let mmsPort: number;

const FAST = { bandwidth: 1_000_000_000, durationMs: 1_000_000, linkBandwidth: 0 };

test.before(async () => {
  const files = await Promise.all([fixture(FIXTURES.av20), fixture(FIXTURES.av120), fixture(FIXTURES.mbr20)]);
  dir = path.dirname(files[0]);
  tmp = await mkdtemp(path.join(tmpdir(), 'mss-mmsp-vod-'));
  // the two-video fixture with what a Windows Media encoder adds: a Bitrate Mutual Exclusion and stream bitrates
  await mkdir(path.join(tmp, 'mbr'));
  const mbr = await openAsfFile(path.join(dir, FIXTURES.mbr20));
  const old = mbr.layout.headerBytes;
  await mbr.close();
  const bytes = await readFile(path.join(dir, FIXTURES.mbr20));
  await writeFile(path.join(tmp, 'mbr', 'mbr.wmv'), Buffer.concat([withMultiBitrateObjects(old, new Map([[1, 300_000], [2, 80_000], [3, 48_000]])), bytes.subarray(old.length)]));
  srv = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'vod', type: 'ondemand', path: dir },
          { name: 'mbr', type: 'ondemand', path: path.join(tmp, 'mbr') },
          { name: 'one', type: 'ondemand', path: dir, maxPlayers: 1 },
          { name: 'locked', type: 'ondemand', path: dir, auth: { scheme: 'basic', realm: 'mss', users: [{ name: 'ann', password: 's3cret' }] } },
          { name: 'digest', type: 'ondemand', path: dir, auth: { scheme: 'digest', realm: 'mss', users: [{ name: 'bob', password: 'pw' }] } },
          { name: 'nobody', type: 'ondemand', path: dir, access: { allow: ['10.9.9.9'], deny: [] } },
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

test('ffmpeg mmst:// plays an on-demand file through: the same media packets as the file, which decode without errors', async (t) => {
  const src = path.join(dir, FIXTURES.av20);
  const out = path.join(tmp, 'ffmpeg-copy.asf');
  // -c copy: FFmpeg's mmst reads exactly the file's packets (decoding straight from mmst reads past the last
  // packet, where FFmpeg's mmst.c turns ReportEndOfStream into an endless zero-byte read)
  const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-y', '-i', await srv.mms(`/vod/${FIXTURES.av20}`), '-map', '0', '-c', 'copy', '-f', 'asf', out]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr.trim(), '', 'ffmpeg reported nothing');
  const [a, b] = await Promise.all([packetList(src), packetList(out)]);
  t.true(a.length > 500);
  t.deepEqual(b, a);
  const decoded = await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-i', out, '-f', 'null', '-']);
  t.is(decoded.code, 0);
  t.is(decoded.stderr.trim(), '', 'no decoding errors');
});

test('on the wire: ReportOpenFile facts, the header in pieces, every packet in order with its number, sequence and incarnation, then ReportEndOfStream', async (t) => {
  const file = await openAsfFile(path.join(dir, FIXTURES.av20));
  t.teardown(() => file.close());
  const c = await raw(t);
  const open = await c.open(`vod/${FIXTURES.av20}`);
  t.is(open.hr, 0);
  t.is(open.openFileId, 1);
  t.is(open.fileAttributes, 0x01000000, 'seekable on-demand content');
  t.is(open.filePacketSize, file.layout.packetSize);
  t.is(open.filePacketCount, file.layout.packetCount);
  t.is(open.fileHeaderSize, file.layout.headerBytes.length);
  t.true(Math.abs(open.fileDuration - 20) < 1);
  t.deepEqual(await c.header(2), file.layout.headerBytes);
  c.send({ type: 'StreamSwitch', entries: file.layout.header.streams.map((s) => ({ source: 0xffff, destination: s.number, thinning: 0 })) });
  await c.message('ReportStreamSwitch');
  c.send({ type: 'StartPlaying', openFileId: 1, position: 0, asfOffset: 0xffffffff, locationId: 0xffffffff, frameOffset: 0, playIncarnation: 4, accel: FAST });
  const started = await c.message('ReportStartedPlaying');
  t.is(started.playIncarnation, 4);
  const end = await c.message('ReportEndOfStream', 60_000);
  t.is(end.hr, 0);
  t.is(end.playIncarnation, 4);
  const media = c.media(4);
  t.is(media.length, file.layout.packetCount);
  const packets = await file.readPackets(0, file.layout.packetCount);
  media.forEach((d, i) => {
    if (d.locationId !== i || d.afFlags !== (i & 0xff) || !d.payload.equals(packets[i]!)) t.fail(`packet ${i} differs`);
  });
  c.send({ type: 'CloseFile', playIncarnation: 0, openFileId: 1 });
  await c.closed;
  t.true(c.closedByServer);
});

test('mss play mmsu:// of a file gives the same packets as mss play mmsh:// of it', async (t) => {
  const udpOut = path.join(tmp, 'mmsu.asf');
  const httpOut = path.join(tmp, 'mmsh.asf');
  const [u, h] = await Promise.all([
    play([await srv.mms(`/vod/${FIXTURES.av20}`, 'mmsu'), '-o', udpOut, '--no-log', '--quiet']),
    play([srv.mmsh(`/vod/${FIXTURES.av20}`), '-o', httpOut, '--no-log', '--quiet']),
  ]);
  t.is(u.code, 0, u.stderr);
  t.is(h.code, 0, h.stderr);
  const playing = u.events.find((e) => e.event === 'playing');
  t.is(playing?.protocol, 'mmsp');
  t.regex(String(playing?.url), /^mmsu:/);
  t.is(u.events.find((e) => e.event === 'done')?.lost, 0);
  t.deepEqual(await packetList(udpOut), await packetList(httpOut));
});

test('seeks: mss play --start 30 over MMS lands near 30 s; StartPlaying by packet, by time with a stop time, and again on the same connection', async (t) => {
  const out = path.join(tmp, 'seek.asf');
  const r = await play([await srv.mms(`/vod/${FIXTURES.av120}`), '--start', '30', '--duration', '2', '-o', out, '--no-log', '--quiet']);
  t.is(r.code, 0, r.stderr);
  const at = Number(r.events.find((e) => e.event === 'done')?.startPositionMs);
  t.true(Math.abs(at - 30_000) <= 2000, `started at ${at} ms`);

  const file = await openAsfFile(path.join(dir, FIXTURES.av120));
  t.teardown(() => file.close());
  const c = await raw(t);
  await c.open(`vod/${FIXTURES.av120}`);
  await c.header(2);
  // VLC's seek: position 0 and a packet number
  c.send({ type: 'StartPlaying', openFileId: 1, position: 0, asfOffset: 0xffffffff, locationId: 100, frameOffset: 0x80000000 | 1000, playIncarnation: 5, accel: FAST });
  await c.message('ReportStartedPlaying');
  await c.message('ReportEndOfStream', 30_000);
  const byPacket = c.media(5);
  t.is(byPacket[0]!.locationId, 100);
  t.is(byPacket[0]!.afFlags, 0, 'the sequence starts at 0 for every play');
  const span = parseDataPacket(byPacket[byPacket.length - 1]!.payload, file.layout.packetSize).sendTime - parseDataPacket(byPacket[0]!.payload, file.layout.packetSize).sendTime;
  t.true(span <= 1000 + 200, `a 1 s relative stop time sent ${span} ms`);
  // the same connection plays again, by time (the spec's seek: a new StartPlaying after the end)
  c.send({ type: 'StartPlaying', openFileId: 1, position: 60, asfOffset: 0xffffffff, locationId: 0xffffffff, frameOffset: 0x80000000 | 500, playIncarnation: 6, accel: FAST });
  await c.message('ReportStartedPlaying');
  await c.message('ReportEndOfStream', 30_000);
  const first = parseDataPacket(c.media(6)[0]!.payload, file.layout.packetSize);
  t.true(Math.abs(first.sendTime - 60_000) < 3000, `first send time ${first.sendTime}`);
  // and a StopPlaying mid-stream is answered with ReportEndOfStream echoing its incarnation
  c.send({ type: 'StartPlaying', openFileId: 1, position: 0, asfOffset: 0xffffffff, locationId: 0xffffffff, frameOffset: 0, playIncarnation: 7 });
  await c.message('ReportStartedPlaying');
  c.send({ type: 'StopPlaying', openFileId: 1, playIncarnation: 7 });
  const stopped = await c.message('ReportEndOfStream');
  t.is(stopped.hr, 0);
  t.is(stopped.playIncarnation, 7);
});

test('stream selection: one video of two plus the audio; a stream the content lacks is refused; the link bandwidth picks the multi-bitrate variant', async (t) => {
  const file = await openAsfFile(path.join(dir, FIXTURES.mbr20));
  t.teardown(() => file.close());
  const videos = file.layout.header.streams.filter((s) => s.type === 'video').map((s) => s.number);
  const audio = file.layout.header.streams.filter((s) => s.type === 'audio').map((s) => s.number);
  const seen = (packets: Buffer[]) => {
    const s = new Set<number>();
    for (const p of packets) for (const pl of parseDataPacket(p, file.layout.packetSize).payloads) s.add(pl.streamNumber);
    return [...s].sort();
  };
  const c = await raw(t);
  await c.open(`vod/${FIXTURES.mbr20}`);
  await c.header(2);
  // the complete selection: video[0] off (source → none), video[1] and audio on
  c.send({ type: 'StreamSwitch', entries: [{ source: videos[0]!, destination: 0xffff, thinning: 0 }, { source: 0xffff, destination: videos[1]!, thinning: 0 }, ...audio.map((n) => ({ source: 0xffff, destination: n, thinning: 0 }))] });
  await c.message('ReportStreamSwitch');
  c.send({ type: 'StartPlaying', openFileId: 1, position: 0, asfOffset: 0xffffffff, locationId: 0xffffffff, frameOffset: 0x80000000 | 3000, playIncarnation: 4, accel: FAST });
  await c.message('ReportEndOfStream', 30_000);
  t.deepEqual(seen(c.media(4).map((d) => d.payload)), [videos[1]!, ...audio].sort());
  // none of the content's streams: refused with NS_E_INVALID_STREAM
  c.send({ type: 'StreamSwitch', entries: [{ source: 0xffff, destination: 77, thinning: 0 }] });
  t.is((await c.message('ReportStreamSwitch')).hr, HRESULT.invalidStream);

  // a multi-bitrate file (mutual exclusion over the videos): every stream asked for, the link bandwidth picks
  const m = await raw(t);
  await m.open('mbr/mbr.wmv');
  await m.header(2);
  const pick = async (inc: number, link: number) => {
    m.send({ type: 'StreamSwitch', entries: file.layout.header.streams.map((s) => ({ source: 0xffff, destination: s.number, thinning: 0 })) });
    await m.message('ReportStreamSwitch');
    m.send({ type: 'StartPlaying', openFileId: 1, position: 0, asfOffset: 0xffffffff, locationId: 0xffffffff, frameOffset: 0x80000000 | 3000, playIncarnation: inc, accel: { ...FAST, linkBandwidth: link } });
    await m.message('ReportEndOfStream', 30_000);
    return seen(m.media(inc).map((d) => d.payload));
  };
  t.deepEqual(await pick(4, 200_000), [2, 3], 'a 200 kbit/s link gets the 80 kbit/s video');
  t.deepEqual(await pick(5, 2_000_000), [1, 3], 'a 2 Mbit/s link gets the 300 kbit/s video');
});

test('refusals carry the spec codes: no such file, an address the point does not allow, a point at its player limit', async (t) => {
  const missing = await raw(t);
  t.is((await missing.open('vod/nope.wmv')).hr, HRESULT.fileNotFound);
  const denied = await raw(t);
  t.is((await denied.open(`nobody/${FIXTURES.av20}`)).hr, HRESULT.accessDenied);
  const first = await raw(t);
  await first.open(`one/${FIXTURES.av120}`);
  await first.header(2);
  first.streamAll(4);
  await first.message('ReportStartedPlaying');
  const second = await raw(t);
  await second.open(`one/${FIXTURES.av120}`);
  await second.header(2);
  second.streamAll(4);
  const busy = await second.message('ReportStartedPlaying');
  t.is(busy.hr, HRESULT.maxClients);
  // the player sees the cause and the code
  const err = await new Promise<Error>((resolve) => openMmsStream(`mmst://127.0.0.1:${mmsPort}/vod/nope.wmv`).once('error', resolve));
  t.is((err as { code?: string }).code, 'not-found');
});

test('a Basic point authenticates in band; a Digest point refuses MMS with access denied and mms:// rolls over to HTTP', async (t) => {
  const ok = await play([await srv.mms(`/locked/${FIXTURES.av20}`), '--user', 'ann', '--password', 's3cret', '--duration', '2', '--no-log', '--quiet']);
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.events.find((e) => e.event === 'playing')?.protocol, 'mmsp');
  const wrong = await play([await srv.mms(`/locked/${FIXTURES.av20}`), '--user', 'ann', '--password', 'nope', '--no-log', '--quiet']);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /Basic credentials and refused the ones given/);
  // the raw view: SecurityChallenge with the realm, then the answer
  const c = await raw(t);
  c.send({ type: 'Connect', playIncarnation: 0, macToViewerRevision: 0x0004000b, viewerToMacRevision: 0x0003001c, subscriberName: 'NSPlayer/9.0.0.2980; {1}', extras: [] });
  t.is((await c.message('ReportConnectedEX')).authenPackage, 'BASIC');
  c.send({ type: 'ConnectFunnel', playIncarnation: 0, maxBlockBytes: 0xffffffff, maxFunnelBytes: 0, maxBitRate: 0, funnelMode: 2, funnelName: '\\\\127.0.0.1\\TCP\\1' });
  await c.message('ReportConnectedFunnel');
  c.send({ type: 'OpenFile', playIncarnation: 9, spare: 0, fileName: `locked/${FIXTURES.av20}`, token: Buffer.alloc(0) });
  const challenge = await c.message('SecurityChallenge');
  t.is(challenge.token.toString('utf16le'), 'realm="mss"\0');
  c.send({ type: 'SecurityResponse', playIncarnation: 9, cookie: challenge.cookie, token: Buffer.from(`${Buffer.from('ann:s3cret').toString('base64')}\0`, 'latin1') });
  t.is((await c.message('ReportOpenFile')).hr, 0);

  const digestRaw = await raw(t);
  t.is((await digestRaw.open(`digest/${FIXTURES.av20}`)).hr, HRESULT.accessDenied);
  const rolled = await play([`mms://bob:pw@127.0.0.1:${srv.port}/digest/${FIXTURES.av20}`, '--duration', '2', '--no-log', '--quiet']);
  t.is(rolled.code, 0, rolled.stderr);
  t.is(rolled.events.find((e) => e.event === 'playing')?.protocol, 'wmsp');
  // over the MMS port itself the MMS attempts are refused with access denied, then HTTP (on its own port) is tried
  const viaMms = await play([`mms://bob:pw@127.0.0.1:${mmsPort}/digest/${FIXTURES.av20}`, '--duration', '1', '--no-log', '--quiet', '--reconnect', '0']);
  t.regex(viaMms.stderr, /mmsu mmsu:.*access denied.*mmst mmst:.*access denied/);
});

test('the player log arrives as CLIENT_LOG and is stored with one server row for the session', async (t) => {
  const r = await play([await srv.mms(`/vod/${FIXTURES.av20}`, 'mmst'), '--duration', '3']);
  t.is(r.code, 0, r.stderr);
  t.truthy(r.events.find((e) => e.event === 'log-sent'));
  const sessionId = String(r.events.find((e) => e.event === 'playing')?.sessionId);
  type Entry = { source: string; clientId?: string; fields: Record<string, string> };
  let mine: Entry[] = [];
  for (let i = 0; i < 100 && mine.length < 2; i++) {
    const res = await fetch(srv.http('/api/logs?since=0&limit=1000'));
    mine = ((await res.json()) as { entries: Entry[] }).entries.filter((e) => e.clientId === sessionId);
    if (mine.length < 2) await sleep(200);
  }
  const player = mine.find((e) => e.source === 'player');
  const server = mine.find((e) => e.source === 'server');
  t.truthy(player, JSON.stringify(mine));
  t.truthy(server, JSON.stringify(mine));
  t.is(player!.fields.protocol, 'mms');
  t.is(player!.fields.transport, 'TCP');
  t.is(player!.fields['c-ip'], '127.0.0.1');
  t.true(Number(player!.fields['c-pkts-received']) > 0);
  t.is(server!.fields.protocol, 'mms');
  t.is(server!.fields['c-status'], '200');
});

test('packet-pair: three ReportFunnelInfo of 512, 512 and 1,056 bytes over TCP; two datagrams before the header over UDP', async (t) => {
  const c = await raw(t);
  c.send({ type: 'Connect', playIncarnation: 0xf0f0f0f0, macToViewerRevision: 0x0004000b, viewerToMacRevision: 0x0003001c, subscriberName: 'NSPlayer/9.0.0.2980; {1}', extras: [] });
  t.is((await c.message('ReportConnectedEX')).playIncarnation, 0xf0f0f0f0);
  c.send({ type: 'FunnelInfo', playIncarnation: 0xf0f0f0f1 });
  const replies = [await c.message('ReportFunnelInfo'), await c.message('ReportFunnelInfo'), await c.message('ReportFunnelInfo')];
  t.deepEqual(replies.map((r) => 80 + r.packetPair.length), [512, 512, 1056]);
  t.true(replies.every((r) => r.playIncarnation === 0xf0f0f0f1));
  t.false(replies[0]!.packetPair.equals(replies[1]!.packetPair), 'random, different bytes');
  // the clients' own measurement over both transports
  for (const transport of ['tcp', 'udp'] as const) {
    const s = openMmsStream(`mmst://127.0.0.1:${mmsPort}/vod/${FIXTURES.av20}`, { transport, packetPair: true });
    t.teardown(() => s.close());
    const info = await new Promise<{ packetPairBps?: number }>((resolve, reject) => s.once('describe', resolve).once('error', reject));
    t.true((info.packetPairBps ?? 0) > 0, `${transport}: ${info.packetPairBps}`);
  }
});

test('FFmpeg\'s quirks are met: its FunnelInfo value gets one plain reply, its StartPlaying plays from the start', async (t) => {
  const c = await raw(t);
  c.send({ type: 'Connect', playIncarnation: 0, macToViewerRevision: 0x0004000b, viewerToMacRevision: 0x0003001c, subscriberName: 'NSPlayer/7.0.0.1956; {7E667F5D-A661-495E-A512-F55686DDA178}; Host: h', extras: [] });
  t.is((await c.message('ReportConnectedEX')).playIncarnation, 0xf0f0f0ef);
  c.send({ type: 'FunnelInfo', playIncarnation: 0x00f0f0f0 });
  const f = await c.message('ReportFunnelInfo');
  t.is(f.playIncarnation, 0xf0f0f0ef);
  t.is(f.packetPair.length, 0);
  await sleep(300);
  t.is(c.received.filter((r) => 'message' in r && r.message.type === 'ReportFunnelInfo').length, 1);
});

test('an MMS connection cut mid-play is resumed at the next packet: the file is complete', async (t) => {
  // a TCP proxy in front of the MMS port that cuts the first connection once 200 KB came back
  const proxy = await cuttingProxy(t, mmsPort, 200_000);
  const out = path.join(tmp, 'resumed.asf');
  const r = await play([`mmst://127.0.0.1:${proxy.port}/vod/${FIXTURES.av20}`, '-o', out, '--no-log', '--quiet']);
  t.is(r.code, 0, r.stderr);
  t.is(proxy.cuts(), 1);
  t.truthy(r.events.find((e) => e.event === 'reconnected'), r.stderr);
  t.deepEqual(await packetList(out), await packetList(path.join(dir, FIXTURES.av20)));
});
