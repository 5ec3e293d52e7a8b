/**
 * Broadcast points over MS-WMSP against `mss serve` as a process: ffmpeg joining a looping live point
 * mid-stream, a .wsx playlist broadcast crossing entries, Fast Start from the last key frame, and a player that
 * stops reading being dropped while the others keep playing.
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openAsfFile, packetKeyFrameStreams, parseHeaderObject } from '../../src/asf/index.js';
import { WmspFrameParser, assembleHeader } from '../../src/protocols/wmsp/codec.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { FFMPEG_DESCRIBE, ffmpegPlay, rawRequest } from '../protocols/wmsp/raw-client.js';

function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let srv: RunningServe;
let tmp: string;
let av20: string;

test.before(async () => {
  av20 = await fixture(FIXTURES.av20);
  tmp = await mkdtemp(path.join(tmpdir(), 'mss-wmsp-live-'));
  // two short playlist entries with different pictures, and a high-bitrate clip to fill a stalled player's buffers fast
  const clip = (name: string, src: string, seconds: number, extra: string[] = []) =>
    run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', `${src}=size=320x240:rate=25:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=frequency=500:sample_rate=44100:duration=${seconds}`, '-c:v', 'wmv2', '-b:v', '300k', '-g', '25', '-c:a', 'wmav2', '-b:a', '64k', ...extra, '-f', 'asf', path.join(tmp, name)]);
  await Promise.all([
    clip('a.wmv', 'testsrc', 3),
    clip('b.wmv', 'testsrc2', 3),
    run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'nullsrc=size=640x480:rate=25:duration=20,geq=random(1)*255:128:128', '-c:v', 'wmv2', '-b:v', '8M', '-g', '25', '-an', '-f', 'asf', path.join(tmp, 'heavy.wmv')]),
  ]);
  await writeFile(path.join(tmp, 'show.wsx'), '<?wsx version="1.0"?>\n<smil>\n  <seq repeatCount="indefinite">\n    <media src="a.wmv"/>\n    <media src="b.wmv"/>\n  </seq>\n</smil>\n');
  srv = await startServe({
    config: {
      server: {
        playerQueueBytes: 65536,
        slowPlayerTimeoutMs: 1000,
        publishingPoints: [
          { name: 'live', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, start: 'boot' },
          { name: 'show', type: 'broadcast', source: { type: 'playlist', path: path.join(tmp, 'show.wsx') }, start: 'boot' },
          { name: 'heavy', type: 'broadcast', source: { type: 'file', path: path.join(tmp, 'heavy.wmv'), loop: true }, start: 'demand' },
          { name: 'push', type: 'broadcast', source: { type: 'push' } },
        ],
      },
    },
  });
});

test.after.always(async () => {
  await srv?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('Describe of a broadcast point: broadcast feature, live header flags', async (t) => {
  const res = await rawRequest(srv.port, '/live', { pragmas: FFMPEG_DESCRIBE });
  t.is(res.status, 200);
  t.regex(res.headers.pragma.join(','), /features="broadcast"/);
  const header = parseHeaderObject(assembleHeader(res.frames));
  t.true(header.fileProperties.broadcast);
});

test('ffmpeg joining the live point mid-stream decodes from its first video frame, a key frame, without errors', async (t) => {
  await sleep(5000); // the loop is well past its start
  const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'level+info', '-i', srv.mmsh('/live'), '-frames:v', '60', '-vf', 'showinfo', '-f', 'null', '-'], 60_000);
  t.is(r.code, 0, r.stderr);
  const errors = r.stderr.split('\n').filter((l) => /\[(error|fatal)\]/.test(l));
  t.deepEqual(errors, []);
  const frames = r.stderr.split('\n').filter((l) => /Parsed_showinfo.*n:\s*\d+/.test(l));
  t.true(frames.length >= 60, `${frames.length} frames`);
  t.regex(frames[0], /iskey:1/);
});

test('Fast Start: a joining player gets the header, then packets from the last key frame, at the accelerated rate', async (t) => {
  const file = await openAsfFile(av20);
  t.teardown(() => file.close());
  const video = file.layout.header.streams.find((s) => s.type === 'video')!.number;
  const res = await rawRequest(srv.port, '/live', {
    pragmas: [...ffmpegPlay([1, 2]), 'AccelBW=20000000, AccelDuration=10000'],
    until: (f) => f.filter((x) => x.type === 'D').length >= 20,
    timeoutMs: 20_000,
  });
  t.is(res.frames[0].type, 'H');
  const data = res.frames.filter((f) => f.type === 'D');
  t.true(data.length >= 20);
  t.true(packetKeyFrameStreams(data[0].payload, file.layout.packetSize).has(video));
  for (let i = 1; i < data.length; i++) t.is(data[i].locationId, data[i - 1].locationId + 1);
  t.regex(res.headers.pragma.join(','), /AccelBW=20000000/);
});

test('a playlist broadcast crosses entries: $C then the new $H, and ffmpeg keeps playing', async (t) => {
  const raw = await rawRequest(srv.port, '/show', { pragmas: ffmpegPlay([1, 2]), until: (f) => f.filter((x) => x.type === 'C').length >= 2, timeoutMs: 20_000 });
  const types = raw.frames.map((f) => f.type).join('');
  t.regex(types, /^H+D+CHD+CHD*/);
  const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'level+info', '-i', srv.mmsh('/show'), '-t', '9', '-vf', 'showinfo', '-f', 'null', '-'], 60_000);
  t.is(r.code, 0, r.stderr);
  const frames = r.stderr.split('\n').filter((l) => /Parsed_showinfo.*n:\s*\d+/.test(l));
  // 9 s at 25 fps crosses at least two entry changes (3 s entries)
  t.true(frames.length >= 150, `${frames.length} frames`);
});

