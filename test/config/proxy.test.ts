/**
 * The proxy's settings: defaults, an on-demand point that serves a directory or an origin (exactly one), upstream
 * URLs (an account in them is redacted), origin accounts and forward allow-lists in host:port form, and secrets redacted wherever
 * the schema marks them.
 */
import test from '../helpers/test.js';
import { redactConfig, validateConfig } from '../../src/config/index.js';
import { MssError } from '../../src/core/errors.js';

function issues(doc: unknown): string[] {
  try {
    validateConfig(doc);
  } catch (err) {
    if (!(err instanceof MssError)) throw err;
    return ((err.detail.errors as Array<{ path: string; message: string }>) ?? []).map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}

test('defaults: a bounded cache on, the forward proxy off', (t) => {
  const c = validateConfig({});
  t.true(c.proxy.cache.enabled);
  t.is(c.proxy.cache.maxBytes, 1073741824);
  t.false(c.proxy.forward.enabled);
  t.deepEqual(c.proxy.credentials, []);
  t.is(c.proxy.live.endAfterMs, 60000);
});

test('an on-demand point serves a directory or an origin, exactly one', (t) => {
  const c = validateConfig({ server: { publishingPoints: [{ name: 'rp', type: 'ondemand', origin: 'mmsh://origin:8080/vod' }] } });
  t.like(c.server.publishingPoints[0], { origin: 'mmsh://origin:8080/vod', path: '' });
  t.deepEqual(issues({ server: { publishingPoints: [{ name: 'x', type: 'ondemand' }] } }), ['server.publishingPoints[0].path: is required (or set origin to proxy an origin server)']);
  t.deepEqual(issues({ server: { publishingPoints: [{ name: 'x', type: 'ondemand', path: '/m', origin: 'mmsh://o/v' }] } }), [
    'server.publishingPoints[0].origin: cannot be set together with path: a point serves a directory or an origin',
  ]);
});

test('upstream URLs name a Windows Media scheme (an account may ride in them); accounts and allow-lists are host:port', (t) => {
  t.deepEqual(issues({ server: { publishingPoints: [{ name: 'x', type: 'ondemand', origin: 'mmsh://user:pw@origin/vod' }] } }), []);
  t.deepEqual(issues({ server: { publishingPoints: [{ name: 'x', type: 'broadcast', source: { type: 'pull', url: 'http://u:p@enc:8090/live' } }] } }), []);
  t.regex(issues({ server: { publishingPoints: [{ name: 'x', type: 'broadcast', source: { type: 'pull', url: 'ftp://enc/live' } }] } })[0]!, /source\.url: must match/);
  t.deepEqual(issues({ server: { publishingPoints: [{ name: 'x', type: 'broadcast', source: { type: 'pull', url: 'rtsp://origin/live' } }] } }), []);
  t.regex(issues({ proxy: { forward: { allow: ['origin'] } } })[0]!, /proxy\.forward\.allow\[0\]: must match/);
  t.regex(issues({ proxy: { credentials: [{ origin: 'http://origin:80', user: 'u', password: 'p' }] } })[0]!, /proxy\.credentials\[0\]\.origin: must match/);
  t.deepEqual(issues({ proxy: { forward: { enabled: true, allow: ['origin.example:80', '[::1]:8080', '10.0.0.5:8080'] } } }), []);
});

test('every secret the schema marks is redacted: origin accounts, point and forward-proxy accounts, MQTT, push', (t) => {
  const c = validateConfig({
    mqtt: { password: 'mq-secret' },
    encoder: { pushPassword: 'push-secret' },
    server: { publishingPoints: [{ name: 'v', type: 'ondemand', path: '/m', auth: { scheme: 'basic', users: [{ name: 'a', password: 'point-secret' }] } }] },
    proxy: { credentials: [{ origin: 'origin:80', user: 'box', password: 'origin-secret' }], forward: { auth: { scheme: 'digest', users: [{ name: 'f', password: 'forward-secret' }] } } },
  });
  const text = JSON.stringify(redactConfig(c));
  for (const secret of ['mq-secret', 'push-secret', 'point-secret', 'origin-secret', 'forward-secret']) t.false(text.includes(secret), secret);
  t.is(redactConfig(c).proxy.credentials[0]!.password, '***');
  t.is(redactConfig(c).proxy.credentials[0]!.user, 'box');
  t.is(c.proxy.credentials[0]!.password, 'origin-secret', 'the running config is not changed');
  t.is(redactConfig(validateConfig({})).mqtt.password, '', 'an empty secret stays empty');
});
