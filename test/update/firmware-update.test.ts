/**
 * The firmware-update job end to end, in process: the real app (logs, HTTP, media server, device agent) against a
 * real mosquitto, a real HTTP download server on loopback, real files, the file A/B installer. "Rebooting" is
 * stopping the app and building it again on the same data directory (the installer's state file is the bootloader).
 */
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import path from 'node:path';
import test from '../helpers/test.js';
import { buildApp, type App } from '../../src/app/build.js';
import { validateConfig } from '../../src/config/index.js';
import { setLogLevel } from '../../src/core/log.js';
import { FleetClient } from '../../src/fleet/client.js';
import { FileAbInstaller } from '../../src/update/installer.js';
import { signUpdate } from '../../src/update/manifest.js';
import { detectBoard } from '../../board/detect.js';
import { brokerForTest, uniqueDeviceId } from '../helpers/device.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';

const execFileAsync = promisify(execFile);
const BOARD = detectBoard().id;
setLogLevel('error');
const SIZE = 3 * 1024 * 1024 + 17;

interface BundleServer {
  url: string;
  requests: Array<{ range: string | undefined }>;
  bytesSent: number;
  /** stop sending after this many bytes of the file: 'cut' closes the connection, 'hold' keeps it open */
  limit: { at: number; how: 'cut' | 'hold' } | null;
  close(): Promise<void>;
}

