/**
 * The proxy facing bad peers, with `mss serve` processes and hostile TCP origins: an origin that answers
 * garbage and one that never answers get clear errors (502, 504) in bounded time; the forward proxy serves
 * ffprobe (configured with the proxy as its HTTP proxy) for an allowed origin and refuses, with a reason and
 * without touching the network, a disallowed origin and absolute URIs with tricks (user-info, odd host and port
 * spellings, dot segments, other schemes). Meanwhile a player of another proxied point keeps playing.
 */
import test from '../helpers/test.js';
import { openWmspStream } from '../../src/protocols/wmsp/client.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { FFMPEG_DESCRIBE, rawRequest } from '../protocols/wmsp/raw-client.js';
import { hostileOrigin, pointStatus, probe, waitUntil } from '../proxy/helpers.js';

let origin: RunningServe;
let proxy: RunningServe;
let garbage: Awaited<ReturnType<typeof hostileOrigin>>;
let stall: Awaited<ReturnType<typeof hostileOrigin>>;
let packets = 0;
let playerEnded: string | null = null;
let player: ReturnType<typeof openWmspStream>;

test.before(async () => {
  const av20 = await fixture(FIXTURES.av20);
  garbage = await hostileOrigin('garbage');
  stall = await hostileOrigin('stall');
  origin = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'vod', type: 'ondemand', path: (await import('node:path')).dirname(av20) },
          { name: 'live', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, start: 'boot' },
        ],
      },
    },
  });
  proxy = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'rp', type: 'ondemand', origin: `mmsh://127.0.0.1:${origin.port}` },
          { name: 'junk', type: 'ondemand', origin: `mmsh://127.0.0.1:${garbage.port}` },
          { name: 'slow', type: 'ondemand', origin: `mmsh://127.0.0.1:${stall.port}` },
          { name: 'pulljunk', type: 'broadcast', source: { type: 'pull', url: `mmsh://127.0.0.1:${garbage.port}/live` }, start: 'demand' },
        ],
      },
      proxy: {
        upstream: { timeoutMs: 2000, checkTimeoutMs: 1500 },
        forward: { enabled: true, allow: [`127.0.0.1:${origin.port}`] },
      },
    },
  });
  player = openWmspStream(proxy.mmsh('/rp/live'), { timeoutMs: 30_000 });
  player.on('packet', () => packets++);
  player.on('end', () => (playerEnded = 'end'));
  player.on('error', (e) => (playerEnded = e.message));
  await waitUntil('the reference player receiving', () => packets > 10, 30_000);
});

test.after.always(async () => {
  player?.close();
  await proxy?.stop();
  await origin?.stop();
  await garbage?.close();
  await stall?.close();
});

test.serial('an origin that answers garbage: 502 naming the problem, for on-demand and for a pull', async (t) => {
  const r = await rawRequest(proxy.port, '/junk/a.wmv', { pragmas: FFMPEG_DESCRIBE, rawBody: true });
  t.is(r.status, 502);
  t.regex(r.body.toString(), /origin http:\/\/127\.0\.0\.1:\d+\/a\.wmv: .*(header|ASF|frame)/i);
  const p = await probe(proxy.mmsh('/junk/a.wmv'), { timeoutMs: 30_000 });
  t.not(p.code, 0);
  const pull = await rawRequest(proxy.port, '/pulljunk', { pragmas: FFMPEG_DESCRIBE, rawBody: true });
  t.is(pull.status, 503);
  t.regex(pull.body.toString(), /cannot broadcast/);
  t.true(garbage.connections() >= 2);
});

test.serial('an origin that never answers: 504 once the check times out, players of other points unaffected', async (t) => {
  const before = packets;
  const start = Date.now();
  const r = await rawRequest(proxy.port, '/slow/a.wmv', { pragmas: FFMPEG_DESCRIBE, rawBody: true, timeoutMs: 30_000 });
  t.is(r.status, 504);
  t.regex(r.body.toString(), /no answer within 1500 ms/);
  t.true(Date.now() - start < 20_000);
  await waitUntil('the reference player still receiving', () => packets > before + 10, 30_000);
  t.is(playerEnded, null);
});

test.serial('forward proxy: ffprobe with the proxy as its HTTP proxy plays an allowed origin, on-demand and live', async (t) => {
  const proxyUrl = `http://127.0.0.1:${proxy.port}`;
  const vod = await probe(origin.mmsh(`/vod/${FIXTURES.av20}`), { proxy: proxyUrl });
  t.is(vod.code, 0, vod.stderr);
  t.deepEqual(vod.streams.map((s) => s.codec_name).sort(), ['wmav2', 'wmv2']);
  const live = await probe(origin.mmsh('/live'), { proxy: proxyUrl });
  t.is(live.code, 0, live.stderr);
  const fwd = await pointStatus(proxy.url, 'forward-proxy');
  t.true(fwd.sessions >= 2, JSON.stringify(fwd));
  // the live URL is split with the reverse-proxied one: still one player at the origin
  t.is((await pointStatus(origin.url, 'live')).players, 1);
});

test.serial('forward proxy: disallowed origins and absolute URIs with tricks are refused with their reason, without a connection', async (t) => {
  const before = garbage.connections();
  const o = origin.port;
  const cases: Array<[string, RegExp, number?]> = [
    [`http://127.0.0.1:${garbage.port}/x.wmv`, /not in proxy\.forward\.allow/],
    [`http://user:secret@127.0.0.1:${o}/vod/a.wmv`, /user-info/],
    [`http://127.0.0.1:${o}@127.0.0.1:${garbage.port}/x.wmv`, /user-info/],
    [`http://0x7f000001:${o}/vod/a.wmv`, /not in normal form/],
    [`http://127.1:${o}/vod/a.wmv`, /not in normal form/],
    [`http://127.0.0.1:0${o}/vod/a.wmv`, /not in normal form/],
    // no URL at all: the listener refuses it before any route
    [`http://127.0.0.1:${o + 65536}/vod/a.wmv`, /not a valid URL/, 400],
    [`http://127.0.0.1:${o}/vod/../etc/passwd`, /path is not in normal form/],
    [`http://127.0.0.1:${o}/vod/%2e%2e/x`, /path is not in normal form|encoded dots/],
    [`mmsh://127.0.0.1:${o}/vod/a.wmv`, /only http:\/\//],
    ['http:///vod/a.wmv', /names no host/],
    [`http://127.0.0.1:${o}/vod/a.wmv#frag`, /fragment/],
  ];
  for (const [uri, reason, status] of cases) {
    const r = await rawRequest(proxy.port, uri, { pragmas: FFMPEG_DESCRIBE, rawBody: true });
    t.is(r.status, status ?? 403, uri);
    t.regex(r.body.toString(), reason, uri);
  }
  t.is(garbage.connections(), before, 'no refused request reached a network peer');
  const refusals = proxy.logs.filter((l) => l.event === 'http.rejected' && l.route === 'wmsp-forward' && l.status === 403);
  t.true(refusals.length >= cases.length - 1);
});

test.serial('after all that, the proxied points still play', async (t) => {
  t.is(playerEnded, null);
  const before = packets;
  await waitUntil('the reference player still receiving', () => packets > before + 10, 30_000);
  const vod = await probe(proxy.mmsh(`/rp/vod/${FIXTURES.av20}`));
  t.is(vod.code, 0, vod.stderr);
  const health = await fetch(proxy.http('/api/status'));
  t.is(health.status, 200);
});
