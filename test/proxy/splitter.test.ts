/**
 * The live splitter in process against a real `mss serve` broadcast: consumers of one URL (spelled mmsh:// or
 * http://) share one upstream; a late consumer gets the header and the recent packets at once; the upstream
 * closes with its last consumer; an upstream that fails ends every subscription with the error.
 */
import test from '../helpers/test.js';
import { readSendTime } from '../../src/asf/packet.js';
import { createLogger, setLogLevel } from '../../src/core/log.js';
import type { PulledStream } from '../../src/media/pull-source.js';
import { defaultRegistry } from '../../src/player/session.js';
import { LiveSplitter } from '../../src/proxy/splitter.js';
import { UpstreamConnector } from '../../src/proxy/upstream.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { hostileOrigin, pointStatus, waitUntil } from './helpers.js';

setLogLevel('error');
const log = createLogger('test');
let origin: RunningServe;

test.before(async () => {
  const av20 = await fixture(FIXTURES.av20);
  origin = await startServe({ config: { server: { publishingPoints: [{ name: 'live', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, start: 'boot' }] } } });
});
test.after.always(() => origin?.stop());

function watch(s: PulledStream) {
  const seen = { headers: 0, packets: [] as Buffer[], error: '', ended: false };
  s.on('header', () => seen.headers++);
  s.on('packet', (p) => seen.packets.push(p));
  s.on('error', (e) => (seen.error = e.message));
  s.on('end', () => (seen.ended = true));
  return seen;
}

test('consumers share one upstream; a late one gets the header and the last seconds at once; the last to leave closes it', async (t) => {
  const connector = new UpstreamConnector(defaultRegistry(), { credentials: [], timeoutMs: 5000 });
  const splitter = new LiveSplitter({ connector, log, bufferMs: 3000 });
  const sessionsBefore = (await pointStatus(origin.url, 'live')).sessions;
  const a = splitter.subscribe(origin.mmsh('/live'));
  const seenA = watch(a);
  await waitUntil('packets for the first consumer', () => seenA.packets.length > 60, 30_000);
  const b = splitter.subscribe(origin.http('/live'));
  const seenB = watch(b);
  await waitUntil('the late consumer fed', () => seenB.headers === 1 && seenB.packets.length > 10, 5000);
  const span = readSendTime(seenB.packets[seenB.packets.length - 1]!) - readSendTime(seenB.packets[0]!);
  t.true(span >= 1000 && span <= 3500, `the backlog covers ${span} ms of the 3000 asked`);
  t.deepEqual(splitter.stats().upstreams, 1);
  t.is(splitter.stats().subscribers, 2);
  t.is((await pointStatus(origin.url, 'live')).sessions, sessionsBefore + 1, 'one player session at the origin for both');
  a.close();
  t.is(splitter.stats().upstreams, 1);
  b.close();
  t.is(splitter.stats().upstreams, 0);
  await waitUntil('the origin session gone', async () => (await pointStatus(origin.url, 'live')).players === 0, 15_000);
  t.false(seenA.ended || seenB.ended, 'closing is not an end of stream');
});

test('an upstream that fails ends every subscription with its error', async (t) => {
  const garbage = await hostileOrigin('garbage');
  t.teardown(garbage.close);
  const connector = new UpstreamConnector(defaultRegistry(), { credentials: [], timeoutMs: 2000 });
  const splitter = new LiveSplitter({ connector, log, bufferMs: 0 });
  const subs = [1, 2, 3].map(() => watch(splitter.subscribe(`mmsh://127.0.0.1:${garbage.port}/live`)));
  await waitUntil('errors', () => subs.every((s) => s.error !== ''), 10_000);
  t.regex(subs[0]!.error, /\$H header/);
  t.is(garbage.connections(), 1, 'one upstream attempt for the three');
  t.is(splitter.stats().upstreams, 0);
});
