/**
 * LogsModule in-process with a real SQLite file: entries from the media-server hooks are stored before the
 * hook resolves, emitted to subscribers, exported to the W3C file, survive a restart, and bad input stores nothing.
 */
import test from '../helpers/test.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AppContext } from '../../src/app/context.js';
import { validateConfig } from '../../src/config/index.js';
import { isMssError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import type { HttpRoute } from '../../src/http/route.js';
import { LogsModule } from '../../src/logs/module.js';
import { ACTIVE_FILE } from '../../src/logs/w3c-file.js';
import { buildXmlLog } from '../../src/protocols/wmlog/codec.js';

async function makeModule(t: { teardown(fn: () => Promise<void>): void }, dataDir?: string) {
  const dir = dataDir ?? (await mkdtemp(path.join(tmpdir(), 'mss-logs-')));
  if (!dataDir) t.teardown(() => rm(dir, { recursive: true, force: true }));
  const routes: HttpRoute[] = [];
  const ctx: AppContext = {
    config: validateConfig({ dataDir: dir, logs: { postsPerMinute: 5 } }),
    log: createLogger('test'),
    http: { addRoute: (r) => void routes.push(r), removeRoute: () => undefined },
    api: { protect: (r) => r },
    hooks: {},
    modules: new Map(),
  };
  const mod = new LogsModule(ctx);
  return { mod, ctx, dir, routes };
}

const XML = buildXmlLog(
  { 'c-ip': '0.0.0.0', date: '2024-03-01', time: '10:20:30', 'cs-uri-stem': 'http://h/vod/a.wmv', 'c-status': '200', 'c-bytes': '42', protocol: 'http', transport: 'TCP', 'cs-url': 'http://h/vod/a.wmv' },
  { form: 47 },
);

const report = (over: Record<string, unknown> = {}) => ({
  protocol: 'wmsp' as const,
  remoteAddress: '10.1.2.3',
  url: '/vod/a.wmv',
  point: 'vod',
  userAgent: 'NSPlayer/9.0',
  clientId: 99,
  contentType: 'application/x-wms-LogStats',
  body: Buffer.from(XML),
  receivedAt: Date.now(),
  ...over,
});

test('the module wires the media-server hooks and its routes without I/O in the constructor', async (t) => {
  const { ctx, routes } = await makeModule(t);
  t.is(typeof ctx.hooks.onPlayerLog, 'function');
  t.is(typeof ctx.hooks.onSessionEnd, 'function');
  t.deepEqual(routes.map((r) => r.name).sort(), ['logs.api', 'logs.web']);
  await t.throwsAsync(ctx.hooks.onPlayerLog!(report()), { message: /not open/ });
});

test('player logs and session rows are stored, emitted, exported and kept across a restart', async (t) => {
  const { mod, ctx, dir } = await makeModule(t);
  await mod.start();
  const seen: string[] = [];
  mod.onEntry((e) => seen.push(`${e.source}:${e.kind}`));
  await ctx.hooks.onPlayerLog!(report());
  ctx.hooks.onSessionEnd!({ protocol: 'wmsp', remoteAddress: '10.1.2.3', url: '/vod/a.wmv', point: 'vod', userAgent: 'NSPlayer/9.0 (x)', clientId: 99, start: Date.parse('2024-03-01T10:20:00Z'), durationMs: 20_400, bytesSent: 1234, packetsSent: 10, status: 200 });
  await mod.flush(); // the session row is queued for the next group commit
  t.deepEqual(seen, ['player:streaming', 'server:session']);
  const rows = mod.query({ limit: 10 });
  t.is(rows.length, 2);
  t.is(rows[0]!.fields['c-ip'], '10.1.2.3', 'c-ip is the socket address, not what the player sent');
  t.is(rows[0]!.fields['s-session-id'], '99');
  t.deepEqual([rows[1]!.fields['x-duration'], rows[1]!.fields['sc-bytes'], rows[1]!.fields['cs-User-Agent'], rows[1]!.fields.protocol], ['21', '1234', 'NSPlayer/9.0_(x)', 'http']);
  await mod.stop(); // flushes the W3C export
  const text = await readFile(path.join(dir, 'logs', ACTIVE_FILE), 'utf8');
  t.is(text.split('\r\n').filter((l) => l.startsWith('10.1.2.3 ')).length, 2);

  const again = await makeModule(t, dir);
  await again.mod.start();
  t.is(again.mod.query({ limit: 10 }).length, 2);
  await again.mod.stop();
  const after = await readFile(path.join(dir, 'logs', ACTIVE_FILE), 'utf8');
  t.is(after.split('\r\n').filter((l) => l.startsWith('10.1.2.3 ')).length, 2, 'exported rows are not written twice');
});

test('malformed and oversized logs are refused with codes and store nothing; the rate limit says 429', async (t) => {
  const { mod, ctx } = await makeModule(t);
  await mod.start();
  t.teardown(() => mod.stop());
  const bad = await t.throwsAsync(ctx.hooks.onPlayerLog!(report({ body: Buffer.from('<XML><c-bytes>x</c-bytes></XML>') })));
  t.true(isMssError(bad) && bad.code === 'malformed');
  const big = await t.throwsAsync(ctx.hooks.onPlayerLog!(report({ body: Buffer.alloc(70_000, 0x20) })));
  t.true(isMssError(big) && big.code === 'too-large');
  t.is(mod.query({ limit: 10 }).length, 0);
  for (let i = 0; i < 3; i++) await ctx.hooks.onPlayerLog!(report());
  const limited = await t.throwsAsync(ctx.hooks.onPlayerLog!(report()));
  t.true(isMssError(limited) && limited.code === 'limit-reached' && limited.detail.status === 429);
  t.is(mod.query({ limit: 10 }).length, 3);
});

test('logs arriving together are stored in one group commit, each acknowledged only after it', async (t) => {
  const { mod, ctx } = await makeModule(t);
  await mod.start();
  t.teardown(() => mod.stop());
  const addresses = Array.from({ length: 50 }, (_, i) => `10.9.0.${i}`);
  await Promise.all(addresses.map((a) => ctx.hooks.onPlayerLog!(report({ remoteAddress: a }))));
  t.is(mod.query({ limit: 100 }).length, 50);
});

test('a mass disconnect stores every session row: the server’s own rows are never refused by the queue bound', async (t) => {
  const { mod, ctx } = await makeModule(t);
  await mod.start();
  t.teardown(() => mod.stop());
  // 5000 sessions ending in one turn of the event loop (more than the queue holds), then a player log behind them
  for (let i = 0; i < 5000; i++) {
    ctx.hooks.onSessionEnd!({ protocol: 'wmsp', remoteAddress: '10.1.2.3', url: '/live', point: 'live', userAgent: 'NSPlayer/9.0', clientId: i + 1, start: Date.now() - 1000, durationMs: 1000, bytesSent: 1, packetsSent: 1, status: 200 });
  }
  await mod.flush();
  t.is(mod.query({ limit: 10_000 }).length, 5000);
  await ctx.hooks.onPlayerLog!(report());
  t.is(mod.query({ limit: 10_000 }).length, 5001);
});
