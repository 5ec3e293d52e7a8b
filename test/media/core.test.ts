import test from '../helpers/test.js';
import path from 'node:path';
import { setLogLevel } from '../../src/core/log.js';
import { openAsfFile } from '../../src/asf/index.js';
import { validateConfig } from '../../src/config/index.js';
import { isMssError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import { MediaCore } from '../../src/media/core.js';
import type { PacketFramer, PlayerSink } from '../../src/contracts/media.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';


setLogLevel('warn');

class MemorySink implements PlayerSink {
  writes: Buffer[] = [];
  closed = false;
  private closers: Array<() => void> = [];
  write(buf: Buffer): void {
    this.writes.push(buf);
  }
  get queuedBytes(): number {
    return 0;
  }
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.closers.forEach((c) => c());
  }
  destroy(): void {
    this.end();
  }
  onClose(cb: () => void): void {
    this.closers.push(cb);
  }
  kinds(): string {
    return this.writes.map((b) => b.toString('latin1', 0, 1)).join('');
  }
}

const framer: PacketFramer = {
  name: 'test',
  header: () => [Buffer.from('H')],
  data: (p) => Buffer.concat([Buffer.from('D'), p.subarray(0, 4)]),
  streamChange: () => Buffer.from('C'),
  end: () => Buffer.from('E'),
};

function serverConfig(points: unknown[], extra: Record<string, unknown> = {}) {
  return validateConfig({ server: { publishingPoints: points, ...extra } }).server;
}

async function media() {
  const file = await openAsfFile(await fixture(FIXTURES.av20));
  const packets = await file.readPackets(0, 50);
  const header = file.layout.headerBytes;
  await file.close();
  return { packets, header };
}

test('push ingest: players of a push point get the header and packets; one pusher at a time; end closes players', async (t) => {
  const { packets, header } = await media();
  const core = new MediaCore(serverConfig([{ name: 'cam', type: 'broadcast', source: { type: 'push' } }], { liveBatchMs: 0 }), createLogger('test'));
  await core.start();
  t.teardown(() => core.stop());
  const ingest = core.openLiveIngest('cam', { remote: '10.0.0.5' });
  const again = t.throws(() => core.openLiveIngest('cam', { remote: '10.0.0.6' }));
  t.true(isMssError(again) && again.code === 'conflict');
  const missing = t.throws(() => core.openLiveIngest('nope', { remote: 'x' }));
  t.true(isMssError(missing) && missing.code === 'not-found');
  ingest.setHeader(header);
  const target = await core.resolve('/cam');
  t.is(target.kind, 'broadcast');
  t.true(target.live);
  const sink = new MemorySink();
  await target.play({}, framer, sink, { protocol: 'test', remote: '127.0.0.1' });
  for (const p of packets) ingest.pushPacket(p);
  t.regex(sink.kinds(), /^HD+$/);
  ingest.setHeader(header);
  ingest.pushPacket(packets[0]);
  t.regex(sink.kinds(), /^HD+CHD$/);
  ingest.end();
  t.true(ingest.closed);
  t.regex(sink.kinds(), /E$/);
  t.true(sink.closed);
  // the point takes the next pusher
  const next = core.openLiveIngest('cam', { remote: '10.0.0.7' });
  next.setHeader(header);
  t.false(next.closed);
  next.end();
});

test('push ingest from a template creates a point and removes it when the push ends (autoDestroy)', async (t) => {
  const { header } = await media();
  const core = new MediaCore(serverConfig([{ name: 'tpl', type: 'broadcast', source: { type: 'push' }, maxPlayers: 3 }]), createLogger('test'));
  await core.start();
  t.teardown(() => core.stop());
  const ingest = core.openLiveIngest('event1', { remote: 'enc', template: 'tpl', autoDestroy: true });
  ingest.setHeader(header);
  t.is(core.point('event1')?.config.maxPlayers, 3);
  ingest.end();
  t.is(core.point('event1'), undefined);
});

