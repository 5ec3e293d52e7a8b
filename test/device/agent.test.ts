import test from '../helpers/test.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DeviceAgent } from '../../src/device/agent.js';
import { loadPersistedConfig, PERSISTED_CONFIG_FILE } from '../../src/device/config-sync.js';
import { FleetClient } from '../../src/fleet/client.js';
import { validateConfig } from '../../src/config/index.js';
import { agentConfig, FakeServerModule, brokerForTest } from '../helpers/device.js';

async function setup(t: import('ava').ExecutionContext, opts: { protocolVersion?: 4 | 5; deviceId?: string } = {}) {
  const { broker, tmp } = await brokerForTest(t);
  const config = agentConfig({ url: broker.url, dataDir: tmp.dir, protocolVersion: opts.protocolVersion, deviceId: opts.deviceId });
  const server = new FakeServerModule(config);
  const modules: Array<import('../../src/core/module.js').AppModule> = [server];
  const agent = new DeviceAgent({ config, modules: () => modules });
  modules.push(agent);
  await agent.start();
  t.teardown(() => agent.stop());
  const fleet = await FleetClient.connect({ url: broker.url, protocolVersion: opts.protocolVersion });
  t.teardown(() => fleet.close());
  await waitUntil(async () => (await fleet.list()).some((d) => d.deviceId === agent.id && d.state === 'online'), 10_000);
  return { broker, tmp, config, server, agent, fleet, modules, id: agent.id };
}

/** a config round trip under a loaded machine (a dozen agents, brokers and fsyncs at once) may take a while */
const SLOW = { timeoutMs: 60_000 };

async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('publishes retained status, info, state and config/reported on connect, and offline on clean stop', async (t) => {
  const { agent, fleet, id } = await setup(t);
  await waitUntil(async () => {
    const s = await fleet.show(id);
    return (s.state as Record<string, unknown>).server !== undefined;
  }, 10_000);
  const shown = await fleet.show(id);
  t.is((shown.status as { state: string }).state, 'online');
  const info = shown.info as { capabilities: { commands: string[]; modules: string[] }; configSchemaVersion: number };
  t.true(info.capabilities.commands.includes('echo'));
  t.true(info.capabilities.commands.includes('set-log-level'));
  t.deepEqual(info.capabilities.modules, ['server']);
  t.is(info.configSchemaVersion, 1);
  t.is(((shown.state as Record<string, { state: string }>).server).state, 'running');
  t.is(((shown.config as { reported: { status: string } }).reported).status, 'applied');
  await agent.stop();
  const list = await fleet.list();
  t.deepEqual(list.map((d) => [d.deviceId, d.state]), [[id, 'offline']]);
});

for (const protocolVersion of [5, 4] as const) {
  test(`command round trip over MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}, with error replies for unknown, bad and expired commands`, async (t) => {
    const { fleet, id } = await setup(t, { protocolVersion });
    const echo = await fleet.command(id, 'echo', { hello: 'world' });
    t.is(echo.status, 'ok');
    t.deepEqual(echo.data, { echoed: { hello: 'world' } });
    const status = await fleet.command(id, 'status');
    t.is(status.status, 'ok');
    t.is((status.data as { modules: Record<string, { state: string }> }).modules.server.state, 'running');

    const unknown = await fleet.command(id, 'no-such-command');
    t.is(unknown.status, 'error');
    t.is(unknown.error?.code, 'not-found');
    const bad = await fleet.command(id, 'set-log-level', { level: 'loud' });
    t.is(bad.error?.code, 'invalid-argument');
    const failing = await fleet.command(id, 'echo', { fail: true });
    t.is(failing.error?.code, 'invalid-argument');
    const expired = await fleet.command(id, 'echo', {}, { expiresInMs: -1000 });
    t.is(expired.error?.code, 'expired');
    const reboot = await fleet.command(id, 'reboot');
    t.is(reboot.error?.code, 'forbidden');
  });
}

test('oversized and non-JSON command payloads are answered with an error, and the agent keeps working', async (t) => {
  const { fleet, id } = await setup(t);
  const notJson = await fleet.command(id, 'echo', {}, { payload: Buffer.from('this is { not json') });
  t.is(notJson.status, 'error');
  t.is(notJson.error?.code, 'malformed');
  const big = await fleet.command(id, 'echo', {}, { payload: Buffer.from(JSON.stringify({ id: 'x', args: { blob: 'a'.repeat(300 * 1024) } })) });
  t.is(big.error?.code, 'too-large');
  const array = await fleet.command(id, 'echo', {}, { payload: Buffer.from('[1,2]') });
  t.is(array.error?.code, 'malformed');
  const ok = await fleet.command(id, 'echo', { still: 'alive' });
  t.is(ok.status, 'ok');
});

