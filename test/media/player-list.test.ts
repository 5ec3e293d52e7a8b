import test from '../helpers/test.js';
import { PlayerList } from '../../src/media/player-list.js';

test('a player list adds, deletes and walks every item once', (t) => {
  const list = new PlayerList<number>();
  for (let i = 0; i < 10; i++) list.add(i);
  list.add(3);
  t.is(list.size, 10);
  t.true(list.delete(0));
  t.false(list.delete(0));
  const seen: number[] = [];
  list.walk((n) => seen.push(n));
  t.deepEqual(seen.sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('deleting during a walk (a sink closing as it is written) skips no other item', (t) => {
  const list = new PlayerList<number>();
  for (let i = 0; i < 100; i++) list.add(i);
  const seen = new Set<number>();
  list.walk((n) => {
    seen.add(n);
    if (n % 3 === 0) list.delete(n); // itself
    if (n === 10) list.delete(99); // one not walked yet: not visited
  });
  t.is(seen.size, 99);
  t.false(seen.has(99));
  t.is(list.size, 100 - 34 - 1 + 1); // 0,3,...,99 are 34 items; 99 is one of them
  const after: number[] = [];
  list.walk((n) => after.push(n));
  t.is(after.length, list.size);
  t.true(after.every((n) => n % 3 !== 0));
  list.add(3);
  t.true(list.has(3));
  t.is(list.snapshot().length, list.size);
});
