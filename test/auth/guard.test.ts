/**
 * The AuthGuard in front of credentials (the operator API now, the streaming protocols later): the handshake
 * challenge comes at once, a wrong password only after the refusal delay, an address that keeps failing is refused
 * at once (429) even with the right password until its window has room, other addresses are not affected, a
 * success clears the count, and the tracked state stays bounded.
 */
import test from '../helpers/test.js';
import { createBearerAuthenticator } from '../../src/auth/bearer.js';
import { AuthGuard } from '../../src/auth/guard.js';
import { authorizationHeader, createAuthenticator } from '../../src/auth/http-auth.js';

const basic = (user: string, pw: string) => 'Basic ' + Buffer.from(`${user}:${pw}`).toString('base64');
const users = [{ name: 'op', password: 'right' }];

function guard(opts: ConstructorParameters<typeof AuthGuard>[1] = {}, now?: { t: number }) {
  return new AuthGuard(createAuthenticator({ scheme: 'basic', realm: 'mss api', users }), { refusalDelayMs: 150, maxFailures: 3, windowMs: 60_000, ...(now ? { now: () => now.t } : {}), ...opts });
}

test('no credentials: the challenge at once; the right ones: in', async (t) => {
  const g = guard();
  const first = await g.admit({ remote: '10.0.0.1', method: 'GET', uri: '/api/status', authorization: undefined });
  t.false(first.ok);
  t.true(!first.ok && first.status === 401 && first.challenge[0]!.startsWith('Basic realm="mss api"'));
  t.true(!first.ok && first.status === 401 && !first.delayed);
  t.deepEqual(await g.admit({ remote: '10.0.0.1', method: 'GET', uri: '/api/status', authorization: basic('op', 'right') }), { ok: true, user: 'op' });
  t.is(g.trackedAddresses, 0);
});

test('a wrong password is answered only after the delay; an unknown user exactly the same way', async (t) => {
  const g = guard();
  const started = Date.now();
  const wrong = await g.admit({ remote: '10.0.0.2', method: 'GET', uri: '/', authorization: basic('op', 'nope') });
  t.true(Date.now() - started >= 140, 'held for the refusal delay');
  const unknown = await g.admit({ remote: '10.0.0.2', method: 'GET', uri: '/', authorization: basic('nobody', 'nope') });
  t.true(!wrong.ok && !unknown.ok && wrong.status === 401 && unknown.status === 401);
  t.is((wrong as { reason: string }).reason, (unknown as { reason: string }).reason, 'the same reason for both');
  t.true((wrong as { delayed: boolean }).delayed && (unknown as { delayed: boolean }).delayed);
});

test('after maxFailures the address is refused at once, even with the right password; other addresses are not; the window frees it', async (t) => {
  const clock = { t: 1_000_000 };
  const g = guard({ refusalDelayMs: 0 }, clock);
  for (let i = 0; i < 3; i++) await g.admit({ remote: '10.0.0.3', method: 'GET', uri: '/', authorization: basic('op', `guess${i}`) });
  const blocked = await g.admit({ remote: '10.0.0.3', method: 'GET', uri: '/', authorization: basic('op', 'right') });
  t.like(blocked, { ok: false, status: 429, firstInWindow: true });
  t.true(!blocked.ok && blocked.status === 429 && blocked.retryAfterS >= 1 && blocked.retryAfterS <= 60);
  t.like(await g.admit({ remote: '10.0.0.3', method: 'GET', uri: '/', authorization: basic('op', 'right') }), { status: 429, firstInWindow: false });
  t.like(await g.admit({ remote: '10.0.0.4', method: 'GET', uri: '/', authorization: basic('op', 'right') }), { ok: true });
  clock.t += 61_000;
  t.like(await g.admit({ remote: '10.0.0.3', method: 'GET', uri: '/', authorization: basic('op', 'right') }), { ok: true });
  t.is(g.trackedAddresses, 0, 'a success clears the address');
});

test('a stale Digest nonce is a handshake, not a failed attempt', async (t) => {
  const clock = { t: 5_000_000 };
  const auth = createAuthenticator({ scheme: 'digest', realm: 'mss api', users }, { now: () => clock.t, nonceLifetimeMs: 1000 });
  const g = new AuthGuard(auth, { refusalDelayMs: 0, maxFailures: 1, now: () => clock.t });
  const first = await g.admit({ remote: '10.0.0.5', method: 'GET', uri: '/api/status', authorization: undefined });
  const challenge = (first as { challenge: string[] }).challenge.at(-1)!;
  clock.t += 5000;
  const stale = await g.admit({ remote: '10.0.0.5', method: 'GET', uri: '/api/status', authorization: authorizationHeader(challenge, 'op', 'right', 'GET', '/api/status') });
  t.like(stale, { ok: false, status: 401, delayed: false });
  t.is(g.trackedAddresses, 0);
});

test('state is bounded: addresses beyond maxTracked push out the oldest; delayed refusals beyond maxDelayed are 429 at once', async (t) => {
  const g = guard({ refusalDelayMs: 0, maxTracked: 5 });
  for (let i = 0; i < 20; i++) await g.admit({ remote: `10.1.0.${i}`, method: 'GET', uri: '/', authorization: basic('op', 'x') });
  t.is(g.trackedAddresses, 5);
  const slow = guard({ refusalDelayMs: 200, maxDelayed: 2, maxFailures: 100 });
  const verdicts = await Promise.all(Array.from({ length: 5 }, (_, i) => slow.admit({ remote: `10.2.0.${i}`, method: 'GET', uri: '/', authorization: basic('op', 'x') })));
  t.deepEqual(verdicts.map((v) => (v.ok ? 200 : v.status)).sort(), [401, 401, 429, 429, 429]);
});

test('bearer tokens: the right one in, a wrong one a delayed refusal, a malformed header too', async (t) => {
  const g = new AuthGuard(createBearerAuthenticator(['0123456789abcdef-token'], 'mss api'), { refusalDelayMs: 0 });
  t.like(await g.admit({ remote: '10.3.0.1', method: 'GET', uri: '/', authorization: 'Bearer 0123456789abcdef-token' }), { ok: true });
  const wrong = await g.admit({ remote: '10.3.0.1', method: 'GET', uri: '/', authorization: 'Bearer 0123456789abcdef-tokem' });
  t.like(wrong, { ok: false, status: 401, delayed: true });
  t.deepEqual((wrong as { challenge: string[] }).challenge, ['Bearer realm="mss api"']);
  t.like(await g.admit({ remote: '10.3.0.1', method: 'GET', uri: '/', authorization: 'Bearer a b c' }), { ok: false, status: 401, delayed: true });
  t.like(await g.admit({ remote: '10.3.0.2', method: 'GET', uri: '/', authorization: undefined }), { ok: false, status: 401, delayed: false });
});
