/**
 * A real `mss serve` with secrets in its config (a pull source URL with a password, an encoder push password, a
 * broker URL with user-info and a broker password) and a real mosquitto: none of them shows up in /api/status, in
 * the log lines on stderr, or in anything the device publishes (retained config/reported, state, forwarded logs).
 */
import test from '../helpers/test.js';
import { FleetClient } from '../../src/fleet/client.js';
import { brokerForTest, uniqueDeviceId } from '../helpers/device.js';
import { startServe } from '../helpers/serve.js';

const SECRETS = ['pullpw-5', 'pushpw-1', 'urlpw-2', 'mqttpw-3', 'mqtturlpw-4'];

test('secrets stay out of /api/status, stderr and every MQTT message', async (t) => {
  const { broker, tmp } = await brokerForTest(t);
  const id = uniqueDeviceId();
  const fleet = await FleetClient.connect({ url: broker.url });
  t.teardown(() => fleet.close());
  const seen: string[] = [];
  await fleet.subscribe(`mss/v1/${id}/#`);
  fleet.onMessage((m) => seen.push(`${m.topic} ${m.payload.toString()}`));
  const srv = await startServe({
    config: {
      dataDir: tmp.dir,
      encoder: { push: 'http://enc:urlpw-2@127.0.0.1:1/live2', pushUser: 'enc', pushPassword: 'pushpw-1' },
      mqtt: { url: broker.url.replace('mqtt://', 'mqtt://dev:mqtturlpw-4@'), password: 'mqttpw-3', deviceId: id, forwardLogLevel: 'info', reconnectMinMs: 100, reconnectMaxMs: 2000, stateIntervalMs: 500, telemetryIntervalMs: 1000 },
      server: { publishingPoints: [{ name: 'relay', type: 'broadcast', source: { type: 'pull', url: 'http://origin:pullpw-5@127.0.0.1:1/live' }, start: 'boot' }] },
    },
  });
  t.teardown(() => srv.stop());
  // the pull source fails to connect and logs it (with its URL); the agent comes online
  await srv.waitForLog((l) => l.event === 'pull.reconnecting' || l.event === 'point.start-failed', 30_000);
  await srv.waitForLog((l) => l.event === 'mqtt-connected', 30_000);
  let reported = new Map<string, unknown>();
  for (let i = 0; i < 100 && reported.size === 0; i++) reported = await fleet.retained(`mss/v1/${id}/config/reported`);
  t.is(reported.size, 1, 'config/reported is retained');
  // a forwarded log line (logs/info) has arrived: forwarding is on the path being checked
  for (let i = 0; i < 300 && !seen.some((m) => m.startsWith(`mss/v1/${id}/logs/`)); i++) await new Promise((r) => setTimeout(r, 100));
  t.true(seen.some((m) => m.startsWith(`mss/v1/${id}/logs/`)), 'log lines were forwarded');

  const status = await (await fetch(srv.http('/api/status'))).text();
  t.true(status.includes('relay'), status.slice(0, 300));
  const published = JSON.stringify([...(await fleet.retained(`mss/v1/${id}/#`)).entries()]) + seen.join('\n');
  for (const s of SECRETS) {
    t.false(status.includes(s), `${s} not in /api/status`);
    t.false(srv.stderr().includes(s), `${s} not in the log lines`);
    t.false(published.includes(s), `${s} not in what the device published`);
  }
  t.true(JSON.stringify([...reported.values()]).includes('"pushPassword":"***"'));
});