test('admission: the server player limit and per-point limits refuse with limit-reached, and free on end', async (t) => {
  const dir = path.dirname(await fixture(FIXTURES.av20));
  const core = new MediaCore(serverConfig([{ name: 'vod', type: 'ondemand', path: dir }], { maxPlayers: 1 }), createLogger('test'));
  await core.start();
  t.teardown(() => core.stop());
  const target = await core.resolve(`/vod/${FIXTURES.av20}`);
  const first = new MemorySink();
  const handle = await target.play({}, framer, first, { protocol: 'test', remote: 'a' });
  const err = await t.throwsAsync(target.play({}, framer, new MemorySink(), { protocol: 'test', remote: 'b' }));
  t.true(isMssError(err) && err.code === 'limit-reached');
  handle.stop();
  await handle.ended;
  const again = await target.play({}, framer, new MemorySink(), { protocol: 'test', remote: 'c' });
  again.stop();
  t.is(core.playerCount, 0);
});

test('reconfigure adds, changes and removes publishing points live', async (t) => {
  const dir = path.dirname(await fixture(FIXTURES.av20));
  const log = createLogger('test');
  const core = new MediaCore(serverConfig([{ name: 'vod', type: 'ondemand', path: dir }]), log);
  await core.start();
  t.teardown(() => core.stop());
  t.is(await core.reconfigure(serverConfig([{ name: 'vod', type: 'ondemand', path: dir }])), 'unchanged');
  t.is(await core.reconfigure(serverConfig([{ name: 'vod', type: 'ondemand', path: dir }, { name: 'more', type: 'ondemand', path: dir }])), 'applied');
  t.truthy(await core.resolve(`/more/${FIXTURES.av20}`));
  t.is(await core.reconfigure(serverConfig([{ name: 'more', type: 'ondemand', path: dir, maxPlayers: 2 }])), 'applied');
  await t.throwsAsync(core.resolve(`/vod/${FIXTURES.av20}`), { message: /no publishing point "vod"/ });
  t.is(core.point('more')?.config.maxPlayers, 2);
  const tel = core.telemetry() as { points: Record<string, unknown> };
  t.deepEqual(Object.keys(tel.points), ['more']);
});

test('a broadcast with an archive writes what it broadcast to a playable ASF file', async (t) => {
  const { mkdtemp, rm, stat } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { execFile } = await import('node:child_process');
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-archive-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const archive = path.join(dir, 'live.asf');
  const core = new MediaCore(
    serverConfig([{ name: 'live', type: 'broadcast', source: { type: 'file', path: await fixture(FIXTURES.av20), loop: true }, archive }]),
    createLogger('test'),
  );
  await core.start();
  await new Promise((r) => setTimeout(r, 2500));
  await core.stop();
  t.true((await stat(archive)).size > 10_000);
  const probe = await new Promise<string>((resolve) =>
    execFile('ffprobe', ['-v', 'error', '-count_packets', '-show_entries', 'stream=codec_name,nb_read_packets', '-of', 'csv=p=0', archive], (err, out, errOut) => resolve(err ? `error ${errOut}` : String(out))),
  );
  t.regex(probe, /wmv2,\d+/);
  t.regex(probe, /wmav2,\d+/);
});

test('reconfigure builds every new point before touching a running one: a point that cannot be built changes nothing', async (t) => {
  const dir = path.dirname(await fixture(FIXTURES.av20));
  const core = new MediaCore(serverConfig([{ name: 'a', type: 'ondemand', path: dir }, { name: 'b', type: 'broadcast', source: { type: 'push' } }]), createLogger('test'));
  await core.start();
  t.teardown(() => core.stop());
  const a = core.point('a');
  const b = core.point('b');
  // not through validateConfig: a list entry the schema would have refused, to make building the point fail
  const next = serverConfig([{ name: 'a', type: 'ondemand', path: dir, maxPlayers: 3 }, { name: 'c', type: 'broadcast', source: { type: 'push' } }]);
  (next.publishingPoints[1]!.access as { allow: string[] }).allow = ['10.0.0.0/33'];
  await t.throwsAsync(() => core.reconfigure(next), { message: /access list/ });
  t.is(core.point('a'), a, 'the changed point was not replaced');
  t.is(core.point('b'), b, 'the point the new config drops is still there');
  t.deepEqual(core.pointNames().sort(), ['a', 'b']);
  t.is((await core.resolve('/a/' + FIXTURES.av20)).kind, 'ondemand', 'and it still serves');
});

