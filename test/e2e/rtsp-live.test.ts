/**
 * Broadcast over RTSP-WME against `mss serve` as a process: ffmpeg joining mid-stream over TCP and UDP decodes,
 * `mss play rtsp://` of a live point, frame once (players of one form get the very same RTP packets), a playlist
 * broadcast announcing its next entry (EndOfStream + ANNOUNCE), and UDP sessions kept alive by RTCP reports or
 * timed out without them.
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRtpPacket } from '../../src/protocols/rtsp/rtp.js';
import { readPayloadHeader } from '../../src/protocols/rtsp/rtp-asf.js';
import { buildReceiverReport } from '../../src/protocols/rtsp/rtcp.js';
import { parseTransport } from '../../src/protocols/rtsp/headers.js';
import { parseEndOfStreamBody } from '../../src/protocols/rtsp/bodies.js';
import { parseWmsSdp } from '../../src/protocols/rtsp/sdp.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let srv: RunningServe;
let tmp: string;

test.before(async () => {
  const av20 = await fixture(FIXTURES.av20);
  tmp = await mkdtemp(path.join(tmpdir(), 'mss-rtsp-live-'));
  const clip = (name: string, src: string, size: string) =>
    run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', `${src}=size=${size}:rate=25:duration=3`, '-f', 'lavfi', '-i', 'sine=frequency=500:sample_rate=44100:duration=3', '-c:v', 'wmv2', '-b:v', '300k', '-g', '25', '-c:a', 'wmav2', '-b:a', '64k', '-f', 'asf', path.join(tmp, name)]);
  await Promise.all([clip('a.wmv', 'testsrc', '320x240'), clip('b.wmv', 'testsrc2', '160x120')]);
  await writeFile(path.join(tmp, 'show.wsx'), '<?wsx version="1.0"?>\n<smil>\n  <seq repeatCount="indefinite">\n    <media src="a.wmv"/>\n    <media src="b.wmv"/>\n  </seq>\n</smil>\n');
  srv = await startServe({
    config: {
      rtsp: { sessionTimeoutMs: 10_000 },
      server: {
        publishingPoints: [
          { name: 'live', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, start: 'boot' },
          { name: 'show', type: 'broadcast', source: { type: 'playlist', path: path.join(tmp, 'show.wsx') }, start: 'boot' },
        ],
      },
    },
  });
});

test.after.always(async () => {
  await srv?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('ffmpeg joining the live point mid-stream over tcp and udp decodes without errors', async (t) => {
  await sleep(3000); // the loop is past its start
  await Promise.all(
    ['tcp', 'udp'].map(async (transport) => {
      const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'level+info', '-rtsp_transport', transport, '-i', srv.rtsp('/live'), '-frames:v', '50', '-vf', 'showinfo', '-f', 'null', '-'], 60_000);
      t.is(r.code, 0, r.stderr);
      t.deepEqual(r.stderr.split('\n').filter((l) => /\[(error|fatal)\]/.test(l)), [], transport);
      const frames = r.stderr.split('\n').filter((l) => /Parsed_showinfo.*n:\s*\d+/.test(l));
      t.true(frames.length >= 50, `${transport}: ${frames.length} frames`);
      t.true(frames.some((l) => /iskey:1/.test(l)), transport);
    }),
  );
});

test('mss play rtsp:// of a live point records a file that decodes', async (t) => {
  const out = path.join(tmp, 'live.asf');
  const r = await run(process.execPath, ['--import', 'tsx', MAIN, 'play', srv.rtsp('/live'), '--duration', '3', '-o', out, '--no-log']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /"event":"playing".*"protocol":"rtsp".*"broadcast":true/);
  const p = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,nb_read_frames', '-of', 'csv=p=0', out]);
  t.is(p.code, 0, p.stderr);
  t.regex(p.stdout, /wmv2,\d{2,}/);
});

async function setUpTcp(c: RawRtsp, url: string, features = ''): Promise<{ session: string; ssrc: number }> {
  const d = await c.request('DESCRIBE', url, features ? { Supported: features } : {});
  const sdp = parseWmsSdp(d.body.toString());
  let session = '';
  let ssrc = 0;
  for (const [i, m] of sdp.media.filter((x) => x.stream! < 65536).entries()) {
    const r = await c.request('SETUP', `${url}/${m.control}`, { Transport: `RTP/AVP/TCP;unicast;interleaved=${2 * i}-${2 * i + 1}`, ...(session ? { Session: session } : {}) });
    session = sessionOf(r);
    ssrc = parseTransport(r.headers.get('transport')!)[0]!.ssrc!;
  }
  return { session, ssrc };
}

test('frame once: players of a live point on the same channel get the very same RTP packets', async (t) => {
  const url = srv.rtsp('/live');
  const [a, b] = await Promise.all([RawRtsp.open(srv.rtspPort), RawRtsp.open(srv.rtspPort)]);
  t.teardown(() => (a.close(), b.close()));
  const sa = await setUpTcp(a, url, 'com.microsoft.wm.locid');
  const sb = await setUpTcp(b, url, 'com.microsoft.wm.locid');
  t.is(sa.ssrc, sb.ssrc, 'the SSRC announced in SETUP is the point\'s');
  await a.request('PLAY', url, { Session: sa.session, Range: 'npt=0-' });
  await b.request('PLAY', url, { Session: sb.session, Range: 'npt=0-' });
  await Promise.all([a.waitFor(() => a.frames.length >= 60, 30_000, 'RTP'), b.waitFor(() => b.frames.length >= 60, 30_000, 'RTP')]);
  const byLocation = (c: RawRtsp) => {
    const m = new Map<number, Buffer>();
    for (const f of c.frames.filter((x) => x.channel === 0)) {
      const rtp = parseRtpPacket(f.data);
      const loc = readPayloadHeader(rtp.payload, 0).header.locationId;
      if (loc !== undefined) m.set(loc, f.data);
    }
    return m;
  };
  const ma = byLocation(a);
  const mb = byLocation(b);
  const common = [...ma.keys()].filter((k) => mb.has(k));
  t.true(common.length >= 20, `${common.length} packets in common`);
  for (const k of common) if (!ma.get(k)!.equals(mb.get(k)!)) t.fail(`RTP packet of LocationId ${k} differs between the players`);
  t.is(parseRtpPacket(ma.get(common[0]!)!).ssrc, sa.ssrc);
});

test('a playlist broadcast announces its next entry: EndOfStream (End-Of-Playlist-Entry) then ANNOUNCE with the new header', async (t) => {
  const url = srv.rtsp('/show');
  const c = await RawRtsp.open(srv.rtspPort);
  t.teardown(() => c.close());
  const { session } = await setUpTcp(c, url, 'com.microsoft.wm.predstrm, com.microsoft.wm.eosmsg');
  const first = parseWmsSdp((await c.request('DESCRIBE', url)).body.toString()).asfHeader!;
  await c.request('PLAY', url, { Session: session, Range: 'npt=0-' });
  await c.waitFor(() => c.requests.some((r) => r.method === 'ANNOUNCE'), 30_000, 'ANNOUNCE');
  const eos = c.requests.find((r) => r.method === 'SET_PARAMETER')!;
  t.deepEqual(parseEndOfStreamBody(eos.body), { sessionId: session, kind: 'playlist-entry' });
  const ann = c.requests.find((r) => r.method === 'ANNOUNCE')!;
  t.is(ann.headers.get('session'), session);
  t.is(ann.headers.get('x-playlist-gen-id'), '1');
  const next = parseWmsSdp(ann.body.toString()).asfHeader!;
  t.false(next.equals(first));
  // predictive stream selection: the next entry's packets follow without a new PLAY
  const n = c.frames.length;
  await c.waitFor(() => c.frames.length > n + 10, 30_000, 'packets of the next entry');
  t.is((await c.request('GET_PARAMETER', url, { Session: session, 'X-Playlist-Gen-Id': '1' })).status, 200);
  t.is((await c.request('GET_PARAMETER', url, { Session: session, 'X-Playlist-Gen-Id': '7' })).status, 412);
});

async function udpPair(): Promise<{ rtp: DgramSocket; rtcp: DgramSocket; port: number; received: number }> {
  for (;;) {
    const port = 2 * (20000 + Math.floor(Math.random() * 10000));
    const rtp = createSocket('udp4');
    const rtcp = createSocket('udp4');
    try {
      rtp.bind(port, '127.0.0.1');
      await once(rtp, 'listening');
      rtcp.bind(port + 1, '127.0.0.1');
      await once(rtcp, 'listening');
      const pair = { rtp, rtcp, port, received: 0 };
      rtp.on('message', () => pair.received++);
      return pair;
    } catch {
      rtp.close();
      rtcp.close();
    }
  }
}

test('UDP: RTCP receiver reports keep a session; one that sends neither reports nor requests times out', async (t) => {
  const url = srv.rtsp('/live');
  const open = async () => {
    const c = await RawRtsp.open(srv.rtspPort);
    const pair = await udpPair();
    const sdp = parseWmsSdp((await c.request('DESCRIBE', url)).body.toString());
    let session = '';
    let serverRtcp = 0;
    for (const m of sdp.media.filter((x) => x.stream! < 65536)) {
      const r = await c.request('SETUP', `${url}/${m.control}`, { Transport: `RTP/AVP/UDP;unicast;client_port=${pair.port}-${pair.port + 1}`, ...(session ? { Session: session } : {}) });
      t.is(r.status, 200);
      session = sessionOf(r);
      serverRtcp = parseTransport(r.headers.get('transport')!)[0]!.serverPort![1];
    }
    t.is((await c.request('PLAY', url, { Session: session, Range: 'npt=0-' })).status, 200);
    return { c, pair, serverRtcp };
  };
  const [kept, silent] = await Promise.all([open(), open()]);
  t.teardown(() => {
    for (const s of [kept, silent]) {
      s.c.close();
      s.pair.rtp.close();
      s.pair.rtcp.close();
    }
  });
  const rr = buildReceiverReport({ ssrc: 1234, reports: [], cname: 'test' });
  const reporter = setInterval(() => kept.pair.rtcp.send(rr, kept.serverRtcp, '127.0.0.1'), 1000);
  t.teardown(() => clearInterval(reporter));
  // the silent session's control connection is closed by the server at its 10 s timeout (MS-RTSP 3.2.6.2)
  await silent.c.waitFor(() => silent.c.closed, 30_000, 'the silent session to time out');
  const before = kept.pair.received;
  await sleep(1500);
  t.true(kept.pair.received > before, 'the reporting session still receives RTP');
  t.false(kept.c.closed);
  t.true(silent.pair.received > 0);
});

test('UdpPacketPair: three RTP packet-pair packets to the retransmission stream\'s port, timestamp 0, the rtx SSRC', async (t) => {
  const url = srv.rtsp('/live');
  const c = await RawRtsp.open(srv.rtspPort);
  const data = await udpPair();
  const rtx = await udpPair();
  t.teardown(() => {
    c.close();
    for (const p of [data, rtx]) {
      p.rtp.close();
      p.rtcp.close();
    }
  });
  const got: Buffer[] = [];
  rtx.rtp.on('message', (m) => got.push(m));
  const sdp = parseWmsSdp((await c.request('DESCRIBE', url, { Supported: 'com.microsoft.wm.srvppair' })).body.toString());
  t.regex((await c.request('OPTIONS', url)).headers.get('supported') ?? '', /com\.microsoft\.wm\.srvppair/);
  // as ffmpeg and WMP do over UDP: the rtx stream first, then the data streams on one port pair
  const r = await c.request('SETUP', `${url}/rtx`, { Transport: `RTP/AVP/UDP;unicast;client_port=${rtx.port}-${rtx.port + 1}` });
  t.is(r.status, 200);
  const session = sessionOf(r);
  const rtxSsrc = parseTransport(r.headers.get('transport')!)[0]!.ssrc!;
  for (const m of sdp.media.filter((x) => x.stream! < 65536)) {
    t.is((await c.request('SETUP', `${url}/${m.control}`, { Session: session, Transport: `RTP/AVP/UDP;unicast;client_port=${data.port}-${data.port + 1}` })).status, 200);
  }
  const pp = await c.request('SET_PARAMETER', url, { Session: session, 'Content-Type': 'application/x-rtsp-udp-packetpair' }, 'type: high-entropy-packetpair');
  t.is(pp.status, 200);
  const deadline = Date.now() + 10_000;
  while (got.length < 3 && Date.now() < deadline) await sleep(50);
  t.is(got.length, 3);
  const rtp = got.map((g) => parseRtpPacket(g));
  t.deepEqual(rtp.map((p) => p.payload.length - 4), [1454, 1455, 1456]);
  t.true(rtp.every((p) => p.timestamp === 0 && p.ssrc === rtxSsrc));
  t.deepEqual(rtp.map((p) => readPayloadHeader(p.payload, 0).header.keyFrame), [true, false, false]);
  t.is(data.received, 0, 'nothing on the data port before PLAY');
});
