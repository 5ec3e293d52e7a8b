import test from '../helpers/test.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AppContext } from '../../src/app/context.js';
import { validateConfig, type HooksConfig } from '../../src/config/index.js';
import type { AppModule } from '../../src/core/module.js';
import { HooksModule } from '../../src/hooks/module.js';
import { eventEnv, HookRunner } from '../../src/hooks/runner.js';
import { memoryLogger } from '../helpers/memory-log.js';

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-hooks-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** a hook that records each event (stdin JSON) and two of its environment variables, one line each */
function recorder(file: string, events = ['*']): HooksConfig['commands'][number] {
  return { events, command: '/bin/sh', args: ['-c', `line=$(cat); printf '%s\\t%s\\t%s\\n' "$MSS_EVENT" "$MSS_EVENT_POINT" "$line" >> '${file}'`], timeoutMs: 0 };
}

const config = (commands: HooksConfig['commands'], extra: Partial<HooksConfig> = {}): HooksConfig => ({ maxConcurrent: 4, maxQueued: 256, timeoutMs: 10_000, commands, ...extra });

test('a hook gets the event as JSON on stdin and as MSS_EVENT_* variables', async (t) => {
  const file = path.join(await tempDir(t), 'events.tsv');
  const runner = new HookRunner(config([recorder(file)]), memoryLogger());
  runner.dispatch({ type: 'point-started', at: new Date().toISOString(), point: 'live', source: 'file' });
  runner.dispatch({ type: 'player-joined', at: new Date().toISOString(), point: 'vod', remote: '127.0.0.1', userAgent: 'NSPlayer/9' });
  await runner.idle();
  const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => l.split('\t'));
  const byType = new Map(lines.map(([type, point, json]) => [type, { point, event: JSON.parse(json!) as Record<string, unknown> }]));
  t.is(byType.get('point-started')?.point, 'live');
  t.like(byType.get('player-joined')?.event, { type: 'player-joined', point: 'vod', userAgent: 'NSPlayer/9' });
  t.is(runner.counters.ran, 2);
  t.is(runner.counters.failed, 0);
});

test('event variables: camelCase fields become MSS_EVENT_UPPER_SNAKE, objects are left to the JSON', (t) => {
  t.deepEqual(eventEnv({ type: 'player-left', at: 'x', userAgent: 'a', bytesSent: 10, who: { a: 1 }, clientId: undefined }), {
    MSS_EVENT: 'player-left',
    MSS_EVENT_TYPE: 'player-left',
    MSS_EVENT_AT: 'x',
    MSS_EVENT_USER_AGENT: 'a',
    MSS_EVENT_BYTES_SENT: '10',
  });
});

test('only hooks that name the event run', async (t) => {
  const file = path.join(await tempDir(t), 'events.tsv');
  const runner = new HookRunner(config([recorder(file, ['player-left'])]), memoryLogger());
  runner.dispatch({ type: 'player-joined', at: '' });
  runner.dispatch({ type: 'player-left', at: '', point: 'p' });
  await runner.idle();
  t.deepEqual((await readFile(file, 'utf8')).trim().split('\n').map((l) => l.split('\t')[0]), ['player-left']);
});

test('a hook past its deadline is killed and the failure logged with its output', async (t) => {
  const log = memoryLogger();
  const runner = new HookRunner(config([{ events: ['*'], command: '/bin/sh', args: ['-c', 'echo started >&2; sleep 30'], timeoutMs: 300 }]), log);
  const t0 = Date.now();
  runner.dispatch({ type: 'point-stopped', at: '' });
  await runner.idle();
  t.true(Date.now() - t0 < 10_000);
  t.is(runner.counters.timedOut, 1);
  const failed = log.records.find((r) => r.event === 'hook.failed');
  t.truthy(failed);
  t.true(failed!.fields.timedOut as boolean);
  t.is(failed!.fields.stderr, 'started');
});

test('a missing program or a non-zero exit is a logged failure, never an exception', async (t) => {
  const log = memoryLogger();
  const runner = new HookRunner(config([{ events: ['*'], command: '/nonexistent/hook', args: [], timeoutMs: 0 }, { events: ['*'], command: '/bin/sh', args: ['-c', 'exit 3'], timeoutMs: 0 }]), log);
  t.notThrows(() => runner.dispatch({ type: 'x', at: '' }));
  await runner.idle();
  const failures = log.records.filter((r) => r.event === 'hook.failed');
  t.is(failures.length, 2);
  t.truthy(failures.find((f) => f.fields.error));
  t.truthy(failures.find((f) => f.fields.code === 3));
});

test('at most maxConcurrent hooks run at once; past maxQueued events are dropped, counted and logged once', async (t) => {
  const log = memoryLogger();
  const runner = new HookRunner(config([{ events: ['*'], command: '/bin/sh', args: ['-c', 'sleep 0.3'], timeoutMs: 0 }], { maxConcurrent: 2, maxQueued: 3 }), log);
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) runner.dispatch({ type: 'player-joined', at: '', i });
  t.true(performance.now() - t0 < 50, 'dispatch returns at once');
  let maxRunning = 0;
  const sampler = setInterval(() => (maxRunning = Math.max(maxRunning, runner.runningCount)), 10);
  await runner.idle();
  clearInterval(sampler);
  t.is(runner.counters.dropped, 7);
  t.is(runner.counters.ran, 3);
  t.true(maxRunning <= 2 && maxRunning >= 1);
  t.is(log.records.filter((r) => r.event === 'hook.dropped').length, 1);
});

test('the hooks module turns an encoder capture-lost into source-lost and passes update-finished through', async (t) => {
  const file = path.join(await tempDir(t), 'events.tsv');
  const cfg = validateConfig({ hooks: { commands: [recorder(file, ['source-lost', 'update-finished'])] } });
  let emit: (type: string, data: Record<string, unknown>) => void = () => undefined;
  const fake: AppModule & { onEvent(cb: typeof emit): () => void } = {
    name: 'encoder',
    start: async () => undefined,
    stop: async () => undefined,
    health: () => ({ ok: true, state: 'running' }),
    onEvent(cb) {
      emit = cb;
      return () => undefined;
    },
  };
  const modules = new Map<string, AppModule>([['encoder', fake]]);
  const ctx = { config: cfg, log: memoryLogger(), http: { addRoute() {}, removeRoute() {} }, hooks: {}, modules } as unknown as AppContext;
  const hooks = new HooksModule(ctx);
  await hooks.start();
  t.teardown(() => hooks.stop());
  emit('capture-lost', { device: '/dev/video0', message: 'capture device /dev/video0 is gone' });
  emit('update-finished', { version: '0.2.0', slot: 'b' });
  emit('encoder-restart', {});
  await hooks.runner.idle();
  const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => l.split('\t'));
  t.deepEqual(lines.map((l) => l[0]).sort(), ['source-lost', 'update-finished']);
  const lost = JSON.parse(lines.find((l) => l[0] === 'source-lost')![2]!) as Record<string, unknown>;
  t.like(lost, { module: 'encoder', cause: 'capture-lost', device: '/dev/video0' });
});
