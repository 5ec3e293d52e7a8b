/**
 * What a player is told and what the server logs agree: a refused or failed Play is written to the W3C log with the
 * very status the player got; a plain HTTP client (no WMSP Pragma) gets the ASF stream itself and ffprobe reads it.
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { FFMPEG_DESCRIBE, rawRequest } from '../protocols/wmsp/raw-client.js';

const execFileAsync = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let srv: RunningServe;

test.before(async () => {
  const file = await fixture(FIXTURES.av20);
  srv = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'vod', type: 'ondemand', path: path.dirname(file) },
          { name: 'live', type: 'broadcast', source: { type: 'file', path: file, loop: true } },
          { name: 'idle', type: 'broadcast', source: { type: 'push' } },
          { name: 'locked', type: 'ondemand', path: path.dirname(file), auth: { scheme: 'basic', users: [{ name: 'ann', password: 'right' }] } },
        ],
      },
      api: { refusalDelayMs: 300, maxFailuresPerMinute: 3 },
    },
  });
});

test.after.always(async () => {
  await srv?.stop();
});

async function serverEntries(): Promise<Array<{ fields: Record<string, string>; url: string }>> {
  const res = await fetch(srv.http('/api/logs?source=server&limit=1000'));
  return ((await res.json()) as { entries: Array<{ fields: Record<string, string>; url: string }> }).entries;
}

test.serial('a second Play of a streaming session is refused with 409, and the W3C line says 409', async (t) => {
  const d = await rawRequest(srv.port, `/vod/${FIXTURES.av20}`, { pragmas: FFMPEG_DESCRIBE });
  const id = /client-id=(\d+)/.exec(d.head)![1];
  const first = net.connect(srv.port, '127.0.0.1');
  t.teardown(() => first.destroy());
  first.write(`GET /vod/${FIXTURES.av20} HTTP/1.0\r\nUser-Agent: NSPlayer/4.1.0.3856\r\nPragma: xPlayStrm=1\r\nPragma: client-id=${id}\r\n\r\n`);
  await new Promise((r) => first.once('data', r));
  const second = await rawRequest(srv.port, `/vod/${FIXTURES.av20}?again`, { pragmas: ['xPlayStrm=1', `client-id=${id}`], rawBody: true });
  t.is(second.status, 409);
  let line: { fields: Record<string, string> } | undefined;
  for (let i = 0; i < 50 && !line; i++) {
    line = (await serverEntries()).find((e) => e.url.includes('?again'));
    if (!line) await new Promise((r) => setTimeout(r, 100));
  }
  t.is(line?.fields['c-status'], '409');
});

test.serial('ffprobe over plain http:// (no WMSP) reads the ASF stream of a live point and of a file', async (t) => {
  for (const url of [srv.http('/live'), srv.http(`/vod/${FIXTURES.av20}`)]) {
    const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', url], { timeout: 60_000 });
    t.deepEqual(stdout.trim().split('\n').sort(), ['wmav2', 'wmv2'], url);
  }
});

test.serial('a browser (no media user agent) still gets the .asx', async (t) => {
  const res = await rawRequest(srv.port, '/live', { userAgent: 'Mozilla/5.0', rawBody: true });
  t.is(res.status, 200);
  t.regex(res.body.toString(), /<ASX/i);
});

test.serial('the .asx of a point carries the web logging URL, where players post their logs', async (t) => {
  const asx = await (await fetch(srv.http('/live.asx'))).text();
  t.regex(asx, new RegExp(`<LogURL href="http://127\\.0\\.0\\.1:${srv.port}/logs"/>`, 'i'));
  const page = await fetch(srv.http('/logs'));
  t.is(page.status, 200);
});

test.serial('mss play of a point that is not broadcasting says so (the server\'s reason), not "server busy"', async (t) => {
  const run = await execFileAsync(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'play', srv.mmsh('/idle'), '-o', '-', '--no-log', '--quiet'], { cwd: root, timeout: 60_000 }).catch((e: { stderr: string; code: number }) => e);
  const stderr = String((run as { stderr: string }).stderr);
  t.regex(stderr, /not broadcasting/);
  t.notRegex(stderr, /server busy/);
});

test.serial('wrong stream credentials are answered late, and an address that keeps guessing gets 429', async (t) => {
  const target = `/locked/${FIXTURES.av20}`;
  const challenge = await rawRequest(srv.port, target, { pragmas: FFMPEG_DESCRIBE, rawBody: true });
  t.is(challenge.status, 401, 'no credentials: the challenge, at once');
  const wrong = { Authorization: `Basic ${Buffer.from('ann:wrong').toString('base64')}` };
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const started = Date.now();
    const res = await rawRequest(srv.port, target, { pragmas: FFMPEG_DESCRIBE, headers: wrong, rawBody: true });
    statuses.push(res.status);
    if (res.status === 401) t.true(Date.now() - started >= 250, 'a failed attempt waits for its refusal');
  }
  t.deepEqual(statuses, [401, 401, 401, 429]);
  t.false((await rawRequest(srv.port, target, { pragmas: FFMPEG_DESCRIBE, headers: wrong, rawBody: true })).body.toString().includes('ann'));
});
