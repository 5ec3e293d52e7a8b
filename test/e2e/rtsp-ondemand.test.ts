/**
 * On-demand over RTSP-WME against `mss serve` as a process: real ffmpeg/ffprobe over `-rtsp_transport tcp` and
 * `udp`, `mss play rtsp://` against `mss play mmsh://`, and a raw client that checks the wire (headers, SDP, RTP
 * payload headers, EndOfStream, PAUSE/PLAY, logs, credentials and limits).
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openAsfFile, parseAsfFile, restorePadding, type AsfFileHandle } from '../../src/asf/index.js';
import { buildXmlLog } from '../../src/protocols/wmlog/codec.js';
import { parseRtpPacket } from '../../src/protocols/rtsp/rtp.js';
import { AsfRtpDepacketizer, readPayloadHeader } from '../../src/protocols/rtsp/rtp-asf.js';
import { parseWmsSdp } from '../../src/protocols/rtsp/sdp.js';
import { parseEndOfStreamBody } from '../../src/protocols/rtsp/bodies.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { onDemandTestPoints, startServe, type RunningServe } from '../helpers/serve.js';
import { RawRtsp, sessionOf } from '../protocols/rtsp/raw-client.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(root, 'src/cli/main.ts');

function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, cwd: root }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const FAST = 'AccelDuration=1000000;AccelBandwidth=1000000000';
let srv: RunningServe;
let dir: string;
let tmp: string;
let file: AsfFileHandle;
let packets: Buffer[];

test.before(async () => {
  const files = await Promise.all([fixture(FIXTURES.av20), fixture(FIXTURES.av120)]);
  dir = path.dirname(files[0]);
  tmp = await mkdtemp(path.join(tmpdir(), 'mss-rtsp-vod-'));
  file = await openAsfFile(files[0]);
  packets = await file.readPackets(0, file.layout.packetCount);
  srv = await startServe({
    config: {
      server: {
        publishingPoints: onDemandTestPoints(dir),
      },
    },
  });
});

test.after.always(async () => {
  await srv?.stop();
  await file?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** DESCRIBE + SETUP of every stream over TCP on a raw connection; returns the connection and session id */
async function setUp(c: RawRtsp, url: string, features = 'com.microsoft.wm.locid, com.microsoft.wm.eosmsg'): Promise<string> {
  const d = await c.request('DESCRIBE', url, { Accept: 'application/sdp', Supported: features });
  if (d.status !== 200) throw new Error(`DESCRIBE ${d.status}`);
  const sdp = parseWmsSdp(d.body.toString());
  let session = '';
  for (const [i, m] of sdp.media.filter((x) => x.stream! < 65536).entries()) {
    const r = await c.request('SETUP', `${url}/${m.control}`, { Transport: `RTP/AVP/TCP;unicast;interleaved=${2 * i}-${2 * i + 1};mode=play`, ...(session ? { Session: session } : {}) });
    if (r.status !== 200) throw new Error(`SETUP ${r.status}`);
    session = sessionOf(r);
  }
  return session;
}

function depacketize(frames: RawRtsp['frames'], size: number) {
  const d = new AsfRtpDepacketizer(size + 2);
  return frames.filter((f) => f.channel % 2 === 0).flatMap((f) => d.push(parseRtpPacket(f.data)));
}

test('OPTIONS and DESCRIBE: WMServer, the methods and features, the SDP with the ASF header and one m= per stream', async (t) => {
  const c = await RawRtsp.open(srv.rtspPort);
  t.teardown(() => c.close());
  const url = srv.rtsp(`/vod/${FIXTURES.av20}`);
  const o = await c.request('OPTIONS', url);
  t.is(o.status, 200);
  t.regex(o.headers.get('server') ?? '', /^WMServer\/9\./);
  t.regex(o.headers.get('public') ?? '', /DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE.*GET_PARAMETER, SET_PARAMETER/);
  t.regex(o.headers.get('supported') ?? '', /com\.microsoft\.wm\.eosmsg.*com\.microsoft\.wm\.sswitch/);
  const d = await c.request('DESCRIBE', url, { Accept: 'application/sdp' });
  t.is(d.status, 200);
  t.is(d.headers.get('content-type'), 'application/sdp');
  t.is(d.headers.get('content-base'), `${url}/`);
  t.regex(d.headers.get('cache-control') ?? '', /no-cache, x-wms-content-size=\d+/);
  const sdp = parseWmsSdp(d.body.toString());
  t.true(sdp.asfHeader!.equals(file.layout.headerBytes));
  t.is(sdp.maxPacketSize, file.layout.packetSize);
  t.deepEqual(sdp.media.map((m) => m.stream), [...file.layout.header.streams.map((s) => s.number), 65536]);
  t.is(sdp.media.at(-1)!.control, 'rtx');
});

