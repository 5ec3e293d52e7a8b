/**
 * A remote config (MQTT config/desired) against a real `mss serve` and a real mosquitto: everything is validated
 * before anything changes (a bad access list, an unknown encoder profile: rejected, every point still plays);
 * a config that passes validation but fails while it is applied (the encoder cannot feed a point another encoder
 * already pushes to) is rolled back: the points it had removed play again, the one it had added is gone, and
 * config/reported still names the last applied version.
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { parseAsfFile } from '../../src/asf/file.js';
import { createLogger } from '../../src/core/log.js';
import { FleetClient } from '../../src/fleet/client.js';
import { PushClient } from '../../src/protocols/wmhttp/client.js';
import { brokerForTest, uniqueDeviceId } from '../helpers/device.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe } from '../helpers/serve.js';

function plays(url: string): Promise<boolean> {
  return new Promise((resolve) => execFile('ffprobe', ['-v', 'error', '-rw_timeout', '10000000', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', url], { timeout: 60_000 }, (err, stdout) => resolve(!err && String(stdout).includes('wmv2'))));
}

test('a rejected remote config changes nothing; one that fails while applied is rolled back', async (t) => {
  const av20 = await fixture(FIXTURES.av20);
  const { broker, tmp } = await brokerForTest(t);
  const id = uniqueDeviceId();
  const srv = await startServe({
    config: {
      dataDir: tmp.dir,
      mqtt: { url: broker.url, deviceId: id, reconnectMinMs: 100, reconnectMaxMs: 2000, stateIntervalMs: 1000, telemetryIntervalMs: 2000 },
      server: {
        publishingPoints: [
          { name: 'old', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, start: 'boot' },
          { name: 'cam', type: 'broadcast', source: { type: 'push' } },
        ],
      },
    },
  });
  t.teardown(() => srv.stop());
  const fleet = await FleetClient.connect({ url: broker.url });
  t.teardown(() => fleet.close());
  let reported: { config: Record<string, any>; appliedVersion: number | null } | undefined;
  for (let i = 0; i < 150 && !reported; i++) {
    reported = ((await fleet.show(id)).config as { reported: typeof reported | null }).reported ?? undefined;
    if (!reported) await new Promise((r) => setTimeout(r, 200));
  }
  t.truthy(reported, 'config/reported arrived');
  const base = reported!.config;
  t.true(await plays(srv.mmsh('/old')));

  const withNews = (cfg: Record<string, any>) => {
    const c = structuredClone(cfg);
    c.server.publishingPoints = [c.server.publishingPoints[1], { name: 'news', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, start: 'boot' }];
    return c;
  };

  // 1. invalid: a bad access list on the new point; nothing is touched
  const badAccess = withNews(base);
  badAccess.server.publishingPoints[1].access = { allow: ['10.0.0.0/33'], deny: [] };
  const r1 = await fleet.setDesiredConfig(id, badAccess, { timeoutMs: 30_000 });
  t.is(r1.status, 'rejected');
  t.deepEqual((r1.errors as Array<{ path: string }>).map((e) => e.path), ['server.publishingPoints[1].access.allow[0]']);
  t.true(await plays(srv.mmsh('/old')), 'the old point still plays');

  // 2. invalid for a module: an encoder profile that does not exist is caught before anything is applied
  const badProfile = withNews(base);
  badProfile.encoder = { ...badProfile.encoder, enabled: true, source: 'testsrc', profile: 'no-such-profile', point: 'cam' };
  const r2 = await fleet.setDesiredConfig(id, badProfile, { timeoutMs: 30_000 });
  t.is(r2.status, 'rejected');
  t.deepEqual((r2.errors as Array<{ path: string }>).map((e) => e.path), ['encoder.profile']);
  t.false(srv.logs.some((l) => l.event === 'point.removed' && l.point === 'old'), 'the old point was never stopped');
  t.true(await plays(srv.mmsh('/old')));

  // 3. valid, but applying fails: another encoder already pushes to cam, so the local encoder cannot feed it
  const header = parseAsfFile(await fs.readFile(av20));
  const raw = await fs.readFile(av20);
  const pusher = new PushClient({ url: srv.http('/cam'), log: createLogger('test.pusher'), backoffInitialMs: 60_000 });
  t.teardown(() => pusher.stop());
  pusher.setHeader(raw.subarray(0, header.header.raw.length + 50));
  pusher.start();
  for (let i = 0; i < 20; i++) pusher.pushPacket(header.packet(i));
  await srv.waitForLog((l) => l.event === 'ingest.opened' && l.point === 'cam');
  const failing = withNews(base);
  failing.encoder = { ...failing.encoder, enabled: true, source: 'testsrc', point: 'cam' };
  const r3 = await fleet.setDesiredConfig(id, failing, { timeoutMs: 60_000 });
  t.is(r3.status, 'rejected', JSON.stringify(r3));
  t.regex(JSON.stringify(r3.errors), /encoder could not apply it: .*already has a pusher/);
  t.is(r3.appliedVersion, reported!.appliedVersion, 'the applied version did not move');
  await srv.waitForLog((l) => l.event === 'point.added' && l.point === 'old');
  t.true(await plays(srv.mmsh('/old')), 'the point the failed config had removed plays again');
  t.false(await plays(srv.mmsh('/news')), 'the point it had added is gone');
  const status = (await (await fetch(srv.http('/api/status'))).json()) as { points: Array<{ name: string }> };
  t.deepEqual(status.points.map((p) => p.name).sort(), ['cam', 'old']);
});
