/**
 * The DRM packager hook in a real `mss serve`: a file uploaded through the API goes through incoming/ and the
 * configured packager (a test program that adds DRM objects), and is published protected and playable; a file
 * the packager refuses is not published, its exit status and output are logged and kept beside it in failed/.
 */
import test from '../helpers/test.js';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe } from '../helpers/serve.js';
import { FFMPEG_DESCRIBE, rawRequest } from '../protocols/wmsp/raw-client.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('uploaded and dropped files are packaged, then published only when the packager succeeded', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-packager-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const src = await fixture(FIXTURES.audio20);
  const srv = await startServe({
    config: {
      server: { publishingPoints: [{ name: 'vod', type: 'ondemand', path: dir }] },
      packager: { command: process.execPath, args: ['--import', import.meta.resolve('tsx'), path.join(root, 'test/helpers/protect-cli.ts'), '{input}', '{output}'], scanIntervalMs: 300, timeoutMs: 60_000 },
    },
  });
  t.teardown(srv.stop);

  const up = await fetch(srv.http('/api/v1/points/vod/files/movie.wma'), { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: await readFile(src) });
  t.is(up.status, 202);
  t.like(await up.json(), { stored: 'incoming/movie.wma', published: false });
  const files = await waitFor(async () => {
    const list = (await (await fetch(srv.http('/api/v1/points/vod/files'))).json()) as Array<{ name: string; protected: boolean }>;
    return list.some((f) => f.name === 'movie.wma') ? list : undefined;
  });
  t.like(files.find((f) => f.name === 'movie.wma'), { protected: true });
  t.false(existsSync(path.join(dir, 'incoming/movie.wma')), 'the input left incoming/');
  t.is((await rawRequest(srv.port, '/vod/movie.wma', { pragmas: FFMPEG_DESCRIBE })).status, 200);
  const published = await srv.waitForLog((l) => l.event === 'packager.published');
  t.like(published, { point: 'vod', file: 'movie.wma', packaged: true, code: 0 });
  t.regex(String(published.stdout), /packaged movie\.wma/);

  await copyFile(src, path.join(dir, 'incoming/bad-one.wma'));
  const failed = await srv.waitForLog((l) => l.event === 'packager.failed', 30_000);
  t.like(failed, { point: 'vod', file: 'bad-one.wma', code: 3, reason: 'exited with 3' });
  t.regex(String(failed.stderr), /no license key for bad-one\.wma/);
  t.false(existsSync(path.join(dir, 'bad-one.wma')), 'not published');
  t.true(existsSync(path.join(dir, 'incoming/failed/bad-one.wma')));
  t.regex(await readFile(path.join(dir, 'incoming/failed/bad-one.wma.log'), 'utf8'), /exit code: 3[\s\S]*no license key/);

  const tooLarge = await fetch(srv.http('/api/v1/points/vod/files/..%2Fescape.wma'), { method: 'PUT', body: 'x' });
  t.is(tooLarge.status, 400);
});