test('a TCP session delivers every packet of the file with its LocationId and S bit, then EndOfStream; TEARDOWN closes', async (t) => {
  const c = await RawRtsp.open(srv.rtspPort);
  t.teardown(() => c.close());
  const url = srv.rtsp(`/vod/${FIXTURES.av20}`);
  const session = await setUp(c, url);
  const p = await c.request('PLAY', url, { Session: session, Range: 'npt=0.000-', 'X-Accelerate-Streaming': FAST });
  t.is(p.status, 200);
  t.is(p.headers.get('range'), 'npt=0.000-20.046');
  t.regex(p.headers.get('rtp-info') ?? '', /^url=rtsp:\/\/[^;]+\/video;seq=\d+;rtptime=0,url=[^;]+\/audio;seq=\d+;rtptime=0$/);
  t.is(p.headers.get('x-accelerate-streaming'), FAST);
  await c.waitFor(() => c.requests.length > 0, 60_000, 'EndOfStream');
  const eos = c.requests[0]!;
  t.is(eos.method, 'SET_PARAMETER');
  t.is(eos.headers.get('content-type'), 'application/x-wms-extension-cmd');
  t.is(eos.headers.get('x-notice'), '2101 "End-of-Stream Reached"');
  t.deepEqual(parseEndOfStreamBody(eos.body), { sessionId: session, kind: 'finished' });
  const size = file.layout.packetSize;
  const got = depacketize(c.frames, size);
  t.is(got.length, packets.length);
  got.forEach((g, i) => {
    if (g.locationId !== i || !restorePadding(g.packet, size).equals(packets[i]!)) t.fail(`packet ${i} differs`);
  });
  const first = readPayloadHeader(parseRtpPacket(c.frames[0]!.data).payload, 0).header;
  t.true(first.keyFrame && first.isLength);
  const rtp = c.frames.filter((f) => f.channel % 2 === 0);
  t.true(rtp.every((f) => f.channel === 0), 'one RTP session, on the first stream\'s channel');
  // the RTP-Info seq in EndOfStream is that of the next RTP packet
  const lastSeq = parseRtpPacket(rtp.at(-1)!.data).sequence;
  t.regex(eos.headers.get('rtp-info') ?? '', new RegExp(`seq=${(lastSeq + 1) & 0xffff}`));
  const td = await c.request('TEARDOWN', url, { Session: session });
  t.is(td.status, 200);
  await c.waitFor(() => c.closed, 10_000, 'the connection to close');
});

