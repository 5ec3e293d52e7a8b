import test from '../helpers/test.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigService } from '../../src/app/config-service.js';
import { loadPersistedConfig } from '../../src/device/config-sync.js';
import { validateConfig, type MssConfig } from '../../src/config/index.js';
import { MssError } from '../../src/core/errors.js';
import type { AppModule, ReconfigureResult } from '../../src/core/module.js';
import { memoryLogger } from '../helpers/memory-log.js';

function fakeModule(name: string, behave: (next: MssConfig) => ReconfigureResult | Error): AppModule & { seen: number[] } {
  const seen: number[] = [];
  return {
    name,
    seen,
    liveSections: ['server'],
    start: async () => undefined,
    stop: async () => undefined,
    health: () => ({ ok: true, state: 'running' }),
    async reconfigure(next) {
      seen.push(next.server.maxPlayers);
      const r = behave(next);
      if (r instanceof Error) throw r;
      return r;
    },
  };
}

async function setup(t: { teardown(fn: () => unknown): void }, modules: AppModule[]) {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-config-service-'));
  const initial = validateConfig({ dataDir: dir });
  const svc = new ConfigService({ initial, modules: () => modules, log: memoryLogger() });
  t.teardown(async () => {
    svc.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, svc, initial };
}

test('a change is applied, persisted to the boot file and SQLite, and then running', async (t) => {
  const a = fakeModule('a', () => 'applied');
  const { dir, svc } = await setup(t, [a]);
  const r = await svc.update((c) => void (c.server.maxPlayers = 42), { source: 'api' });
  t.like(r, { status: 'applied', changed: ['server'] });
  t.is(svc.running().server.maxPlayers, 42);
  t.is(loadPersistedConfig(dir, {})?.config.server.maxPlayers, 42);
  t.is(JSON.parse(await readFile(path.join(dir, 'config.desired.json'), 'utf8')).source, 'api');
  t.like(svc.history(1)[0], { source: 'api', changed: ['server'] });
});

test('a change that also touches a section no module applies live says it waits for a restart', async (t) => {
  const a = fakeModule('a', () => 'applied');
  const { svc } = await setup(t, [a]);
  const r = await svc.update((c) => {
    c.server.maxPlayers = 43;
    c.http.idleTimeoutMs += 1000; // the HTTP listener is set up once at boot
  }, { source: 'api' });
  t.like(r, { status: 'pending-restart', changed: ['http', 'server'] });
  t.true(svc.pendingRestart);
});

test('a module that cannot apply it: the ones already changed are put back, nothing is persisted', async (t) => {
  const a = fakeModule('a', () => 'applied');
  const b = fakeModule('b', (next) => (next.server.maxPlayers === 7 ? new MssError('conflict', 'port busy', { path: 'server.maxPlayers' }) : 'applied'));
  const { dir, svc, initial } = await setup(t, [a, b]);
  const err = await t.throwsAsync(svc.update((c) => void (c.server.maxPlayers = 7), { source: 'api' }), { instanceOf: MssError });
  t.is(err!.code, 'conflict');
  t.regex(err!.message, /b could not apply it: port busy/);
  t.deepEqual(a.seen, [7, initial.server.maxPlayers], 'a got the old config back');
  t.is(svc.running().server.maxPlayers, initial.server.maxPlayers);
  t.is(loadPersistedConfig(dir, {}), undefined);
});

test("schema errors name every path; a door's own rule refuses too; changes run one at a time in order", async (t) => {
  const order: number[] = [];
  const slow = fakeModule('slow', (next) => {
    order.push(next.server.maxPlayers);
    return 'applied';
  });
  const { svc } = await setup(t, [slow]);
  const bad = await t.throwsAsync(svc.apply({ server: { maxPlayers: -1, bogus: 1 } }, { source: 'api' }), { instanceOf: MssError });
  t.is(bad!.code, 'invalid-config');
  t.deepEqual((bad!.detail.errors as Array<{ path: string }>).map((e) => e.path).sort(), ['server.bogus', 'server.maxPlayers']);
  const refused = await t.throwsAsync(svc.update(() => undefined, { source: 'mqtt', check: () => [{ path: 'mqtt.url', message: 'must name a broker' }] }));
  t.regex(refused!.message, /mqtt\.url: must name a broker/);
  await Promise.all([10, 11, 12].map((n) => svc.update((c) => void (c.server.maxPlayers = n), { source: 'api' })));
  t.deepEqual(order, [10, 11, 12]);
  t.is(svc.running().server.maxPlayers, 12);
});
