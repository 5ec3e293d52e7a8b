import test from '../../helpers/test.js';
import { SessionTable, type TableEntry } from '../../../src/protocols/shared/session-table.js';

interface S extends TableEntry {
  id: number;
  busy: boolean;
}

function table(max = 3, idleMs = 1000, expired: Array<[number, string]> = []) {
  let next = 1;
  return new SessionTable<number, S>({
    idleMs,
    maxSessions: max,
    newId: (taken) => {
      while (taken(next)) next++;
      return next++;
    },
    isBusy: (s) => s.busy,
    onExpire: (s, why) => expired.push([s.id, why]),
    sweepEveryMs: 0,
  });
}

test('a full table forgets its stalest idle session, and refuses when every session is busy', (t) => {
  const expired: Array<[number, string]> = [];
  const tab = table(2, 60_000, expired);
  const a = tab.create((id) => ({ id, busy: false, lastSeen: 1 }));
  const b = tab.create((id) => ({ id, busy: false, lastSeen: 2 }));
  const c = tab.create((id) => ({ id, busy: true, lastSeen: 3 }));
  t.deepEqual(expired, [[a.id, 'evicted']]);
  t.is(tab.get(a.id), undefined);
  b.busy = true;
  const err = t.throws(() => tab.create((id) => ({ id, busy: false, lastSeen: 4 })));
  t.regex(err!.message, /limit/);
  t.is(tab.size, 2);
  t.truthy(tab.get(c.id));
});

test('idle sessions expire on the sweep; busy ones never do; stop expires everything', (t) => {
  const expired: Array<[number, string]> = [];
  const tab = table(10, 1000, expired);
  const old = tab.create((id) => ({ id, busy: false, lastSeen: Date.now() - 5000 }));
  const streaming = tab.create((id) => ({ id, busy: true, lastSeen: Date.now() - 5000 }));
  const fresh = tab.create((id) => ({ id, busy: false, lastSeen: Date.now() }));
  tab.sweep(1e9);
  t.deepEqual(expired, [[old.id, 'idle']]);
  t.truthy(tab.touch(streaming.id));
  tab.stop();
  t.deepEqual(expired.slice(1).map((e) => e[1]), ['stopped', 'stopped']);
  t.is(tab.size, 0);
  t.true([streaming.id, fresh.id].every((id) => expired.some((e) => e[0] === id)));
});

test('the sweep runs on a Sweeper and unregisters on stop', (t) => {
  let registered: ((now: number) => void) | null = null;
  const tab = table();
  tab.start({ addSweep: (fn) => ((registered = fn), () => (registered = null)) });
  t.truthy(registered);
  tab.stop();
  t.is(registered, null);
});
