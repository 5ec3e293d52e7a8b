import test from '../helpers/test.js';
import { Backoff } from '../../src/device/backoff.js';
import { BurstDetector } from '../../src/device/burst-detector.js';
import { CommandTable } from '../../src/device/commands.js';
import { changedSections } from '../../src/device/config-sync.js';
import { deviceIdFromSerial, resolveDeviceId } from '../../src/device/identity.js';
import { DeviceKv } from '../../src/device/kv.js';
import { StateCoalescer } from '../../src/device/state-coalescer.js';
import { deviceMigrations } from '../../src/device/store.js';
import { classifyDownTopic, decodeJsonObject, deviceTopics, parseCommandRequest, parseDesiredDoc } from '../../src/device/topics.js';
import { validateConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/core/log.js';
import { MssError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/db.js';

test('backoff: full jitter within an exponentially growing ceiling capped at the maximum, reset on success', (t) => {
  const seq = [0.999, 0.999, 0.999, 0.999, 0.999, 0.5];
  let i = 0;
  const b = new Backoff(1000, 5000, () => seq[i++]);
  t.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [999, 1998, 3996, 4995, 4995]);
  b.reset();
  t.is(b.next(), 500);
  const r = new Backoff(1000, 300_000);
  for (let k = 0; k < 100; k++) {
    const d = r.next();
    t.true(d >= 0 && d <= 300_000);
  }
});

test('device id: configured, else a usable board serial, else generated once and kept', async (t) => {
  t.is(deviceIdFromSerial('  ABC123:45\n\0'), 'abc123-45');
  t.is(deviceIdFromSerial('0000000000000000'), undefined);
  t.is(deviceIdFromSerial('To Be Filled By O.E.M.'), undefined);
  t.is(deviceIdFromSerial(''), undefined);
  const kv = new DeviceKv(openStore(':memory:', deviceMigrations));
  t.deepEqual(await resolveDeviceId('cfg-id', kv, async () => 'serial'), { id: 'cfg-id', source: 'config' });
  t.deepEqual(await resolveDeviceId('', kv, async () => 'serial-1'), { id: 'serial-1', source: 'serial' });
  const a = await resolveDeviceId('', kv, async () => undefined);
  const b = await resolveDeviceId('', kv, async () => undefined);
  t.regex(a.id, /^mss-[0-9a-f]{12}$/);
  t.deepEqual(a, b);
});

test('topics: down topics are classified, device ids are checked', (t) => {
  const topics = deviceTopics('box-1');
  t.deepEqual(classifyDownTopic(topics, 'mss/v1/box-1/cmd/status'), { kind: 'cmd', name: 'status' });
  t.deepEqual(classifyDownTopic(topics, 'mss/v1/box-1/jobs/j1'), { kind: 'job', jobId: 'j1' });
  t.deepEqual(classifyDownTopic(topics, 'mss/v1/box-1/config/desired'), { kind: 'config-desired' });
  t.deepEqual(classifyDownTopic(topics, 'mss/v1/$broadcast/rebirth'), { kind: 'broadcast', name: 'rebirth' });
  t.is(classifyDownTopic(topics, 'mss/v1/box-1/cmd/status/res'), undefined);
  t.is(classifyDownTopic(topics, 'mss/v1/box-2/cmd/status'), undefined);
  t.throws(() => deviceTopics('Box_1'), { code: 'invalid-argument' } as never);
});

test('payload decoding: bounded, JSON objects only, precise errors', (t) => {
  t.deepEqual(decodeJsonObject(Buffer.from('{"a":1}'), 'x'), { a: 1 });
  t.throws(() => decodeJsonObject(Buffer.from('{'), 'cmd/x'), { code: 'malformed', message: /cmd\/x: payload is not JSON/ } as never);
  t.throws(() => decodeJsonObject(Buffer.from('"str"'), 'x'), { code: 'malformed' } as never);
  t.throws(() => decodeJsonObject(Buffer.alloc(300 * 1024, 32), 'x'), { code: 'too-large' } as never);
  t.deepEqual(parseCommandRequest({ id: 'a', args: { k: 1 }, expiresAt: '2030-01-01T00:00:00Z', replyTo: 'r/1' }), { id: 'a', args: { k: 1 }, expiresAt: Date.parse('2030-01-01T00:00:00Z'), replyTo: 'r/1' });
  t.throws(() => parseCommandRequest({ args: [1] }), { code: 'invalid-argument' } as never);
  t.throws(() => parseCommandRequest({ replyTo: 'a/#' }), { code: 'invalid-argument' } as never);
  t.throws(() => parseCommandRequest({ expiresAt: 'soon' }), { code: 'invalid-argument' } as never);
  t.throws(() => parseDesiredDoc({ version: 1.5, config: {} }), { code: 'invalid-argument' } as never);
  t.throws(() => parseDesiredDoc({ version: 1 }), { code: 'invalid-argument' } as never);
  // a seeded fuzz: random bytes never crash the decoder, they throw MssError or decode
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let n = 0; n < 2000; n++) {
    const buf = Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)));
    try {
      const doc = decodeJsonObject(buf, 'fuzz');
      parseCommandRequest(doc);
    } catch (err) {
      t.true(err instanceof MssError);
    }
  }
});