test('3.1.1: a non-JSON command still gets an error on cmd/<name>/res', async (t) => {
  const { fleet, id } = await setup(t, { protocolVersion: 4 });
  const res = fleet.waitFor(`mss/v1/${id}/cmd/echo/res`, () => true, 10_000);
  await fleet.subscribe(`mss/v1/${id}/cmd/echo/res`);
  await fleet.client.publishAsync(`mss/v1/${id}/cmd/echo`, 'garbage', { qos: 1 });
  const reply = (await res) as { id: null; status: string; error: { code: string } };
  t.is(reply.status, 'error');
  t.is(reply.error.code, 'malformed');
  t.is(reply.id, null);
});

test('a desired config is validated, applied live, persisted, then reported; an invalid one changes nothing and lists every error', async (t) => {
  const { fleet, server, tmp, config, id } = await setup(t);
  const desired = structuredClone(config) as unknown as Record<string, any>;
  desired.server.publishingPoints.push({ name: 'news', type: 'broadcast', source: { type: 'push' } });
  desired.logLevel = 'warn';
  const report = await fleet.setDesiredConfig(id, desired, SLOW);
  t.is(report.status, 'applied', JSON.stringify(report.errors));
  t.deepEqual(report.errors, []);
  t.deepEqual(server.points, ['vod', 'news']);
  t.true(existsSync(path.join(tmp.dir, PERSISTED_CONFIG_FILE)));
  const persisted = loadPersistedConfig(tmp.dir, {});
  t.is(persisted?.version, report.version as number);
  t.deepEqual(persisted?.config.server.publishingPoints.map((p) => p.name), ['vod', 'news']);

  const before = server.reconfigures;
  const bad = structuredClone(desired);
  bad.server.publishingPoints.push({ name: 'bad name!', type: 'broadcast', source: { type: 'pull', url: 'ftp://x' } });
  bad.http = { port: 'eighty' };
  bad.logLevel = 'chatty';
  const rejected = await fleet.setDesiredConfig(id, bad, SLOW);
  t.is(rejected.status, 'rejected');
  const paths = (rejected.errors as Array<{ path: string }>).map((e) => e.path).sort();
  t.deepEqual(paths, ['http.port', 'logLevel', 'server.publishingPoints[2].name', 'server.publishingPoints[2].source.url']);
  t.is(server.reconfigures, before, 'no module was asked to change');
  t.deepEqual(server.points, ['vod', 'news']);
  t.is(rejected.appliedVersion, report.version);
  t.deepEqual(loadPersistedConfig(tmp.dir, {})?.version, report.version as number);

  // a desired document that is not JSON is rejected too
  const notJson = fleet.waitFor(`mss/v1/${id}/config/reported`, (v) => (v as { status?: string })?.status === 'rejected' && (v as { version?: number }).version === -1, 10_000);
  await fleet.subscribe(`mss/v1/${id}/config/reported`);
  await fleet.client.publishAsync(`mss/v1/${id}/config/desired`, '{"version": 9, "config": ', { qos: 1, retain: true });
  const r = (await notJson) as { errors: Array<{ message: string }> };
  t.regex(r.errors[0].message, /not JSON/);
  t.deepEqual(server.points, ['vod', 'news']);
});

test('a change the agent cannot take live (the broker settings) reports pending-restart', async (t) => {
  const { fleet, config, id } = await setup(t);
  const desired = structuredClone(config) as unknown as Record<string, any>;
  desired.mqtt.keepaliveSec = 60;
  const report = await fleet.setDesiredConfig(id, desired, SLOW);
  t.is(report.status, 'pending-restart');
  t.deepEqual(report.changed, ['mqtt']);
  const moved = await fleet.setDesiredConfig(id, { ...desired, dataDir: '/elsewhere' }, SLOW);
  t.is(moved.status, 'rejected');
  t.deepEqual((moved.errors as Array<{ path: string }>).map((e) => e.path), ['dataDir']);
  const cutOff = await fleet.setDesiredConfig(id, { ...desired, mqtt: { ...desired.mqtt, url: '' } }, SLOW);
  t.deepEqual((cutOff.errors as Array<{ path: string }>).map((e) => e.path), ['mqtt.url']);
  // a document without mqtt and dataDir keeps the device's own
  const { mqtt: _m, dataDir: _d, ...portable } = desired;
  const kept = await fleet.setDesiredConfig(id, portable, SLOW);
  t.is(kept.status, 'pending-restart', JSON.stringify(kept.errors));
});

