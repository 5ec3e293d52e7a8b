/**
 * The push client against a real `mss serve`: the Content-Length budget ($F filler, 204, next PushStart) and a
 * header change mid-stream ($E(1) + $C) both reach players; reconnect after the server goes away and comes back.
 */
import test from '../../helpers/test.js';
import { readFileSync } from 'node:fs';
import { parseAsfStream, patchFileProperties, parseHeaderObject } from '../../../src/asf/index.js';
import { createLogger } from '../../../src/core/log.js';
import { PushClient } from '../../../src/protocols/wmhttp/client.js';
import { openWmspStream } from '../../../src/protocols/wmsp/client.js';
import { fixture, FIXTURES } from '../../helpers/fixtures.js';
import { startServe } from '../../helpers/serve.js';

async function sample(): Promise<{ header: Buffer; packets: Buffer[] }> {
  const ev = parseAsfStream(readFileSync(await fixture(FIXTURES.stream20)));
  return {
    header: (ev.find((e) => e.type === 'header') as { headerBytes: Buffer }).headerBytes,
    packets: ev.filter((e) => e.type === 'packet').map((e) => (e as { packet: Buffer }).packet),
  };
}

test('a small Content-Length budget is filled with $F and the stream continues in new PushStarts; a new header reaches players', async (t) => {
  const srv = await startServe({ config: { server: { publishingPoints: [{ name: 'p', type: 'broadcast', source: { type: 'push' } }] } } });
  t.teardown(srv.stop);
  const { header, packets } = await sample();
  const client = new PushClient({ url: srv.http('/p'), log: createLogger('test.budget'), contentLength: 20_000 });
  client.setHeader(header);
  client.start();
  t.teardown(() => client.stop());
  await new Promise<void>((r) => client.once('connected', () => r()));
  let i = 0;
  const feeder = setInterval(() => client.pushPacket(packets[i++ % packets.length]!), 10);
  t.teardown(() => clearInterval(feeder));

  const player = openWmspStream(srv.mmsh('/p'));
  t.teardown(() => player.close());
  let got = 0;
  const headers: Buffer[] = [];
  player.on('packet', () => got++);
  player.on('header', (h) => headers.push(h));
  player.on('error', () => undefined);
  const until = async (pred: () => boolean, ms: number, what: string) => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await until(() => got > 40, 20_000, 'packets through several budgets');
  // 40 × 3200-byte packets in 20 000-byte bodies: several PushStarts happened on one connection
  t.is(client.stats.connects, 1);
  t.true(client.stats.bytesSent > 3 * 20_000);

  // a changed header (new max bitrate) is announced as a stream change and reaches the player
  const h = parseHeaderObject(header);
  const changed = Buffer.concat([patchFileProperties(header.subarray(0, h.raw.length), { maxBitrate: 999_999 }), header.subarray(h.raw.length)]);
  t.false(changed.equals(header));
  const seen = headers.length;
  client.setHeader(changed);
  await until(() => headers.length > seen, 20_000, 'new header at the player');
  const before = got;
  await until(() => got > before + 10, 20_000, 'packets after the header change');
  t.pass();
});

test('the client reconnects when the server comes back', async (t) => {
  const first = await startServe({ config: { server: { publishingPoints: [{ name: 'p', type: 'broadcast', source: { type: 'push' } }] } } });
  const port = first.port;
  const { header } = await sample();
  const client = new PushClient({ url: first.http('/p'), log: createLogger('test.reconnect'), backoffInitialMs: 200, backoffMaxMs: 1000 });
  client.setHeader(header);
  client.start();
  t.teardown(() => client.stop());
  await new Promise<void>((r) => client.once('connected', () => r()));
  const lost = new Promise<void>((r) => client.once('disconnected', () => r()));
  await first.stop();
  await lost;
  const second = await startServe({ config: { http: { port }, server: { publishingPoints: [{ name: 'p', type: 'broadcast', source: { type: 'push' } }] } } });
  t.teardown(second.stop);
  await new Promise<void>((r) => client.once('connected', () => r()));
  t.true(client.stats.connects >= 2);
});

test('a dropped connection is resumed with the same push-id: no refusal, players keep the point', async (t) => {
  const srv = await startServe({ config: { server: { publishingPoints: [{ name: 'p', type: 'broadcast', source: { type: 'push' } }] } } });
  t.teardown(srv.stop);
  const { header, packets } = await sample();
  const client = new PushClient({ url: srv.http('/p'), log: createLogger('test.resume'), backoffInitialMs: 100 });
  client.setHeader(header);
  const refusals: number[] = [];
  client.on('refused', (s) => refusals.push(s));
  client.start();
  t.teardown(() => client.stop());
  await new Promise<void>((r) => client.once('connected', () => r()));
  const id = client.sessionId;
  let i = 0;
  const feeder = setInterval(() => client.pushPacket(packets[i++ % packets.length]!), 20);
  t.teardown(() => clearInterval(feeder));
  await new Promise((r) => setTimeout(r, 500));
  // cut the TCP connection under the client
  (client as unknown as { socket: { destroy(): void } }).socket.destroy();
  await new Promise<void>((r) => client.once('connected', () => r()));
  t.is(client.sessionId, id);
  t.deepEqual(refusals, []);
  await new Promise((r) => setTimeout(r, 500));
  t.true(client.connected);
  t.is(srv.logs.filter((l) => l.event === 'wmhttp.session-opened').length, 1, 'the server kept the one session');
});
