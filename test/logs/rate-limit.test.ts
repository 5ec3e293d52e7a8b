import test from '../helpers/test.js';
import { PerAddressRateLimit } from '../../src/logs/rate-limit.js';

test('allows N posts a minute per address, then refuses until the window passes', (t) => {
  let now = 0;
  const rl = new PerAddressRateLimit(3, 100, () => now);
  t.deepEqual([1, 2, 3, 4].map(() => rl.take('a')), [true, true, true, false]);
  t.true(rl.take('b'));
  t.is(rl.retryAfter('a'), 60);
  now = 60_000;
  t.true(rl.take('a'));
});

test('the address table is bounded: the oldest address is forgotten first', (t) => {
  const rl = new PerAddressRateLimit(1, 10, () => 0);
  for (let i = 0; i < 1000; i++) rl.take(`10.0.${i >> 8}.${i & 255}`);
  t.is(rl.size, 10);
});
