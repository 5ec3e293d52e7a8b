/**
 * On-demand over MS-WMSP against `mss serve` as a process: real ffmpeg/ffprobe as players, plus a raw client that
 * checks the wire bytes (the packet sequence equals the file's).
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildAsfFile, openAsfFile, parseDataPacket, parseHeaderObject } from '../../src/asf/index.js';
import { assembleHeader } from '../../src/protocols/wmsp/codec.js';
import { buildXmlLog } from '../../src/protocols/wmlog/codec.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { onDemandTestPoints, startServe, type RunningServe } from '../helpers/serve.js';
import { FFMPEG_DESCRIBE, ffmpegPlay, rawRequest } from '../protocols/wmsp/raw-client.js';
import { writeFile } from 'node:fs/promises';

function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

let srv: RunningServe;
let dir: string;
let tmp: string;

test.before(async () => {
  const files = await Promise.all([fixture(FIXTURES.av20), fixture(FIXTURES.av120), fixture(FIXTURES.mbr20)]);
  dir = path.dirname(files[0]);
  tmp = await mkdtemp(path.join(tmpdir(), 'mss-wmsp-vod-'));
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
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const fastStart = ['AccelBW=1000000000, AccelDuration=1000000'];

test('Describe answers the ASF header in one $H with the seekable feature and a client-id', async (t) => {
  const res = await rawRequest(srv.port, `/vod/${FIXTURES.av20}`, { pragmas: FFMPEG_DESCRIBE, httpVersion: '1.1' });
  t.is(res.status, 200);
  t.regex(res.head, /^HTTP\/1\.0 200 OK/);
  t.deepEqual(res.headers['content-type'], ['application/vnd.ms.wms-hdr.asfv1']);
  const pragma = res.headers.pragma.join(', ');
  t.regex(pragma, /client-id=\d+/);
  t.regex(pragma, /features="seekable/);
  t.deepEqual(res.frames.map((f) => f.type), ['H']);
  const file = await openAsfFile(path.join(dir, FIXTURES.av20));
  t.teardown(() => file.close());
  t.deepEqual(assembleHeader(res.frames), file.layout.headerBytes);
});

test('Play sends $H, every packet of the file in order with LocationId = packet number, then $E', async (t) => {
  const file = await openAsfFile(path.join(dir, FIXTURES.av20));
  t.teardown(() => file.close());
  const streams = file.layout.header.streams.map((s) => s.number);
  const res = await rawRequest(srv.port, `/vod/${FIXTURES.av20}`, { pragmas: [...ffmpegPlay(streams), ...fastStart], httpVersion: '1.1', timeoutMs: 60_000 });
  t.is(res.status, 200);
  t.deepEqual(res.headers['content-type'], ['application/x-mms-framed']);
  t.is(res.parseError, undefined);
  t.is(res.frames[0].type, 'H');
  const data = res.frames.filter((f) => f.type === 'D');
  t.is(res.frames[res.frames.length - 1].type, 'E');
  t.is(res.frames[res.frames.length - 1].reason, 0);
  t.true(res.closedByServer);
  t.is(data.length, file.layout.packetCount);
  const packets = await file.readPackets(0, file.layout.packetCount);
  data.forEach((f, i) => {
    if (f.locationId !== i || f.afFlags !== (i & 0xff) || !f.payload.equals(packets[i])) t.fail(`packet ${i} differs`);
  });
  t.pass();
});

test('ffmpeg plays an on-demand file start to end and receives the same media packets as the file holds', async (t) => {
  const src = path.join(dir, FIXTURES.av20);
  const out = path.join(tmp, 'copy.asf');
  const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-y', '-i', srv.mmsh(`/vod/${FIXTURES.av20}`), '-map', '0', '-c', 'copy', '-f', 'asf', out], 120_000);
  t.is(r.code, 0, r.stderr);
  const probe = async (f: string) => {
    const p = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=stream_index,pts,size,flags', '-of', 'csv=p=0', f]);
    return p.stdout.trim().split('\n');
  };
  const [a, b] = await Promise.all([probe(src), probe(out)]);
  t.true(a.length > 500);
  t.deepEqual(b, a);
});

test('ffmpeg -ss 30 on the 120 s file starts within 2 s of 30 s', async (t) => {
  const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-copyts', '-ss', '30', '-i', srv.mmsh(`/vod/${FIXTURES.av120}`), '-frames:v', '1', '-vf', 'showinfo', '-f', 'null', '-'], 60_000);
  t.is(r.code, 0, r.stderr);
  const m = /pts_time:([\d.]+)/.exec(r.stderr);
  t.truthy(m, r.stderr);
  const start = Number(m![1]);
  t.true(Math.abs(start - 30) <= 2, `first frame at ${start} s`);
});

test('stream-time and packet-num seeks start at the right packet; max-duration stops early', async (t) => {
  const file = await openAsfFile(path.join(dir, FIXTURES.av120));
  t.teardown(() => file.close());
  const res = await rawRequest(srv.port, `/vod/${FIXTURES.av120}`, { pragmas: ['xPlayStrm=1', 'stream-time=60000', 'max-duration=5000', ...fastStart], timeoutMs: 30_000 });
  const data = res.frames.filter((f) => f.type === 'D');
  t.true(data.length > 0);
  const first = parseDataPacket(data[0].payload, file.layout.packetSize);
  t.true(Math.abs(first.sendTime - 60000) < 3000, `first send time ${first.sendTime}`);
  const last = parseDataPacket(data[data.length - 1].payload, file.layout.packetSize);
  t.true(last.sendTime - first.sendTime <= 5000 + 200);
  t.is(res.frames[res.frames.length - 1].type, 'E');

  const byPacket = await rawRequest(srv.port, `/vod/${FIXTURES.av120}`, { pragmas: ['xPlayStrm=1', 'packet-num=100', 'max-duration=1000', ...fastStart], timeoutMs: 30_000 });
  t.is(byPacket.frames.find((f) => f.type === 'D')!.locationId, 100);
  // VLC-style data-relative stream-offset (packet index x packet size)
  const byOffset = await rawRequest(srv.port, `/vod/${FIXTURES.av120}`, { pragmas: ['xPlayStrm=1', `stream-time=0,stream-offset=0:${50 * file.layout.packetSize}`, 'max-duration=1000', ...fastStart], timeoutMs: 30_000 });
  t.is(byOffset.frames.find((f) => f.type === 'D')!.locationId, 50);
});

test('selecting one of two video streams sends only that stream and the audio, and it decodes', async (t) => {
  const src = path.join(dir, FIXTURES.mbr20);
  const file = await openAsfFile(src);
  t.teardown(() => file.close());
  const videos = file.layout.header.streams.filter((s) => s.type === 'video').map((s) => s.number);
  const audio = file.layout.header.streams.filter((s) => s.type === 'audio').map((s) => s.number);
  t.is(videos.length, 2);
  const chosen = [videos[1], ...audio];
  const res = await rawRequest(srv.port, `/vod/${FIXTURES.mbr20}`, { pragmas: [...ffmpegPlay(chosen), ...fastStart], timeoutMs: 60_000 });
  t.is(res.parseError, undefined);
  const header = assembleHeader(res.frames.filter((f) => f.type === 'H'));
  const packets = res.frames.filter((f) => f.type === 'D').map((f) => f.payload);
  t.true(packets.length > 10);
  const seen = new Set<number>();
  for (const p of packets) for (const pl of parseDataPacket(p, file.layout.packetSize).payloads) seen.add(pl.streamNumber);
  t.deepEqual([...seen].sort(), [...chosen].sort());
  // what was received is a playable file with the chosen video stream's frames
  const out = path.join(tmp, 'selected.asf');
  await writeFile(out, buildAsfFile(parseHeaderObject(header).raw, packets));
  const probe = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=index,codec_type,nb_read_frames,width', '-of', 'json', out]);
  t.is(probe.code, 0, probe.stderr);
  const streams = (JSON.parse(probe.stdout) as { streams: Array<{ codec_type: string; nb_read_frames: string; width?: number }> }).streams;
  const decoded = streams.filter((s) => s.codec_type === 'video' && Number(s.nb_read_frames) > 100);
  t.is(decoded.length, 1);
  t.is(decoded[0].width, 160);
});

test('Basic and Digest authentication per point: 401 with a challenge, curl describes with credentials', async (t) => {
  const noCreds = await rawRequest(srv.port, `/locked/${FIXTURES.av20}`, { pragmas: FFMPEG_DESCRIBE });
  t.is(noCreds.status, 401);
  t.regex(noCreds.headers['www-authenticate'].join(' '), /Basic realm="mss"/);
  // ffmpeg's mmsh drops URL credentials, so it cannot open a protected point at all
  const bad = await run('ffprobe', ['-v', 'error', srv.mmsh(`/locked/${FIXTURES.av20}`)], 30_000);
  t.not(bad.code, 0);
  const curl = async (auth: string[], p: string) => {
    const out = path.join(tmp, `curl-${Math.random().toString(36).slice(2)}`);
    const r = await run('curl', ['-s', '-o', out, '-w', '%{http_code}', ...auth, '-A', 'NSPlayer/4.1.0.3856', '-H', `Pragma: ${FFMPEG_DESCRIBE[0]}`, srv.http(p)], 30_000);
    const { readFile } = await import('node:fs/promises');
    return { status: r.stdout.trim(), body: await readFile(out).catch(() => Buffer.alloc(0)) };
  };
  const basic = await curl(['-u', 'ann:s3cret'], `/locked/${FIXTURES.av20}`);
  t.is(basic.status, '200');
  t.is(basic.body.subarray(0, 2).toString('latin1'), '$H');
  const wrong = await curl(['-u', 'ann:nope'], `/locked/${FIXTURES.av20}`);
  t.is(wrong.status, '401');
  const digest = await curl(['--digest', '-u', 'bob:pw'], `/digest/${FIXTURES.av20}`);
  t.is(digest.status, '200');
  t.is(digest.body.subarray(0, 2).toString('latin1'), '$H');
});

test('IP allow lists refuse other addresses with 403', async (t) => {
  const res = await rawRequest(srv.port, `/nobody/${FIXTURES.av20}`, { pragmas: FFMPEG_DESCRIBE });
  t.is(res.status, 403);
});

test('a point at its player limit answers 503 to the next Play', async (t) => {
  const first = rawRequest(srv.port, `/one/${FIXTURES.av120}`, { pragmas: ffmpegPlay([1, 2]), until: (f) => f.some((x) => x.type === 'D'), timeoutMs: 20_000 });
  // keep the first one playing while the second asks
  const holder = rawRequest(srv.port, `/one/${FIXTURES.av120}`, { pragmas: ffmpegPlay([1, 2]), timeoutMs: 4000 });
  const results = await Promise.all([first, holder]);
  t.true(results.some((r) => r.status === 503) || results.every((r) => r.status === 200));
  const held = rawRequest(srv.port, `/one/${FIXTURES.av120}`, { pragmas: ffmpegPlay([1, 2]), timeoutMs: 5000 });
  await new Promise((r) => setTimeout(r, 1000));
  const refused = await rawRequest(srv.port, `/one/${FIXTURES.av120}`, { pragmas: ffmpegPlay([1, 2]), timeoutMs: 5000 });
  t.is(refused.status, 503);
  t.is((await held).status, 200);
});

test('KeepAlive, Log and GetContentInfo requests are answered', async (t) => {
  const describe = await rawRequest(srv.port, `/vod/${FIXTURES.av20}`, { pragmas: FFMPEG_DESCRIBE });
  const id = /client-id=(\d+)/.exec(describe.headers.pragma.join(','))![1];
  const ka = await rawRequest(srv.port, `/vod/${FIXTURES.av20}`, { method: 'POST', pragmas: ['xKeepAliveInPause=1', `client-id=${id}`], body: '', rawBody: true });
  t.is(ka.status, 200);
  t.regex(ka.headers.pragma.join(','), new RegExp(`client-id=${id}`));
  const log = await rawRequest(srv.port, `/vod/${FIXTURES.av20}`, {
    method: 'POST',
    pragmas: [`client-id=${id}`],
    headers: { 'Content-Type': 'application/x-wms-LogStats;charset=UTF-8' },
    body: buildXmlLog(
      { 'c-ip': '0.0.0.0', date: '2026-11-25', time: '13:00:00', 'cs-uri-stem': '/vod/x.wmv', 'c-starttime': '0', 'x-duration': '20', 'c-rate': '1', 'c-status': '200', 'c-bytes': '1000', 'cs-url': 'mmsh://127.0.0.1/vod/x.wmv' },
      { form: 47 },
    ),
    rawBody: true,
  });
  t.is(log.status, 204);
  const badLog = await rawRequest(srv.port, `/vod/${FIXTURES.av20}`, {
    method: 'POST',
    pragmas: [`client-id=${id}`],
    headers: { 'Content-Type': 'application/x-wms-LogStats;charset=UTF-8' },
    body: '<XML><Summary>0.0.0.0 2026-11-25 13:00:00 - /vod/x.wmv 0 20</Summary></XML>',
    rawBody: true,
  });
  t.is(badLog.status, 400);
  const info = await rawRequest(srv.port, `/vod/${FIXTURES.av20}`, { method: 'POST', headers: { 'Content-Type': 'application/x-wms-getcontentinfo' }, body: 'x', rawBody: true });
  t.is(info.status, 200);
  t.regex(info.headers['cache-control'].join(','), /x-wms-content-size=\d+/);
  const unknownId = await rawRequest(srv.port, `/vod/${FIXTURES.av20}`, { pragmas: ['client-id=12345', ...FFMPEG_DESCRIBE] });
  t.regex(unknownId.headers.pragma.join(','), /xResetStrm=1/);
});

test('a WMP 9 client gets $M before $H and the Supported header', async (t) => {
  const res = await rawRequest(srv.port, `/vod/${FIXTURES.av20}`, { pragmas: FFMPEG_DESCRIBE, userAgent: 'NSPlayer/9.0.0.2980' });
  t.deepEqual(res.frames.map((f) => f.type), ['M', 'H']);
  t.regex(res.frames[0].payload.toString('latin1'), /features="seekable"/);
  t.truthy(res.headers.supported);
  const pair = await rawRequest(srv.port, `/vod/${FIXTURES.av20}`, { pragmas: [...FFMPEG_DESCRIBE, 'packet-pair-experiment=1'], userAgent: 'NSPlayer/9.0.0.2980' });
  t.deepEqual(pair.frames.map((f) => f.type), ['P', 'P', 'P', 'M', 'H']);
  t.deepEqual(pair.frames.slice(0, 3).map((f) => f.payload.length + 4), [504, 504, 1048]);
  t.regex(pair.headers.pragma.join(','), /packet-pair-experiment=1/);
});

test('a web browser asking for a stream URL gets the .asx announcement instead', async (t) => {
  const res = await fetch(srv.http(`/vod/${FIXTURES.av20}`), { headers: { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' } });
  t.is(res.status, 200);
  t.is(res.headers.get('content-type'), 'video/x-ms-asf');
  t.regex(await res.text(), /<ASX version="3.0">[\s\S]*mmsh:\/\/127\.0\.0\.1:\d+\/vod\/av-wmv2-wmav2-20s\.wmv/);
});

test('pipelined mode: the Pipeline test, a chunked Play and a Stop on the same connection', async (t) => {
  const net = await import('node:net');
  const sock = net.connect(srv.port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  let text = '';
  sock.on('data', (d) => (text += d.toString('latin1')));
  const waitFor = async (re: RegExp) => {
    for (let i = 0; i < 200 && !re.test(text); i++) await new Promise((r) => setTimeout(r, 50));
    return re.test(text);
  };
  const req = (lines: string[]) => sock.write(lines.join('\r\n') + '\r\n\r\n');
  const base = [`Host: 127.0.0.1`, 'User-Agent: NSPlayer/9.0.0.2980'];
  req([`GET /vod/${FIXTURES.av20} HTTP/1.1`, ...base, 'Pragma: pipeline-request=1']);
  req([`GET /vod/${FIXTURES.av20} HTTP/1.1`, ...base, 'Pragma: pipeline-request=1']);
  t.true(await waitFor(/pipeline-result=1/));
  const id = /client-id=(\d+)/.exec(text)![1];
  req([`GET /vod/${FIXTURES.av20} HTTP/1.1`, ...base, 'Pragma: xPlayStrm=1, version11-enabled=1', `Pragma: client-id=${id}`]);
  t.true(await waitFor(/features="seekable/));
  req([`POST /vod/${FIXTURES.av20} HTTP/1.1`, ...base, `Pragma: xStopStrm=1, client-id=${id}`, 'Content-Length: 0']);
  t.true(await waitFor(/\r\n0\r\n\r\nHTTP\/1\.1 200 OK/));
});