test('command table: module commands join the core set; duplicates and bad names are refused; errors become replies', async (t) => {
  const table = new CommandTable(createLogger('test'));
  table.add('agent', { name: 'status', description: '', run: async () => 'core' });
  table.add('media', { name: 'status', description: '', run: async () => 'dup' });
  table.add('media', { name: 'Bad Name', description: '', run: async () => 1 });
  table.add('media', { name: 'boom', description: '', run: async () => { throw new Error('kaput'); } });
  t.deepEqual(table.list().map((c) => `${c.owner}:${c.name}`), ['media:boom', 'agent:status']);
  t.deepEqual(await table.run('status', { id: '1', args: {} }), { id: '1', status: 'ok', data: 'core', error: null });
  const boom = await table.run('boom', { id: '2', args: {} });
  t.is(boom.status, 'error');
  t.is(boom.error?.code, 'internal');
  t.is((await table.run('status', { id: '3', args: {}, expiresAt: 1000 }, 2000)).error?.code, 'expired');
  t.is((await table.run('nope', { id: '4', args: {} })).error?.code, 'not-found');
});

test('state coalescer: sends on change, at most once per interval, always the latest value', async (t) => {
  const sent: string[] = [];
  let online = true;
  const c = new StateCoalescer(200, (m, json) => (online ? (sent.push(`${m}=${json}`), true) : false));
  c.update('media', { n: 1 });
  c.update('media', { n: 1 });
  c.update('media', { n: 2 });
  c.update('media', { n: 3 });
  t.deepEqual(sent, ['media={"n":1}']);
  await new Promise((r) => setTimeout(r, 300));
  t.deepEqual(sent, ['media={"n":1}', 'media={"n":3}']);
  online = false;
  c.update('media', { n: 4 });
  await new Promise((r) => setTimeout(r, 300));
  online = true;
  c.republishAll();
  t.deepEqual(sent.at(-1), 'media={"n":4}');
  c.stop();
});

test('config diff names changed sections', (t) => {
  const a = validateConfig({});
  const b = validateConfig({ logLevel: 'warn', server: { maxPlayers: 7 } });
  t.deepEqual(changedSections(a, b), ['logLevel', 'server']);
  t.deepEqual(changedSections(a, validateConfig({})), []);
});

test('player bursts: a rise of the threshold within the window is one event, then quiet for a window', (t) => {
  const d = new BurstDetector(50, 10_000);
  t.is(d.sample('media', 10, 0), undefined);
  t.is(d.sample('media', 40, 2000), undefined);
  t.deepEqual(d.sample('media', 61, 4000), { module: 'media', from: 10, to: 61, windowSec: 10 });
  t.is(d.sample('media', 200, 6000), undefined, 'quiet after an event');
  t.is(d.sample('media', 200, 30_000), undefined, 'no rise');
  t.is(d.sample('media', 120, 32_000), undefined, 'a fall is no burst');
  t.is(new BurstDetector(0, 10_000).sample('media', 1e6, 0), undefined, 'off');
  // slow growth never triggers
  const slow = new BurstDetector(50, 10_000);
  for (let s = 0; s < 100; s++) t.is(slow.sample('media', s * 4, s * 2000), undefined);
});
