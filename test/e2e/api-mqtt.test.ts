/**
 * One implementation, two doors: the control API's operations as device commands over MQTT (a real mosquitto,
 * the `mss fleet` client), changing the same config the HTTP API shows.
 */
import test from '../helpers/test.js';
import path from 'node:path';
import { FleetClient } from '../../src/fleet/client.js';
import { brokerForTest, uniqueDeviceId } from '../helpers/device.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe } from '../helpers/serve.js';

test('point-add over MQTT adds a point the HTTP API lists; errors come back with their code', async (t) => {
  const mediaDir = path.dirname(await fixture(FIXTURES.audio20));
  const { broker, tmp } = await brokerForTest(t);
  const id = uniqueDeviceId();
  const srv = await startServe({ config: { dataDir: tmp.dir, mqtt: { url: broker.url, deviceId: id, reconnectMinMs: 100, reconnectMaxMs: 1000 }, server: { publishingPoints: [{ name: 'vod', type: 'ondemand', path: mediaDir }] } } });
  t.teardown(srv.stop);
  const fleet = await FleetClient.connect({ url: broker.url });
  t.teardown(() => fleet.close());
  // "online" is published once the agent listens for commands
  for (let i = 0; i < 300 && (await fleet.list()).find((d) => d.deviceId === id)?.state !== 'online'; i++) await new Promise((r) => setTimeout(r, 100));
  const added = await fleet.command(id, 'point-add', { point: { name: 'bymqtt', type: 'ondemand', path: mediaDir } }, { timeoutMs: 20_000 });
  t.is(added.status, 'ok', JSON.stringify(added.error));
  t.like(added.data, { point: { name: 'bymqtt', type: 'ondemand' } });
  const viaHttp = await fetch(srv.http('/api/v1/points/bymqtt'));
  t.is(viaHttp.status, 200);

  const list = await fleet.command(id, 'points-list', {});
  t.deepEqual((list.data as Array<{ name: string }>).map((p) => p.name), ['vod', 'bymqtt']);
  const missing = await fleet.command(id, 'player-disconnect', { id: 424242 });
  t.is(missing.status, 'error');
  t.is(missing.error?.code, 'not-found');
  const typo = await fleet.command(id, 'point-get', { nmae: 'vod' });
  t.is(typo.error?.code, 'invalid-argument');
});
