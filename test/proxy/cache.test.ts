/**
 * The cache and its origin access in process, against a real `mss serve` origin (directly, and through a TCP
 * relay that can cut a Play response short and then stall, as a failing link does): a fill that stalls keeps
 * what it wrote, its waiting readers get a clear error, and the next lookup resumes it into the same file a
 * straight fill gives; freshness checks cost the origin no player session; prestuffing; live URLs are told apart.
 */
import test from '../helpers/test.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAsfFile } from '../../src/asf/index.js';
import { validateConfig, type ProxyConfig } from '../../src/config/index.js';
import { createLogger, setLogLevel } from '../../src/core/log.js';
import { isMssError } from '../../src/core/errors.js';
import { defaultRegistry } from '../../src/player/session.js';
import { OnDemandCache } from '../../src/proxy/cache.js';
import { ProxyOrigins } from '../../src/proxy/origin-access.js';
import { UpstreamConnector } from '../../src/proxy/upstream.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { pointStatus, waitUntil } from './helpers.js';

setLogLevel('error');
const log = createLogger('test');

let origin: RunningServe;
let tmp: string;

test.before(async () => {
  const av20 = await fixture(FIXTURES.av20);
  tmp = await mkdtemp(path.join(tmpdir(), 'mss-proxy-cache-'));
  origin = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'vod', type: 'ondemand', path: path.dirname(av20) },
          { name: 'live', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, start: 'boot' },
        ],
      },
    },
  });
});