async function bundleServer(t: { teardown(fn: () => Promise<void>): void }, body: Buffer): Promise<BundleServer> {
  const held = new Set<http.ServerResponse>();
  const state: BundleServer = { url: '', requests: [], bytesSent: 0, limit: null, close: async () => undefined };
  const server = http.createServer((req, res) => {
    state.requests.push({ range: req.headers.range });
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    if (start >= body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    res.writeHead(m ? 206 : 200, { 'content-length': body.length - start, ...(m ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
    res.flushHeaders();
    let pos = start;
    const pump = () => {
      while (pos < body.length) {
        const lim = state.limit;
        if (lim && pos >= lim.at) {
          if (lim.how === 'cut') res.destroy();
          else held.add(res);
          return;
        }
        const end = Math.min(body.length, pos + 64 * 1024, lim ? Math.max(lim.at, pos) : body.length);
        const chunk = body.subarray(pos, end);
        pos = end;
        state.bytesSent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  state.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/bundle.raucb`;
  state.close = async () => {
    for (const r of held) r.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  t.teardown(state.close);
  return state;
}

interface World {
  brokerUrl: string;
  app: App | null;
  dataDir: string;
  deviceId: string;
  fleet: FleetClient;
  statuses: Array<{ status: string; reason: string; progress: number }>;
  key: KeyObject;
  bundle: Buffer;
  server: BundleServer;
  config: ReturnType<typeof validateConfig>;
  start(): Promise<void>;
  stop(): Promise<void>;
  installer(): Promise<Awaited<ReturnType<FileAbInstaller['inspect']>>>;
}

async function world(t: { teardown(fn: () => Promise<void>): void }, update: Record<string, unknown> = {}): Promise<World> {
  const { broker, tmp } = await brokerForTest(t);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyFile = path.join(tmp.dir, 'update-key.pem');
  await writeFile(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  const media = path.join(tmp.dir, 'media');
  await mkdir(media, { recursive: true });
  await copyFile(await fixture(FIXTURES.av20), path.join(media, FIXTURES.av20));
  const bundle = randomBytes(SIZE);
  const server = await bundleServer(t, bundle);
  const deviceId = uniqueDeviceId();
  const config = validateConfig({
    dataDir: path.join(tmp.dir, 'data'),
    logLevel: 'error',
    http: { host: '127.0.0.1', port: 0 },
    rtsp: { host: '127.0.0.1', port: 0 },
    mmsp: { host: '127.0.0.1', port: 0 },
    server: { publishingPoints: [{ name: 'vod', type: 'ondemand', path: media }] },
    mqtt: { url: broker.url, deviceId, reconnectMinMs: 100, reconnectMaxMs: 1000, keepaliveSec: 5, stateIntervalMs: 500, telemetryIntervalMs: 60000 },
    update: { installer: 'file', publicKeyFile: keyFile, healthTimeoutMs: 20000, minFreeBytes: 0, ...update },
  });
  const fleet = await FleetClient.connect({ url: broker.url });
  const statuses: World['statuses'] = [];
  const w: World = {
    brokerUrl: broker.url,
    app: null,
    dataDir: config.dataDir,
    deviceId,
    fleet,
    statuses,
    key: privateKey,
    bundle,
    server,
    config,
    async start() {
      w.app = buildApp(config);
      await w.app.runner.start();
    },
    async stop() {
      await w.app?.runner.stop();
      w.app = null;
    },
    installer: () => new FileAbInstaller(path.join(config.dataDir, 'slots'), '0.1.0').inspect(),
  };
  fleet.onMessage((m) => {
    if (!m.topic.startsWith(`mss/v1/${deviceId}/jobs/`) || !m.topic.endsWith('/status') || m.payload.length === 0) return;
    const r = JSON.parse(m.payload.toString()) as { status: string; reason: string; progress: number };
    const last = statuses.at(-1);
    if (!last || last.status !== r.status || last.reason !== r.reason || last.progress !== r.progress) statuses.push(r);
  });
  await fleet.subscribe(`mss/v1/${deviceId}/jobs/+/status`);
  t.teardown(async () => {
    if (process.env.MSS_TEST_DEBUG) console.error(deviceId, JSON.stringify(statuses, null, 1));
    await w.stop();
    await fleet.close();
  });
  await w.start();
  return w;
}

function jobDoc(w: World, over: Record<string, unknown> = {}, signed: Record<string, unknown> = {}): Record<string, unknown> {
  const fields = { version: '0.2.0', sha256: createHash('sha256').update(w.bundle).digest('hex'), size: w.bundle.length, boards: [BOARD], ...signed };
  return { type: 'firmware-update', url: w.server.url, ...fields, signature: signUpdate(fields as never, w.key), ...over };
}

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const reached = (w: World, status: string) => () => w.statuses.find((s) => s.status === status);
const sequence = (w: World) => [...new Set(w.statuses.map((s) => s.status))];

async function nothingInstalled(t: import('ava').ExecutionContext, w: World): Promise<void> {
  const s = await w.installer();
  t.like(s, { primary: 'A', booted: 'A', tryNext: null, versions: { A: '0.1.0' } });
  t.is(s.versions.B, undefined);
  const slots: string[] = await readdir(path.join(w.dataDir, 'slots')).catch(() => []);
  t.false(slots.includes('B'), 'slot B was never written');
  const downloads: string[] = await readdir(path.join(w.dataDir, 'updates')).catch(() => []);
  t.deepEqual(downloads, [], 'no download left behind');
}

test('a signed bundle goes queued → downloading → installing → rebooting → verifying → successful into slot B', async (t) => {
  const w = await world(t);
  await w.fleet.publishJob(w.deviceId, 'up1', jobDoc(w));
  await until('rebooting', reached(w, 'rebooting'));
  await w.stop(); // the reboot
  await w.start();
  await until('successful', reached(w, 'successful'));
  t.deepEqual(sequence(w), ['queued', 'downloading', 'installing', 'rebooting', 'verifying', 'successful']);
  t.like(await w.installer(), { primary: 'B', booted: 'B', tryNext: null, versions: { A: '0.1.0', B: '0.2.0' }, bad: [] });
  t.true((await readFile(path.join(w.dataDir, 'slots/B/rootfs.img'))).equals(w.bundle));
  t.deepEqual(await readdir(path.join(w.dataDir, 'updates')), []);
  const shown = await w.fleet.show(w.deviceId);
  t.is((shown.info as { slot: string }).slot, 'B');
  // the fleet-wide view: version, board, slot and the last update per device
  t.like((await w.fleet.list()).find((d) => d.deviceId === w.deviceId), { state: 'online', board: BOARD, slot: 'B', lastUpdate: { job: 'up1', status: 'successful' } });
  const cli = await execFileAsync(process.execPath, ['--import', 'tsx', path.resolve('src/cli/main.ts'), 'fleet', '--broker', w.brokerUrl, 'list']);
  t.regex(cli.stdout, /^DEVICE\s+STATUS\s+SINCE\s+VERSION\s+BOARD\s+SLOT\s+LAST UPDATE$/m);
  t.regex(cli.stdout, new RegExp(`^${w.deviceId}\\s+online\\s+\\d+[smhd] ago\\s+0\\.1\\.0\\s+${BOARD}\\s+B\\s+successful \\d+[smhd] ago \\(up1\\)$`, 'm'));
});

test('unsigned, badly signed, wrong-board and downgrade jobs are rejected before anything is downloaded', async (t) => {
  const w = await world(t);
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['unsigned', jobDoc(w, { signature: undefined }), /not signed/],
    ['forged', jobDoc(w, { size: w.bundle.length - 1 }), /bad signature/],
    ['other-key', { ...jobDoc(w), signature: signUpdate({ version: '0.2.0', sha256: createHash('sha256').update(w.bundle).digest('hex'), size: w.bundle.length, boards: [BOARD] }, generateKeyPairSync('ed25519').privateKey) }, /bad signature/],
    ['board', jobDoc(w, {}, { boards: ['rk3588'] }), /wrong board: the bundle is for rk3588/],
    ['downgrade', jobDoc(w, {}, { version: '0.0.9' }), /not newer than the running 0\.1\.0/],
  ];
  for (const [id, doc, reason] of cases) {
    const answer = w.fleet.waitFor(`mss/v1/${w.deviceId}/jobs/${id}/status`, (v) => (v as { status?: string })?.status === 'rejected', 20_000);
    await w.fleet.publishJob(w.deviceId, id, doc);
    const r = (await answer) as { reason: string };
    t.regex(r.reason, reason, id);
  }
  t.is(w.server.requests.length, 0, 'nothing was downloaded');
  await nothingInstalled(t, w);
});

test('a truncated download resumes with a Range request, then fails after its attempts with nothing installed', async (t) => {
  const w = await world(t);
  w.server.limit = { at: Math.floor(SIZE * 0.6), how: 'cut' };
  await w.fleet.publishJob(w.deviceId, 'trunc', jobDoc(w, { maxAttempts: 2 }));
  const failed = await until('failed', reached(w, 'failed'));
  t.regex(failed.reason, /broke off at byte|ended at \d+ of/, JSON.stringify(w.statuses));
  t.is(w.server.requests.length, 2);
  const resumedAt = Number(/^bytes=(\d+)-$/.exec(w.server.requests[1]!.range ?? '')?.[1]);
  t.true(resumedAt > 0 && resumedAt <= Math.floor(SIZE * 0.6), `the second attempt continued where the file ended (${w.server.requests[1]!.range})`);
  t.false(sequence(w).includes('installing'));
  await nothingInstalled(t, w);
});

test('a failing health check after the boot fails the job, marks the slot bad and boots back into slot A', async (t) => {
  const w = await world(t, { healthUrl: 'http://127.0.0.1:1/nothing-listens-here', healthTimeoutMs: 2000 });
  await w.fleet.publishJob(w.deviceId, 'bad-boot', jobDoc(w));
  await until('rebooting', reached(w, 'rebooting'));
  await w.stop();
  await w.start();
  const failed = await until('failed', reached(w, 'failed'));
  t.regex(failed.reason, /health check failed on slot B: loopback player: .*nothing-listens-here.*slot marked bad/);
  t.deepEqual(sequence(w), ['queued', 'downloading', 'installing', 'rebooting', 'verifying', 'failed']);
  t.like(await w.installer(), { primary: 'A', booted: 'B', bad: ['B'] });
  await until('the rollback reboot request', () => w.app && true);
  await new Promise((r) => setTimeout(r, 2500)); // the job asks for the rollback reboot 2 s after reporting
  await w.stop();
  await w.start();
  t.like(await w.installer(), { primary: 'A', booted: 'A', bad: ['B'] });
  t.is((w.statuses.at(-1) ?? { status: '' }).status, 'failed', 'the job stays failed after the rollback');
});

test('a job survives an agent restart mid-download and resumes from the bytes on disk', async (t) => {
  const w = await world(t);
  const half = Math.floor(SIZE / 2);
  w.server.limit = { at: half, how: 'hold' };
  await w.fleet.publishJob(w.deviceId, 'resume', jobDoc(w));
  await until('half the bundle sent', () => w.server.bytesSent >= half);
  await until('downloading progress', () => w.statuses.find((s) => s.status === 'downloading' && s.progress > 0.1));
  await w.stop(); // the agent stops mid-download
  w.server.limit = null;
  await w.start();
  await until('rebooting', reached(w, 'rebooting'));
  await w.stop();
  await w.start();
  await until('successful', reached(w, 'successful'));
  t.is(w.server.requests.length, 2);
  const resumedAt = Number(/^bytes=(\d+)-$/.exec(w.server.requests[1]!.range ?? '')?.[1]);
  t.true(resumedAt > 0 && resumedAt <= half, `resumed at ${resumedAt}`);
  t.true(w.server.bytesSent < SIZE + half, 'the first half was not downloaded again');
  t.true((await readFile(path.join(w.dataDir, 'slots/B/rootfs.img'))).equals(w.bundle));
});
