/**
 * Protected (DRM) content end to end: a fixture built here carries every kind of DRM header object; `mss serve`
 * must pass it through byte-intact over WMSP (on-demand: header and packets identical to the file; broadcast and
 * its archive: the DRM objects identical), report the points as protected, and `mss probe` must name the objects
 * with their key ids and license URLs. ffprobe (a real player's demuxer) reads the protected stream.
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openAsfFile, parseHeaderObject, type AsfHeader } from '../../src/asf/index.js';
import { assembleHeader } from '../../src/protocols/wmsp/codec.js';
import { PushClient } from '../../src/protocols/wmhttp/client.js';
import { createLogger } from '../../src/core/log.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { DRM_FACTS, makeProtectedFile } from '../helpers/protected.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { FFMPEG_DESCRIBE, ffmpegPlay, rawRequest } from '../protocols/wmsp/raw-client.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, cwd: root }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) || 1 : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** raw bytes of every DRM object of a header, by kind */
function drmObjects(h: AsfHeader): Buffer[] {
  const all = [...h.objects, ...h.objects.flatMap((o) => o.children ?? [])];
  return (h.protection ?? []).map((p) => {
    const o = all.find((x) => x.offset === p.offset);
    if (!o) throw new Error(`no object at ${p.offset}`);
    return o.raw;
  });
}

let srv: RunningServe;
let dir: string;
let file: string;
const NAME = 'protected.wmv';

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mss-drm-'));
  file = path.join(dir, NAME);
  await makeProtectedFile(await fixture(FIXTURES.av20), file);
  srv = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'drm', type: 'ondemand', path: dir },
          { name: 'drmlive', type: 'broadcast', source: { type: 'file', path: file, loop: true }, start: 'boot', archive: path.join(dir, 'archive.asf') },
          { name: 'drmpush', type: 'broadcast', source: { type: 'push' } },
        ],
      },
    },
  });
});

test.after.always(async () => {
  await srv?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('on-demand: the protected header and every packet reach the player byte-identical', async (t) => {
  const asf = await openAsfFile(file);
  t.teardown(() => asf.close());
  t.true((asf.layout.header.protection?.length ?? 0) >= 4);
  const describe = await rawRequest(srv.port, `/drm/${NAME}`, { pragmas: FFMPEG_DESCRIBE, httpVersion: '1.1' });
  t.is(describe.status, 200);
  t.deepEqual(assembleHeader(describe.frames), asf.layout.headerBytes);
  const streams = asf.layout.header.streams.map((s) => s.number);
  const play = await rawRequest(srv.port, `/drm/${NAME}`, { pragmas: [...ffmpegPlay(streams), 'AccelBW=1000000000, AccelDuration=1000000'], httpVersion: '1.1', timeoutMs: 60_000 });
  t.is(play.status, 200);
  t.deepEqual(assembleHeader(play.frames.filter((f) => f.type === 'H')), asf.layout.headerBytes);
  const data = play.frames.filter((f) => f.type === 'D');
  t.is(data.length, asf.layout.packetCount);
  const packets = await asf.readPackets(0, asf.layout.packetCount);
  t.true(data.every((f, i) => f.payload.equals(packets[i]!)), 'every payload equals the file packet');
});

test('broadcast: the live header keeps every DRM object as it is; the status shows both points protected', async (t) => {
  const fileHeader = parseHeaderObject(await readFile(file));
  // an on-demand point knows a file is protected once it described it
  t.is((await rawRequest(srv.port, `/drm/${NAME}`, { pragmas: FFMPEG_DESCRIBE, httpVersion: '1.1' })).status, 200);
  const res = await rawRequest(srv.port, '/drmlive', { pragmas: FFMPEG_DESCRIBE, httpVersion: '1.1' });
  t.is(res.status, 200);
  const live = parseHeaderObject(assembleHeader(res.frames));
  t.true(live.fileProperties.broadcast);
  t.deepEqual(drmObjects(live), drmObjects(fileHeader));
  const status = (await (await fetch(srv.http('/api/status'))).json()) as { points: Array<{ name: string; protected: boolean }> };
  t.true(status.points.find((p) => p.name === 'drm')?.protected, 'the on-demand point served a protected file');
  t.true(status.points.find((p) => p.name === 'drmlive')?.protected);
});

test('pushed by an encoder (MS-WMHTTP): the DRM objects reach players as they are', async (t) => {
  const asf = await openAsfFile(file);
  t.teardown(() => asf.close());
  const client = new PushClient({ url: srv.http('/drmpush'), log: createLogger('test.push') });
  client.setHeader(asf.layout.headerBytes);
  client.start();
  t.teardown(() => client.stop());
  await new Promise<void>((r) => client.once('connected', () => r()));
  const packets = await asf.readPackets(0, 50);
  let i = 0;
  const feeder = setInterval(() => client.pushPacket(packets[i++ % packets.length]!), 20);
  t.teardown(() => clearInterval(feeder));
  let res = await rawRequest(srv.port, '/drmpush', { pragmas: FFMPEG_DESCRIBE, httpVersion: '1.1' });
  for (let n = 0; n < 50 && res.status !== 200; n++) {
    await new Promise((r) => setTimeout(r, 100));
    res = await rawRequest(srv.port, '/drmpush', { pragmas: FFMPEG_DESCRIBE, httpVersion: '1.1' });
  }
  t.is(res.status, 200);
  t.deepEqual(drmObjects(parseHeaderObject(assembleHeader(res.frames))), drmObjects(asf.layout.header));
});

test('ffprobe reads the protected stream over mmsh', async (t) => {
  const r = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', srv.mmsh(`/drm/${NAME}`)]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n').sort(), ['wmav2', 'wmv2']);
});

test('mss probe names the DRM objects with their key ids and license URLs', async (t) => {
  const text = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'probe', file]);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /protected: yes/);
  for (const s of ['Content Encryption', 'Extended Content Encryption', 'Digital Signature', 'PlayReady', DRM_FACTS.v7KeyId, DRM_FACTS.v7LicenseUrl, DRM_FACTS.playReadyLicenseUrl, DRM_FACTS.v10LicenseUrl]) {
    t.true(text.stdout.includes(s), `probe output names ${s}:\n${text.stdout}`);
  }
  const json = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'probe', '--json', file]);
  const report = JSON.parse(json.stdout) as { protection: Array<{ kind: string; keyId?: string; licenseUrl?: string }> };
  t.like(report.protection.find((p) => p.kind === 'playready'), { keyId: DRM_FACTS.playReadyKeyId, licenseUrl: DRM_FACTS.playReadyLicenseUrl });
  t.like(report.protection.find((p) => p.kind === 'content-encryption'), { keyId: DRM_FACTS.v7KeyId, licenseUrl: DRM_FACTS.v7LicenseUrl });
});

test.serial.after('the broadcast archive keeps the DRM objects too', async (t) => {
  await srv.stop();
  const archived = parseHeaderObject(await readFile(path.join(dir, 'archive.asf')));
  const expected = drmObjects(parseHeaderObject(await readFile(file)));
  t.true(expected.length >= 4);
  t.deepEqual(drmObjects(archived), expected);
});
