/**
 * Accounts on both sides of the proxy (`mss serve` processes): the proxy signs in at an origin whose points need
 * Digest (on-demand) or Basic (live) with the account in proxy.credentials, which it never logs or shows; players
 * sign in at the proxy with the proxy point's own accounts; a proxy without the origin's account gets a clear
 * refusal.
 */
import test from '../helpers/test.js';
import path from 'node:path';
import { openWmspStream } from '../../src/protocols/wmsp/client.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe } from '../helpers/serve.js';
import { FFMPEG_DESCRIBE, rawRequest } from '../protocols/wmsp/raw-client.js';
import { getJson, waitUntil } from '../proxy/helpers.js';

const ORIGIN_PASSWORD = 'orig1n-S3cret';

function firstPackets(url: string, credentials?: { user: string; password: string }): Promise<number | string> {
  return new Promise((resolve) => {
    const s = openWmspStream(url, { credentials, timeoutMs: 20_000 });
    let n = 0;
    s.on('packet', () => {
      if (++n === 20) {
        s.close();
        resolve(n);
      }
    });
    s.on('error', (e) => resolve(e.message));
    s.on('end', () => resolve(n));
  });
}

test('the proxy signs in at the origin with its configured account and never shows it; players sign in with the proxy point accounts', async (t) => {
  const av20 = await fixture(FIXTURES.av20);
  const account = { scheme: 'digest', realm: 'origin', users: [{ name: 'edge-box', password: ORIGIN_PASSWORD }] };
  const origin = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'secure', type: 'ondemand', path: path.dirname(av20), auth: account },
          { name: 'slive', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, auth: { ...account, scheme: 'basic' } },
        ],
      },
    },
  });
  t.teardown(origin.stop);
  const points = [
    { name: 'rp', type: 'ondemand', origin: `mmsh://127.0.0.1:${origin.port}/secure`, auth: { scheme: 'basic', realm: 'proxy', users: [{ name: 'viewer', password: 'v1ewer' }] } },
    { name: 'rl', type: 'broadcast', source: { type: 'pull', url: `mmsh://127.0.0.1:${origin.port}/slive` }, start: 'demand' },
  ];
  const proxy = await startServe({ config: { server: { publishingPoints: points }, proxy: { credentials: [{ origin: `127.0.0.1:${origin.port}`, user: 'edge-box', password: ORIGIN_PASSWORD }] } } });
  t.teardown(proxy.stop);

  const anonymous = await rawRequest(proxy.port, `/rp/${FIXTURES.av20}`, { pragmas: FFMPEG_DESCRIBE, rawBody: true });
  t.is(anonymous.status, 401);
  t.regex(anonymous.headers['www-authenticate']?.join(' ') ?? '', /realm="proxy"/);
  t.is(await firstPackets(proxy.mmsh(`/rp/${FIXTURES.av20}`), { user: 'viewer', password: 'wrong' }), `WMSP request to 127.0.0.1:${proxy.port}/rp/${FIXTURES.av20}: HTTP 401, credentials missing or refused`);
  t.is(await firstPackets(proxy.mmsh(`/rp/${FIXTURES.av20}`), { user: 'viewer', password: 'v1ewer' }), 20, 'on-demand through a Digest origin');
  t.is(await firstPackets(proxy.mmsh('/rl')), 20, 'live pulled from a Basic origin');

  // a proxy without the origin's account is refused, and says why
  const other = await startServe({ config: { server: { publishingPoints: [{ ...points[0], auth: undefined }] } } });
  t.teardown(other.stop);
  const refused = await rawRequest(other.port, `/rp/${FIXTURES.av20}`, { pragmas: FFMPEG_DESCRIBE, rawBody: true });
  t.is(refused.status, 503);
  t.regex(refused.body.toString(), /the origin refused this proxy .*check proxy\.credentials/);

  // the password is in no log line and no status document
  await waitUntil('the fill done', async () => ((await getJson<{ entries: Array<{ state: string }> }>(proxy.http('/api/proxy/cache'))).entries[0]?.state === 'complete' ? true : undefined));
  const status = JSON.stringify(await getJson(proxy.http('/api/status')));
  t.false(status.includes(ORIGIN_PASSWORD));
  t.false(proxy.stderr().includes(ORIGIN_PASSWORD));
  t.false(proxy.stderr().includes('v1ewer'));
});
