/**
 * The proxy's pure policies: the forward proxy's gate (what it lets through, what it refuses and why, and a seeded
 * fuzz over mutated request URIs: every input gives an allowed origin's URL or an MssError, never another
 * exception, and nothing outside the allow-list ever gets through), one spelling per upstream URL, and the origin
 * Cache-Control directives that keep content out of the cache.
 */
import test from '../helpers/test.js';
import { isMssError } from '../../src/core/errors.js';
import { forwardOriginUrl, isAbsoluteRequestUri, normalizeAllowList } from '../../src/proxy/forward.js';
import { storable } from '../../src/proxy/origin-access.js';
import { canonicalUrl, hostPortOf } from '../../src/proxy/upstream.js';
import { seededRandom } from '../helpers/prng.js';

const allow = normalizeAllowList(['127.0.0.1:8080', 'Origin.Example:80', '[::1]:9000']);

function refusal(uri: string): string {
  try {
    forwardOriginUrl(uri, allow);
  } catch (err) {
    if (!isMssError(err) || err.code !== 'forbidden') throw err;
    return err.message;
  }
  throw new Error(`${uri} was let through`);
}

test('allowed origins pass in normal form, with the port made explicit', (t) => {
  t.is(forwardOriginUrl('http://127.0.0.1:8080/vod/a.wmv', allow), 'http://127.0.0.1:8080/vod/a.wmv');
  t.is(forwardOriginUrl('http://origin.example/live', allow), 'http://origin.example:80/live');
  t.is(forwardOriginUrl('HTTP://ORIGIN.EXAMPLE:80/live', allow), 'http://origin.example:80/live');
  t.is(forwardOriginUrl('http://[::1]:9000/a.wmv?x=1', allow), 'http://[::1]:9000/a.wmv?x=1');
  t.is(forwardOriginUrl('http://127.0.0.1:8080', allow), 'http://127.0.0.1:8080/');
});

test('tricks are refused, each with its reason', (t) => {
  t.regex(refusal('http://127.0.0.1:8081/a.wmv'), /127\.0\.0\.1:8081 is not in proxy\.forward\.allow/);
  t.regex(refusal('http://evil.example/a.wmv'), /not in proxy\.forward\.allow/);
  t.regex(refusal('http://u:p@127.0.0.1:8080/a.wmv'), /user-info/);
  t.regex(refusal('http://127.0.0.1:8080@evil.example/a.wmv'), /user-info/);
  t.regex(refusal('http://0x7f000001:8080/'), /not in normal form/);
  t.regex(refusal('http://2130706433:8080/'), /not in normal form/);
  t.regex(refusal('http://127.1:8080/'), /not in normal form/);
  t.regex(refusal('http://%31%32%37.0.0.1:8080/'), /not in normal form/);
  t.regex(refusal('http://127.0.0.1:08080/'), /not in normal form/);
  t.regex(refusal('http://origin.example.:80/'), /not in proxy\.forward\.allow/);
  t.regex(refusal('http://127.0.0.1:8080/a/../b'), /path is not in normal form/);
  t.regex(refusal('http://127.0.0.1:8080/a/%2e%2e/b'), /path is not in normal form|encoded/);
  t.regex(refusal('http://127.0.0.1:8080/a%2fb'), /encoded dots, slashes/);
  t.regex(refusal('http://127.0.0.1:8080\\a'), /characters a URI cannot have/);
  t.regex(refusal('http://127.0.0.1:8080/a b'), /characters a URI cannot have/);
  t.regex(refusal('http://127.0.0.1:8080/\u00e9'), /characters a URI cannot have/);
  t.regex(refusal('http://127.0.0.1:8080/a#x'), /fragment/);
  t.regex(refusal('http://127.0.0.1:8080?x'), /no path/);
  t.regex(refusal('mmsh://127.0.0.1:8080/a'), /only http:\/\//);
  t.regex(refusal('https://127.0.0.1:8080/a'), /only http:\/\//);
  t.regex(refusal('/vod/a.wmv'), /not an absolute URI/);
  t.regex(refusal('http:///a'), /names no host/);
  t.regex(refusal(`http://127.0.0.1:8080/${'a'.repeat(3000)}`), /limit 2048/);
});

test('absolute request URIs are told from paths; upstream URLs have one spelling', (t) => {
  t.true(isAbsoluteRequestUri('http://h/x'));
  t.true(isAbsoluteRequestUri('mmsh://h/x'));
  t.false(isAbsoluteRequestUri('/live'));
  t.false(isAbsoluteRequestUri('*'));
  t.is(canonicalUrl('mmsh://Origin:8080/live'), 'http://origin:8080/live');
  t.is(canonicalUrl('http://origin/vod/a.wmv'), 'http://origin:80/vod/a.wmv');
  t.is(canonicalUrl('rtsp://origin/live'), 'rtsp://origin/live');
  t.is(hostPortOf(new URL('mmsh://Origin/x')), 'origin:80');
  t.is(hostPortOf(new URL('rtsp://origin/x')), 'origin:554');
});

const PIECES = ['@', ':', '/', '//', '..', '.', '%2e', '%2f', '%00', '%', '#', '?', '\\', ' ', '[', ']', '::1', '0x7f', '127.0.0.1', '8080', '080', '65536', 'user:pw@', 'HTTP://', 'mmsh://', '\u0000', '\u00e9', 'origin.example', ';', '&', '~'];

test('fuzz: 100,000 mutated request URIs give an allowed URL or a forbidden MssError, nothing else', (t) => {
  const rnd = seededRandom(0xf0_7a_2d);
  const seeds = ['http://127.0.0.1:8080/vod/a.wmv', 'http://origin.example/live', 'http://[::1]:9000/x?y=1'];
  let passed = 0;
  for (let i = 0; i < 100_000; i++) {
    let s = seeds[i % seeds.length]!;
    const edits = 1 + Math.floor(rnd() * 4);
    for (let k = 0; k < edits; k++) {
      const at = Math.floor(rnd() * (s.length + 1));
      const op = Math.floor(rnd() * 3);
      if (op === 0) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 6));
      else if (op === 1) s = s.slice(0, at) + PIECES[Math.floor(rnd() * PIECES.length)] + s.slice(at);
      else s = s.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 128)) + s.slice(at + 1);
    }
    let out: string;
    try {
      out = forwardOriginUrl(s, allow);
    } catch (err) {
      if (!isMssError(err) || err.code !== 'forbidden') t.fail(`${JSON.stringify(s)} threw ${String(err)}`);
      continue;
    }
    passed++;
    const u = new URL(out);
    if (!allow.has(`${u.hostname}:${u.port || '80'}`) || u.username || u.password || u.protocol !== 'http:') t.fail(`${JSON.stringify(s)} let through ${out}`);
  }
  t.true(passed > 100, `some mutations stay valid (${passed})`);
});

test("an origin's Cache-Control no-store or private keeps content out of the cache", (t) => {
  t.true(storable(undefined));
  t.true(storable('no-cache, x-wms-content-size=727415'));
  t.true(storable('no-cache, x-wms-proxy-split, x-wms-stream-type="broadcast"'));
  t.false(storable('no-cache, no-store'));
  t.false(storable('private, no-cache'));
  t.false(storable('no-cache,private'));
  t.true(storable('no-cache, x-private-thing=1'));
});