test('a player that stops reading is dropped; the others keep receiving every packet', async (t) => {
  // a reader that never reads: its buffers fill, its queue passes the bound, then it is dropped
  const stalled = net.connect(srv.port, '127.0.0.1');
  stalled.on('error', () => undefined);
  stalled.pause();
  stalled.write(['GET /heavy HTTP/1.0', 'User-Agent: NSPlayer/4.1.0.3856', 'Pragma: xPlayStrm=1', '', ''].join('\r\n'));
  const stalledClosed = new Promise<void>((r) => stalled.on('close', () => r()));
  t.teardown(() => stalled.destroy());

  // healthy readers watch LocationId continuity while the stalled one is being dropped
  const readers = Array.from({ length: 3 }, () => {
    const sock = net.connect(srv.port, '127.0.0.1');
    const parser = new WmspFrameParser();
    const state = { packets: 0, gaps: 0, last: -1, headDone: false, buf: Buffer.alloc(0), sock };
    sock.on('data', (chunk: Buffer) => {
      let body = chunk;
      if (!state.headDone) {
        state.buf = Buffer.concat([state.buf, chunk]);
        const end = state.buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        state.headDone = true;
        body = state.buf.subarray(end + 4);
      }
      for (const f of parser.push(body)) {
        if (f.type !== 'D') continue;
        if (state.last >= 0 && f.locationId !== state.last + 1 && f.locationId !== 0) state.gaps++;
        state.last = f.locationId;
        state.packets++;
      }
    });
    sock.on('error', () => undefined);
    sock.write(['GET /heavy HTTP/1.0', 'User-Agent: NSPlayer/4.1.0.3856', 'Pragma: xPlayStrm=1', '', ''].join('\r\n'));
    return state;
  });
  t.teardown(() => readers.forEach((r) => r.sock.destroy()));

  const drop = await srv.waitForLog((l) => l.event === 'fanout.player-dropped', 60_000);
  t.is(drop.reason, 'slow player');
  await Promise.race([stalledClosed, sleep(5000)]);
  const before = readers.map((r) => r.packets);
  await sleep(2000);
  readers.forEach((r, i) => {
    t.true(r.packets > before[i], `reader ${i} still receives`);
    t.is(r.gaps, 0, `reader ${i} saw no gap`);
  });
});

test('a push point without an encoder answers 503 after waiting; GET /api/status lists points and players', async (t) => {
  const res = await rawRequest(srv.port, '/push', { pragmas: FFMPEG_DESCRIBE, timeoutMs: 20_000 });
  t.is(res.status, 503);
  const status = (await (await fetch(srv.http('/api/status'))).json()) as { points: Array<{ name: string; type: string; broadcasting?: boolean }>; uptimeMs: number };
  t.true(status.uptimeMs > 0);
  const live = status.points.find((p) => p.name === 'live')!;
  t.is(live.type, 'broadcast');
  t.true(live.broadcasting);
  const asx = await fetch(srv.http('/live.asx'));
  t.is(asx.status, 200);
  // RTSP first, mmsh:// as the fallback (as Windows Media Services announced)
  t.regex(await asx.text(), /<Ref href="rtsp:\/\/127\.0\.0\.1:\d+\/live"\/>\s*<Ref href="mmsh:\/\/127\.0\.0\.1:\d+\/live"\/>/i);
});
