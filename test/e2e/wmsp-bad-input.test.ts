/**
 * Hostile and broken WMSP input against `mss serve` as a process: each gets a clear status (or a timeout close)
 * and one JSON log line with the peer address, and the server keeps serving a real player meanwhile.
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { FFMPEG_DESCRIBE, rawRequest } from '../protocols/wmsp/raw-client.js';

let srv: RunningServe;
let dir: string;

test.before(async () => {
  dir = path.dirname(await fixture(FIXTURES.av20));
  srv = await startServe({
    config: {
      http: { headerTimeoutMs: 1000, idleTimeoutMs: 1000, maxHeaderBytes: 8192 },
      server: { publishingPoints: [{ name: 'vod', type: 'ondemand', path: dir }] },
    },
  });
});

test.after.always(async () => {
  await srv?.stop();
});

const rejectedCount = () => srv.logs.filter((l) => l.event === 'http.rejected' && l.remote === '127.0.0.1').length;

async function expectOneRejection(t: { is: (a: unknown, b: unknown, m?: string) => void }, fn: () => Promise<void>, what: string): Promise<void> {
  const before = rejectedCount();
  await fn();
  // the log line is written before the response; give stderr a moment to arrive
  for (let i = 0; i < 50 && rejectedCount() === before; i++) await new Promise((r) => setTimeout(r, 50));
  t.is(rejectedCount(), before + 1, `${what}: one rejection line`);
}

for (const target of [
  '/vod/../../etc/passwd',
  '/vod/%2e%2e/%2e%2e/etc/passwd',
  '/vod/..%2f..%2fetc%2fpasswd',
  '/vod/%252e%252e/%252e%252e/etc/passwd',
  '/vod/..%5c..%5cetc%5cpasswd',
  '/vod/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd.wmv',
  '/vod/sub/../../../etc/passwd.wmv',
]) {
  test.serial(`path traversal ${target} is refused`, async (t) => {
    await expectOneRejection(t, async () => {
      const res = await rawRequest(srv.port, target, { pragmas: FFMPEG_DESCRIBE, rawBody: true });
      t.true(res.status === 403 || res.status === 400 || res.status === 404, `status ${res.status}`);
      t.false(res.body.toString('latin1').includes('root:'));
    }, target);
  });
}

test.serial('malformed Pragma values get 400', async (t) => {
  for (const pragma of ['stream-time="unterminated', 'xPlayStrm=1, stream-time=abc', '=novalue', 'xPlayStrm=1, stream-switch-entry=zz:yy', 'xPlayStrm=1, stream-offset=1']) {
    await expectOneRejection(t, async () => {
      const res = await rawRequest(srv.port, `/vod/${FIXTURES.av20}`, { pragmas: [pragma], rawBody: true });
      t.is(res.status, 400, pragma);
    }, pragma);
  }
});

test.serial('unknown request shapes get 400 (POST without tokens) or 404 (other methods)', async (t) => {
  await expectOneRejection(t, async () => {
    const res = await rawRequest(srv.port, `/vod/${FIXTURES.av20}`, { method: 'POST', pragmas: ['no-cache'], body: 'hello', rawBody: true });
    t.is(res.status, 400);
  }, 'POST');
  await expectOneRejection(t, async () => {
    const res = await rawRequest(srv.port, `/vod/${FIXTURES.av20}`, { method: 'DELETE', rawBody: true });
    t.is(res.status, 404);
  }, 'DELETE');
  await expectOneRejection(t, async () => {
    const res = await rawRequest(srv.port, '/vod/missing.wmv', { pragmas: FFMPEG_DESCRIBE, rawBody: true });
    t.is(res.status, 404);
  }, 'missing file');
  await expectOneRejection(t, async () => {
    const res = await rawRequest(srv.port, '/vod/notes.txt', { pragmas: FFMPEG_DESCRIBE, rawBody: true });
    t.is(res.status, 404);
  }, 'not media');
});

test.serial('an oversized Pragma header gets 431', async (t) => {
  await expectOneRejection(t, async () => {
    const res = await rawRequest(srv.port, `/vod/${FIXTURES.av20}`, { pragmas: ['xPlayStrm=1', `x=${'9'.repeat(10_000)}`], rawBody: true });
    t.is(res.status, 431);
  }, 'big pragma');
});

test.serial('fuzzed request heads never take the server down', async (t) => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
  const pieces = ['GET', 'POST', '/vod/', FIXTURES.av20, ' HTTP/1.0', '\r\n', 'Pragma: ', 'xPlayStrm=1', 'stream-time=', '"', ',', '%2e', '..', 'Content-Length: 5', '\x00', 'ÿ', ':', ' '];
  const sends: Array<Promise<void>> = [];
  for (let i = 0; i < 200; i++) {
    let s = '';
    const n = 3 + Math.floor(rand() * 30);
    for (let k = 0; k < n; k++) s += pieces[Math.floor(rand() * pieces.length)];
    s += '\r\n\r\n';
    sends.push(
      new Promise<void>((resolve) => {
        const sock = net.connect(srv.port, '127.0.0.1');
        sock.on('error', () => resolve());
        sock.on('close', () => resolve());
        sock.on('data', () => sock.destroy());
        setTimeout(() => sock.destroy(), 3000);
        sock.write(Buffer.from(s, 'latin1'));
      }),
    );
  }
  await Promise.all(sends);
  const probe = await new Promise<number>((resolve) => execFile('ffprobe', ['-v', 'error', srv.mmsh(`/vod/${FIXTURES.av20}`)], { timeout: 30_000 }, (err) => resolve(err ? 1 : 0)));
  t.is(probe, 0);
  t.is(srv.child.exitCode, null);
});

test.serial('idle and slowloris connections are closed while a player keeps streaming', async (t) => {
  const play = rawRequest(srv.port, `/vod/${FIXTURES.av20}`, { pragmas: ['xPlayStrm=1'], until: (f) => f.filter((x) => x.type === 'D').length >= 40, timeoutMs: 30_000 });
  const idle = new Promise<boolean>((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1');
    s.on('close', () => resolve(true));
    s.on('error', () => undefined);
    setTimeout(() => resolve(false), 20_000);
  });
  const slow = new Promise<boolean>((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1');
    s.on('error', () => undefined);
    s.write('GET /vod/x.wmv HTTP/1.0\r\n');
    const iv = setInterval(() => !s.destroyed && s.write('Pragma: a=1\r\n'), 200);
    s.on('close', () => {
      clearInterval(iv);
      resolve(true);
    });
    setTimeout(() => resolve(false), 20_000);
  });
  t.true(await idle);
  t.true(await slow);
  const res = await play;
  t.true(res.frames.filter((f) => f.type === 'D').length >= 40);
});