test('ffmpeg over -rtsp_transport tcp and udp plays the file through: the same media packets as the file holds', async (t) => {
  const src = path.join(dir, FIXTURES.av20);
  const probe = async (f: string) => (await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=stream_index,pts,size,flags', '-of', 'csv=p=0', f])).stdout.trim().split('\n');
  const expected = await probe(src);
  t.true(expected.length > 500);
  await Promise.all(
    ['tcp', 'udp'].map(async (transport) => {
      const out = path.join(tmp, `copy-${transport}.asf`);
      const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-rtsp_transport', transport, '-i', srv.rtsp(`/vod/${FIXTURES.av20}`), '-map', '0', '-c', 'copy', '-f', 'asf', '-y', out]);
      t.is(r.code, 0, `${transport}: ${r.stderr}`);
      t.is(r.stderr, '', `${transport}: ffmpeg complains`);
      t.deepEqual(await probe(out), expected, transport);
    }),
  );
});

test('ffmpeg -ss 30 on the 120 s file starts within 2 s of 30 s over tcp and udp', async (t) => {
  await Promise.all(
    ['tcp', 'udp'].map(async (transport) => {
      const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-rtsp_transport', transport, '-copyts', '-ss', '30', '-i', srv.rtsp(`/vod/${FIXTURES.av120}`), '-frames:v', '1', '-vf', 'showinfo', '-f', 'null', '-'], 60_000);
      t.is(r.code, 0, r.stderr);
      const m = /pts_time:([\d.]+)/.exec(r.stderr);
      t.truthy(m, r.stderr);
      t.true(Math.abs(Number(m![1]) - 30) <= 2, `${transport}: first frame at ${m![1]} s`);
    }),
  );
});

test('mss play rtsp:// and rtspu:// of a file give the same packet sequence as mss play mmsh://', async (t) => {
  const plays = await Promise.all(
    [srv.rtsp(`/vod/${FIXTURES.av20}`), srv.rtsp(`/vod/${FIXTURES.av20}`).replace('rtsp:', 'rtspu:'), srv.mmsh(`/vod/${FIXTURES.av20}`)].map(async (u, i) => {
      const out = path.join(tmp, `play-${i}.asf`);
      const r = await run(process.execPath, ['--import', 'tsx', MAIN, 'play', u, '-o', out, '--no-log']);
      t.is(r.code, 0, r.stderr);
      const done = r.stderr.split('\n').filter((l) => l.includes('"event":"done"')).map((l) => JSON.parse(l) as { lost: number; packets: number })[0];
      t.is(done?.lost, 0, u);
      const playing = r.stderr.split('\n').find((l) => l.includes('"event":"playing"'));
      t.regex(playing ?? '', new RegExp(`"protocol":"${i < 2 ? 'rtsp' : 'wmsp'}"`));
      return parseAsfFile(await readFile(out));
    }),
  );
  const seq = (f: ReturnType<typeof parseAsfFile>) => Array.from({ length: f.packetCount }, (_, i) => f.packet(i));
  const [rtsp, rtspu, mmsh] = plays.map(seq);
  t.is(mmsh!.length, packets.length);
  t.deepEqual(rtsp, mmsh);
  t.deepEqual(rtspu, mmsh);
});

test('PAUSE holds the clock, PLAY without Range resumes at the next packet, PLAY with x-asf-packet seeks', async (t) => {
  const c = await RawRtsp.open(srv.rtspPort);
  t.teardown(() => c.close());
  const url = srv.rtsp(`/vod/${FIXTURES.av120}`);
  const session = await setUp(c, url);
  t.is((await c.request('PAUSE', url, { Session: session })).status, 455, 'PAUSE before PLAY');
  t.is((await c.request('PLAY', url, { Session: session, Range: 'npt=0-' })).status, 200);
  await c.waitFor(() => c.frames.length >= 20, 30_000, '20 RTP packets');
  t.is((await c.request('PAUSE', url, { Session: session })).status, 200);
  const size = 3200;
  const before = depacketize(c.frames, size).length;
  t.is((await c.request('GET_PARAMETER', url, { Session: session })).status, 200, 'keep-alive while paused');
  t.is((await c.request('PLAY', url, { Session: session })).status, 200);
  await c.waitFor(() => depacketize(c.frames, size).length >= before + 5, 30_000, 'packets after resume');
  const ids = depacketize(c.frames, size).map((g) => g.locationId!);
  t.deepEqual(ids, ids.map((_, i) => i), 'resumed at the next packet, nothing skipped or repeated');
  const seek = await c.request('PLAY', url, { Session: session, Range: 'x-asf-packet=500-' });
  t.is(seek.status, 200);
  await c.waitFor(() => c.framesAfter(seek).length >= 3, 30_000, 'packets after the seek');
  t.is(depacketize(c.framesAfter(seek), size)[0]!.locationId, 500);
  t.is((await c.request('PLAY', url, { Session: session, Range: 'npt=500-' })).status, 457, 'past the end');
  t.is((await c.request('PLAY', url, { Session: session, 'X-Playlist': 'pl-offset=1' })).status, 400);
});

test('Basic and Digest credentials with the same accounts as HTTP; IP lists; the player limit', async (t) => {
  const basic = await run('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', srv.rtsp(`/locked/${FIXTURES.av20}`).replace('rtsp://', 'rtsp://ann:s3cret@')]);
  t.is(basic.code, 0, basic.stderr);
  t.deepEqual(basic.stdout.trim().split('\n').sort(), ['wmav2', 'wmv2']);
  const digest = await run('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', srv.rtsp(`/digest/${FIXTURES.av20}`).replace('rtsp://', 'rtsp://bob:pw@')]);
  t.is(digest.code, 0, digest.stderr);
  const c = await RawRtsp.open(srv.rtspPort);
  t.teardown(() => c.close());
  const denied = await c.request('DESCRIBE', srv.rtsp(`/digest/${FIXTURES.av20}`));
  t.is(denied.status, 401);
  t.true(denied.headers.getAll('www-authenticate').some((v) => /^Digest realm="mss", qop="auth"/.test(v)));
  t.is((await c.request('DESCRIBE', srv.rtsp(`/locked/${FIXTURES.av20}`), { Authorization: `Basic ${Buffer.from('ann:wrong').toString('base64')}` })).status, 401, 'the connection stays open after a 401');
  t.is((await c.request('DESCRIBE', srv.rtsp(`/nobody/${FIXTURES.av20}`))).status, 403);
  t.is((await c.request('DESCRIBE', srv.rtsp('/vod/missing.wmv'))).status, 404);
  // maxPlayers 1: a second PLAY is refused with 503 while the first plays
  const url = srv.rtsp(`/one/${FIXTURES.av120}`);
  const a = await RawRtsp.open(srv.rtspPort);
  const b = await RawRtsp.open(srv.rtspPort);
  t.teardown(() => (a.close(), b.close()));
  const sa = await setUp(a, url);
  const sb = await setUp(b, url);
  t.is((await a.request('PLAY', url, { Session: sa, Range: 'npt=0-' })).status, 200);
  t.is((await b.request('PLAY', url, { Session: sb, Range: 'npt=0-' })).status, 503);
});

