/**
 * The device agent inside `mss serve` (a real process) against a real mosquitto: last will on SIGKILL, offline on a
 * clean stop, a desired config that adds a publishing point ffprobe can then play, an invalid one that changes
 * nothing, the persisted config used at the next boot, and the `mss fleet` CLI.
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FleetClient } from '../../src/fleet/client.js';
import { uniqueDeviceId, brokerForTest } from '../helpers/device.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import type { Mosquitto } from '../helpers/mosquitto.js';
import { startServe, type RunningServe } from '../helpers/serve.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(root, 'src/cli/main.ts');

function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: opts.timeoutMs ?? 60_000, env: { ...process.env, ...opts.env }, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const fleetCli = (broker: Mosquitto, args: string[]) => run(process.execPath, ['--import', 'tsx', MAIN, 'fleet', '--broker', broker.url, ...args]);

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function deviceState(fleet: FleetClient, id: string): Promise<string | undefined> {
  return (await fleet.list()).find((d) => d.deviceId === id)?.state;
}

async function serveWithAgent(broker: Mosquitto, id: string, dataDir: string, extra: Record<string, unknown> = {}): Promise<RunningServe> {
  return startServe({
    config: {
      dataDir,
      mqtt: { url: broker.url, deviceId: id, reconnectMinMs: 100, reconnectMaxMs: 2000, stateIntervalMs: 1000, telemetryIntervalMs: 2000 },
      ...extra,
    },
  });
}

test('status is lost after SIGKILL, online again after a restart, offline after a clean stop', async (t) => {
  const { broker, tmp } = await brokerForTest(t);
  const fleet = await FleetClient.connect({ url: broker.url });
  t.teardown(() => fleet.close());
  const id = uniqueDeviceId();
  const first = await serveWithAgent(broker, id, tmp.dir);
  t.teardown(() => first.stop());
  await waitFor('online', async () => ((await deviceState(fleet, id)) === 'online' ? true : undefined));
  first.child.kill('SIGKILL');
  t.is(await waitFor('lost', async () => ((await deviceState(fleet, id)) === 'lost' ? 'lost' : undefined)), 'lost');
  await first.stop();

  const second = await serveWithAgent(broker, id, tmp.dir);
  t.teardown(() => second.stop());
  await waitFor('online again', async () => ((await deviceState(fleet, id)) === 'online' ? true : undefined));
  const shown = await fleet.show(id);
  t.truthy(shown.info, 'the restarted agent republished info');
  t.truthy((shown.state as Record<string, unknown>).media, 'and the media server state');
  t.truthy((shown.config as { reported: unknown }).reported, 'and config/reported');
  t.is(await second.stop(), 0);
  t.is(await deviceState(fleet, id), 'offline');
});

test('a desired config adds a publishing point that ffprobe plays; an invalid one changes nothing; the next boot keeps it', async (t) => {
  const av20 = await fixture(FIXTURES.av20);
  const { broker, tmp } = await brokerForTest(t);
  const id = uniqueDeviceId();
  let srv = await serveWithAgent(broker, id, tmp.dir, { server: { publishingPoints: [] } });
  t.teardown(() => srv.stop());
  const fleet = await FleetClient.connect({ url: broker.url });
  t.teardown(() => fleet.close());
  const reported = await waitFor('config/reported', async () => {
    const s = await fleet.show(id);
    return ((s.config as { reported: { config: Record<string, any> } | null }).reported ?? undefined)?.config;
  });
  t.is((await run('ffprobe', ['-v', 'error', '-rw_timeout', '5000000', `mmsh://127.0.0.1:${srv.port}/news`])).code === 0, false, 'no point yet');

  const desired = structuredClone(reported);
  desired.server.publishingPoints = [{ name: 'news', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, start: 'boot' }];
  const report = await fleet.setDesiredConfig(id, desired, { timeoutMs: 30_000 });
  t.is(report.status, 'applied', JSON.stringify(report));
  await fleet.subscribe(`mss/v1/${id}/logs/info`);
  const sessionLine = fleet.waitFor(`mss/v1/${id}/logs/info`, (v) => (v as { entry?: { point?: string } })?.entry?.point === 'news', 30_000);
  const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', `mmsh://127.0.0.1:${srv.port}/news`]);
  t.is(probe.code, 0, probe.stderr);
  t.deepEqual(probe.stdout.trim().split('\n').sort(), ['wmav2', 'wmv2']);
  // the server's session record of that play reaches the operator through the logs module and the outbox
  const line = (await sessionLine) as { seq: number; source: string; entry: { source: string } };
  t.is(line.source, 'logs');
  t.is(line.entry.source, 'server');
  const query = await fleet.command(id, 'log-query', { source: 'server', limit: 10 });
  t.is(query.status, 'ok', JSON.stringify(query.error));
  t.true((query.data as { count: number }).count >= 1);

  // invalid: every error listed, nothing changes, the point still plays
  const bad = structuredClone(desired);
  bad.server.publishingPoints.push({ name: '../etc', type: 'broadcast', source: { type: 'tape' } });
  bad.server.maxPlayers = -1;
  bad.logLevel = 'shout';
  const cli = await fleetCli(broker, ['config', id, 'set', 'server.maxPlayers=-1', 'logLevel=shout', '--json', '--timeout', '30000']);
  t.is(cli.code, 1, cli.stderr);
  const cliReport = JSON.parse(cli.stdout) as { status: string; errors: Array<{ path: string }> };
  t.is(cliReport.status, 'rejected');
  t.deepEqual(cliReport.errors.map((e) => e.path).sort(), ['logLevel', 'server.maxPlayers']);
  const rejected = await fleet.setDesiredConfig(id, bad, { timeoutMs: 30_000 });
  t.is(rejected.status, 'rejected');
  t.deepEqual((rejected.errors as Array<{ path: string }>).map((e) => e.path).sort(), ['logLevel', 'server.maxPlayers', 'server.publishingPoints[1].name', 'server.publishingPoints[1].source.type']);
  t.is(rejected.appliedVersion, report.version);
  const again = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', `mmsh://127.0.0.1:${srv.port}/news`]);
  t.is(again.code, 0, again.stderr);

  // the next boot (same dataDir, same config file without the point) serves the persisted desired config
  await srv.stop();
  srv = await serveWithAgent(broker, id, tmp.dir, { server: { publishingPoints: [] } });
  const afterBoot = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', `mmsh://127.0.0.1:${srv.port}/news`]);
  t.is(afterBoot.code, 0, afterBoot.stderr);
});

test('mss fleet: list, show, cmd (MQTT 5 and 3.1.1 operators, device on 3.1.1), config get, --json', async (t) => {
  const { broker, tmp } = await brokerForTest(t);
  const id = uniqueDeviceId();
  const srv = await serveWithAgent(broker, id, tmp.dir, { mqtt: { url: broker.url, deviceId: id, protocolVersion: 4, reconnectMinMs: 100, reconnectMaxMs: 2000 } });
  t.teardown(() => srv.stop());
  const fleet = await FleetClient.connect({ url: broker.url });
  t.teardown(() => fleet.close());
  await waitFor('online', async () => ((await deviceState(fleet, id)) === 'online' ? true : undefined));

  const list = await fleetCli(broker, ['list', '--json']);
  t.is(list.code, 0, list.stderr);
  t.true((JSON.parse(list.stdout) as Array<{ deviceId: string; state: string }>).some((d) => d.deviceId === id && d.state === 'online'));
  const text = await fleetCli(broker, ['list']);
  t.regex(text.stdout, new RegExp(`${id}\\s+online`));

  for (const v of ['5', '4']) {
    const status = await fleetCli(broker, ['cmd', id, 'status', '--json', '--mqtt-version', v]);
    t.is(status.code, 0, status.stderr);
    const reply = JSON.parse(status.stdout) as { status: string; data: { modules: Record<string, { state: string }> } };
    t.is(reply.status, 'ok');
    t.is(reply.data.modules.media.state, 'running');
  }
  const unknown = await fleetCli(broker, ['cmd', id, 'warp-drive', '--json']);
  t.is(unknown.code, 1);
  t.is((JSON.parse(unknown.stdout) as { error: { code: string } }).error.code, 'not-found');
  const level = await fleetCli(broker, ['cmd', id, 'set-log-level', '{"level":"debug","durationSec":5}']);
  t.is(level.code, 0, level.stderr);

  const show = await fleetCli(broker, ['show', id, '--json']);
  t.is(show.code, 0, show.stderr);
  t.is((JSON.parse(show.stdout) as { status: { state: string } }).status.state, 'online');
  const get = await fleetCli(broker, ['config', id, 'get', '--json']);
  t.is(get.code, 0, get.stderr);
  t.is((JSON.parse(get.stdout) as { reported: { status: string } }).reported.status, 'applied');
  const missing = await fleetCli(broker, ['show', 'no-such-device']);
  t.is(missing.code, 1);
});

test('log lines written while the broker is down reach the operator in order after it returns; fleet watch shows them', async (t) => {
  const { broker, tmp } = await brokerForTest(t, { persistence: true });
  const id = uniqueDeviceId();
  const srv = await serveWithAgent(broker, id, tmp.dir);
  t.teardown(() => srv.stop());
  const fleet = await FleetClient.connect({ url: broker.url });
  t.teardown(() => fleet.close());
  await waitFor('online', async () => ((await deviceState(fleet, id)) === 'online' ? true : undefined));

  // the operator's persistent session: the broker keeps QoS 1 messages for it while it is away
  const { default: mqtt } = await import('mqtt');
  const seen: Array<{ seq: number; path?: string }> = [];
  const op = mqtt.connect(broker.url, { clientId: `op-${id}`, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 }, reconnectPeriod: 200 });
  op.on('error', () => undefined);
  t.teardown(() => void op.end(true));
  op.on('message', (_topic, payload) => {
    const line = JSON.parse(payload.toString()) as { seq: number; event?: string; path?: string; reason?: string };
    if (line.event === 'http.rejected') seen.push({ seq: line.seq, path: line.reason });
  });
  await new Promise((r) => op.once('connect', r));
  await op.subscribeAsync(`mss/v1/${id}/logs/+`, { qos: 1 });

  await broker.pause();
  await waitFor('agent offline', async () => (srv.logs.some((l) => l.event === 'mqtt-offline') ? true : undefined));
  // each malformed request is rejected and logged at warn; the agent keeps the lines in its SQLite outbox
  const net = await import('node:net');
  for (let i = 0; i < 12; i++) {
    await new Promise<void>((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1', () => s.end(`GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: nope-${i}\r\n\r\n`));
      s.on('data', () => undefined);
      s.setTimeout(1000, () => s.destroy());
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    await new Promise((r) => setTimeout(r, 60)); // stay under the forwarding rate limit
  }
  const rejectedLocally = srv.logs.filter((l) => l.event === 'http.rejected').length;
  t.true(rejectedLocally >= 12, `serve logged ${rejectedLocally} rejections`);

  await broker.start();
  await waitFor(`${rejectedLocally} forwarded lines (have ${seen.length})`, async () => (seen.length >= rejectedLocally ? true : undefined), 60_000);
  const seqs = seen.map((s) => s.seq);
  t.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in outbox order');
  t.is(new Set(seqs).size, rejectedLocally, 'none lost');

  const watch = execFile(process.execPath, ['--import', 'tsx', MAIN, 'fleet', '--broker', broker.url, 'watch', id, '--json']);
  let watched = '';
  watch.stdout!.on('data', (d: Buffer) => (watched += d.toString()));
  t.teardown(() => void watch.kill('SIGKILL'));

  await waitFor('fleet watch output', async () => (watched.includes('"retained":') && watched.includes('/status') ? true : undefined), 30_000);
  watch.kill('SIGTERM');
  const lines = watched.trim().split('\n').map((l) => JSON.parse(l) as { topic: string });
  t.true(lines.some((l) => l.topic === `mss/v1/${id}/status`));
});

test('the encoder over MQTT: a desired config starts it into a point ffprobe plays, its events arrive, encoder and camera commands answer', async (t) => {
  const { broker, tmp } = await brokerForTest(t);
  const id = uniqueDeviceId();
  const srv = await serveWithAgent(broker, id, tmp.dir, { server: { publishingPoints: [{ name: 'cam', type: 'broadcast', source: { type: 'push' } }] } });
  t.teardown(() => srv.stop());
  const fleet = await FleetClient.connect({ url: broker.url });
  t.teardown(() => fleet.close());
  const reported = await waitFor('config/reported', async () => ((await fleet.show(id)).config as { reported: { config: Record<string, any> } | null }).reported?.config ?? undefined);
  await fleet.subscribe(`mss/v1/${id}/events/+`);
  const started = fleet.waitFor(`mss/v1/${id}/events/encoder-started`, () => true, 60_000);
  const desired = structuredClone(reported);
  desired.encoder = { ...desired.encoder, enabled: true, source: 'testsrc', point: 'cam' };
  const report = await fleet.setDesiredConfig(id, desired, { timeoutMs: 60_000 });
  t.is(report.status, 'applied', JSON.stringify(report));
  const event = (await started) as { seq: number; data: { module: string } };
  t.is(event.data.module, 'encoder');
  const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', `mmsh://127.0.0.1:${srv.port}/cam`]);
  t.is(probe.code, 0, probe.stderr);
  t.true(probe.stdout.includes('wmv2'), probe.stdout);

  const status = await fleet.command(id, 'encoder-status');
  t.is(status.status, 'ok', JSON.stringify(status.error));
  const camera = await fleet.command(id, 'camera-zoom', { action: 'tele' });
  t.is(camera.status, 'error', 'no camera configured: an error reply, not a crash');
  const stop = await fleet.command(id, 'encoder-stop', {}, { timeoutMs: 30_000 });
  t.is(stop.status, 'ok', JSON.stringify(stop.error));
  t.is((await fleet.command(id, 'status')).status, 'ok', 'the agent still answers');
});
