import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from '../helpers/test.js';
import type { AppModule } from '../../src/core/module.js';
import { MssError } from '../../src/core/errors.js';
import { downloadResumable } from '../../src/update/download.js';
import { activeSessions, inMaintenanceWindow } from '../../src/update/lock.js';
import { defaultLoopbackUrl } from '../../src/update/health.js';
import { compareVersions, signUpdate, validateUpdateDoc, verifyUpdateSignature } from '../../src/update/manifest.js';
import { preflight } from '../../src/update/preflight.js';

const mod = (name: string, detail: Record<string, unknown>, telemetry: Record<string, unknown> = {}): AppModule => ({
  name,
  async start() {},
  async stop() {},
  health: () => ({ ok: true, state: 'running', detail }),
  telemetry: () => telemetry,
});

test('versions compare numerically, a pre-release before its release', (t) => {
  t.is(compareVersions('0.10.0', '0.9.9'), 1);
  t.is(compareVersions('1.0.0', '1.0.0'), 0);
  t.is(compareVersions('1.0.0-rc.1', '1.0.0'), -1);
  t.is(compareVersions('1.0.0', '1.0.0-rc.1'), 1);
  t.is(compareVersions('2.0.0-a', '2.0.0-b'), -1);
});

test('the maintenance window is local HH:MM-HH:MM and may wrap past midnight', (t) => {
  const at = (h: number, m: number) => new Date(2026, 0, 1, h, m);
  t.true(inMaintenanceWindow('02:00-04:00', at(3, 0)));
  t.false(inMaintenanceWindow('02:00-04:00', at(4, 0)));
  t.true(inMaintenanceWindow('23:30-01:00', at(0, 15)));
  t.false(inMaintenanceWindow('23:30-01:00', at(12, 0)));
  t.false(inMaintenanceWindow('', at(3, 0)));
});

test('the update lock sees players, sessions and a running encoder', (t) => {
  t.is(activeSessions([mod('media', { players: 0, sessions: 0 }), mod('encoder', {}, { running: false })]), '');
  t.is(activeSessions([mod('media', { players: 2, sessions: 2 }), mod('encoder', {}, { running: true })]), 'media: 2 players, media: 2 sessions, encoder: running');
});

test('job documents: every field is checked by name; the signature covers version, sha256, size and boards', (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const fields = { version: '1.2.3', sha256: 'a'.repeat(64), size: 1000, boards: ['rpi4'] };
  const doc = { ...fields, url: 'http://127.0.0.1/b.raucb', signature: signUpdate(fields, privateKey) };
  const p = validateUpdateDoc(doc, 1 << 20);
  t.notThrows(() => verifyUpdateSignature(p, publicKey));
  for (const [change, message] of [
    [{ version: 'one' }, /version must be/],
    [{ url: 'ftp://x' }, /url must be/],
    [{ sha256: 'A'.repeat(64) }, /sha256 must be/],
    [{ size: 2 << 20 }, /above update.maxBundleBytes/],
    [{ boards: [] }, /boards must list/],
    [{ signature: '' }, /not signed/],
    [{ signature: 'abc' }, /base64 Ed25519/],
    [{ force: 'yes' }, /force must be/],
  ] as const) {
    t.throws(() => validateUpdateDoc({ ...doc, ...change }, 1 << 20), { instanceOf: MssError, message }, JSON.stringify(change));
  }
  for (const tamper of [{ version: '1.2.4' }, { boards: ['rpi4', 'rpi5'] }, { size: 1001 }]) {
    t.throws(() => verifyUpdateSignature({ ...p, ...tamper }, publicKey), { message: /bad signature/ });
  }
});

test('preflight refuses a bundle that does not fit on the data partition', (t) => {
  const p = { version: '9.0.0', url: 'http://x/', sha256: 'a'.repeat(64), size: 1000, boards: ['rpi4'], signature: '', force: false };
  t.throws(() => preflight(p, { board: 'rpi4', runningVersion: '1.0.0', downloadDir: tmpdir(), minFreeBytes: Number.MAX_SAFE_INTEGER }), { message: /not enough space/ });
  t.notThrows(() => preflight(p, { board: 'rpi4', runningVersion: '1.0.0', downloadDir: tmpdir(), minFreeBytes: 0 }));
  t.notThrows(() => preflight({ ...p, version: '0.1.0', force: true }, { board: 'rpi4', runningVersion: '1.0.0', downloadDir: tmpdir(), minFreeBytes: 0 }));
});

test('a server that sends more than the declared size is cut off for good', async (t) => {
  const body = randomBytes(300_000);
  const server = http.createServer((_req, res) => res.end(body));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-dl-'));
  t.teardown(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/b`;
  const file = path.join(dir, 'b.part');
  const err = await t.throwsAsync(downloadResumable({ url, file, size: 100_000, signal: new AbortController().signal }), { instanceOf: MssError });
  t.true(err!.detail.final === true, err!.message);
  // a complete file is not downloaded again
  await writeFile(file, body);
  t.deepEqual(await downloadResumable({ url, file, size: body.length, signal: new AbortController().signal }), { resumedFrom: body.length, bytes: body.length });
  t.true((await readFile(file)).equals(body));
});

test('the health check plays a point that needs no encoder: an on-demand file first, a pushed point last', (t) => {
  const http: AppModule = { ...mod('http', {}), address: () => ({ port: 8123 }) } as AppModule;
  const cfg = (points: Array<Record<string, unknown>>, healthUrl = '') => ({ update: { healthUrl }, server: { publishingPoints: points as never } });
  const files = (dir: string) => (dir === '/media' ? ['notes.txt', 'a b.wmv'] : []);
  t.is(defaultLoopbackUrl(cfg([{ name: 'live', type: 'broadcast', source: { type: 'push' } }, { name: 'vod', type: 'ondemand', path: '/media' }]), [http], files), 'http://127.0.0.1:8123/vod/a%20b.wmv');
  t.is(defaultLoopbackUrl(cfg([{ name: 'push', type: 'broadcast', source: { type: 'push' } }, { name: 'loop', type: 'broadcast', source: { type: 'file' } }, { name: 'empty', type: 'ondemand', path: '/none' }]), [http], files), 'http://127.0.0.1:8123/loop');
  t.is(defaultLoopbackUrl(cfg([{ name: 'push', type: 'broadcast', source: { type: 'push' } }]), [http], files), 'http://127.0.0.1:8123/push');
  t.is(defaultLoopbackUrl(cfg([], 'http://127.0.0.1/x'), [http], files), 'http://127.0.0.1/x');
  t.is(defaultLoopbackUrl(cfg([{ name: 'vod', type: 'ondemand', path: '/media' }]), [], files), '', 'no listener, nothing to play');
});
