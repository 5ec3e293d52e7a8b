/**
 * The proxy as the fleet operator sees it (`mss serve` with its device agent on a real mosquitto, and an origin):
 * prestuffing as an MQTT command and as an HTTP API call, the cache listing, and the cache and splitter state
 * published as the proxy module's device state.
 */
import test from '../helpers/test.js';
import { FleetClient } from '../../src/fleet/client.js';
import { brokerForTest, uniqueDeviceId } from '../helpers/device.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe } from '../helpers/serve.js';
import { cacheListing, waitUntil } from '../proxy/helpers.js';
import path from 'node:path';

test('prestuffing over MQTT and over the API; cache and splitter state as device state', async (t) => {
  const av20 = await fixture(FIXTURES.av20);
  const { broker, tmp } = await brokerForTest(t);
  const origin = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'vod', type: 'ondemand', path: path.dirname(av20) },
          { name: 'live', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, start: 'boot' },
        ],
      },
    },
  });
  t.teardown(origin.stop);
  const id = uniqueDeviceId();
  const proxy = await startServe({
    config: {
      dataDir: tmp.dir,
      mqtt: { url: broker.url, deviceId: id, reconnectMinMs: 100, reconnectMaxMs: 2000, stateIntervalMs: 1000, telemetryIntervalMs: 2000 },
      server: {
        publishingPoints: [
          { name: 'rp', type: 'ondemand', origin: `mmsh://127.0.0.1:${origin.port}/vod` },
          { name: 'relay', type: 'broadcast', source: { type: 'pull', url: `mmsh://127.0.0.1:${origin.port}/live` }, start: 'boot' },
        ],
      },
      proxy: { cache: { fillSpeed: 20 } },
    },
  });
  t.teardown(proxy.stop);
  const fleet = await FleetClient.connect({ url: broker.url });
  t.teardown(() => fleet.close());
  await waitUntil('the device online', async () => (await fleet.list()).find((d) => d.deviceId === id)?.state === 'online', 30_000);

  const r = await fleet.command(id, 'proxy.prestuff', { url: `/rp/${FIXTURES.av20}`, wait: true }, { timeoutMs: 60_000 });
  t.is(r.status, 'ok', JSON.stringify(r.error));
  t.like(r.data as Record<string, unknown>, { state: 'complete', url: `http://127.0.0.1:${origin.port}/vod/${FIXTURES.av20}` });
  const refused = await fleet.command(id, 'proxy.prestuff', { url: 'http://elsewhere.example/x.wmv' });
  t.is(refused.status, 'error');
  t.is(refused.error?.code, 'forbidden');
  const bad = await fleet.command(id, 'proxy.prestuff', { url: '/rp/a.wmv', typo: 1 });
  t.is(bad.error?.code, 'invalid-argument');
  const listed = await fleet.command(id, 'proxy.cache');
  t.is((listed.data as { entries: Array<{ state: string }> }).entries[0]?.state, 'complete');

  // the API: loopback callers, a JSON body
  const api = await fetch(proxy.http('/api/proxy/prestuff'), { method: 'POST', body: JSON.stringify({ url: `mmsh://127.0.0.1:${origin.port}/vod/${FIXTURES.audio20}`, wait: true }) });
  t.is(api.status, 200, await api.clone().text());
  t.like(await api.json(), { state: 'complete' });
  t.is((await fetch(proxy.http('/api/proxy/prestuff'), { method: 'POST', body: 'not json' })).status, 400);
  t.is((await fetch(proxy.http('/api/proxy/prestuff'))).status, 405);
  t.is((await cacheListing(proxy.url)).entries.length, 2);

  // the module's state reaches the operator: cache entries and the split upstream of the pull point
  const state = await waitUntil('proxy state with two entries and an upstream', async () => {
    const s = ((await fleet.show(id)).state as Record<string, { detail?: { cache?: { entries: number }; splitter?: { upstreams: number } } }>).proxy;
    return s?.detail?.cache?.entries === 2 && s.detail.splitter?.upstreams === 1 ? s : undefined;
  }, 30_000);
  t.truthy(state);
});