test('settings that make the device run a program are local only: refused over MQTT with the reason, kept when left out, and the local value wins at the next boot', async (t) => {
  const { fleet, config, id, server, tmp } = await setup(t);
  const desired = structuredClone(config) as unknown as Record<string, any>;
  const before = server.reconfigures;
  const evil = structuredClone(desired);
  evil.mqtt.rebootCommand = 'touch /tmp/mss-pwned';
  evil.encoder.ffmpegPath = '/tmp/not-ffmpeg';
  evil.server.publishingPoints.push({ name: 'news', type: 'broadcast', source: { type: 'push' } });
  const refused = await fleet.setDesiredConfig(id, evil, SLOW);
  t.is(refused.status, 'rejected');
  const errors = refused.errors as Array<{ path: string; message: string }>;
  t.deepEqual(errors.map((e) => e.path).sort(), ['encoder.ffmpegPath', 'mqtt.rebootCommand']);
  t.regex(errors[0]!.message, /only in the device's own config/);
  t.is(server.reconfigures, before, 'nothing was applied');
  t.deepEqual(server.points, ['vod']);
  const reboot = await fleet.command(id, 'reboot');
  t.is(reboot.error?.code, 'forbidden', 'the reboot command still has no command to run');

  // the running values sent back (config/reported shows them) or left out are fine
  const same = structuredClone(desired);
  same.server.publishingPoints.push({ name: 'news', type: 'broadcast', source: { type: 'push' } });
  t.is((await fleet.setDesiredConfig(id, same, SLOW)).status, 'applied');
  delete same.encoder.ffmpegPath;
  delete same.mqtt.rebootCommand;
  same.logLevel = 'warn';
  const leftOut = await fleet.setDesiredConfig(id, same, SLOW);
  t.is(leftOut.status, 'applied', JSON.stringify(leftOut.errors));

  // at the next boot the persisted desired config is used, but local-only settings come from the local config
  const local = validateConfig({ ...structuredClone(desired), mqtt: { ...desired.mqtt, rebootCommand: '/sbin/reboot' } });
  const boot = loadPersistedConfig(tmp.dir, {}, local);
  t.is(boot?.config.mqtt.rebootCommand, '/sbin/reboot');
  t.deepEqual(boot?.config.server.publishingPoints.map((p) => p.name), ['vod', 'news']);
});

test('a module that fails half way through applying a config is rolled back too, with the modules before it', async (t) => {
  const { broker, tmp } = await brokerForTest(t);
  const config = agentConfig({ url: broker.url, dataDir: tmp.dir });
  const server = new FakeServerModule(config);
  /** applies server.maxPlayers, then fails when it is 4242 (after changing its state: a half-applied config) */
  const half = {
    name: 'half',
    maxPlayers: config.server.maxPlayers,
    async start() {},
    async stop() {},
    health: () => ({ ok: true, state: 'running' }),
    async reconfigure(next: typeof config) {
      this.maxPlayers = next.server.maxPlayers;
      if (next.server.maxPlayers === 4242) throw new Error('cannot take 4242 players');
      return 'applied' as const;
    },
  };
  const modules: Array<import('../../src/core/module.js').AppModule> = [server, half];
  const agent = new DeviceAgent({ config, modules: () => modules });
  modules.push(agent);
  await agent.start();
  t.teardown(() => agent.stop());
  const fleet = await FleetClient.connect({ url: broker.url });
  t.teardown(() => fleet.close());
  const desired = structuredClone(config) as unknown as Record<string, any>;
  desired.server.maxPlayers = 4242;
  desired.server.publishingPoints.push({ name: 'news', type: 'broadcast', source: { type: 'push' } });
  const report = await fleet.setDesiredConfig(agent.id, desired, SLOW);
  t.is(report.status, 'rejected');
  t.regex(JSON.stringify(report.errors), /half could not apply it: cannot take 4242 players/);
  t.is(half.maxPlayers, config.server.maxPlayers, 'the failing module got the previous config back');
  t.deepEqual(server.points, ['vod'], 'so did the module before it');
});

test('rebirth and a broker that lost its retained messages: the agent republishes status, info, state and config/reported', async (t) => {
  const { broker, tmp } = await brokerForTest(t, { persistence: false });
  const config = agentConfig({ url: broker.url, dataDir: tmp.dir });
  const server = new FakeServerModule(config);
  const agent: DeviceAgent = new DeviceAgent({ config, modules: () => [server, agent] });
  await agent.start();
  t.teardown(() => agent.stop());
  await waitUntil(() => agent.connected, 10_000);
  const id = agent.id;
  await broker.restart();
  const fleet = await FleetClient.connect({ url: broker.url });
  t.teardown(() => fleet.close());
  await waitUntil(async () => {
    const s = await fleet.show(id);
    return s.status !== null && s.info !== null && s.config !== null && (s.state as Record<string, unknown>).server !== undefined && (s.config as { reported: unknown }).reported !== null;
  }, 20_000);
  t.pass();
});

test('telemetry (system and per module) while online, state/storage and state/network, and module health changes as events', async (t) => {
  const { fleet, server, id } = await setup(t);
  await fleet.subscribe([`mss/v1/${id}/telemetry/+`, `mss/v1/${id}/events/+`]);
  const system = (await fleet.waitFor(`mss/v1/${id}/telemetry/system`, () => true, 15_000)) as Record<string, any>;
  t.is(typeof system.process.rss, 'number');
  t.truthy(system.memory, 'memory from systeminformation');
  const moduleTelemetry = (await fleet.waitFor(`mss/v1/${id}/telemetry/server`, () => true, 15_000)) as Record<string, unknown>;
  t.is(moduleTelemetry.points, 1);
  const event = fleet.waitFor(`mss/v1/${id}/events/module-health`, (v) => (v as { data?: { module?: string } })?.data?.module === 'server', 15_000);
  server.healthy = false;
  const burst = fleet.waitFor(`mss/v1/${id}/events/player-burst`, () => true, 15_000);
  server.players = 80;
  t.like(((await burst) as { data: Record<string, unknown> }).data, { module: 'server', from: 0, to: 80 });
  const e = (await event) as { seq: number; data: { ok: boolean; state: string; was: string } };
  t.deepEqual(e.data, { module: 'server', ok: false, state: 'degraded', was: 'running' });
  t.true(e.seq > 0);
  const shown = await fleet.show(id);
  const state = shown.state as Record<string, { state: string }>;
  t.truthy(state.storage, 'state/storage');
  t.truthy(state.network, 'state/network');
});

test('rebirth: a device republishes info when the operator asks on $broadcast/rebirth; restart-module restarts a module', async (t) => {
  const { fleet, server, id } = await setup(t);
  await fleet.client.publishAsync(`mss/v1/${id}/info`, '', { qos: 1, retain: true });
  t.is((await fleet.show(id)).info, null);
  await fleet.broadcast('rebirth');
  await waitUntil(async () => (await fleet.show(id)).info !== null, 10_000);
  const r = await fleet.command(id, 'restart-module', { module: 'server' });
  t.is(r.status, 'ok');
  t.is(server.stops, 1);
  t.is(server.starts, 1);
  t.is((await fleet.command(id, 'restart-module', { module: 'nope' })).error?.code, 'not-found');
  t.is((await fleet.command(id, 'restart-module', { module: 'server', extra: 1 })).error?.code, 'invalid-argument');
});

test('seeded garbage on every down topic never crashes the agent; it still answers and its config is unchanged', async (t) => {
  const { fleet, server, id } = await setup(t);
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const topics = [`mss/v1/${id}/cmd/status`, `mss/v1/${id}/cmd/echo`, `mss/v1/${id}/cmd/x`, `mss/v1/${id}/config/desired`, `mss/v1/${id}/jobs/fz`, 'mss/v1/$broadcast/rebirth', 'mss/v1/$broadcast/check-jobs'];
  const samples = ['{}', '{"version":1}', '{"version":1,"config":[]}', '{"id":5,"args":"x"}', '{"type":"log-upload"}', 'null', '[]', '"x"', '{"args":{"level":1}}'];
  for (let i = 0; i < 300; i++) {
    const topic = topics[Math.floor(rand() * topics.length)];
    const payload = rand() < 0.5 ? Buffer.from(samples[Math.floor(rand() * samples.length)]) : Buffer.from(Array.from({ length: Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)));
    await fleet.client.publishAsync(topic, payload, { qos: rand() < 0.5 ? 0 : 1 });
  }
  const status = await fleet.command(id, 'status', {}, { timeoutMs: 30_000 });
  t.is(status.status, 'ok');
  t.deepEqual(server.points, ['vod']);
  t.is(server.reconfigures, 0, 'no garbage document reached a module');
  await fleet.client.publishAsync(`mss/v1/${id}/config/desired`, '', { qos: 1, retain: true });
});