test('LogPlay by SET_PARAMETER is stored like a WMSP log; the session leaves one W3C line', async (t) => {
  const c = await RawRtsp.open(srv.rtspPort);
  t.teardown(() => c.close());
  const url = srv.rtsp(`/vod/${FIXTURES.av20}`);
  const session = await setUp(c, url);
  t.is((await c.request('PLAY', url, { Session: session, Range: 'npt=18-' })).status, 200);
  await c.waitFor(() => c.requests.length > 0, 60_000, 'EndOfStream');
  const xml = buildXmlLog(
    { 'c-ip': '0.0.0.0', date: '2026-11-25', time: '13:00:00', 'cs-uri-stem': url, 'c-starttime': '18', 'x-duration': '2', 'c-rate': '1', 'c-status': '200', 'c-bytes': '1000', 'cs-url': url, protocol: 'rtsp', transport: 'TCP' },
    { form: 47 },
  );
  const log = await c.request('SET_PARAMETER', url, { Session: session, 'Content-Type': 'application/x-wms-Logplaystats;charset=UTF-8' }, xml);
  t.is(log.status, 200);
  t.is((await c.request('TEARDOWN', url, { Session: session })).status, 200);
  const find = async (source: string) => {
    const res = await fetch(srv.http(`/api/logs?source=${source}&limit=1000`));
    return ((await res.json()) as { entries: Array<{ protocol: string; clientId?: string; fields: Record<string, string> }> }).entries.filter((e) => e.protocol === 'rtsp' && e.clientId === session);
  };
  let server: Awaited<ReturnType<typeof find>> = [];
  for (let i = 0; i < 50 && server.length === 0; i++) {
    server = await find('server');
    if (server.length === 0) await new Promise((r) => setTimeout(r, 200));
  }
  const player = await find('player');
  t.is(player.length, 1);
  t.is(player[0]!.fields['c-ip'], '127.0.0.1');
  t.is(server.length, 1);
  t.is(server[0]!.fields['c-status'], '200');
  t.true(Number(server[0]!.fields['sc-bytes']) > 0);
});