test.after.always(async () => {
  await origin?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function proxyConfig(extra: Record<string, unknown> = {}): ProxyConfig {
  return validateConfig({ proxy: { upstream: { timeoutMs: 1500, checkTimeoutMs: 1500 }, ...extra } }).proxy;
}

async function harness(name: string, config = proxyConfig()) {
  const connector = new UpstreamConnector(defaultRegistry(), { credentials: [], timeoutMs: config.upstream.timeoutMs });
  const cache = new OnDemandCache(config.cache, path.join(tmp, name), connector, log);
  await cache.start();
  const origins = new ProxyOrigins({ config: () => config, cache, connector, log });
  return { cache, origins, stop: () => cache.stop() };
}

/**
 * A TCP relay in front of the origin. While `cut` is set, a Play response (the request has xPlayStrm=1) is
 * forwarded up to that many bytes and then nothing more: the connection stays open and silent.
 */
async function relay(target: number) {
  const state = { cut: 0 as number, plays: 0 };
  const socks = new Set<net.Socket>();
  const srv = net.createServer((client) => {
    socks.add(client);
    const up = net.connect(target, '127.0.0.1');
    socks.add(up);
    let forwarded = 0;
    let limit = Infinity;
    client.once('data', (first) => {
      if (/xPlayStrm=1/.test(first.toString('latin1'))) {
        state.plays++;
        if (state.cut) limit = state.cut;
      }
    });
    client.on('data', (d) => up.write(d));
    up.on('data', (d: Buffer) => {
      if (forwarded >= limit) return;
      const n = Math.min(d.length, limit - forwarded);
      forwarded += n;
      client.write(d.subarray(0, n));
    });
    const close = () => {
      client.destroy();
      up.destroy();
    };
    up.on('close', () => limit === Infinity && close());
    client.on('close', close);
    up.on('error', close);
    client.on('error', close);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    state,
    close: () => new Promise<void>((r) => {
      for (const s of socks) s.destroy();
      srv.close(() => r());
    }),
  };
}

test('a fill that stalls is kept as a partial entry, its readers get an error, and the next lookup resumes it into the same file', async (t) => {
  const r = await relay(origin.port);
  t.teardown(r.close);
  const url = `mmsh://127.0.0.1:${r.port}/vod/${FIXTURES.av20}`;
  const h = await harness('stall', proxyConfig({ cache: { fillSpeed: 20 } }));
  t.teardown(h.stop);
  r.state.cut = 150_000;
  const content = await h.origins.lookup(url, 'p');
  if (content.kind !== 'ondemand') return t.fail('not on-demand');
  const reader = await content.open({});
  const count = reader.layout.packetCount;
  const err = await t.throwsAsync(reader.readPackets(0, count));
  t.true(isMssError(err));
  t.regex(err!.message, /stopped at packet \d+ of \d+/);
  await reader.close();
  const partial = await waitUntil('a partial entry', () => (h.cache.record(`http://127.0.0.1:${r.port}/vod/${FIXTURES.av20}`)?.state === 'partial' && !h.cache.activeFill(`http://127.0.0.1:${r.port}/vod/${FIXTURES.av20}`) ? h.cache.record(`http://127.0.0.1:${r.port}/vod/${FIXTURES.av20}`) : undefined), 30_000);
  t.true(partial.packets > 10 && partial.packets < count, `kept ${partial.packets} of ${count}`);

  // the link heals: the next player's lookup resumes at the next packet
  r.state.cut = 0;
  const again = await h.origins.lookup(url, 'p');
  if (again.kind !== 'ondemand') return t.fail('not on-demand');
  const full = await again.open({});
  const packets = await full.readPackets(0, count);
  await full.close();
  const done = await waitUntil('the entry complete', () => h.cache.record(`http://127.0.0.1:${r.port}/vod/${FIXTURES.av20}`)?.state === 'complete' && h.cache.record(`http://127.0.0.1:${r.port}/vod/${FIXTURES.av20}`), 60_000);
  // a straight fill of the same content gives the same bytes
  const h2 = await harness('straight');
  t.teardown(h2.stop);
  const direct = `mmsh://127.0.0.1:${origin.port}/vod/${FIXTURES.av20}`;
  const res = await h2.origins.prestuff(direct, true);
  t.is(res.state, 'complete');
  const straight = h2.cache.record(`http://127.0.0.1:${origin.port}/vod/${FIXTURES.av20}`)!;
  t.is(done.sha256, straight.sha256);
  t.deepEqual(await readFile(path.join(tmp, 'stall', 'proxy-cache', done.file)), await readFile(path.join(tmp, 'straight', 'proxy-cache', straight.file)));
  t.is(packets.length, count);
});

test.serial('freshness checks ask the origin without playing; prestuffing; live URLs are not cached', async (t) => {
  const h = await harness('fresh', proxyConfig({ cache: { revalidateMs: 0 } }));
  t.teardown(h.stop);
  const url = `mmsh://127.0.0.1:${origin.port}/vod/${FIXTURES.av20}`;
  t.is((await h.origins.prestuff(url, true)).state, 'complete');
  t.is((await h.origins.prestuff(url)).state, 'cached');
  const sessionsBefore = (await pointStatus(origin.url, 'vod')).sessions;
  for (let i = 0; i < 3; i++) {
    const c = await h.origins.lookup(url, 'p');
    t.is(c.kind, 'ondemand');
  }
  t.is((await pointStatus(origin.url, 'vod')).sessions, sessionsBefore, 'three checks, no player session at the origin');
  t.is((await h.origins.lookup(`mmsh://127.0.0.1:${origin.port}/live`, 'p')).kind, 'broadcast');
  await t.throwsAsync(h.origins.prestuff(`mmsh://127.0.0.1:${origin.port}/live`), { message: /live broadcast/ });
  const missing = await t.throwsAsync(h.origins.lookup(`mmsh://127.0.0.1:${origin.port}/vod/none.wmv`, 'p'));
  t.is((missing as { code?: string }).code, 'not-found');
  const s = h.origins.pointStatus('p') as { originChecks: number; errors: number };
  t.true(s.originChecks >= 5 && s.errors === 1, JSON.stringify(s));
});

test.serial('content that is not stored is passed through from the origin: the same packets, seeks done at the origin', async (t) => {
  const h = await harness('off', proxyConfig({ cache: { enabled: false } }));
  t.teardown(h.stop);
  const url = `mmsh://127.0.0.1:${origin.port}/vod/${FIXTURES.av120}`;
  const original = parseAsfFile(await readFile(await fixture(FIXTURES.av120)));
  const content = await h.origins.lookup(url, 'p');
  if (content.kind !== 'ondemand') return t.fail('not on-demand');
  // describing opens nothing at the origin
  const sessions = (await pointStatus(origin.url, 'vod')).sessions;
  const described = await content.open();
  t.is(described.layout.packetCount, original.packetCount);
  await described.close();
  t.is((await pointStatus(origin.url, 'vod')).sessions, sessions);

  const seek = await content.open({ startTimeMs: 60_000 });
  const from = await seek.seekByTime!(60_000);
  t.true(from > original.packetCount / 3 && from < original.packetCount, `60 s of 120 starts at packet ${from} of ${original.packetCount}`);
  const [p] = await seek.readPackets(from, 1);
  t.true(p!.equals(original.packet(from)));
  await seek.close();

  const whole = await content.open({});
  const n = 40;
  const got = await whole.readPackets(0, n);
  t.true(got.every((q, i) => q.equals(original.packet(i))));
  const next = await whole.readPackets(n, n);
  t.true(next.every((q, i) => q.equals(original.packet(n + i))));
  await whole.close();
  t.is(h.cache.stats().entries, 0, 'nothing was stored');
  t.true((h.origins.pointStatus('p') as { passThrough: number }).passThrough >= 2);
});

test('while a fill runs, players read it as it grows; one seeking far past it is passed through instead of waiting', async (t) => {
  const h = await harness('grow', proxyConfig({ cache: { fillSpeed: 1 } }));
  t.teardown(h.stop);
  const url = `mmsh://127.0.0.1:${origin.port}/vod/${FIXTURES.av120}`;
  const original = parseAsfFile(await readFile(await fixture(FIXTURES.av120)));
  const content = await h.origins.lookup(url, 'p');
  if (content.kind !== 'ondemand') return t.fail('not on-demand');
  const early = await content.open({ startTimeMs: 1000 });
  const at = await early.seekByTime!(1000);
  t.true(at < original.packetCount / 20, `1 s in starts at packet ${at}`);
  const first = await early.readPackets(0, 20);
  t.true(first.every((q, i) => q.equals(original.packet(i))), 'the growing entry has the origin packets');
  await early.close();
  const far = await content.open({ startTimeMs: 100_000 });
  const from = await far.seekByTime!(100_000);
  t.true(from > (original.packetCount * 3) / 4, `100 s of 120 starts at packet ${from}, not at the fill's edge`);
  t.true((await far.readPackets(from, 5)).every((q, i) => q.equals(original.packet(from + i))));
  await far.close();
  t.is(h.cache.fillCount, 1, 'the fill goes on');
});
