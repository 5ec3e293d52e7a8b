/**
 * Hostile and broken RTSP input against `mss serve` as a process: every malformed request, header, method,
 * CSeq, Session, Transport, Range, body, oversized request, interleaved garbage and flood gets a clear RTSP status
 * (or is ignored, for interleaved data), the process never crashes, and real players are served throughout.
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { RawRtsp, sessionOf } from '../protocols/rtsp/raw-client.js';
import { seededRandom } from '../helpers/prng.js';

function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

let srv: RunningServe;
let url: string;

test.before(async () => {
  const av20 = await fixture(FIXTURES.av20);
  srv = await startServe({
    config: {
      rtsp: { headerTimeoutMs: 1000, maxRequestBytes: 4096, maxBodyBytes: 8192 },
      server: { publishingPoints: [{ name: 'vod', type: 'ondemand', path: path.dirname(av20) }] },
    },
  });
  url = srv.rtsp(`/vod/${FIXTURES.av20}`);
});

test.after.always(async () => {
  await srv?.stop();
});

async function statusOfRaw(bytes: string | Buffer): Promise<{ status: number; closed: boolean }> {
  const c = await RawRtsp.open(srv.rtspPort);
  try {
    c.writeRaw(bytes);
    const r = await c.nextResponse();
    await c.waitFor(() => c.closed, 5000, 'close').catch(() => undefined);
    return { status: r.status, closed: c.closed };
  } finally {
    c.close();
  }
}

test('malformed request lines and headers: 400/505/413 and the connection closes (the byte stream cannot be trusted)', async (t) => {
  const cases: Array<[string, number]> = [
    ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['OPTIONS rtsp://h/x RTSP/2.0\r\nCSeq: 1\r\n\r\n', 505],
    ['OPTI<ONS rtsp://h/x RTSP/1.0\r\nCSeq: 1\r\n\r\n', 400],
    ['OPTIONS rtsp://h/x RTSP/1.0\r\nCSeq 1\r\n\r\n', 400],
    ['OPTIONS rtsp://h/x RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 12x\r\n\r\n', 400],
    [`OPTIONS rtsp://h/x RTSP/1.0\r\nCSeq: 1\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`, 413],
    ['SET_PARAMETER rtsp://h/x RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 100000\r\n\r\n', 413],
    ['\u0000\u0001\u0002 not rtsp at all', 400],
  ];
  for (const [bytes, status] of cases) {
    const r = await statusOfRaw(bytes);
    t.is(r.status, status, JSON.stringify(bytes.slice(0, 40)));
    t.true(r.closed, JSON.stringify(bytes.slice(0, 40)));
  }
});

test('well-framed but wrong requests get precise statuses and the connection stays usable', async (t) => {
  const c = await RawRtsp.open(srv.rtspPort);
  t.teardown(() => c.close());
  c.writeRaw('OPTIONS rtsp://h/x RTSP/1.0\r\n\r\n');
  t.is((await c.nextResponse()).status, 400, 'no CSeq');
  c.writeRaw('OPTIONS rtsp://h/x RTSP/1.0\r\nCSeq: abc\r\n\r\n');
  t.is((await c.nextResponse()).status, 400, 'CSeq not a number');
  const foo = await c.request('FOO', url);
  t.is(foo.status, 501);
  t.regex(foo.headers.get('allow') ?? '', /DESCRIBE/);
  t.is((await c.request('RECORD', url)).status, 405);
  t.is((await c.request('PLAY', url, { Session: '12345' })).status, 454, 'unknown session');
  t.is((await c.request('PLAY', url, { Session: '1'.repeat(21) })).status, 454, 'session id over 20 characters');
  t.is((await c.request('PLAY', url, { Session: 'bad id!' })).status, 454);
  t.is((await c.request('PLAY', url)).status, 454, 'PLAY without a session');
  t.is((await c.request('SETUP', `${url}/audio`)).status, 400, 'no Transport');
  t.is((await c.request('SETUP', `${url}/audio`, { Transport: 'RTP/AVP;multicast;port=5000-5001' })).status, 461);
  t.is((await c.request('SETUP', `${url}/audio`, { Transport: 'RAW/RAW/UDP;unicast' })).status, 461);
  t.is((await c.request('SETUP', `${url}/audio`, { Transport: 'RTP/AVP;unicast;client_port=99999' })).status, 400);
  t.is((await c.request('SETUP', `${url}/nonsense7`, { Transport: 'RTP/AVP/TCP;interleaved=0-1' })).status, 404);
  t.is((await c.request('DESCRIBE', 'rtsp://127.0.0.1/nopoint/x.wmv')).status, 404);
  t.is((await c.request('DESCRIBE', 'notaurl')).status, 400);
  const setup = await c.request('SETUP', `${url}/audio`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
  t.is(setup.status, 200);
  const session = sessionOf(setup);
  t.is((await c.request('SETUP', `${url}/video`, { Session: session, Transport: 'RTP/AVP;unicast;client_port=5000-5001' })).status, 461, 'mixing TCP and UDP');
  t.is((await c.request('SETUP', srv.rtsp('/vod/other.wmv/video'), { Session: session, Transport: 'RTP/AVP/TCP;interleaved=2-3' })).status, 459, 'a stream of another presentation');
  for (const range of ['npt=abc-', 'npt=1-2,3-4', 'clock=19961108T142300Z-', 'npt=30-10', 'npt=5-;time=19970123T153600Z']) {
    t.is((await c.request('PLAY', url, { Session: session, Range: range })).status, 457, range);
  }
  t.is((await c.request('PLAY', url, { Session: session, 'X-Accelerate-Streaming': 'AccelDuration=x' })).status, 400);
  t.is((await c.request('PAUSE', url, { Session: session, Range: 'npt=0-' })).status, 457, 'PAUSE with a Range');
  t.is((await c.request('GET_PARAMETER', url, { Session: session, 'Content-Type': 'text/parameters' }, 'packets_received\r\n')).status, 451);
  t.is((await c.request('SET_PARAMETER', url, { Session: session, 'Content-Type': 'application/x-wms-streamswitch' }, 'SSEntry: 1 2\r\n')).status, 400);
  t.is((await c.request('SET_PARAMETER', url, { Session: session, 'Content-Type': 'application/x-wms-streamswitch' }, 'SSEntry: 4294967295 77 0 rtsp://h/x\r\n')).status, 400, 'a stream that does not exist');
  t.is((await c.request('SET_PARAMETER', url, { Session: session, 'Content-Type': 'application/x-rtsp-udp-packetpair' }, 'type: high-entropy-packetpair')).status, 455, 'UDP packet-pair on a TCP session');
  t.is((await c.request('SET_PARAMETER', url, { Session: session, 'Content-Type': 'application/x-wms-Logplaystats' }, '<XML><Summary>broken</Summary></XML>')).status, 400, 'an unreadable log');
  // interleaved garbage from the player (RTCP channels, RTP channels, junk inside) is ignored
  c.writeRaw(Buffer.concat([Buffer.from([0x24, 1, 0, 5, 1, 2, 3, 4, 5]), Buffer.from([0x24, 0, 0, 3, 9, 9, 9]), Buffer.from([0x24, 7, 0, 0])]));
  const ok = await c.request('OPTIONS', url, { Session: session });
  t.is(ok.status, 200);
  t.false(c.closed);
  t.is((await c.request('TEARDOWN', url, { Session: session })).status, 200);
});

test('TcpPacketPair: three $P frames as the answer body; GetContentInfo: Cache-Control', async (t) => {
  const c = await RawRtsp.open(srv.rtspPort);
  t.teardown(() => c.close());
  const pp = await c.request('GET_PARAMETER', url, { 'Content-Type': 'application/x-rtsp-packetpair', 'Content-Length': 0 });
  t.is(pp.status, 200);
  t.is(pp.body.length, 3 * 4 + 504 + 504 + 1048);
  t.deepEqual([pp.body[0], pp.body[1], pp.body[508], pp.body[509], pp.body[1016], pp.body[1017]], [0x24, 0x50, 0x24, 0x50, 0x24, 0x50]);
  const info = await c.request('GET_PARAMETER', url, { 'Content-Type': 'application/x-wms-getcontentinfo' }, Buffer.from([0]));
  t.is(info.status, 200);
  t.regex(info.headers.get('cache-control') ?? '', /x-wms-content-size=\d+/);
});

test('seeded mutations of a whole conversation: answers or a closed connection, never a failure inside the server', async (t) => {
  const rand = seededRandom(0x7257);
  const conversation = [
    `OPTIONS ${url} RTSP/1.0\r\nCSeq: 1\r\n\r\n`,
    `DESCRIBE ${url} RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\nSupported: com.microsoft.wm.locid\r\n\r\n`,
    `SETUP ${url}/audio RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`,
    `PLAY ${url} RTSP/1.0\r\nCSeq: 4\r\nSession: 1234567\r\nRange: npt=1.5-3\r\nX-Accelerate-Streaming: AccelDuration=1000;AccelBandwidth=100000\r\n\r\n`,
    `SET_PARAMETER ${url} RTSP/1.0\r\nCSeq: 5\r\nContent-Type: application/x-wms-streamswitch\r\nContent-Length: 18\r\n\r\nSSEntry: 1 2 0 a b`,
    `GET_PARAMETER ${url} RTSP/1.0\r\nCSeq: 6\r\nContent-Type: application/x-rtsp-packetpair\r\nContent-Length: 0\r\n\r\n`,
    `TEARDOWN ${url} RTSP/1.0\r\nCSeq: 7\r\n\r\n`,
  ].join('');
  const valid = Buffer.from(conversation);
  for (let round = 0; round < 5; round++) {
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        const bytes = Buffer.from(valid);
        const flips = 1 + Math.floor(rand() * 8);
        for (let f = 0; f < flips; f++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
        const c = await RawRtsp.open(srv.rtspPort);
        c.writeRaw(bytes.subarray(0, Math.floor(rand() * bytes.length) + 1));
        await c.waitFor(() => c.closed || c.responses.length > 0, 5000, 'an answer').catch(() => undefined);
        c.close();
      }),
    );
  }
  t.deepEqual(srv.logs.filter((l) => l.level === 'error'), []);
  const c = await RawRtsp.open(srv.rtspPort);
  t.teardown(() => c.close());
  t.is((await c.request('OPTIONS', url)).status, 200);
});

test('a request trickled in past the header timeout gets 408; a flood gets 503; the server still plays', async (t) => {
  const slow = await RawRtsp.open(srv.rtspPort);
  t.teardown(() => slow.close());
  slow.writeRaw('OPTIONS rtsp://h/x RTSP/1.0\r\n');
  const drip = setInterval(() => !slow.closed && slow.writeRaw('X'), 100);
  t.teardown(() => clearInterval(drip));
  const r = await slow.nextResponse(10_000);
  t.is(r.status, 408);
  await slow.waitFor(() => slow.closed, 5000, 'close');

  const flood = await RawRtsp.open(srv.rtspPort);
  t.teardown(() => flood.close());
  flood.writeRaw(Array.from({ length: 300 }, (_, i) => `OPTIONS ${url} RTSP/1.0\r\nCSeq: ${i + 1}\r\n\r\n`).join(''));
  await flood.waitFor(() => flood.closed, 10_000, 'the flood to be cut');
  t.true(flood.responses.some((x) => x.status === 503));

  const p = await run('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', url]);
  t.is(p.code, 0, p.stderr);
  t.deepEqual(p.stdout.trim().split('\n').sort(), ['wmav2', 'wmv2']);
  t.deepEqual(srv.logs.filter((l) => l.level === 'error'), [], 'nothing failed inside the server');
  t.is(srv.child.exitCode, null);
});
