/**
 * Live splitting end to end, with two `mss serve` processes: an origin broadcasting a looping file, and a proxy
 * with a reverse-proxied point (origin URL) and a pull point of the same live URL. Twenty ffprobe players through
 * the proxy leave exactly one player session at the origin; when the origin goes away and comes back on the same
 * address the proxy's players stay connected and keep receiving; when it stays away they get an end of stream
 * after live.endAfterMs.
 */
import test from '../helpers/test.js';
import { openWmspStream } from '../../src/protocols/wmsp/client.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { freePort, pointStatus, run, waitUntil } from '../proxy/helpers.js';

const END_AFTER_MS = 4000;

async function startOrigin(port: number, file: string): Promise<RunningServe> {
  return startServe({ config: { http: { port }, server: { publishingPoints: [{ name: 'live', type: 'broadcast', source: { type: 'file', path: file, loop: true }, start: 'boot' }] } } });
}

test('20 players through the proxy, one upstream; the players ride out an origin restart and get an end of stream when it stays away', async (t) => {
  const file = await fixture(FIXTURES.av20);
  const port = await freePort();
  let origin = await startOrigin(port, file);
  t.teardown(() => origin.stop());
  const proxy = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'rp', type: 'ondemand', origin: `mmsh://127.0.0.1:${port}` },
          { name: 'relay', type: 'broadcast', source: { type: 'pull', url: `http://127.0.0.1:${port}/live`, endAfterMs: END_AFTER_MS }, start: 'demand' },
        ],
      },
      proxy: { live: { endAfterMs: END_AFTER_MS } },
    },
  });
  t.teardown(proxy.stop);

  // fifteen players of the reverse-proxied URL and five of the pull point, all at once
  const urls = [...Array.from({ length: 15 }, () => proxy.mmsh('/rp/live')), ...Array.from({ length: 5 }, () => proxy.mmsh('/relay'))];
  const results = await Promise.all(
    urls.map((u) => run('ffprobe', ['-v', 'error', '-of', 'json', '-show_entries', 'stream=codec_type,codec_name,nb_read_frames', '-count_frames', '-read_intervals', '%+6', u], { timeoutMs: 90_000 })),
  );
  for (const [i, r] of results.entries()) {
    t.is(r.code, 0, `player ${i}: ${r.stderr}`);
    const streams = (JSON.parse(r.stdout).streams ?? []) as Array<{ codec_type: string; codec_name: string; nb_read_frames: string }>;
    t.deepEqual(streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ['audio:wmav2', 'video:wmv2'], `player ${i}`);
    t.true(streams.every((s) => Number(s.nb_read_frames) > 10), `player ${i} read ${r.stdout}`);
  }
  const atOrigin = await pointStatus(origin.url, 'live');
  t.is(atOrigin.sessions, 1, 'the origin served one player: the proxy');
  const rp = await pointStatus(proxy.url, 'rp');
  const relay = await pointStatus(proxy.url, 'relay');
  t.is(rp.sessions + relay.sessions, 20);
  t.is(rp.live?.[0]?.url, `mmsh://127.0.0.1:${port}/live`);
  t.true((rp.proxy?.originChecks ?? 0) >= 1, 'the origin was asked what /live is');
  t.true(rp.bytesSent > 0 && (rp.live?.[0]?.upstream?.bytes ?? 0) > 0);

  // a player stays on through an origin restart on the same address
  const player = openWmspStream(proxy.mmsh('/rp/live'), { timeoutMs: 30_000 });
  t.teardown(() => player.close());
  let packets = 0;
  let ended: string | null = null;
  player.on('packet', () => packets++);
  player.on('end', () => (ended = 'end'));
  player.on('error', (e) => (ended = e.message));
  await waitUntil('packets before the restart', () => packets > 20, 30_000);
  await origin.stop();
  origin = await startOrigin(port, file);
  await waitUntil('the upstream reconnected', async () => ((await pointStatus(proxy.url, 'rp')).live?.[0]?.upstream?.reconnects ?? 0) >= 1 && (await pointStatus(proxy.url, 'rp')).live?.[0]?.upstream?.state === 'connected', 60_000);
  const afterRestart = packets;
  await waitUntil('packets after the restart', () => packets > afterRestart + 20, 30_000);
  t.is(ended, null, 'the player was not ended by the restart');

  // the origin stays away: end of stream after END_AFTER_MS (not before)
  const stoppedAt = Date.now();
  await origin.stop();
  await waitUntil('an end of stream', () => ended !== null, END_AFTER_MS + 30_000);
  t.true(Date.now() - stoppedAt >= END_AFTER_MS - 500, `ended after ${Date.now() - stoppedAt} ms`);
  await proxy.waitForLog((l) => l.event === 'pull.gave-up');
});
