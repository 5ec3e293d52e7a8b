import test from '../helpers/test.js';
import { PacingScheduler } from '../../src/media/scheduler.js';

test('the pacing clock runs fast only while it has tasks, slowly for sweeps alone, and stops when empty', (t) => {
  const s = new PacingScheduler(50, undefined, 500);
  t.teardown(() => s.stop());
  t.is(s.periodMs, 0);
  const unsweep = s.addSweep(() => undefined);
  t.is(s.periodMs, 500, 'housekeeping alone wakes the box twice a second');
  const task = { tick: () => undefined };
  s.add(task);
  t.is(s.periodMs, 50);
  s.remove(task);
  t.is(s.periodMs, 500);
  unsweep();
  t.is(s.periodMs, 0);
});

test('a tick runs every task and the sweeps when due; a task that throws is removed and reported', (t) => {
  const errors: unknown[] = [];
  const s = new PacingScheduler(50, (e) => errors.push(e), 500);
  t.teardown(() => s.stop());
  let ticks = 0;
  let sweeps = 0;
  s.add({ tick: () => ticks++ });
  s.add({
    tick: () => {
      throw new Error('boom');
    },
  });
  s.addSweep(() => sweeps++);
  s.runTick(1000);
  s.runTick(1100); // not yet due
  s.runTick(1480); // due, within half a tick of slack
  t.is(ticks, 3);
  t.is(sweeps, 2);
  t.is(errors.length, 1);
  t.is(s.size, 1);
});
