/**
 * /metrics and /health of a real `mss serve`: after a player played a file to the end, one was refused for bad
 * credentials and one for a player limit, the scrape (parsed by a real Prometheus text-format parser) shows
 * players, joins and bytes by point and protocol, refusals by reason, the WMS counters, RSS and event-loop lag.
 */
import test from '../helpers/test.js';
import path from 'node:path';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { scrape } from '../helpers/prometheus.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { FFMPEG_DESCRIBE, ffmpegPlay, rawRequest } from '../protocols/wmsp/raw-client.js';

let srv: RunningServe;

test.before(async () => {
  const dir = path.dirname(await fixture(FIXTURES.audio20));
  srv = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'vod', type: 'ondemand', path: dir },
          { name: 'locked', type: 'ondemand', path: dir, auth: { scheme: 'basic', realm: 'mss', users: [{ name: 'ann', password: 's3cret' }] } },
          { name: 'none', type: 'ondemand', path: dir, maxPlayers: 1, maxPlayerBandwidth: 1000 },
        ],
      },
    },
  });
});

test.after.always(() => srv?.stop());

test.serial('the scrape shows what players did, by point and protocol, and why players were refused', async (t) => {
  const play = await rawRequest(srv.port, `/vod/${FIXTURES.audio20}`, { pragmas: [...ffmpegPlay([1]), 'AccelBW=1000000000, AccelDuration=1000000'], httpVersion: '1.1', timeoutMs: 60_000 });
  t.is(play.status, 200);
  t.is(play.frames.at(-1)?.type, 'E');
  const bad = await rawRequest(srv.port, `/locked/${FIXTURES.audio20}`, { pragmas: FFMPEG_DESCRIBE, headers: { Authorization: `Basic ${Buffer.from('ann:wrong').toString('base64')}` } });
  t.is(bad.status, 401);
  const tooBig = await rawRequest(srv.port, `/none/${FIXTURES.audio20}`, { pragmas: [...ffmpegPlay([1])], httpVersion: '1.1', timeoutMs: 10_000 });
  t.true(tooBig.status >= 400, `status ${tooBig.status}`);

  const m = await scrape(srv.http('/metrics'));
  t.is(m.value('mss_joins_total', { point: 'vod', protocol: 'wmsp' }), 1);
  t.true((m.value('mss_bytes_sent_total', { point: 'vod', protocol: 'wmsp' }) ?? 0) > 100_000);
  t.is(m.value('mss_refusals_total', { reason: 'unauthorized' }), 1);
  t.is(m.value('mss_refusals_total', { reason: 'player-bandwidth' }), 1);
  t.is(m.value('mss_stream_denials_total'), 2);
  t.is(m.value('mss_players_total'), 1);
  t.is(m.value('mss_players_peak'), 1);
  t.is(m.value('mss_players_current'), 0);
  t.is(m.family('mss_late_sends_total')?.type, 'COUNTER');
  t.is(m.family('mss_late_reads_total')?.type, 'COUNTER');
  t.is(m.value('mss_slow_player_drops_total'), 0);
  t.is(m.value('mss_point_info', { point: 'vod', type: 'ondemand' }), 1);
  t.is(m.value('mss_module_up', { module: 'media' }), 1);
  t.is(m.value('mss_mqtt_connected'), 0);
  t.is(m.value('mss_log_store_queue'), 0);
  t.is(m.value('mss_encoder_up'), 0);
  t.true((m.value('mss_resident_memory_bytes') ?? 0) > 10_000_000);
  t.true((m.value('process_resident_memory_bytes') ?? 0) > 10_000_000);
  t.notThrows(() => m.value('mss_event_loop_lag_seconds'));
  t.truthy(m.family('nodejs_eventloop_lag_seconds'));
  t.true((m.value('mss_module_telemetry', { module: 'media', name: 'wmsp.plays' }) ?? 0) >= 1);
});

test.serial('a player playing shows in mss_players by point and protocol while it plays', async (t) => {
  // a real-time stream (no Fast Start burst) stays connected for its 20 s; the client leaves after 8 s
  const playing = rawRequest(srv.port, `/vod/${FIXTURES.audio20}`, { pragmas: ffmpegPlay([1]), httpVersion: '1.1', timeoutMs: 8000 });
  let seen: number | undefined;
  for (let i = 0; i < 40 && !seen; i++) {
    await new Promise((r) => setTimeout(r, 100));
    seen = (await scrape(srv.http('/metrics'))).value('mss_players', { point: 'vod', protocol: 'wmsp' });
  }
  t.is(seen, 1);
  await playing;
});

test.serial('/health says ok while the listener and the media server run', async (t) => {
  const res = await fetch(srv.http('/health'));
  t.is(res.status, 200);
  const body = (await res.json()) as { status: string; modules: Record<string, { ok: boolean }> };
  t.is(body.status, 'ok');
  t.true(body.modules.media.ok);
  t.true(body.modules.http.ok);
});