test('a corrupt packet in an on-demand file ends that session with an error and frees its slot, file and sink', async (t) => {
  const { mkdtemp, copyFile, open, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { parseDataPacket } = await import('../../src/asf/index.js');
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-corrupt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'broken.wmv');
  await copyFile(await fixture(FIXTURES.av20), file);
  const asf = await openAsfFile(file);
  const { firstPacketOffset, packetSize } = asf.layout;
  await asf.close();
  // packet 5 gets an error-correction flags byte no packet may have
  const fh = await open(file, 'r+');
  await fh.write(Buffer.from([0xe0]), 0, 1, firstPacketOffset + 5 * packetSize);
  await fh.close();
  const check = await openAsfFile(file);
  const broken = (await check.readPackets(5, 1))[0]!;
  await check.close();
  t.throws(() => parseDataPacket(broken, packetSize), undefined, 'the packet really is unreadable');

  const core = new MediaCore(serverConfig([{ name: 'vod', type: 'ondemand', path: dir }]), createLogger('test'));
  await core.start();
  t.teardown(() => core.stop());
  const target = await core.resolve('/vod/broken.wmv');
  const sink = new MemorySink();
  const handle = await target.play({}, framer, sink, { protocol: 'test', remote: '127.0.0.1' });
  const keepAlive = setInterval(() => undefined, 1000); // the scheduler's timer does not hold the process open
  t.teardown(() => clearInterval(keepAlive));
  const stats = await handle.ended;
  t.is(stats.endReason, 'error', sink.kinds());
  t.true(sink.closed);
  t.regex(sink.kinds(), /^HD{5}E$/);
  t.is(core.playerCount, 0);
  t.is(core.players().length, 0);
  // the scheduler still paces other sessions
  const ok = await core.resolve(`/vod/broken.wmv`);
  const again = await ok.play({ startPacket: 6, maxDurationMs: 100 }, framer, new MemorySink(), { protocol: 'test', remote: '127.0.0.1' });
  t.is((await again.ended).endReason, 'finished');
});

test('a live point counts the bytes its players are being sent while they play, and lists them', async (t) => {
  const { packets, header } = await media();
  const core = new MediaCore(serverConfig([{ name: 'cam', type: 'broadcast', source: { type: 'push' } }], { liveBatchMs: 0 }), createLogger('test'));
  await core.start();
  t.teardown(() => core.stop());
  const ingest = core.openLiveIngest('cam', { remote: 'enc' });
  ingest.setHeader(header);
  const target = await core.resolve('/cam');
  const handle = await target.play({}, framer, new MemorySink(), { protocol: 'wmsp', remote: '10.1.2.3', userAgent: 'NSPlayer/9' });
  for (const p of packets) ingest.pushPacket(p);
  const stats = core.point('cam')!.stats();
  t.true(stats.bytesSent > 0, 'live bytes counted while the player is on');
  t.is(stats.bytesSent, handle.stats.bytesSent);
  const [slot] = core.players();
  t.like(slot, { point: 'cam', role: 'player', who: { protocol: 'wmsp', remote: '10.1.2.3', userAgent: 'NSPlayer/9' } });
  t.true(core.disconnect(slot!.id));
  await handle.ended;
  t.is(core.point('cam')!.stats().bytesSent, handle.stats.bytesSent, 'kept after it left');
  t.is(core.players().length, 0);
  ingest.end();
});
